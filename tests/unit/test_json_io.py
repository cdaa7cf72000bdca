"""hwconfig.json_io: exact round trip, strict reading with field paths, atomic writes, stable hash."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hwconfig
from hwconfig import (
    ChipConfig,
    CnnLayerConfig,
    CnnLayerDestination,
    CnnLayerDimensions,
    ConfigError,
    DvsDestination,
    DvsFilterConfig,
    DvsLayerConfig,
    FactoryConfig,
    IOShape,
    ReadoutConfig,
    Vec2,
)
from hwconfig.json_io import (
    SCHEMA_VERSION,
    LoadedConfig,
    Provenance,
    config_from_dict,
    config_hash,
    config_to_dict,
    document,
    load_config,
    pretty_json,
    save_config,
)
from hwconfig.spec import conv_output_size

REPO = Path(__file__).resolve().parents[2]
SHA = "ab" * 32

# --------------------------------------------------------------------------------------------------
# A strategy over random valid configurations
# --------------------------------------------------------------------------------------------------


@st.composite
def layers_from(draw: st.DrawFn, in_size: tuple[int, int] | None, c: int | None) -> CnnLayerConfig:
    """A valid standalone layer (no enabled destinations) with random flags and in-range arrays."""
    padding = draw(st.tuples(st.integers(0, 7), st.integers(0, 7)))
    size = in_size if in_size is not None else draw(st.tuples(st.integers(1, 12), st.integers(1, 12)))
    k = draw(st.integers(1, min(6, *(n + 2 * p for n, p in zip(size, padding, strict=True)))))
    stride = draw(st.tuples(st.sampled_from([1, 2, 4, 8]), st.sampled_from([1, 2, 4, 8])))
    out = tuple(conv_output_size(n, k, s, p) for n, s, p in zip(size, stride, padding, strict=True))
    c = c if c is not None else draw(st.integers(1, 4))
    f = draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    slots = tuple(
        CnnLayerDestination(
            enable=False,
            layer=draw(st.sampled_from([*range(9), 12])),
            pooling=draw(st.sampled_from([1, 2, 4])),
            feature_shift=draw(st.integers(0, 1023)),
        )
        for _ in range(2)
    )
    return CnnLayerConfig(
        dimensions=CnnLayerDimensions(
            input_shape=IOShape(Vec2(*size), c),
            output_shape=IOShape(Vec2(*out), f),
            padding=Vec2(*padding),
            stride=Vec2(*stride),
            kernel_size=k,
        ),
        weights=rng.integers(-128, 128, size=(f, c, k, k)),
        biases=rng.integers(-32768, 32768, size=f),
        neurons_initial_value=rng.integers(-32768, 32768, size=(f, *out)),
        threshold_high=draw(st.integers(0, 32767)),
        threshold_low=draw(st.integers(-32768, -1)),
        return_to_zero=draw(st.booleans()),
        leak_enable=draw(st.booleans()),
        leak_internal_slow_clk_enable=draw(st.booleans()),
        monitor_enable=draw(st.booleans()),
        input_congestion_balancer_enable=draw(st.booleans()),
        output_decimator_enable=draw(st.booleans()),
        output_decimator_interval=draw(st.integers(0, 7)),
        destinations=slots,
    )


def _link(layer: CnnLayerConfig, slot: int, dest: CnnLayerDestination) -> CnnLayerConfig:
    slots = list(layer.destinations)
    slots[slot] = dest
    return dataclasses.replace(layer, destinations=tuple(slots))


@st.composite
def valid_configs(draw: st.DrawFn) -> ChipConfig:
    """Random valid speck2f configurations: random standalone cores plus a chain of linked cores."""
    layers = [draw(layers_from(None, None)) for _ in range(9)]
    chain = draw(st.permutations(range(9)))[: draw(st.integers(0, 4))]
    dvs = DvsLayerConfig(
        merge=draw(st.booleans()),
        on_channel=draw(st.booleans()),
        off_channel=draw(st.booleans()),
        mirror=hwconfig.BoolVec2(draw(st.booleans()), draw(st.booleans())),
        monitor_enable=draw(st.booleans()),
        raw_monitor_enable=draw(st.booleans()),
        pass_sensor_events=draw(st.booleans()),
        destinations=(DvsDestination(False, draw(st.integers(0, 8))), DvsDestination()),
    )
    if chain and draw(st.booleans()):  # DVS → first core of the chain, through a region of interest
        pool = draw(st.sampled_from([1, 2, 4]))
        size = draw(st.integers(1, 12))
        origin = draw(st.integers(0, 128 // pool - size))
        layers[chain[0]] = draw(layers_from((size, size), draw(st.integers(1 if dvs.merge else 2, 4))))
        dvs = dataclasses.replace(
            dvs,
            pooling=Vec2(pool, pool),
            origin=Vec2(origin, origin),
            cut=Vec2(origin + size - 1, origin + size - 1),
            destinations=(DvsDestination(True, chain[0]), DvsDestination(False, draw(st.integers(0, 8)))),
        )
    for src, dst in itertools.pairwise(chain):
        out = layers[src].dimensions.output_shape
        pool = draw(st.sampled_from([p for p in (1, 2, 4) if min(out.size.x, out.size.y) // p >= 1]))
        shift = draw(st.integers(0, 3))
        pooled = (out.size.x // pool, out.size.y // pool)
        layers[dst] = draw(layers_from(pooled, out.feature_count + shift + draw(st.integers(0, 2))))
        link = CnnLayerDestination(True, dst, pool, shift)
        layers[src] = _link(layers[src], draw(st.integers(0, 1)), link)
    if chain and draw(st.booleans()):
        layers[chain[-1]] = _link(layers[chain[-1]], 1, CnnLayerDestination(True, 12, 1, 0))
    return ChipConfig(
        cnn_layers=tuple(layers),
        dvs_layer=dvs,
        dvs_filter=DvsFilterConfig(
            enable=draw(st.booleans()),
            filter_size=Vec2(draw(st.integers(1, 15)), draw(st.integers(1, 15))),
            threshold=draw(st.integers(0, 100)),
            hot_pixel_filter_enable=draw(st.booleans()),
            low_pass_mode_enable=draw(st.booleans()),
            internal_slow_clk=draw(st.booleans()),
        ),
        readout=ReadoutConfig(
            enable=draw(st.booleans()),
            internal_slow_clk=draw(st.booleans()),
            low_pass_filter_disable=draw(st.booleans()),
            low_pass_filter32_not16=draw(st.booleans()),
            monitor_enable=draw(st.booleans()),
            output_mode_sel=draw(st.integers(0, 3)),
            output_neuron_num=draw(st.integers(0, 15)),
            override_threshold_max=draw(st.booleans()),
            readout_configuration_sel=draw(st.integers(0, 3)),
            readout_pin_monitor_enable=draw(st.booleans()),
            threshold=draw(st.integers(0, 65535)),
        ),
        factory_config=FactoryConfig(draw(st.integers(14, 17)), draw(st.booleans())),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_configs())
def test_round_trip_is_exact(config: ChipConfig) -> None:
    config.validate("speck2f")  # the strategy only makes valid configurations
    data = config_to_dict(config)
    back = config_from_dict(json.loads(json.dumps(data)))
    assert back == config
    assert config_hash(back) == config_hash(config)
    for a, b in zip(back.cnn_layers, config.cnn_layers, strict=True):
        assert a.weights.dtype == b.weights.dtype == np.int8
        assert a.neurons_initial_value.dtype == np.int16


@settings(max_examples=15, deadline=None)
@given(valid_configs())
def test_file_round_trip(config: ChipConfig) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.json"
        save_config(path, config, "speck2f")
        loaded = load_config(path)
    assert loaded.config == config
    assert loaded.chip == "speck2f"


# --------------------------------------------------------------------------------------------------
# The dict form
# --------------------------------------------------------------------------------------------------


def test_dict_uses_samna_names_and_order() -> None:
    data = config_to_dict(ChipConfig())
    assert list(data) == ["cnn_layers", "dvs_layer", "dvs_filter", "readout", "factory_config"]
    layer = data["cnn_layers"][0]
    assert list(layer) == [
        "dimensions",
        "weights",
        "biases",
        "neurons_initial_value",
        "threshold_high",
        "threshold_low",
        "return_to_zero",
        "leak_enable",
        "leak_internal_slow_clk_enable",
        "monitor_enable",
        "input_congestion_balancer_enable",
        "output_decimator_enable",
        "output_decimator_interval",
        "destinations",
    ]
    assert layer["dimensions"]["stride"] == {"x": 1, "y": 1}
    assert layer["destinations"] == [{"enable": False, "layer": 0, "pooling": 1, "feature_shift": 0}] * 2
    assert len(data["cnn_layers"]) == 9


def test_arrays_are_nested_lists_in_samna_order(rng: np.random.Generator) -> None:
    weights = rng.integers(-128, 128, size=(2, 3, 4, 4))
    layer = CnnLayerConfig(weights=weights)
    data = config_to_dict(ChipConfig().with_layer(0, layer))
    assert data["cnn_layers"][0]["weights"][1][2][3][0] == int(weights[1, 2, 3, 0])
    assert data["cnn_layers"][0]["biases"] == [0]


def test_numpy_scalars_become_python_values() -> None:
    layer = CnnLayerConfig(threshold_high=np.int32(9), monitor_enable=np.bool_(True))  # type: ignore[arg-type]
    data = config_to_dict(ChipConfig().with_layer(0, layer))
    assert type(data["cnn_layers"][0]["threshold_high"]) is int
    assert data["cnn_layers"][0]["monitor_enable"] is True
    json.dumps(data)


def test_out_of_range_values_round_trip() -> None:
    """Invalid values still round-trip (validation, not the format, rejects them)."""
    layer = CnnLayerConfig(weights=np.array([[[[300]]]]), threshold_high=-4)
    config = ChipConfig().with_layer(2, layer)
    assert config_from_dict(config_to_dict(config)) == config


def _bad(data: dict[str, Any], expected: str) -> tuple[str, ...]:
    with pytest.raises(ConfigError, match=expected) as info:
        config_from_dict(data)
    return info.value.problems


def _default_dict() -> dict[str, Any]:
    return config_to_dict(ChipConfig())


def test_mistyped_field_names_its_path() -> None:
    data = _default_dict()
    data["cnn_layers"][2]["dimensions"]["stride"]["x"] = "2"
    found = _bad(data, r"cnn_layers\[2\]\.dimensions\.stride\.x: expected int, got str")
    assert found == ("cnn_layers[2].dimensions.stride.x: expected int, got str",)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda d: d["cnn_layers"][0].update(threshold_high=1.0),
            "cnn_layers[0].threshold_high: expected int, got float",
        ),
        (
            lambda d: d["cnn_layers"][0].update(threshold_high=True),
            "cnn_layers[0].threshold_high: expected int, got bool",
        ),
        (
            lambda d: d["cnn_layers"][1].update(leak_enable=0),
            "cnn_layers[1].leak_enable: expected bool, got int",
        ),
        (lambda d: d["dvs_layer"].update(cut=None), "dvs_layer.cut: expected object, got null"),
        (lambda d: d.update(cnn_layers={}), "cnn_layers: expected array, got object"),
        (
            lambda d: d["cnn_layers"][3].update(destinations=[1, d["cnn_layers"][3]["destinations"][1]]),
            "cnn_layers[3].destinations[0]: expected object, got int",
        ),
        (
            lambda d: d["cnn_layers"][0].update(biases=[[0]]),
            r"cnn_layers[0].biases[0]: expected int, got array",
        ),
        (lambda d: d["cnn_layers"][0].update(biases=0), "cnn_layers[0].biases: expected array, got int"),
        (
            lambda d: d["cnn_layers"][0].update(neurons_initial_value=[[[1, 2], [3]]]),
            "cnn_layers[0].neurons_initial_value[0][1]: length 1 != 2 (arrays must be rectangular)",
        ),
        (
            lambda d: d["cnn_layers"][0].update(weights=[[[[1.5]]]]),
            "cnn_layers[0].weights[0][0][0][0]: expected int, got float",
        ),
        (
            lambda d: d["cnn_layers"][0].update(weights=[[[[2**70]]]]),
            f"cnn_layers[0].weights[0][0][0][0]: {2**70} does not fit in 64 bits",
        ),
        (lambda d: d["readout"].pop("threshold"), "readout.threshold: missing"),
        (lambda d: d.pop("factory_config"), "factory_config: missing"),
        (
            lambda d: d["cnn_layers"][4]["destinations"][1].update(weight=1),
            "cnn_layers[4].destinations[1].weight: unknown field",
        ),
        (lambda d: d.update(debug_config={}), "debug_config: unknown field"),
    ],
)
def test_strict_reading(edit: Any, expected: str) -> None:
    data = _default_dict()
    edit(data)
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    assert info.value.problems == (expected,)
    assert expected in str(info.value)


def test_all_reading_problems_at_once() -> None:
    data = _default_dict()
    data["cnn_layers"][0]["threshold_low"] = "x"
    del data["dvs_layer"]["merge"]
    data["readout"]["colour"] = 1
    found = _bad(data, r"\(3 problems\)")
    assert found == (
        "cnn_layers[0].threshold_low: expected int, got str",
        "dvs_layer.merge: missing",
        "readout.colour: unknown field",
    )


def test_root_must_be_an_object() -> None:
    _bad([], r"<root>: expected object, got array")  # type: ignore[arg-type]


def test_empty_arrays_keep_their_rank() -> None:
    """Zero-size arrays are never valid; they load with the right rank (trailing sizes become 0)."""
    data = _default_dict()
    data["cnn_layers"][0]["weights"] = [[]]
    layer = config_from_dict(data).cnn_layers[0]
    assert layer.weights.shape == (1, 0, 0, 0)


# --------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------


def test_save_and_load(tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    config = ChipConfig().with_layer(1, CnnLayerConfig(threshold_high=5, monitor_enable=True))
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    assert save_config(path, config, "speck") == path
    loaded = load_config(path)
    assert isinstance(loaded, LoadedConfig)
    assert loaded.config == config
    assert loaded.chip == "speck2f"  # canonical name of the alias
    assert loaded.schema_version == SCHEMA_VERSION == 1
    prov = loaded.provenance
    assert (prov.tool, prov.tool_version, prov.source_model_sha256, dict(prov.extra)) == (
        "speck-deploy",
        hwconfig.__version__,
        None,
        {},
    )
    assert before <= dt.datetime.fromisoformat(prov.created) <= dt.datetime.now(dt.timezone.utc)
    raw = json.loads(path.read_text())
    assert list(raw) == ["schema_version", "chip", "provenance", "config"]
    assert raw["config"] == config_to_dict(config)


def test_file_permissions(tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    save_config(path, ChipConfig(), "speck2f")
    assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600
    path.chmod(0o640)
    save_config(path, ChipConfig(), "speck2f")
    assert path.stat().st_mode & 0o777 == 0o640


def test_custom_provenance_is_kept(tmp_path: Path) -> None:
    prov = Provenance(
        tool="notebook",
        tool_version="7",
        created="2020-01-01T00:00:00+00:00",
        source_model_sha256=SHA,
        extra={"scales": [1.5, 2], "cmd": "deploy-model x.pt"},
    )
    save_config(tmp_path / "a.json", ChipConfig(), "speck2e", prov)
    assert load_config(tmp_path / "a.json").provenance == prov


def test_pretty_json_keeps_scalar_lists_on_one_line() -> None:
    value = {"a": [[1, -2], [3, 4]], "b": {}, "c": [], "d": [{"x": None}, 2.5, "s"]}
    text = pretty_json(value)
    assert json.loads(text) == value
    assert "[1, -2]" in text


def _pretty_with_the_encoder(value: Any, level: int = 0) -> str:
    """The writer's layout built with json.dumps for every leaf: what the fast int-row path must equal."""
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(value, dict) and value:
        items = [
            f"{inner}{json.dumps(str(k))}: {_pretty_with_the_encoder(v, level + 1)}" for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        items = [f"{inner}{_pretty_with_the_encoder(v, level + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return json.dumps(value)


_json_leaf = st.one_of(st.integers(-(2**40), 2**40), st.booleans(), st.none(), st.text(max_size=3))
_json_value = st.recursive(
    _json_leaf | st.lists(st.integers(-(2**16), 2**16), max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(_json_value)
def test_pretty_json_fast_rows_give_the_encoders_bytes(value: Any) -> None:
    assert pretty_json(value) == _pretty_with_the_encoder(value)


def test_save_refuses_invalid_config(tmp_path: Path) -> None:
    bad = ChipConfig().with_layer(0, CnnLayerConfig(threshold_low=0))
    path = tmp_path / "bad.json"
    with pytest.raises(
        ConfigError,
        match=rf"in {re.escape(str(path))}: cnn_layers\[0\]\.threshold_low: 0 not in \[-32768, -1\]",
    ):
        save_config(path, bad, "speck2f")
    assert not path.exists()
    save_config(path, bad, "speck2f", validate=False)
    assert load_config(path, validate=False).config == bad
    with pytest.raises(ConfigError, match=rf"in {re.escape(str(path))}: cnn_layers\[0\]\.threshold_low"):
        load_config(path)


def _write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value))
    return path


def _doc() -> dict[str, Any]:
    return document(ChipConfig(), "speck2f", Provenance(created="2026-01-01T00:00:00+00:00"))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", r"cannot read a JSON configuration: Expecting value"),
        ("{not json", r"cannot read a JSON configuration"),
        ('{"schema_version": NaN}', r"cannot read a JSON configuration: NaN is not valid JSON"),
        ("[1, 2]", r"<root>: expected a JSON object, got array"),
        ("{}", r"schema_version: missing"),
        ('{"schema_version": "1"}', r"schema_version: expected int, got str"),
        (
            '{"schema_version": 2}',
            r"schema_version: 2 is not supported \(written by a newer speck-deploy\); ",
        ),
        ('{"schema_version": 0}', r"schema_version: 0 is not supported; this version reads 1\.\.1"),
    ],
)
def test_load_rejects_bad_files(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "f.json"
    path.write_text(content)
    with pytest.raises(
        ConfigError, match=rf"invalid chip configuration in {re.escape(str(path))}: {expected}"
    ):
        load_config(path)


def test_load_rejects_non_utf8_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "latin.json"
    path.write_bytes(b'{"chip": "\xe9"}')
    with pytest.raises(ConfigError, match=rf"in {re.escape(str(path))}: cannot read.*utf-8"):
        load_config(path)
    with pytest.raises(
        ConfigError, match=rf"in {re.escape(str(tmp_path / 'nope.json'))}: cannot read.*No such file"
    ):
        load_config(tmp_path / "nope.json")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d.update(chip="loihi"), "chip: unknown chip 'loihi'; valid chips: dynapcnn"),
        (lambda d: d.update(chip=3), "chip: expected str, got int"),
        (lambda d: d.update(comment="x"), "comment: unknown field"),
        (lambda d: d.pop("config"), "config: missing"),
        (lambda d: d.update(provenance=[]), "provenance: expected object, got array"),
        (
            lambda d: d["provenance"].update(source_model_sha256="abc"),
            "provenance.source_model_sha256: 'abc' is not 64",
        ),
        (lambda d: d["provenance"].update(user="me"), "provenance.user: unknown field"),
        (lambda d: d["provenance"].pop("created"), "provenance.created: missing"),
        (lambda d: d["provenance"].update(extra=[]), "provenance.extra: expected dict, got array"),
        (
            lambda d: d["config"]["readout"].update(threshold="0"),
            "config.readout.threshold: expected int, got str",
        ),
    ],
)
def test_load_reports_document_problems(tmp_path: Path, edit: Any, expected: str) -> None:
    data = _doc()
    edit(data)
    path = _write_json(tmp_path / "doc.json", data)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.source == str(path)
    assert len(info.value.problems) == 1 and info.value.problems[0].startswith(expected), info.value.problems
    assert str(path) in str(info.value)


def test_atomic_write_keeps_old_file_when_serialisation_fails(tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    save_config(path, ChipConfig(), "speck2f")
    old = path.read_bytes()
    with pytest.raises(ConfigError, match=rf"in {re.escape(str(path))}: not JSON-serialisable"):
        save_config(path, ChipConfig(), "speck2f", Provenance(extra={"obj": object()}))
    with pytest.raises(ConfigError, match=r"not JSON-serialisable: Out of range float values"):
        save_config(path, ChipConfig(), "speck2f", Provenance(extra={"x": float("nan")}))
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json"]


def test_atomic_write_keeps_old_file_when_the_move_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "net.json"
    save_config(path, ChipConfig(), "speck2f")
    old = path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        assert Path(src).read_text().startswith("{")  # the whole new text was written to the temp file
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    changed = ChipConfig().with_layer(0, CnnLayerConfig(threshold_high=3))
    with pytest.raises(OSError, match="disk full"):
        save_config(path, changed, "speck2f")
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json"]


def test_save_provenance_type_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"provenance\.source_model_sha256: 'XYZ' is not 64 lowercase hex"):
        save_config(tmp_path / "p.json", ChipConfig(), "speck2f", Provenance(source_model_sha256="XYZ"))
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------------
# Hash
# --------------------------------------------------------------------------------------------------

DEFAULT_HASH = "338415e6970a9c38a6f4cf6890a3a27fcbc824034da0d8fa96242aed42365f63"


def _sample_config() -> ChipConfig:
    rng = np.random.default_rng(1234)
    layer = CnnLayerConfig(
        dimensions=CnnLayerDimensions(
            input_shape=IOShape(Vec2(2, 2), 2), output_shape=IOShape(Vec2(1, 1), 3), kernel_size=2
        ),
        weights=rng.integers(-128, 128, size=(3, 2, 2, 2)),
        biases=rng.integers(-9, 9, size=3),
        neurons_initial_value=rng.integers(-9, 9, size=(3, 1, 1)),
        threshold_high=77,
    )
    return ChipConfig().with_layer(4, layer)


def test_hash_of_default_config_is_pinned() -> None:
    """Changing the canonical serialisation changes every stored hash: it must be deliberate."""
    assert config_hash(ChipConfig()) == DEFAULT_HASH


def test_hash_covers_values_not_provenance(tmp_path: Path) -> None:
    config = _sample_config()
    save_config(tmp_path / "a.json", config, "speck2f", Provenance(tool="a", created="2020-01-01T00:00:00"))
    save_config(tmp_path / "b.json", config, "speck2e", Provenance(tool="b", source_model_sha256=SHA))
    a, b = load_config(tmp_path / "a.json"), load_config(tmp_path / "b.json")
    assert config_hash(a.config) == config_hash(b.config) == config_hash(config)
    weights = config.cnn_layers[4].weights.copy()
    weights[2, 1, 1, 0] += 1 if weights[2, 1, 1, 0] < 127 else -1
    changed = config.with_layer(4, dataclasses.replace(config.cnn_layers[4], weights=weights))
    assert config_hash(changed) != config_hash(config)
    flag = config.with_layer(8, dataclasses.replace(config.cnn_layers[8], monitor_enable=True))
    assert config_hash(flag) != config_hash(config)


@pytest.mark.parametrize("seed", ["0", "12345", "random"])
def test_hash_is_stable_across_processes(seed: str) -> None:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2])\n"
        "from test_json_io import _sample_config\n"
        "from hwconfig.json_io import config_hash\n"
        "print(config_hash(_sample_config()))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run(
        [sys.executable, "-c", code, str(REPO), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=REPO,
    )
    assert out.stdout.strip() == config_hash(_sample_config())


def test_docs_example_hash() -> None:
    """The example in docs/config-format.md states its hash; keep the document honest."""
    layer0 = CnnLayerConfig(
        dimensions=CnnLayerDimensions(
            input_shape=IOShape(Vec2(4, 4), 1), output_shape=IOShape(Vec2(2, 2), 2), kernel_size=3
        ),
        weights=np.array([[[[1, 0, -1], [2, 0, -2], [1, 0, -1]]], [[[1, 2, 1], [0, 0, 0], [-1, -2, -1]]]]),
        biases=np.zeros(2, np.int16),
        neurons_initial_value=np.zeros((2, 2, 2), np.int16),
        threshold_high=4,
        threshold_low=-4,
        destinations=(CnnLayerDestination(True, 1, 2, 0), CnnLayerDestination()),
    )
    layer1 = CnnLayerConfig(
        dimensions=CnnLayerDimensions(
            input_shape=IOShape(Vec2(1, 1), 2), output_shape=IOShape(Vec2(1, 1), 1)
        ),
        weights=np.array([[[[3]], [[-3]]]]),
        threshold_high=3,
        threshold_low=-3,
        monitor_enable=True,
    )
    config = ChipConfig().with_layer(0, layer0).with_layer(1, layer1)
    config.validate("speck2f")
    doc = (REPO / "docs" / "config-format.md").read_text()
    assert f"Its `config_hash` is `{config_hash(config)}`." in doc
