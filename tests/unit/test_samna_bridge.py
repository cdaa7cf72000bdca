"""hwconfig.samna_bridge against the strict samna double (tests/samna_double): every field, every chip."""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from samna_double import make_samna

from hwconfig import ChipConfig, CnnLayerConfig, CnnLayerDestination, CnnLayerDimensions, IOShape, Vec2
from hwconfig.errors import ConfigError, SamnaError
from hwconfig.samna_bridge import (
    SUPPORTED_SAMNA_RANGE,
    check_samna_version,
    from_samna,
    from_samna_json,
    import_samna,
    parse_version,
    to_flash_binary,
    to_samna,
    to_samna_json,
    validate_with_samna,
)
from hwconfig.samna_env import SamnaStatus

CHIPS = ("speck2f", "speck2e", "dynapcnn")


# ------------------------------------------------------------------------------------- field walking


def leaf_paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every leaf field of a ChipConfig tree as a path of names and tuple indices."""
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        path = (*prefix, f.name)
        if dataclasses.is_dataclass(value):
            yield from leaf_paths(value, path)
        elif isinstance(value, tuple):
            for i, item in enumerate(value):
                yield from leaf_paths(item, (*path, i))
        else:
            yield path


def get_path(obj: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        obj = obj[p] if isinstance(p, int) else getattr(obj, p)
    return obj


def replace_path(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        items = list(node)
        items[head] = replace_path(items[head], rest, value) if rest else value
        return tuple(items)
    if not rest:
        return dataclasses.replace(node, **{head: value})
    return dataclasses.replace(node, **{head: replace_path(getattr(node, head), rest, value)})


def fmt(path: tuple[Any, ...]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


# A valid, non-default value per leaf (keyed by "parent.leaf" or "leaf"), within SPECK_SEMANTICS §7.2/§8.1.
VALID: dict[str, Any] = {
    "size.x": 9,
    "size.y": 11,
    "feature_count": 7,
    "padding.x": 3,
    "padding.y": 7,
    "stride.x": 2,
    "stride.y": 8,
    "kernel_size": 16,
    "threshold_high": 32767,
    "threshold_low": -32768,
    "output_decimator_interval": 7,
    "destinations.layer": 12,
    "destinations.pooling": 4,
    "destinations.feature_shift": 5,
    "dvs_layer.destinations.layer": 8,
    "pooling.x": 2,
    "pooling.y": 4,
    "origin.x": 3,
    "origin.y": 4,
    "cut.x": 100,
    "cut.y": 90,
    "filter_size.x": 15,
    "filter_size.y": 1,
    "dvs_filter.threshold": 9,
    "output_mode_sel": 3,
    "output_neuron_num": 15,
    "readout_configuration_sel": 3,
    "readout.threshold": 65535,
    "internal_slow_clk_divider": 14,
}

# Out-of-range values the double must reject with ValueError (SPECK_SEMANTICS §7.2, §8.1).
OUT_OF_RANGE: dict[str, Any] = {
    "input_shape.size.x": 129,
    "input_shape.size.y": 0,
    "output_shape.size.x": -3,
    "output_shape.size.y": 0,
    "feature_count": 1025,
    "padding.x": 8,
    "padding.y": -1,
    "stride.x": 0,
    "stride.y": 3,
    "kernel_size": 17,
    "threshold_high": 32768,
    "threshold_low": 0,
    "output_decimator_interval": 8,
    "destinations.layer": 9,
    "destinations.pooling": 3,
    "destinations.feature_shift": -1,
    "dvs_layer.destinations.layer": 12,
    "pooling.x": 8,
    "pooling.y": 0,
    "origin.x": -1,
    "origin.y": 128,
    "cut.x": -1,
    "cut.y": 128,
    "filter_size.x": 0,
    "filter_size.y": 16,
    "dvs_filter.threshold": -1,
    "output_mode_sel": 4,
    "output_neuron_num": 16,
    "readout_configuration_sel": 4,
    "readout.threshold": 65536,
    "internal_slow_clk_divider": 18,
}


def _key(path: tuple[Any, ...], table: dict[str, Any]) -> str | None:
    names = [p for p in path if not isinstance(p, int)]
    for n in (3, 2, 1):
        k = ".".join(names[-n:])
        if k in table:
            return k
    return None


def valid_value(path: tuple[Any, ...], default: Any, rng: np.random.Generator) -> Any:
    if isinstance(default, np.ndarray):
        shape = {1: (3,), 3: (3, 4, 2), 4: (3, 2, 3, 3)}[default.ndim]
        lo, hi = (-128, 127) if path[-1] == "weights" else (-32768, 32767)
        arr = rng.integers(lo, hi + 1, size=shape)
        arr.flat[0], arr.flat[-1] = lo, hi  # the extremes of the word are accepted
        return arr
    if isinstance(default, bool):
        return not default
    key = _key(path, VALID)
    assert key is not None, f"no valid sample for {fmt(path)}"
    return VALID[key]


LAYER_FIELDS = [p[2:] for p in leaf_paths(ChipConfig()) if p[:2] == ("cnn_layers", 0)]
OTHER_FIELDS = [p for p in leaf_paths(ChipConfig()) if p[0] != "cnn_layers"]


def test_field_lists_cover_the_samna_tree() -> None:
    # §8.1: 11 dimension leaves, 3 arrays, 9 flags/ints, 2 destinations × 4 per CNN layer; all other subtrees.
    assert len(LAYER_FIELDS) == 11 + 3 + 9 + 8
    assert {p[0] for p in OTHER_FIELDS} == {"dvs_layer", "dvs_filter", "readout", "factory_config"}
    assert len(OTHER_FIELDS) == 19 + 7 + 11 + 2


# ------------------------------------------------------------------------------------- round trips


@pytest.fixture
def samna() -> Any:
    return make_samna()


@pytest.mark.parametrize("chip", CHIPS)
def test_default_config_round_trips(chip: str, samna: Any) -> None:
    obj = to_samna(ChipConfig(), chip, samna)
    assert type(obj) is getattr(getattr(samna, chip).configuration, obj.__class__.__name__)
    assert from_samna(obj, chip) == ChipConfig()


@pytest.mark.parametrize("chip", CHIPS)
@pytest.mark.parametrize("path", [("cnn_layers", 4, *p) for p in LAYER_FIELDS] + OTHER_FIELDS, ids=fmt)
def test_every_field_is_written_under_its_samna_name(
    chip: str, path: tuple[Any, ...], samna: Any, rng: Any
) -> None:
    default = get_path(ChipConfig(), path)
    value = valid_value(path, default, rng)
    config = replace_path(ChipConfig(), path, value)
    obj = to_samna(config, chip, samna)
    written = get_path(obj, path)  # read through the double's attribute names: samna's names
    if isinstance(value, np.ndarray):
        assert written == value.tolist()
    else:
        assert written == value and type(written) is type(value)
    assert from_samna(obj, chip) == config
    assert from_samna(obj, chip) != ChipConfig()


@pytest.mark.parametrize("chip", CHIPS)
def test_every_field_of_every_core_at_once(chip: str, samna: Any, rng: Any) -> None:
    config = ChipConfig()
    for core in range(9):
        for p in LAYER_FIELDS:
            path = ("cnn_layers", core, *p)
            config = replace_path(config, path, valid_value(path, get_path(config, path), rng))
    for path in OTHER_FIELDS:
        config = replace_path(config, path, valid_value(path, get_path(config, path), rng))
    obj = to_samna(config, chip, samna)
    assert from_samna(obj, chip) == config
    assert from_samna_json(to_samna_json(config, chip, samna), chip, samna) == config


def test_arrays_go_to_samna_as_nested_python_lists_in_samna_order(samna: Any, rng: Any) -> None:
    w = rng.integers(-128, 128, size=(2, 3, 3, 3))  # [f][c][x][y]
    layer = CnnLayerConfig(
        weights=w, biases=np.array([5, -6]), neurons_initial_value=np.zeros((2, 4, 5), int)
    )
    obj = to_samna(ChipConfig().with_layer(3, layer), "speck2f", samna)
    got = obj.cnn_layers[3].weights
    assert isinstance(got, list) and isinstance(got[0][0][0][0], int)
    assert got[1][2][0][2] == int(w[1, 2, 0, 2])
    assert np.asarray(obj.cnn_layers[3].neurons_initial_value).shape == (2, 4, 5)


# ------------------------------------------------------------------------------ rejected values


@pytest.mark.parametrize("chip", CHIPS)
@pytest.mark.parametrize(
    "path",
    [("cnn_layers", 5, *p) for p in LAYER_FIELDS if _key(p, OUT_OF_RANGE)]
    + [p for p in OTHER_FIELDS if _key(p, OUT_OF_RANGE)],
    ids=fmt,
)
def test_out_of_range_value_surfaces_the_doubles_value_error(
    chip: str, path: tuple[Any, ...], samna: Any
) -> None:
    key = _key(path, OUT_OF_RANGE)
    assert key is not None
    config = replace_path(ChipConfig(), path, OUT_OF_RANGE[key])
    with pytest.raises(ConfigError, match=re.escape(fmt(path)) + ": samna rejected") as e:
        to_samna(config, chip, samna)
    assert isinstance(e.value.__cause__, ValueError)


def test_every_int_field_has_an_out_of_range_case() -> None:
    paths = [("cnn_layers", 5, *p) for p in LAYER_FIELDS] + OTHER_FIELDS
    values = [(p, get_path(ChipConfig(), p)) for p in paths]
    ints = [p for p, v in values if isinstance(v, int) and not isinstance(v, bool)]
    assert (
        len(ints) == 11 + 3 + 6 + 8 + 3 + 4 + 1
    )  # dims, thresholds+decimator, dests, dvs, filter, readout, factory
    assert [fmt(p) for p in ints if _key(p, OUT_OF_RANGE) is None] == []


@pytest.mark.parametrize(
    ("field", "value", "cls"),
    [
        ("weights", np.full((1, 1, 1, 1), 128), ValueError),  # §2.1 int8
        ("biases", np.array([-32769]), ValueError),  # §2.1 int16
        ("neurons_initial_value", np.full((1, 1, 1), 40000), ValueError),
        ("threshold_high", 1.5, TypeError),
        ("threshold_low", "-1", TypeError),
        ("return_to_zero", 1, TypeError),  # samna flags are bools, not ints
        ("output_decimator_interval", True, TypeError),
    ],
)
@pytest.mark.parametrize("chip", CHIPS)
def test_mistyped_or_out_of_word_values_surface_the_doubles_error(
    chip: str, field: str, value: Any, cls: type, samna: Any
) -> None:
    config = ChipConfig().with_layer(1, dataclasses.replace(CnnLayerConfig(), **{field: value}))
    with pytest.raises(
        ConfigError, match=rf"cnn_layers\[1\]\.{field}: samna rejected the value \({cls.__name__}"
    ) as e:
        to_samna(config, chip, samna)
    assert isinstance(e.value.__cause__, cls)


def test_a_field_samna_drops_silently_is_reported(samna: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    layer_cls = type(samna.speck2f.configuration.SpeckConfiguration().cnn_layers[0])
    original = layer_cls.__setattr__

    def forgetful(self: Any, name: str, value: Any) -> None:
        if name != "monitor_enable":
            original(self, name, value)

    monkeypatch.setattr(layer_cls, "__setattr__", forgetful)
    config = ChipConfig().with_layer(6, CnnLayerConfig(monitor_enable=True))
    with pytest.raises(ConfigError, match=r"did not keep .*cnn_layers\[6\]\.monitor_enable"):
        to_samna(config, "speck2f", samna)


# ------------------------------------------------------------------------------------ from_samna


def test_from_samna_reports_a_missing_field() -> None:
    class Partial:
        pass

    with pytest.raises(ConfigError, match=r"cnn_layers: missing in the samna object"):
        from_samna(Partial(), "speck2f")


def test_from_samna_rejects_a_wrong_kind_and_ragged_arrays(samna: Any) -> None:
    obj = to_samna(ChipConfig(), "speck2f", samna)

    class Wrap:
        def __init__(self, inner: Any, **override: Any) -> None:
            self._inner, self._override = inner, override

        def __getattr__(self, name: str) -> Any:
            return self._override.get(name, getattr(self._inner, name))

    layers = list(obj.cnn_layers)
    layers[2] = Wrap(layers[2], return_to_zero=1)
    with pytest.raises(
        ConfigError, match=r"cnn_layers\[2\]\.return_to_zero: expected a bool from samna, got int"
    ):
        from_samna(Wrap(obj, cnn_layers=layers), "speck2f")
    layers[2] = Wrap(obj.cnn_layers[2], biases=[[1, 2], [3]])
    with pytest.raises(ConfigError, match=r"cnn_layers\[2\]\.biases: samna returned a ragged array"):
        from_samna(Wrap(obj, cnn_layers=layers), "speck2f")


def test_dynapcnn_kill_bits_are_written_false_and_checked_on_read(samna: Any) -> None:
    config = ChipConfig().with_layer(
        0,
        CnnLayerConfig(weights=np.array([[[[0, 5], [7, 0]]]]), dimensions=CnnLayerDimensions(kernel_size=2)),
    )
    obj = to_samna(config, "dynapcnn", samna)
    assert obj.cnn_layers[0].weights_kill_bit == [[[[False, False], [False, False]]]]
    layer = obj.cnn_layers[0]
    layer.weights_kill_bit = [[[[True, False], [False, True]]]]  # kills only the zeros: accepted
    obj.cnn_layers[0] = layer
    assert from_samna(obj, "dynapcnn") == config
    layer.weights_kill_bit = [[[[False, True], [False, False]]]]  # kills a 5: not representable
    obj.cnn_layers[0] = layer
    with pytest.raises(
        ConfigError, match=r"cnn_layers\[0\]\.weights_kill_bit: 1 non-zero weights value\(s\) are killed"
    ):
        from_samna(obj, "dynapcnn")


def test_speck_configuration_has_no_kill_bits(samna: Any) -> None:
    with pytest.raises(AttributeError, match="weights_kill_bit"):
        samna.speck2f.configuration.SpeckConfiguration().cnn_layers[0].weights_kill_bit = [[[[False]]]]


def test_from_samna_json_passes_samnas_parse_error_on(samna: Any) -> None:
    with pytest.raises(ConfigError, match=r"samna could not read the JSON text: JSON parse error"):
        from_samna_json("{not json", "speck2e", samna)


# ------------------------------------------------------------------------ samna validation / flash


def test_validate_with_samna_passes_samnas_message_verbatim(samna: Any) -> None:
    # weights shaped for 2 output features while the dimensions say 1: samna's own check must catch it.
    bad = ChipConfig().with_layer(2, CnnLayerConfig(weights=np.zeros((2, 1, 1, 1), int)))
    with pytest.raises(ConfigError) as e:
        validate_with_samna(bad, "speck2f", samna)
    assert e.value.problems == (
        "samna.speck2f.validate_configuration: Layer 2: weights dimensions [2, 1, 1, 1] do not match "
        "expected [1, 1, 1, 1]",
    )
    obj = validate_with_samna(ChipConfig(), "speck2f", samna)
    assert samna.speck2f.validate_configuration(obj) == (True, "")


@pytest.mark.parametrize("chip", ["speck2f", "speck2e"])
def test_flash_binary_is_samnas_export_as_bytes(chip: str, samna: Any) -> None:
    data = to_flash_binary(ChipConfig(), chip, samna)
    assert data == bytes(
        getattr(samna, chip).configuration_to_flash_binary(to_samna(ChipConfig(), chip, samna))
    )
    assert len(data) > 100


def test_flash_binary_for_a_chip_without_export_says_so(samna: Any) -> None:
    with pytest.raises(SamnaError, match=r"samna\.dynapcnn offers no configuration_to_flash_binary"):
        to_flash_binary(ChipConfig(), "dynapcnn", samna)


def test_flash_binary_rejects_non_byte_values(samna: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(samna.speck2f, "configuration_to_flash_binary", lambda cfg: [1, 256])
    with pytest.raises(SamnaError, match="not bytes"):
        to_flash_binary(ChipConfig(), "speck2f", samna)


def test_a_samna_without_the_chip_module_is_a_clear_error() -> None:
    samna = make_samna(without=("dynapcnn",))
    with pytest.raises(SamnaError, match=r"samna 0\.48\.5 has no module samna\.dynapcnn"):
        to_samna(ChipConfig(), "dynapcnn", samna)


def test_validate_with_samna_without_validation_function(samna: Any) -> None:
    del samna.speck2e.validate_configuration
    with pytest.raises(SamnaError, match=r"samna\.speck2e has no validate_configuration .*supported range"):
        validate_with_samna(ChipConfig(), "speck2e", samna)


# ---------------------------------------------------------------------------- versions and import


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("0.48.5", (0, 48, 5)), ("0.48", (0, 48, 0)), ("0.48.6rc1", (0, 48, 6)), ("1.2.3+x", (1, 2, 3))],
)
def test_parse_version(text: str, parsed: tuple[int, int, int]) -> None:
    assert parse_version(text) == parsed


def test_parse_version_rejects_non_numbers() -> None:
    with pytest.raises(ValueError, match="not a version number"):
        parse_version("dev")


@pytest.mark.parametrize("version", ["0.40.0", "0.48.5", "0.48.6", "0.49.12"])
def test_supported_versions_pass(version: str) -> None:
    check_samna_version(version)


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("0.39.9", r"samna 0\.39\.9 is outside the supported range"),
        ("0.50.0", r"samna 0\.50\.0 is outside the supported range"),
        ("1.0.0", r"samna 1\.0\.0 is outside"),
        (None, "reports no version"),
        ("nightly", "cannot parse the samna version 'nightly'"),
    ],
)
def test_unsupported_versions_fail_with_the_range(version: str | None, message: str) -> None:
    with pytest.raises(SamnaError, match=message) as e:
        check_samna_version(version)
    assert SUPPORTED_SAMNA_RANGE in str(e.value)


@pytest.mark.parametrize("state", ["stub", "missing"])
def test_import_samna_refuses_an_unusable_samna_without_importing_it(state: str) -> None:
    before = "samna" in sys.modules
    status = SamnaStatus(state, "0.48.6", "/x", f"samna is {state}: run `pip install samna --index-url IDX`")  # type: ignore[arg-type]
    with pytest.raises(SamnaError, match=rf"samna is {state}: run `pip install samna --index-url IDX`") as e:
        import_samna(status)
    assert e.value.state == state
    assert ("samna" in sys.modules) == before


def test_import_samna_checks_the_version_of_a_real_samna_before_importing() -> None:
    status = SamnaStatus("real", "0.30.1", "/opt/samna", "the real samna")
    with pytest.raises(SamnaError, match=r"samna 0\.30\.1 is outside the supported range"):
        import_samna(status)


def test_bridge_without_injected_samna_uses_detection_and_never_imports_the_stub() -> None:
    if "samna" in sys.modules:
        pytest.skip("another test imported samna into this process")
    from hwconfig.samna_env import detect_samna

    status = detect_samna()
    if status.usable:
        pytest.skip("a real samna is installed here")
    with pytest.raises(SamnaError, match="samna"):
        to_samna(ChipConfig(), "speck2f")
    assert "samna" not in sys.modules


def test_layer_shape_helpers_match_samna_getters(samna: Any) -> None:
    dims = CnnLayerDimensions(
        input_shape=IOShape(Vec2(8, 6), 3),
        output_shape=IOShape(Vec2(4, 3), 5),
        stride=Vec2(2, 2),
        kernel_size=2,
    )
    obj = (
        to_samna(ChipConfig().with_layer(7, CnnLayerConfig(dimensions=dims)), "speck2f", samna)
        .cnn_layers[7]
        .dimensions
    )
    assert obj.get_weights_array_dimensions() == list(dims.weights_array_dimensions())
    assert obj.get_neuron_states_array_dimensions() == list(dims.neuron_states_array_dimensions())
    assert obj.get_biases_array_dimensions() == list(dims.biases_array_dimensions())


# ------------------------------------------------------------------------ the double is strict itself


def test_double_rejects_unknown_names_wrong_types_ranges_and_resizing(samna: Any) -> None:
    cfg = samna.speck2f.configuration.SpeckConfiguration()
    layer = cfg.cnn_layers[0]
    with pytest.raises(AttributeError, match="has no attribute 'treshold_high'"):
        layer.treshold_high = 1
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        _ = cfg.missing
    with pytest.raises(TypeError, match="incompatible type int64, expected int"):
        layer.threshold_high = np.int64(3)
    with pytest.raises(TypeError, match="expected a nested list"):
        layer.weights = np.zeros((1, 1, 1, 1), int)
    with pytest.raises(ValueError, match="ragged nested list"):
        layer.neurons_initial_value = [[[0], [0, 0]]]
    with pytest.raises(ValueError, match=r"7 not in \[1, 2, 4, 8\]"):
        layer.dimensions.stride.x = 7
    with pytest.raises(TypeError, match="fixed-length list cannot grow"):
        cfg.cnn_layers.append(layer)
    with pytest.raises(ValueError, match="needs exactly 2 entries"):
        layer.destinations = [layer.destinations[0]]
    with pytest.raises(TypeError, match="incompatible type IOShape"):
        layer.dimensions = layer.dimensions.input_shape
    layer.threshold_high = 5  # references: visible through the parent
    assert cfg.cnn_layers[0].threshold_high == 5
    w = layer.weights
    w[0][0][0][0] = 9  # array getters hand out copies
    assert layer.weights == [[[[0]]]]


# ------------------------------------------------------------------------------ remaining error paths


def test_unknown_samna_module_and_missing_class(samna: Any) -> None:
    from hwconfig.chips import get_chip

    odd = dataclasses.replace(get_chip("speck2f"), samna_module="speck3")
    with pytest.raises(SamnaError, match=r"no samna configuration schema is known for samna module 'speck3'"):
        to_samna(ChipConfig(), odd, samna)
    del samna.speck2e.configuration.SpeckConfiguration
    with pytest.raises(
        SamnaError,
        match=r"no class samna\.speck2e\.configuration\.SpeckConfiguration .*supported range >=0\.40",
    ):
        to_samna(ChipConfig(), "speck2e", samna)


def test_list_length_mismatch_is_reported_both_ways(samna: Any) -> None:
    config = ChipConfig()
    short = dataclasses.replace(config, cnn_layers=config.cnn_layers[:8])
    with pytest.raises(ConfigError, match=r"cnn_layers: samna has 9 entries, the configuration 8"):
        to_samna(short, "speck2f", samna)
    obj = to_samna(config, "speck2f", samna)

    class Fewer:
        def __getattr__(self, name: str) -> Any:
            return list(obj.cnn_layers)[:3] if name == "cnn_layers" else getattr(obj, name)

    with pytest.raises(ConfigError, match=r"cnn_layers: samna has 3 entries, expected 9"):
        from_samna(Fewer(), "speck2f")


def test_non_integer_arrays_from_samna_are_rejected(samna: Any) -> None:
    obj = to_samna(ChipConfig(), "speck2f", samna)

    class FloatWeights:
        def __getattr__(self, name: str) -> Any:
            if name == "cnn_layers":
                layers = list(obj.cnn_layers)
                layers[0] = FloatLayer()
                return layers
            return getattr(obj, name)

    class FloatLayer:
        def __getattr__(self, name: str) -> Any:
            return [[[[0.5]]]] if name == "weights" else getattr(obj.cnn_layers[0], name)

    with pytest.raises(
        ConfigError, match=r"cnn_layers\[0\]\.weights: expected a 4-dimensional integer array"
    ):
        from_samna(FloatWeights(), "speck2f")


def test_kill_bit_shape_mismatch_and_missing_kill_bits(samna: Any) -> None:
    obj = to_samna(ChipConfig(), "dynapcnn", samna)
    layer = obj.cnn_layers[1]
    layer.biases_kill_bit = [True, True]  # 2 bits for 1 bias
    obj.cnn_layers[1] = layer
    with pytest.raises(
        ConfigError, match=r"cnn_layers\[1\]\.biases_kill_bit: shape \(2,\) differs from biases \(1,\)"
    ):
        from_samna(obj, "dynapcnn")
    speck = to_samna(ChipConfig(), "speck2f", samna)  # has no kill bits at all
    with pytest.raises(ConfigError, match=r"cnn_layers\[0\]\.weights_kill_bit: missing in the samna object"):
        from_samna(speck, "dynapcnn")


@pytest.mark.parametrize("chip", CHIPS)
def test_read_only_containers_with_reference_semantics_still_work(
    chip: str, samna: Any, rng: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If samna exposes ``cnn_layers``/``dimensions`` as read-only properties handing out references (as
    sinabs' in-place writes suggest it may), writing the leaves is enough; the read-back confirms it."""
    cfg_cls = type(getattr(samna, chip).configuration.__dict__[samna_config_name(chip)]())
    layer_cls = type(cfg_cls().cnn_layers[0])
    for cls, name in ((cfg_cls, "cnn_layers"), (layer_cls, "dimensions"), (layer_cls, "destinations")):
        original = cls.__setattr__

        def read_only(self: Any, attr: str, value: Any, _orig: Any = original, _name: str = name) -> None:
            if attr == _name:
                raise AttributeError(f"can't set attribute '{attr}'")
            _orig(self, attr, value)

        monkeypatch.setattr(cls, "__setattr__", read_only)
    layer = CnnLayerConfig(
        dimensions=CnnLayerDimensions(stride=Vec2(2, 2), padding=Vec2(1, 1)),
        destinations=(CnnLayerDestination(enable=True, layer=12, pooling=2), CnnLayerDestination()),
    )
    config = ChipConfig().with_layer(8, layer)
    assert from_samna(to_samna(config, chip, samna), chip) == config


def samna_config_name(chip: str) -> str:
    return "DynapcnnConfiguration" if chip == "dynapcnn" else "SpeckConfiguration"
