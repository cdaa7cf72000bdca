"""validate_config: one bad configuration per rule, each problem reported with its field path."""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwconfig import (
    CHIPS,
    ChipConfig,
    ChipSpec,
    CnnLayerConfig,
    CnnLayerDestination,
    CnnLayerDimensions,
    ConfigError,
    DvsDestination,
    FactoryConfig,
    IOShape,
    UnknownChipError,
    Vec2,
    get_chip,
)
from hwconfig.json_io import config_from_dict, config_to_dict
from hwconfig.spec import conv_output_size
from hwconfig.validate import FieldType, dvs_output_shape, field_types, validate_config

SPECK = get_chip("speck2f")


def make_layer(
    rng: np.random.Generator,
    in_size: int,
    c: int,
    f: int,
    k: int,
    *,
    stride: int = 1,
    padding: int = 0,
    destinations: tuple[CnnLayerDestination, ...] = (),
    **kw: Any,
) -> CnnLayerConfig:
    """A consistent layer: output size from the formula, random in-range arrays."""
    out = conv_output_size(in_size, k, stride, padding)
    dims = CnnLayerDimensions(
        input_shape=IOShape(Vec2(in_size, in_size), c),
        output_shape=IOShape(Vec2(out, out), f),
        padding=Vec2(padding, padding),
        stride=Vec2(stride, stride),
        kernel_size=k,
    )
    slots = tuple(destinations) + tuple(CnnLayerDestination() for _ in range(2 - len(destinations)))
    return CnnLayerConfig(
        dimensions=dims,
        weights=rng.integers(-128, 128, size=(f, c, k, k)),
        biases=rng.integers(-1000, 1000, size=f),
        neurons_initial_value=rng.integers(-5, 5, size=(f, out, out)),
        threshold_high=int(rng.integers(1, 1000)),
        threshold_low=-int(rng.integers(1, 1000)),
        destinations=slots,
        **kw,
    )


def network(rng: np.random.Generator) -> ChipConfig:
    """DVS (pool 4) → core 0 (2→8, 32×32) →pool 2→ core 3 (8→16, s=2) →pool 2→ core 5 (16→10) → readout."""
    core0 = make_layer(rng, 32, 2, 8, 3, padding=1, destinations=(CnnLayerDestination(True, 3, 2),))
    core3 = make_layer(
        rng, 16, 8, 16, 3, stride=2, padding=1, destinations=(CnnLayerDestination(True, 5, 2),)
    )
    core5 = make_layer(rng, 4, 16, 10, 4, destinations=(CnnLayerDestination(True, 12),), monitor_enable=True)
    config = ChipConfig().with_layer(0, core0).with_layer(3, core3).with_layer(5, core5)
    dvs = dataclasses.replace(
        config.dvs_layer, pooling=Vec2(4, 4), destinations=(DvsDestination(True, 0), DvsDestination())
    )
    return dataclasses.replace(config, dvs_layer=dvs)


def replace_layer(config: ChipConfig, core: int, **kw: Any) -> ChipConfig:
    return config.with_layer(core, dataclasses.replace(config.cnn_layers[core], **kw))


def replace_dims(config: ChipConfig, core: int, **kw: Any) -> ChipConfig:
    dims = dataclasses.replace(config.cnn_layers[core].dimensions, **kw)
    return replace_layer(config, core, dimensions=dims)


def replace_dest(config: ChipConfig, core: int, slot: int, **kw: Any) -> ChipConfig:
    dests = list(config.cnn_layers[core].destinations)
    dests[slot] = dataclasses.replace(dests[slot], **kw)
    return replace_layer(config, core, destinations=tuple(dests))


def replace_part(config: ChipConfig, part: str, **kw: Any) -> ChipConfig:
    return dataclasses.replace(config, **{part: dataclasses.replace(getattr(config, part), **kw)})


def problems(config: Any, chip: str | ChipSpec = "speck2f", *, expect: str) -> tuple[str, ...]:
    """Validate, expecting a ConfigError whose message contains ``expect``; return all problems."""
    with pytest.raises(ConfigError, match=re.escape(expect)) as info:
        validate_config(config, chip)
    return info.value.problems


@pytest.fixture
def net(rng: np.random.Generator) -> ChipConfig:
    return network(rng)


@pytest.mark.parametrize("chip", sorted(CHIPS))
def test_default_config_is_valid(chip: str) -> None:
    validate_config(ChipConfig(), chip)
    ChipConfig().validate(CHIPS[chip])


def test_valid_network_passes(net: ChipConfig) -> None:
    assert net.used_cores() == (0, 3, 5)
    net.validate("speck")  # alias
    validate_config(net, SPECK)


def test_unknown_chip_lists_valid_names(net: ChipConfig) -> None:
    with pytest.raises(UnknownChipError, match="valid chips: dynapcnn, speck2e, speck2f"):
        validate_config(net, "loihi")


def test_not_a_config() -> None:
    with pytest.raises(ConfigError, match=r"<root>: expected ChipConfig, got dict"):
        validate_config({}, "speck2f")  # type: ignore[arg-type]


# Each case: a change to the valid network and the exact single problem it must produce.
Mutation = Callable[[ChipConfig], ChipConfig]
CASES: list[tuple[str, Mutation, str]] = [
    # -- types
    (
        "int-field-str",
        lambda c: replace_layer(c, 0, threshold_high="7"),
        "cnn_layers[0].threshold_high: expected int, got str",
    ),
    (
        "int-field-bool",
        lambda c: replace_layer(c, 0, output_decimator_interval=True),
        "cnn_layers[0].output_decimator_interval: expected int, got bool",
    ),
    (
        "bool-field-int",
        lambda c: replace_layer(c, 3, return_to_zero=1),
        "cnn_layers[3].return_to_zero: expected bool, got int",
    ),
    (
        "vec-float",
        lambda c: replace_dims(c, 2, stride=Vec2(1.0, 1)),  # type: ignore[arg-type]
        "cnn_layers[2].dimensions.stride.x: expected int, got float",
    ),
    (
        "node-none",
        lambda c: replace_layer(c, 4, dimensions=None),
        "cnn_layers[4].dimensions: expected CnnLayerDimensions, got null",
    ),
    (
        "dest-dict",
        lambda c: replace_layer(c, 0, destinations=({"layer": 1}, CnnLayerDestination())),
        "cnn_layers[0].destinations[0]: expected CnnLayerDestination, got dict",
    ),
    (
        "dvs-bool",
        lambda c: replace_part(c, "dvs_layer", merge="yes"),
        "dvs_layer.merge: expected bool, got str",
    ),
    (
        "readout-type",
        lambda c: replace_part(c, "readout", threshold=1.5),
        "readout.threshold: expected int, got float",
    ),
    (
        "factory-node",
        lambda c: dataclasses.replace(c, factory_config=17),
        "factory_config: expected FactoryConfig, got int",
    ),
    (
        "layers-list",
        lambda c: object.__setattr__(c, "cnn_layers", list(c.cnn_layers)) or c,
        "cnn_layers: expected tuple, got list",
    ),
    # -- dimensions (§7.2, §3.2)
    (
        "kernel-0",
        lambda c: replace_dims(c, 1, kernel_size=0),
        "cnn_layers[1].dimensions.kernel_size: 0 not in [1, 16]",
    ),
    (
        "kernel-17",
        lambda c: replace_dims(c, 1, kernel_size=17),
        "cnn_layers[1].dimensions.kernel_size: 17 not in [1, 16]",
    ),
    (
        "stride-3",
        lambda c: replace_dims(c, 1, stride=Vec2(1, 3)),
        "cnn_layers[1].dimensions.stride.y: 3 not in {1, 2, 4, 8}",
    ),
    (
        "padding-8",
        lambda c: replace_dims(c, 1, padding=Vec2(8, 0)),
        "cnn_layers[1].dimensions.padding.x: 8 not in [0, 7]",
    ),
    (
        "in-features-0",
        lambda c: replace_dims(c, 1, input_shape=IOShape(Vec2(1, 1), 0)),
        "cnn_layers[1].dimensions.input_shape.feature_count: 0 not in [1, 1024]",
    ),
    (
        "input-129",
        lambda c: replace_dims(c, 1, input_shape=IOShape(Vec2(129, 1), 1)),
        "cnn_layers[1].dimensions.input_shape.size.x: 129 not in [1, 128]",
    ),
    (
        "formula",
        lambda c: replace_dims(c, 3, stride=Vec2(1, 2)),
        "cnn_layers[3].dimensions.output_shape.size.x: 8 != floor((16 − 3 + 2·1) / 1) + 1 = 16",
    ),
    # -- array shapes and word ranges (§2.1, §7.3(2))
    (
        "weights-shape",
        lambda c: replace_layer(c, 5, weights=np.zeros((10, 16, 3, 3), np.int8)),
        "cnn_layers[5].weights: shape [10, 16, 3, 3] != [10, 16, 4, 4] [f][c][k][k]",
    ),
    (
        "biases-shape",
        lambda c: replace_layer(c, 5, biases=np.zeros(9, np.int16)),
        "cnn_layers[5].biases: shape [9] != [10] [f]",
    ),
    (
        "state-shape",
        lambda c: replace_layer(c, 5, neurons_initial_value=np.zeros((10, 1, 2), np.int16)),
        "cnn_layers[5].neurons_initial_value: shape [10, 1, 2] != [10, 1, 1] [f][x][y]",
    ),
    (
        "weights-range",
        lambda c: replace_layer(
            c, 5, weights=np.where(np.arange(10 * 16 * 16).reshape(10, 16, 4, 4) >= 17, 128, 0)
        ),
        "cnn_layers[5].weights[0][1][0][1]: 128 outside the int8 range [-128, 127] (and 2542 more)",
    ),
    (
        "biases-range",
        lambda c: replace_layer(c, 5, biases=np.array([0] * 9 + [-32769])),
        "cnn_layers[5].biases[9]: -32769 outside the int16 range [-32768, 32767]",
    ),
    (
        "states-range",
        lambda c: replace_layer(c, 5, neurons_initial_value=np.full((10, 1, 1), 40000)),
        "cnn_layers[5].neurons_initial_value[0][0][0]: 40000 outside the int16 range [-32768, 32767] "
        "(and 9 more)",
    ),
    # -- thresholds, decimator (§2.1, §4.1)
    (
        "thr-high",
        lambda c: replace_layer(c, 0, threshold_high=32768),
        "cnn_layers[0].threshold_high: 32768 not in [0, 32767]",
    ),
    (
        "thr-high-negative",
        lambda c: replace_layer(c, 0, threshold_high=-1),
        "cnn_layers[0].threshold_high: -1 not in [0, 32767]",
    ),
    (
        "thr-low-zero",
        lambda c: replace_layer(c, 0, threshold_low=0),
        "cnn_layers[0].threshold_low: 0 not in [-32768, -1]",
    ),
    (
        "decimator",
        lambda c: replace_layer(c, 7, output_decimator_interval=8),
        "cnn_layers[7].output_decimator_interval: 8 not in [0, 7]",
    ),
    # -- destinations (§4.3, §7.3(3))
    (
        "three-slots",
        lambda c: replace_layer(c, 6, destinations=(CnnLayerDestination(),) * 3),
        "cnn_layers[6].destinations: 3 slots, expected exactly 2",
    ),
    (
        "dest-layer",
        lambda c: replace_dest(c, 0, 1, layer=9),
        "cnn_layers[0].destinations[1].layer: 9 not in {0, 1, 2, 3, 4, 5, 6, 7, 8, 12}",
    ),
    (
        "dest-pooling",
        lambda c: replace_dest(c, 3, 1, pooling=3),
        "cnn_layers[3].destinations[1].pooling: 3 not in {1, 2, 4}",
    ),
    (
        "dest-shift-negative",
        lambda c: replace_dest(c, 8, 0, feature_shift=-1),
        "cnn_layers[8].destinations[0].feature_shift: -1 is negative",
    ),
    (
        "dest-shift-overflow",
        lambda c: replace_dest(c, 0, 0, feature_shift=1),
        "cnn_layers[0].destinations[0].feature_shift: 1 + 8 source features > 8 input features of core 3",
    ),
    (
        "dest-size",
        lambda c: replace_dest(c, 3, 0, pooling=4),
        "cnn_layers[3].destinations[0]: source output 2×2 (8×8 pooled by 4) != input size 4×4 of core 5",
    ),
    # -- memory of used cores (§7.1)
    (
        "neuron-memory",
        lambda c: replace_layer(c, 2, **standalone(64, 16, 32, 3, padding=1, monitor_enable=True)),
        "cnn_layers[2].dimensions: neuron memory 131072 words (f=32, 64×64) > 65536 on core 2",
    ),
    (
        "kernel-memory",
        lambda c: replace_layer(c, 2, **standalone(8, 64, 64, 3, monitor_enable=True)),
        "cnn_layers[2].dimensions: kernel memory 65536 words (c=64, f=64, k=3) > 16384 on core 2",
    ),
    # -- DVS layer (§5)
    (
        "dvs-pooling",
        lambda c: replace_part(c, "dvs_layer", pooling=Vec2(4, 3)),
        "dvs_layer.pooling.y: 3 not in {1, 2, 4}",
    ),
    (
        "dvs-cut",
        lambda c: replace_part(c, "dvs_layer", cut=Vec2(128, 31)),
        "dvs_layer.cut.x: 128 not in [0, 127]",
    ),
    (
        "dvs-origin-cut",
        lambda c: replace_part(c, "dvs_layer", origin=Vec2(0, 9), cut=Vec2(31, 8)),
        "dvs_layer.origin.y: 9 > cut.y = 8",
    ),
    (
        "dvs-dest-layer",
        lambda c: replace_part(c, "dvs_layer", destinations=(DvsDestination(False, 12), DvsDestination())),
        "dvs_layer.destinations[0].layer: 12 not in {0, 1, 2, 3, 4, 5, 6, 7, 8}",
    ),
    (
        "dvs-dest-slots",
        lambda c: replace_part(c, "dvs_layer", destinations=(DvsDestination(True, 0),)),
        "dvs_layer.destinations: 1 slots, expected exactly 2",
    ),
    (
        "dvs-size",
        lambda c: replace_part(c, "dvs_layer", pooling=Vec2(2, 4)),
        "dvs_layer.destinations[0]: DVS layer output 64×32 != input size 32×32 of core 0",
    ),
    (
        "dvs-features",
        lambda c: replace_dims(
            replace_layer(c, 0, weights=np.zeros((8, 1, 3, 3), np.int8)),
            0,
            input_shape=IOShape(Vec2(32, 32), 1),
        ),
        "dvs_layer.destinations[0]: 0 + 2 DVS layer features > 1 input features of core 0",
    ),
    # -- readout (§6), filter (§5), factory (§2.4)
    (
        "readout-mode",
        lambda c: replace_part(c, "readout", output_mode_sel=4),
        "readout.output_mode_sel: 4 not in [0, 3]",
    ),
    (
        "readout-sel",
        lambda c: replace_part(c, "readout", readout_configuration_sel=-1),
        "readout.readout_configuration_sel: -1 not in [0, 3]",
    ),
    (
        "readout-neuron",
        lambda c: replace_part(c, "readout", output_neuron_num=16),
        "readout.output_neuron_num: 16 not in [0, 15]",
    ),
    (
        "readout-threshold",
        lambda c: replace_part(c, "readout", threshold=65536),
        "readout.threshold: 65536 not in [0, 65535]",
    ),
    (
        "filter-size",
        lambda c: replace_part(c, "dvs_filter", filter_size=Vec2(3, 16)),
        "dvs_filter.filter_size.y: 16 not in [1, 15]",
    ),
    (
        "filter-threshold",
        lambda c: replace_part(c, "dvs_filter", threshold=-1),
        "dvs_filter.threshold: -1 is negative",
    ),
    (
        "slow-clk-divider",
        lambda c: dataclasses.replace(c, factory_config=FactoryConfig(internal_slow_clk_divider=13)),
        "factory_config.internal_slow_clk_divider: 13 not in [14, 17]",
    ),
    (
        "eight-layers",
        lambda c: dataclasses.replace(c, cnn_layers=c.cnn_layers[:6] + c.cnn_layers[7:]),
        "cnn_layers: 8 layers, but speck2f has 9 cores",
    ),
]


def standalone(in_size: int, c: int, f: int, k: int, **kw: Any) -> dict[str, Any]:
    """The fields of a consistent layer without destinations, for ``replace_layer(config, core, **…)``."""
    layer = make_layer(np.random.default_rng(9), in_size, c, f, k, **kw)
    return {f.name: getattr(layer, f.name) for f in dataclasses.fields(layer)}


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_rule_one_problem(net: ChipConfig, mutate: Mutation, expected: str) -> None:
    found = problems(mutate(net), expect=expected)
    assert len(found) == 1, found
    assert found[0].startswith(expected)


def test_wide_values_kept_for_reporting() -> None:
    """Out-of-range arrays are stored as int64 (config.py), not wrapped, so the check can see them."""
    layer = CnnLayerConfig(weights=np.array([[[[200]]]]))
    assert layer.weights.dtype == np.int64
    found = problems(ChipConfig().with_layer(4, layer), expect="cnn_layers[4].weights[0][0][0][0]: 200")
    assert found == ("cnn_layers[4].weights[0][0][0][0]: 200 outside the int8 range [-128, 127]",)


def test_numpy_scalars_are_accepted(net: ChipConfig) -> None:
    config = replace_layer(net, 0, threshold_high=np.int32(5), return_to_zero=np.bool_(True))
    validate_config(config, "speck2f")


def test_disabled_destination_is_not_linked(net: ChipConfig) -> None:
    """A disabled slot may point anywhere valid; sizes and features are only checked when enabled."""
    validate_config(replace_dest(net, 0, 1, layer=5, pooling=4, feature_shift=500), "speck2f")
    found = problems(replace_dest(net, 0, 1, enable=True, layer=5), expect="cnn_layers[0].destinations[1]")
    assert found == ("cnn_layers[0].destinations[1]: source output 32×32 != input size 4×4 of core 5",)


def test_memory_only_checked_for_used_cores(net: ChipConfig) -> None:
    big = standalone(64, 16, 32, 3, padding=1)  # SPECK_SEMANTICS §12b.9: 128 Ki neuron words
    validate_config(replace_layer(net, 2, **big), "speck2f")  # core 2 unused: fine
    problems(replace_layer(net, 2, **{**big, "monitor_enable": True}), expect="neuron memory 131072")


def test_bias_memory_when_leak_enabled(net: ChipConfig) -> None:
    cores = tuple(dataclasses.replace(c, bias_memory=8) for c in SPECK.cores)
    small = dataclasses.replace(SPECK, cores=cores)
    validate_config(net, small)  # no leak: the bias memory is not used
    leaky = replace_layer(net, 5, leak_enable=True)
    found = problems(leaky, small, expect="cnn_layers[5].biases: bias memory 10 words > 8 on core 5")
    assert len(found) == 1


def test_readout_destination_needs_a_readout(net: ChipConfig) -> None:
    no_readout = dataclasses.replace(SPECK, has_readout=False)
    found = problems(
        net, no_readout, expect="cnn_layers[5].destinations[0].layer: readout layer 12 as destination"
    )
    assert found == (
        "cnn_layers[5].destinations[0].layer: readout layer 12 as destination, "
        "but speck2f has no readout layer",
    )
    enabled = replace_part(replace_dest(net, 5, 0, enable=False), "readout", enable=True)
    found = problems(enabled, no_readout, expect="readout.enable: speck2f has no readout layer")
    assert len(found) == 1


def test_dvs_destination_needs_a_dvs(net: ChipConfig) -> None:
    no_dvs = dataclasses.replace(SPECK, has_dvs=False)
    found = problems(net, no_dvs, expect="dvs_layer.destinations[0].enable: speck2f has no DVS layer")
    assert len(found) == 1


def test_dvs_output_shape_roi_and_diagonal_mirror() -> None:
    dvs = dataclasses.replace(
        ChipConfig().dvs_layer, pooling=Vec2(2, 4), origin=Vec2(10, 0), cut=Vec2(127, 19), merge=True
    )
    # x: pooled sensor is 64 wide, the cut is clipped to 63 → 63 − 10 + 1 = 54; y: 19 − 0 + 1 = 20.
    assert dvs_output_shape(dvs, SPECK) == (54, 20, 1)
    assert dvs_output_shape(dataclasses.replace(dvs, mirror_diagonal=True), SPECK) == (20, 54, 1)


def test_dvs_roi_feeding_a_core(net: ChipConfig) -> None:
    roi = replace_part(net, "dvs_layer", pooling=Vec2(2, 2), origin=Vec2(8, 0), cut=Vec2(39, 31))
    validate_config(roi, "speck2f")  # 32×32 window of the 64×64 pooled sensor
    found = problems(
        replace_part(roi, "dvs_layer", cut=Vec2(39, 32)), expect="DVS layer output 32×33 != input size 32×32"
    )
    assert len(found) == 1


def test_all_problems_reported_at_once(net: ChipConfig) -> None:
    bad = replace_layer(net, 0, return_to_zero="no")
    bad = replace_layer(bad, 1, threshold_high=-5)
    bad = replace_dest(bad, 3, 1, pooling=3)
    bad = replace_part(bad, "readout", output_mode_sel=9)
    with pytest.raises(ConfigError, match=r"invalid chip configuration \(4 problems\)") as info:
        bad.validate("speck2f")
    assert info.value.problems == (
        "cnn_layers[0].return_to_zero: expected bool, got str",
        "cnn_layers[1].threshold_high: -5 not in [0, 32767]",
        "cnn_layers[3].destinations[1].pooling: 3 not in {1, 2, 4}",
        "readout.output_mode_sel: 9 not in [0, 3]",
    )


def test_figures_come_from_the_chip_spec(net: ChipConfig) -> None:
    """A chip with other limits changes the verdict: nothing is keyed on chip names."""
    strict = dataclasses.replace(SPECK, name="tiny", allowed_pooling=frozenset({1}), max_output_size=16)
    found = problems(net, strict, expect="cnn_layers[0].destinations[0].pooling: 2 not in {1}")
    assert "cnn_layers[0].dimensions.output_shape.size.x: 32 not in [1, 16]" in found


@dataclasses.dataclass(frozen=True)
class _FixedPair:
    pair: tuple[int, int] = (0, 0)


@dataclasses.dataclass(frozen=True)
class _Floaty:
    gain: float = 0.0


def test_field_types_describe_the_model() -> None:
    kinds = dict(field_types(CnnLayerConfig))
    assert (kinds["weights"].kind, kinds["weights"].ndim) == ("array", 4)
    assert (kinds["biases"].ndim, kinds["neurons_initial_value"].ndim) == (1, 3)
    assert kinds["destinations"].kind == "seq"
    assert kinds["destinations"].item == FieldType("node", node=CnnLayerDestination)
    assert (kinds["threshold_low"].kind, kinds["leak_enable"].kind) == ("int", "bool")


def test_field_types_reject_unsupported_annotations() -> None:
    with pytest.raises(TypeError, match=r"unsupported tuple annotation .*: use tuple\[X, \.\.\.\]"):
        field_types(_FixedPair)
    with pytest.raises(TypeError, match=r"unsupported field annotation <class 'float'>"):
        field_types(_Floaty)


def _int_leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every int (not bool) in a config_to_dict tree."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _int_leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _int_leaves(v, (*path, i))]
    return [path] if type(value) is int else []


_NET_DICT = config_to_dict(network(np.random.default_rng(5)))
_ARRAYS = {"weights", "biases", "neurons_initial_value"}
_LEAVES = [p for p in _int_leaves(_NET_DICT) if not _ARRAYS & set(p)]  # array values: see the word checks


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(_LEAVES), st.integers(-(2**20), 2**20) | st.sampled_from([0, 1, -1, 3])),
        min_size=1,
        max_size=3,
    )
)
def test_any_int_change_is_accepted_or_reported(edits: list[tuple[tuple[Any, ...], int]]) -> None:
    """Robustness: changing any integer anywhere never crashes the validator; it passes or reports."""
    data = copy.deepcopy(_NET_DICT)
    for path, value in edits:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    config = config_from_dict(data)
    try:
        validate_config(config, "speck2f")
    except ConfigError as exc:
        assert exc.problems and all(": " in p for p in exc.problems)


@pytest.mark.parametrize("layer", [-1, -10])
def test_negative_destination_layer_is_reported_not_crashing(layer: int) -> None:
    """Found by the hypothesis test above: a negative destination id was taken as a used core (IndexError /
    KeyError in the memory check) instead of being reported as out of range."""
    data = copy.deepcopy(_NET_DICT)
    data["cnn_layers"][0]["destinations"][0]["layer"] = layer
    config = config_from_dict(data)
    assert all(0 <= c < len(config.cnn_layers) for c in config.used_cores())
    with pytest.raises(ConfigError, match=rf"cnn_layers\[0\]\.destinations\[0\]\.layer: {layer} "):
        validate_config(config, "speck2f")
