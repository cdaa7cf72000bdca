"""deploy.quantize (sinabs rule, min_v_mem trap, calibrated rule) and deploy.timestep.evaluate."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers.snn_models import TINY_SHAPE, build_tiny, iaf, seeded
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch import nn

from deploy.errors import EventFormatError, QuantizationError
from deploy.frontend import normalize
from deploy.graph import OUTPUT, ChipLayer, DvsInput, Edge, LayerGraph
from deploy.options import CompileOptions
from deploy.quantize import quantize
from deploy.timestep import evaluate
from hwconfig import get_chip

CHIP = get_chip("speck2f")


def calibrated(data: np.ndarray) -> CompileOptions:
    """Options for the calibrated rule with ``data`` as calibration input."""
    return CompileOptions(quantization="calibrated", calibration=data)


def one_layer_graph(
    weight: np.ndarray,
    *,
    bias: np.ndarray | None = None,
    threshold: float = 1.0,
    min_v_mem: float | None = -1.0,
    initial_state: np.ndarray | None = None,
    reset: str = "subtract",
    spike_fn: str = "MultiSpike",
    in_hw: tuple[int, int] = (1, 1),
) -> LayerGraph:
    w = np.asarray(weight, dtype=np.float32)
    layer = ChipLayer(
        name="0",
        in_shape=(w.shape[1], *in_hw),
        weight=w,
        bias=None if bias is None else np.asarray(bias, dtype=np.float32),
        stride=(1, 1),
        padding=(0, 0),
        threshold=threshold,
        min_v_mem=min_v_mem,
        reset=reset,  # type: ignore[arg-type]
        initial_state=None if initial_state is None else np.asarray(initial_state, dtype=np.float32),
        spike_fn=spike_fn,
        modules=("0", "1"),
    )
    return LayerGraph(
        layers=(layer,), edges=(Edge(0, OUTPUT),), input_shape=layer.in_shape, entry_layers=(0,)
    )


# --- the sinabs rule, by hand -----------------------------------------------------------------------


def test_word_widths_come_from_the_chip_and_clipped_values_become_check_warnings() -> None:
    """Scale 127 (weights 1.0 → 127): bias 1.0 → 127 and −0.25 → −32 (−31.75 rounded); min_v_mem 0.5 → 64."""
    import dataclasses

    from deploy.check import check

    g = one_layer_graph(np.array([[[[1.0]]], [[[0.5]]]]), bias=np.array([1.0, -0.25]), min_v_mem=0.5)
    (q,) = quantize(g, CHIP).layers
    assert q.bias.tolist() == [127, -32] and q.weight.ravel().tolist() == [127, 64]
    assert (q.stats.clipped_weights, q.stats.clipped_biases, q.stats.clipped_states) == (0, 0, 0)
    # threshold_low 64 is outside the register range [−32768, −1] (0 and up are a chip bug): clipped to −1.
    assert q.threshold_low == -1 and q.stats.clipped_thresholds == 1 and q.stats.saturated == 1
    narrow = dataclasses.replace(CHIP, bias_bits=6)  # a 6-bit bias word: [−32, 31]
    narrow_q = quantize(g, narrow)
    (qn,) = narrow_q.layers
    assert qn.bias.tolist() == [31, -32]  # sinabs still scales the bias to the 8-bit weight word
    assert (qn.stats.clipped_biases, qn.stats.saturated) == (1, 2)
    result = check(narrow_q, narrow)
    clipping = sorted(w.message for w in result.warnings if w.rule == "clipping")
    assert len(clipping) == 2 and result.ok
    assert "1 of 2 biases rounded outside the bias word [-32, 31] at scale 127" in clipping[0]
    assert "1 threshold(s) rounded outside their registers" in clipping[1]
    assert "clipped to 127 / -1" in clipping[1]
    wide = check(quantize(one_layer_graph(np.array([[[[1.0]]], [[[0.5]]]])), CHIP), CHIP)
    assert "clipping" not in [w.rule for w in wide.warnings]


def test_semantics_12b1_leak_notebook_example() -> None:
    """SPECK_SEMANTICS §12b.1: w=1.0, b=-0.1, thr=1, min_v_mem=-1, v0=1 → 127, -13, 127, -127, 127."""
    g = one_layer_graph(np.ones((1, 1, 1, 1)), bias=np.array([-0.1]), initial_state=np.ones((1, 1, 1)))
    (q,) = quantize(g, CHIP).layers
    s = q.stats
    assert (s.scale_weights, s.scale_thresholds, s.scale_state) == (127.0, 32767.0, 32767.0)
    assert s.scale_bias == pytest.approx(1270.0)
    assert s.scale == 127.0
    assert q.weight.tolist() == [[[[127]]]]
    assert q.bias.tolist() == [-13]
    assert (q.threshold_high, q.threshold_low) == (127, -127)
    assert q.initial_state.tolist() == [[[127]]]
    assert q.has_bias
    assert s.rule == "sinabs"


def test_rounding_is_half_to_even() -> None:
    # max |w| = 127 fixes the scale at exactly 1.0, so w·s is w itself.
    g = one_layer_graph(
        np.array([127.0, 2.5, 3.5, -0.5, 0.5, -2.5, 1.5]).reshape(7, 1, 1, 1),
        threshold=1000.0,
        min_v_mem=-1000.0,
    )
    (q,) = quantize(g, CHIP).layers
    assert q.stats.scale == 1.0
    assert q.weight.ravel().tolist() == [127, 2, 4, 0, 0, -2, 2]
    assert q.stats.zero_fraction == pytest.approx(2 / 7)


def test_scale_limited_by_negative_weights() -> None:
    # |min| > |max|·128/127 → s = 128/|min|: -2.0 → -128, 1.0 → 64.
    g = one_layer_graph(np.array([-2.0, 1.0]).reshape(2, 1, 1, 1))
    (q,) = quantize(g, CHIP).layers
    assert q.stats.scale == 64.0
    assert q.weight.ravel().tolist() == [-128, 64]
    assert (q.threshold_high, q.threshold_low) == (64, -64)


def test_threshold_limited_scale_and_stats() -> None:
    # Threshold 1000 with weights ≤ 1: s_t = 32767/1000 < s_w = 127 → small weights.
    g = one_layer_graph(np.array([1.0, 0.01, -0.5]).reshape(3, 1, 1, 1), threshold=1000.0, min_v_mem=-1000.0)
    (q,) = quantize(g, CHIP).layers
    s = q.stats
    assert s.scale == pytest.approx(32.767, rel=1e-6)
    assert q.weight.ravel().tolist() == [33, 0, -16]
    assert q.threshold_high == 32767 and q.threshold_low == -32767
    assert s.zero_fraction == pytest.approx(1 / 3)
    assert s.weight_range == (-16, 33)
    assert s.bias_range == (0, 0) and math.isinf(s.scale_bias)
    assert s.overflow_margin == 32767 - (32767 + 33)
    assert s.max_weight_over_threshold == pytest.approx(33 / 32767)
    assert s.saturated == 0


def test_weight_above_threshold_is_reported() -> None:
    g = one_layer_graph(np.array([2.0]).reshape(1, 1, 1, 1), threshold=0.5, min_v_mem=-0.5)
    (q,) = quantize(g, CHIP).layers
    assert q.weight.ravel().tolist() == [127] and q.threshold_high == 32
    assert q.stats.max_weight_over_threshold == pytest.approx(127 / 32)


# --- the min_v_mem=None trap ---------------------------------------------------------------------


def test_min_v_mem_none_trap_is_refused_with_the_fix() -> None:
    g = one_layer_graph(np.array([0.5, 0.2, -0.3, 0.004]).reshape(4, 1, 1, 1), min_v_mem=None)
    with pytest.raises(QuantizationError) as err:
        quantize(g, CHIP)
    msg = str(err.value)
    assert "layer '0' (modules 0, 1): min_v_mem is None" in msg
    assert "-32768" in msg and "collapses to 1" in msg
    assert "the largest weight becomes 0 of 127" in msg and "100% of the non-zero weights round to 0" in msg
    assert "min_v_mem=-1" in msg and "allow_plain_min_v_mem_none=True" in msg


def test_min_v_mem_none_allowed_reproduces_sinabs_plain() -> None:
    g = one_layer_graph(np.array([0.5, 2.0, -3.0]).reshape(3, 1, 1, 1), min_v_mem=None)
    (q,) = quantize(g, CHIP, CompileOptions(allow_plain_min_v_mem_none=True)).layers
    assert q.stats.rule == "sinabs-plain"
    assert q.stats.scale == 1.0  # s_t = 32768/32768
    assert q.weight.ravel().tolist() == [0, 2, -3]
    assert (q.threshold_high, q.threshold_low) == (1, -32768)


def test_min_v_mem_none_not_refused_when_weights_set_the_scale() -> None:
    # Weights ≥ 127 in magnitude give s_w ≤ 1 = s_t: nothing collapses, so nothing to refuse.
    g = one_layer_graph(np.array([254.0, 3.0]).reshape(2, 1, 1, 1), threshold=10.0, min_v_mem=None)
    (q,) = quantize(g, CHIP).layers
    assert q.stats.scale == 0.5 and q.stats.rule == "sinabs-plain"


# --- calibrated rule -----------------------------------------------------------------------------


def test_calibrated_needs_calibration_data() -> None:
    with pytest.raises(
        QuantizationError, match=r"quantization='calibrated' needs a calibration raster \(T, C, H, W\)"
    ):
        quantize(one_layer_graph(np.ones((1, 1, 1, 1))), CHIP, CompileOptions(quantization="calibrated"))


def test_unknown_rule() -> None:
    with pytest.raises(QuantizationError, match=r"unknown quantisation rule 'fancy'; use 'sinabs'"):
        quantize(one_layer_graph(np.ones((1, 1, 1, 1))), CHIP, CompileOptions(quantization="fancy"))


def test_calibrated_rescues_min_v_mem_none(rng: np.random.Generator) -> None:
    w = rng.uniform(-0.3, 0.3, size=(4, 2, 3, 3)).astype(np.float32)
    g = one_layer_graph(w, min_v_mem=None, in_hw=(8, 8))
    raster = rng.integers(0, 3, size=(20, 2, 8, 8))
    q = quantize(g, CHIP, calibrated(raster))
    (ql,) = q.layers
    assert ql.stats.rule == "calibrated"
    assert ql.stats.scale == pytest.approx(ql.stats.scale_weights)  # weights, not -32768, set the scale
    assert ql.stats.weight_range[1] == 127 or ql.stats.weight_range[0] == -128
    assert ql.threshold_low == -32768
    res = evaluate(q, raster)
    assert res.v_max[0] <= 32767 and res.v_min[0] >= -32768


def test_calibrated_limited_by_observed_state(rng: np.random.Generator) -> None:
    # Large inputs drive the state far above threshold: the state range, not the weights, sets the scale.
    g = one_layer_graph(np.full((1, 1, 1, 1), 1.0), threshold=1e6, min_v_mem=-1e6, in_hw=(1, 1))
    raster = np.full((10, 1, 1, 1), 5000.0)
    (ql,) = quantize(g, CHIP, calibrated(raster)).layers
    assert ql.stats.scale < ql.stats.scale_weights
    assert ql.stats.scale * (10 * 5000 + 1.0) <= 32767.5


# --- timestep evaluation ---------------------------------------------------------------------------


def _run(graph: LayerGraph, inputs: list[float]) -> list[float]:
    raster = np.asarray(inputs, dtype=np.float32).reshape(-1, 1, 1, 1)
    return evaluate(graph, raster).output.ravel().tolist()


def test_multispike_subtract_and_clamp() -> None:
    g = one_layer_graph(np.ones((1, 1, 1, 1)), threshold=10.0, min_v_mem=-5.0)
    # 25 → 2 spikes, v=5; then -20 → -15 → clamped to -5; then 14 → 9, no spike; 1 → 10, one spike.
    spikes = _run(g, [25, -20, 14, 1])
    assert spikes == [2, 0, 0, 1]


def test_singlespike_and_zero_reset() -> None:
    g = one_layer_graph(np.ones((1, 1, 1, 1)), threshold=10.0, spike_fn="SingleSpike", reset="zero")
    spikes = _run(g, [25, 9, 1])  # one spike, v→0; 9; 10 → spike
    assert spikes == [1, 0, 1]


def test_bias_added_every_step() -> None:
    g = one_layer_graph(np.ones((1, 1, 1, 1)), bias=np.array([0.5]), threshold=1.0)
    spikes = _run(g, [0, 0, 0, 0])
    assert spikes == [0, 1, 0, 1]


def test_float_and_quantised_agree_when_exact(rng: np.random.Generator) -> None:
    """Weights k/64 with max |w| = 127/64 give the scale 64 exactly: both runs match spike for spike."""
    model = seeded(build_tiny, 7)
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Conv2d):
                ints = torch.from_numpy(rng.integers(-127, 128, size=tuple(m.weight.shape))).float()
                ints.view(-1)[0] = 127
                m.weight.copy_(ints / 64)
    g = normalize(model, TINY_SHAPE)
    q = quantize(g, CHIP)
    assert [layer.stats.scale for layer in q.layers] == [64.0, 64.0]
    raster = rng.integers(0, 3, size=(15, *TINY_SHAPE))
    rf, rq = evaluate(g, raster), evaluate(q, raster)
    assert rq.integer and not rf.integer
    assert sum(float(c.sum()) for c in rq.counts) > 0
    for a, b in zip(rf.spikes, rq.spikes, strict=True):
        np.testing.assert_array_equal(a, b)
    assert rq.v_max[0] == pytest.approx(rf.v_max[0] * 64)


def test_output_edge_pooling_and_dvs_input() -> None:
    layer = ChipLayer(
        name="c", in_shape=(1, 2, 2), weight=np.ones((1, 1, 1, 1), np.float32), bias=None, stride=(1, 1),
        padding=(0, 0), threshold=1.0, min_v_mem=-1.0,
    )  # fmt: skip
    g = LayerGraph(
        layers=(layer,),
        edges=(Edge(0, OUTPUT, 2),),
        input_shape=(1, 4, 4),
        entry_layers=(),
        dvs=DvsInput(input_shape=(1, 4, 4), pooling=(2, 2), destinations=(0,)),
    )
    raster = np.ones((1, 1, 4, 4))
    res = evaluate(g, raster)
    assert res.spikes[0].tolist() == [[[[4.0, 4.0], [4.0, 4.0]]]]  # DVS sums 2×2 pixels
    assert res.output.tolist() == [[[[16.0]]]]  # output edge pools 2×2 again


def test_evaluate_rejects_wrong_raster_shape() -> None:
    g = one_layer_graph(np.ones((1, 1, 1, 1)))
    with pytest.raises(
        EventFormatError, match=r"input raster has shape \(3, 1, 1\), expected \(T, C, H, W\)"
    ):
        evaluate(g, np.zeros((3, 1, 1)))


def test_quantize_keeps_graph_and_names() -> None:
    g = normalize(nn.Sequential(nn.Conv2d(2, 2, 1, bias=False), iaf()), (2, 4, 4))
    q = quantize(g, CHIP)
    assert q.graph is g and q.edges == g.edges and q.layers[0].name == "0"
    assert q.layers[0].weight.dtype == np.int64 and q.layers[0].initial_state.shape == (2, 4, 4)


@settings(max_examples=60, deadline=None)
@given(
    w=hnp.arrays(np.float32, (3, 2, 2, 2), elements=st.floats(-4, 4, width=32)),
    thr=st.floats(0.1, 100),
)
def test_sinabs_rule_always_fits_the_words(w: np.ndarray, thr: float) -> None:
    thr = float(np.float32(thr))
    g = one_layer_graph(w, threshold=thr, min_v_mem=-thr)
    (q,) = quantize(g, CHIP).layers
    assert q.stats.saturated == 0
    assert q.weight.min() >= -128 and q.weight.max() <= 127
    assert 0 <= q.threshold_high <= 32767 and -32768 <= q.threshold_low <= -1
    if np.any(w != 0) and q.stats.scale == q.stats.scale_weights:
        # The weights use their full range (sinabs maps an all-negative tensor to -127, not -128).
        assert int(np.abs(q.weight).max()) in (127, 128)
    assert q.stats.max_weight_over_threshold >= 0


def _torch_reference(weight: np.ndarray, bits: int) -> tuple[float, list[int]]:
    """sinabs's own arithmetic, all in torch: ``determine_discretization_scale`` and ``torch.round``."""
    t = torch.from_numpy(weight)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    mn, mx = torch.min(t), torch.max(t)
    scale = abs(hi / mx) if abs(mn) <= abs(mx) * abs(lo / hi) else abs(lo / mn)
    return float(scale), torch.round(t * scale).to(torch.int64).ravel().tolist()


@settings(max_examples=200, deadline=None)
@given(
    w=hnp.arrays(
        np.float32,
        st.integers(1, 300),
        elements=st.one_of(
            st.floats(-1e3, 1e3, width=32),
            # Values whose product with the scale lands on .5 exercise the tie rule.
            st.integers(-255, 255).map(lambda k: k / 2.0),
        ),
    )
)
def test_numpy_scale_and_rounding_equal_torch_bit_for_bit(w: np.ndarray) -> None:
    """quantize computes the scale's min/max and the rounding in numpy (no torch intra-op threads); the
    result must be sinabs's torch arithmetic exactly, ties to even included."""
    from deploy.quantize import _round, sinabs_scale

    w = w.reshape(-1, 1, 1, 1)
    ref_scale, ref_ints = _torch_reference(w, CHIP.weight_bits)
    scale = sinabs_scale(w, CHIP.weight_bits)
    assert float(scale) == ref_scale or (math.isinf(ref_scale) and math.isinf(float(scale)))
    if math.isfinite(ref_scale):
        assert _round(w, scale).astype(np.int64).ravel().tolist() == ref_ints
    ties = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5], dtype=np.float32)
    assert _round(ties, torch.tensor(1.0)).tolist() == torch.round(torch.from_numpy(ties)).tolist()


def test_calibration_raster_accepts_a_raster_or_events() -> None:
    from deploy.quantize import calibration_raster
    from deploy.sim.events import make_events

    raster = np.zeros((2, 1, 2, 2))
    assert calibration_raster(raster, (1, 2, 2)) is raster
    ev = make_events([100, 200, 10_100], 0, 0, [0, 1, 1], [1, 0, 0])
    r = calibration_raster(ev, (1, 2, 2), dt_us=10_000)
    assert r.shape == (2, 1, 2, 2) and r[0, 0, 1, 0] == 1 and r[0, 0, 0, 1] == 1 and r[1, 0, 0, 1] == 1
    rows = np.array([[100, 0, 0, 0, 1], [10_100, 0, 0, 1, 0]])
    assert calibration_raster(rows, (1, 2, 2), dt_us=5_000).shape == (3, 1, 2, 2)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            np.zeros((2, 1, 3, 3)),
            r"calibration raster has shape \(2, 1, 3, 3\), expected \(T, C, H, W\) with",
        ),
        (np.zeros((2, 3)), r"calibration events cannot be binned .* N×5"),
        (np.array([[0, 0, 0, 5, 0]]), r"calibration events cannot be binned .* x = 5 outside"),
        (np.zeros((0, 5), dtype=np.int64), r"the array is empty"),
    ],
)
def test_calibration_raster_errors_name_the_calibration(data: np.ndarray, message: str) -> None:
    g = one_layer_graph(np.ones((1, 1, 1, 1)), in_hw=(2, 2))
    with pytest.raises(QuantizationError, match=message):
        quantize(g, CHIP, calibrated(data))
