"""Golden chip configurations of the reference models, plus facts derived by hand from SPECK_SEMANTICS.

The golden files (tests/golden/data/*.json, written only by scripts/regen_golden.py) are compared field by
field; the hand-derived facts below are asserted independently so that a golden file cannot simply bless
whatever the compiler does.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import sinabs.layers as sl
from golden_models import (
    CASES,
    GOLDEN_DIR,
    SCHEMA_VERSION,
    Case,
    build,
    compile_case,
    flatten,
    golden_document,
)

from deploy.pipeline import CompileResult

BY_NAME = {c.name: c for c in CASES}


def params() -> list[Any]:
    return [pytest.param(c, id=c.name) for c in CASES]


@pytest.fixture(scope="module")
def compiled() -> dict[str, CompileResult]:
    return {}


def get(compiled: dict[str, CompileResult], name: str) -> CompileResult:
    if name not in compiled:
        compiled[name] = compile_case(BY_NAME[name])
    return compiled[name]


@pytest.mark.parametrize("case", params())
def test_matches_golden_file(case: Case, compiled: dict[str, CompileResult]) -> None:
    result = get(compiled, case.name)
    path = GOLDEN_DIR / f"{case.name}.json"
    assert path.exists(), f"{path} missing: run scripts/regen_golden.py {case.name}"
    golden = json.loads(path.read_text(encoding="utf-8"))
    assert golden["schema_version"] == SCHEMA_VERSION
    now = golden_document(case, result)
    want, got = flatten(golden), flatten(now)
    keys = sorted(set(want) | set(got))
    diffs = [f"{k}: golden {want.get(k)!r} != now {got.get(k)!r}" for k in keys if want.get(k) != got.get(k)]
    assert not diffs, "\n".join(diffs[:20])


def memory(result: CompileResult) -> list[tuple[int, int, int]]:
    return [(m.kernel, m.neuron, m.bias) for m in result.check.fit_matrix.memory]


def dests(result: CompileResult, core: int) -> list[tuple[bool, int, int]]:
    return [(d.enable, d.layer, d.pooling) for d in result.config.cnn_layers[core].destinations]


def dims(result: CompileResult, core: int) -> tuple[Any, ...]:
    d = result.config.cnn_layers[core].dimensions
    i, o = d.input_shape, d.output_shape
    return (
        (i.size.x, i.size.y, i.feature_count),
        (o.size.x, o.size.y, o.feature_count),
        d.kernel_size,
        (d.stride.x, d.stride.y),
        (d.padding.x, d.padding.y),
    )


def common_facts(result: CompileResult) -> None:
    """Facts every sinabs-rule compile satisfies (SPECK_SEMANTICS §8.1, §9.1)."""
    cfg = result.config
    assert cfg.monitored_cores() == tuple(
        sorted(result.placement.core_of[i] for i in result.graph.exit_layers)
    )
    for core in result.placement.core_of:
        layer = cfg.cnn_layers[core]
        assert layer.threshold_low == -layer.threshold_high  # min_v_mem = −threshold → same scale
        w = layer.weights.astype(np.int64)
        assert w.max() == 127 or w.min() == -128 or layer.threshold_high == 32767  # scale set by weights
        assert layer.leak_enable == bool(np.any(layer.biases != 0))
    cfg.validate(result.chip)


def test_tiny_2layer_facts(compiled: dict[str, CompileResult]) -> None:
    r = get(compiled, "tiny_2layer")
    common_facts(r)
    assert r.placement.core_of == (0, 1)
    assert memory(r) == [(128, 1024, 0), (128, 128, 0)]  # = sinabs's memory_summary for tiny_2layer
    assert dims(r, 0) == ((16, 16, 2), (16, 16, 4), 3, (1, 1), (1, 1))
    assert dims(r, 1) == ((16, 16, 4), (8, 8, 2), 3, (2, 2), (1, 1))
    assert dests(r, 0) == [(True, 1, 1), (False, 0, 1)]
    assert dests(r, 1) == [(False, 0, 1), (False, 0, 1)]


def test_nmnist_facts(compiled: dict[str, CompileResult]) -> None:
    r = get(compiled, "nmnist")
    common_facts(r)
    # K = c·2^(⌈log2 k²⌉+⌈log2 f⌉), N = f·2^(⌈log2 h⌉+⌈log2 w⌉): 2·2^(4+3), 8·2^(5+5); 8·2^(4+4), 16·2^8;
    # Linear over 16×8×8 = conv k=8: 16·2^(6+4) = 16384 (exactly a 16 Ki core), 10·1.
    assert memory(r) == [(256, 8192, 0), (2048, 4096, 0), (16384, 10, 0)]
    assert r.placement.core_of == (0, 1, 2)
    assert dims(r, 2) == ((8, 8, 16), (1, 1, 10), 8, (1, 1), (0, 0))
    assert dests(r, 0)[0] == (True, 1, 2) and dests(r, 1)[0] == (True, 2, 2)


def test_gesture_facts(compiled: dict[str, CompileResult]) -> None:
    r = get(compiled, "gesture")
    common_facts(r)
    assert memory(r) == [
        (64, 32768, 0),  # 2·2^(2+3); 8·2^(6+6) → only cores 0..4
        (2048, 16384, 0),
        (4096, 4096, 0),
        (8192, 2048, 0),
        (16384, 512, 0),
        (8192, 64, 0),  # Linear 128→64 over a 2×2 map: 32·2^(2+6)
        (1024, 11, 0),  # Linear 64→11: 64·2^(0+4)
    ]
    assert r.check.fit_matrix.cores_for(0) == (0, 1, 2, 3, 4)
    assert r.placement.core_of == (0, 1, 2, 3, 4, 5, 6)
    assert [dests(r, c)[0] for c in range(6)] == [(True, c + 1, 2 if c < 5 else 1) for c in range(6)]
    assert dims(r, 0) == ((128, 128, 2), (64, 64, 8), 2, (2, 2), (0, 0))
    assert r.config.cnn_layers[6].dimensions.output_shape.feature_count == 11


def test_avgpool_facts(compiled: dict[str, CompileResult]) -> None:
    r = get(compiled, "avgpool")
    common_facts(r)
    assert memory(r) == [(256, 8192, 0), (2048, 1024, 0), (4096, 10, 0)]  # = sinabs's mnist_avgpool
    assert dests(r, 0)[0] == (True, 1, 2) and dests(r, 1)[0] == (True, 2, 2)
    assert dims(r, 2) == ((3, 3, 16), (1, 1, 10), 3, (1, 1), (0, 0))


def test_batchnorm_facts(compiled: dict[str, CompileResult]) -> None:
    r = get(compiled, "batchnorm")
    common_facts(r)
    assert r.config.cnn_layers[r.placement.core_of[0]].leak_enable
    assert r.placement.core_of == (2, 0)  # the leak layer avoids the erratum cores 0/1
    assert [w.rule for w in r.warnings] == ["leak"]


def test_biases_facts(compiled: dict[str, CompileResult]) -> None:
    r = get(compiled, "biases")
    common_facts(r)
    assert r.placement.core_of == (2, 0, 3)
    assert [r.config.cnn_layers[c].leak_enable for c in r.placement.core_of] == [True, False, True]
    assert memory(r)[0][2] == 8 and memory(r)[2][2] == 5
    assert r.placement_warnings == ()


def test_reset_zero_facts(compiled: dict[str, CompileResult]) -> None:
    r = get(compiled, "reset_zero")
    common_facts(r)
    assert [r.config.cnn_layers[c].return_to_zero for c in r.placement.core_of] == [True, False]


def test_non_square_facts(compiled: dict[str, CompileResult]) -> None:
    r = get(compiled, "non_square")
    common_facts(r)
    # x = width: 24 → 24 → pooled 12 → stride 2: (12 + 2 − 3)//2 + 1 = 6; y: 16 → 8 → 4.
    assert dims(r, 0) == ((24, 16, 2), (24, 16, 4), 3, (1, 1), (1, 1))
    assert dims(r, 1) == ((12, 8, 4), (6, 4, 4), 3, (2, 2), (1, 1))
    assert memory(r) == [(2 * 2**6, 4 * 2 ** (4 + 5), 0), (4 * 2**6, 4 * 2 ** (2 + 3), 0)]
    assert r.config.cnn_layers[0].neurons_initial_value.shape == (4, 24, 16)


def test_dvs_input_facts(compiled: dict[str, CompileResult]) -> None:
    r = get(compiled, "dvs_input")
    common_facts(r)
    d = r.config.dvs_layer
    assert (d.pooling.x, d.pooling.y, d.origin.x, d.origin.y, d.cut.x, d.cut.y) == (2, 2, 0, 0, 63, 63)
    assert [(x.enable, x.layer) for x in d.destinations] == [(True, r.placement.core_of[0]), (False, 0)]
    assert not d.merge
    assert dims(r, r.placement.core_of[0])[0] == (64, 64, 2)
    assert dims(r, r.placement.core_of[1])[0] == (32, 32, 8)


def routes(result: CompileResult, core: int) -> list[tuple[int, int, int]]:
    """Enabled destinations of a core as ``(layer, pooling, feature_shift)``."""
    layer = result.config.cnn_layers[core]
    return [(d.layer, d.pooling, d.feature_shift) for d in layer.destinations if d.enable]


def test_concat_facts(compiled: dict[str, CompileResult]) -> None:
    r = get(compiled, "concat")
    common_facts(r)
    stem, a, b, c = r.placement.core_of
    # The stem feeds both branches (both destination slots); torch.cat([a (4 features), b (2)], dim=1) puts
    # b's features at 4 and 5 of c's 6 inputs: feature_shift 4. The SumPool2d(2) after the cat is on both
    # branch edges.
    assert sorted(routes(r, stem)) == sorted([(a, 1, 0), (b, 1, 0)])
    assert routes(r, a) == [(c, 2, 0)]
    assert routes(r, b) == [(c, 2, 4)]
    assert routes(r, c) == []
    assert dims(r, b) == ((16, 16, 4), (16, 16, 2), 1, (1, 1), (0, 0))
    assert dims(r, c) == ((8, 8, 6), (8, 8, 4), 3, (1, 1), (1, 1))
    # K = c·2^(⌈log2 k²⌉+⌈log2 f⌉), N = f·2^(⌈log2 h⌉+⌈log2 w⌉): stem 2·2^(4+2), 4·2^(4+4); a 4·2^(4+2),
    # 4·2^8; b 4·2^(0+1), 2·2^8; c (6 inputs) 6·2^(4+2), 4·2^(3+3).
    assert memory(r) == [(128, 1024, 0), (256, 1024, 0), (8, 512, 0), (384, 256, 0)]
    assert r.config.monitored_cores() == (c,)


def test_anisotropic_facts(compiled: dict[str, CompileResult]) -> None:
    r = get(compiled, "anisotropic")
    common_facts(r)
    first, second = r.placement.core_of
    # torch pairs are (H, W) = (y, x). Layer 0: padding (0, 1) → x 1, y 0; H 16 + 0 − 2 = 14, W 24 + 2 − 2 =
    # 24. Layer 1: stride (2, 1) → x 1, y 2; padding (1, 0) → x 0, y 1; H (14 + 2 − 3)//2 + 1 = 7,
    # W (24 − 3)//1 + 1 = 22.
    assert dims(r, first) == ((24, 16, 2), (24, 14, 4), 3, (1, 1), (1, 0))
    assert dims(r, second) == ((24, 14, 4), (22, 7, 4), 3, (1, 2), (0, 1))
    assert r.config.cnn_layers[first].neurons_initial_value.shape == (4, 24, 14)  # [f][x][y]
    assert r.config.cnn_layers[second].neurons_initial_value.shape == (4, 22, 7)
    # N = 4·2^(⌈log2 14⌉+⌈log2 24⌉) = 4·2^(4+5); 4·2^(⌈log2 7⌉+⌈log2 22⌉) = 4·2^(3+5).
    assert memory(r) == [(128, 2048, 0), (256, 1024, 0)]
    assert routes(r, first) == [(second, 1, 0)]


SPIKING = {"concat": {"stem": "s0", "a": "sa", "b": "sb", "c": "sc"}, "anisotropic": {"0": "1", "2": "3"}}
"""Per case: the weight layer's module name → the name of the IAFSqueeze after it."""


@pytest.mark.parametrize("name", sorted(SPIKING))
def test_compiled_routing_and_geometry_run_like_the_torch_model(
    name: str, compiled: dict[str, CompileResult]
) -> None:
    """The torch model, given the chip's integer weights (``[f][c][x][y]`` read back as ``[f][c][y][x]``) and
    thresholds, is the oracle for the configuration's geometry: padding, stride, concatenation offsets and
    pooling. The time-stepped evaluation of the configuration must spike exactly as the torch model does."""
    import torch

    from deploy.sim.timestepped import run_timestepped

    r = get(compiled, name)
    model = build(BY_NAME[name])
    for q, core in zip(r.qgraph.layers, r.placement.core_of, strict=True):
        layer = r.config.cnn_layers[core]
        conv = model.get_submodule(q.name)
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(layer.weights.transpose(0, 1, 3, 2).astype(np.float32)))
        spiking = sl.IAFSqueeze(
            batch_size=1, spike_threshold=float(layer.threshold_high), min_v_mem=float(layer.threshold_low)
        )
        setattr(model, SPIKING[name][q.name], spiking)
    rng = np.random.default_rng(3)
    raster = (rng.random((20, *BY_NAME[name].input_shape)) < 0.3).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(raster)).numpy()
    got = run_timestepped(r.config, {r.placement.core_of[0]: raster})
    exit_core = r.placement.core_of[-1]
    np.testing.assert_array_equal(got.spikes[exit_core][0].numpy(), want)
    assert want.sum() > 0
