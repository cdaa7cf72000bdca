"""Quantisation: float :class:`LayerGraph` → integer :class:`QuantizedGraph`.

The default rule reproduces sinabs 3.1.3's ``_discretize_conv_spk_`` bit for bit (SPECK_SEMANTICS §9.1):
one scale per chip layer, the smallest of the scales that fit the weights and the bias into the weight word
(8 bits) and the thresholds (and an initial state) into the state word (16 bits), computed in float32
arithmetic exactly as sinabs does, then rounded half to even like ``torch.round`` (in numpy: same integers,
without torch's thread start-up cost on small tensors).

Word widths and threshold ranges come from the :class:`~hwconfig.spec.ChipSpec` (§2.1). Values that still
fall outside their word after rounding are clipped and counted per layer in :class:`LayerQuantStats`
(``clipped_*``); :func:`deploy.check.rule_word_ranges` reports them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from deploy.errors import QuantizationError
from deploy.graph import ChipLayer, LayerGraph, LayerQuantStats, QuantizedGraph, QuantizedLayer
from deploy.options import DEFAULT_CALIBRATION_DT_US, CompileOptions
from hwconfig.spec import ChipSpec

PLAIN_MIN_V_MEM = -(2**15)
"""What sinabs uses for the lower threshold when ``min_v_mem is None``."""


def sinabs_scale(t: torch.Tensor | npt.NDArray[np.floating], bits: int) -> torch.Tensor:
    """sinabs ``determine_discretization_scale``: the largest s with ``round(t·s)`` in the signed range.

    The minimum and maximum are exact elements of ``t`` (numpy finds the same ones as torch, without
    torch's intra-op threads); the division is kept in sinabs's 0-d float32 tensor arithmetic so results
    match bit for bit. An all-zero tensor gives ``inf`` (it then never limits the common scale).
    """
    lo = -(2 ** (bits - 1))
    hi = 2 ** (bits - 1) - 1
    a = t.numpy() if isinstance(t, torch.Tensor) else np.asarray(t, dtype=np.float32)
    mn = torch.tensor(float(a.min()), dtype=torch.float32)
    mx = torch.tensor(float(a.max()), dtype=torch.float32)
    ratio = abs(lo / hi)
    if abs(mn) <= abs(mx) * ratio:
        return abs(hi / mx)
    return abs(lo / mn)


def _round(a: npt.NDArray[np.float32], scale: torch.Tensor) -> npt.NDArray[np.float32]:
    """sinabs ``discretize_tensor(..., to_int=False)``: ``torch.round(t * scale)``, in numpy.

    The float32 product is the same IEEE operation in both libraries and ``np.rint`` rounds half to even
    like ``torch.round``, so the integers are sinabs's bit for bit (tests/golden compare them with sinabs's
    own); numpy avoids torch's intra-op thread start-up, which dominated compile time on small tensors.
    """
    return np.rint(a * np.float32(float(scale)))


def quantize(graph: LayerGraph, chip: ChipSpec, options: CompileOptions | None = None) -> QuantizedGraph:
    """Turn every chip layer into chip integers.

    Args:
        graph: The float layer graph.
        chip: The target chip: its word widths (``weight_bits``, ``bias_bits``, ``state_bits``) and
            threshold ranges bound the integers (§2.1).
        options: The quantisation fields of :class:`~deploy.options.CompileOptions` are used (None: the
            defaults). ``quantization``: ``"sinabs"`` — sinabs's per-layer rule, bit for bit;
            ``"calibrated"`` — per layer, the largest scale that keeps weights in the weight word,
            thresholds/bias in the state/bias words and the membrane state seen on ``calibration`` in the
            state word. ``calibration``: for ``"calibrated"``, typical input, either a raster
            ``(T, C, H, W)`` of event counts in the model's input shape, or events (see
            :func:`calibration_raster`); ``calibration_dt_us``: time bin (µs) used to turn calibration
            events into a raster. ``allow_plain_min_v_mem_none``: accept layers with ``min_v_mem=None``
            under the sinabs rule even though their scale collapses (sinabs then reserves −32768 for the
            lower threshold).

    Returns:
        The quantised graph with a :class:`LayerQuantStats` per layer (with the clipped value counts).

    Raises:
        QuantizationError: The ``min_v_mem=None`` trap, missing or malformed calibration data, or an
            unknown rule.
    """
    opts = options or CompileOptions()
    rule = opts.quantization
    calibration = opts.calibration
    if rule == "sinabs":
        layers = tuple(
            _quantize_sinabs(layer, chip, opts.allow_plain_min_v_mem_none) for layer in graph.layers
        )
        return QuantizedGraph(graph=graph, layers=layers)
    if rule == "calibrated":
        if calibration is None:
            raise QuantizationError(
                "quantization='calibrated' needs a calibration raster (T, C, H, W) of typical input: "
                "pass CompileOptions(calibration=raster) (a numpy array of event counts per time bin, or "
                "events); "
                "CLI: `--quantization calibrated --calibration FILE` (.npy/.npz)"
            )
        from deploy.timestep import evaluate

        raster = calibration_raster(calibration, graph.input_shape, opts.calibration_dt_us)
        result = evaluate(graph, raster)
        qlayers = tuple(
            _quantize_calibrated(layer, chip, result.v_min[i], result.v_max[i])
            for i, layer in enumerate(graph.layers)
        )
        return QuantizedGraph(graph=graph, layers=qlayers)
    raise QuantizationError(f"unknown quantisation rule {rule!r}; use 'sinabs' (default) or 'calibrated'")


def calibration_raster(
    data: npt.NDArray[Any],
    input_shape: tuple[int, int, int],
    dt_us: int = DEFAULT_CALIBRATION_DT_US,
) -> npt.NDArray[Any]:
    """Calibration data as a raster ``(T, C, H, W)`` in the model's input shape.

    Args:
        data: A numeric 4-D raster (returned as it is), or events: chip events (``EVENT_DTYPE``),
            tonic-style ``(x, y, t, p)`` or N×5 integer rows ``[timestamp_us, layer, feature, x, y]``.
            Events of every layer are counted together, at their coordinates in the model's input
            (before the DVS layer's pooling, if the model has one).
        input_shape: ``(C, H, W)`` of the model's input.
        dt_us: Bin width for events, µs; bin 0 starts at the first event (as sinabs).

    Raises:
        QuantizationError: The raster has another shape, or the events cannot be binned into it.
    """
    from deploy.errors import EventFormatError
    from deploy.sim.events import as_events, events_to_raster

    arr = np.asarray(data)
    if arr.dtype.names is None and arr.ndim != 2:
        if arr.ndim == 4 and tuple(arr.shape[1:]) == tuple(input_shape):
            return arr
        raise QuantizationError(
            f"calibration raster has shape {arr.shape}, expected (T, C, H, W) with (C, H, W) = "
            f"{tuple(input_shape)} (the model's input); transpose or reshape it, or give events instead"
        )
    try:
        events = as_events(arr, source="calibration events")
        if len(events) == 0:
            raise EventFormatError("calibration events: the array is empty")
        return events_to_raster(events, int(dt_us), input_shape)
    except EventFormatError as exc:
        raise QuantizationError(
            f"calibration events cannot be binned into the model's input {tuple(input_shape)} with "
            f"{dt_us} µs bins: {exc}"
        ) from None


def _f32(a: npt.ArrayLike) -> npt.NDArray[np.float32]:
    return np.asarray(a, dtype=np.float32)


def _float_arrays(layer: ChipLayer) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Weight and bias as float32 (a missing bias is zeros, as sinabs quantises it)."""
    bias = _f32(layer.bias) if layer.bias is not None else np.zeros(layer.out_features, dtype=np.float32)
    return _f32(layer.weight), bias


def _state_scale(
    layer: ChipLayer, chip: ChipSpec
) -> tuple[npt.NDArray[np.float32] | None, torch.Tensor | None]:
    """The stored initial state (float32) and its state-word scale, or (None, None) for a fresh state."""
    if layer.initial_state is None:
        return None, None
    state = _f32(layer.initial_state)
    return state, sinabs_scale(state, chip.state_bits)


def _quantize_sinabs(layer: ChipLayer, chip: ChipSpec, allow_plain: bool) -> QuantizedLayer:
    weight, bias = _float_arrays(layer)
    plain = layer.min_v_mem is None
    min_v = float(PLAIN_MIN_V_MEM) if layer.min_v_mem is None else float(layer.min_v_mem)
    thresholds = _f32((min_v, float(layer.threshold)))
    s_w = sinabs_scale(weight, chip.weight_bits)
    # sinabs scales the bias with the weight precision, not the chip's 16-bit bias word (§2.1 [CONFLICT]).
    s_b = sinabs_scale(bias, chip.weight_bits)
    s_t = sinabs_scale(thresholds, chip.state_bits)
    state, s_n = _state_scale(layer, chip)
    scale = _common_scale(s_w, s_b, s_t, s_n)

    if plain and float(s_t) < min(float(s_w), float(s_b)) and not allow_plain:
        q = _round(weight, scale)
        nz = weight != 0
        zero_frac = int(np.count_nonzero((q == 0) & nz)) / max(int(np.count_nonzero(nz)), 1)
        raise QuantizationError(
            f"layer '{layer.name}' (modules {', '.join(layer.modules)}): min_v_mem is None, so sinabs "
            f"reserves the 16-bit lower threshold for {PLAIN_MIN_V_MEM}; with threshold "
            f"{layer.threshold:g} that uses up the state range and the common scale collapses to "
            f"{float(scale):g} (the weights alone would allow {float(s_w):g}): the largest weight becomes "
            f"{int(np.abs(q).max())} of 127 and {zero_frac:.0%} of the non-zero weights round to 0. Fix: "
            f"give the spiking layer a lower bound, e.g. `IAFSqueeze(..., min_v_mem=-{layer.threshold:g})` "
            "(-threshold, as sinabs.from_torch does), or quantise with sample input (CLI: "
            "`--quantization calibrated --calibration FILE`; Python: CompileOptions(quantization="
            "'calibrated', calibration=raster)); to accept the collapsed weights anyway, pass "
            "`--allow-plain-min-v-mem-none` (Python: CompileOptions(allow_plain_min_v_mem_none=True))"
        )

    low_q, thr_q = _round(thresholds, scale)
    return _finish(
        layer,
        chip,
        weight,
        bias,
        state,
        scale,
        (s_w, s_b, s_t, s_n),
        thr_q=int(thr_q),
        low_q=int(low_q),
        rule="sinabs-plain" if plain else "sinabs",
    )


def _quantize_calibrated(layer: ChipLayer, chip: ChipSpec, v_min: float, v_max: float) -> QuantizedLayer:
    """Largest scale keeping weights in the weight word, bias in the bias word, thresholds and observed
    states in the state word (int8 / int16 / int16 on Speck, §2.1)."""
    weight, bias = _float_arrays(layer)
    max_w = max(float(weight.max()), 0.0) if weight.size else 0.0
    s_w = sinabs_scale(weight, chip.weight_bits)
    s_b = sinabs_scale(bias, chip.bias_bits)
    bounds = [float(layer.threshold), v_max + max_w, v_min]
    if layer.min_v_mem is not None:
        bounds.append(float(layer.min_v_mem))
    s_t = sinabs_scale(_f32(bounds), chip.state_bits)
    state, s_n = _state_scale(layer, chip)
    scale = _common_scale(s_w, s_b, s_t, s_n)
    thr_q = int(_round(_f32(layer.threshold), scale))
    low_q = PLAIN_MIN_V_MEM if layer.min_v_mem is None else int(_round(_f32(layer.min_v_mem), scale))
    return _finish(
        layer,
        chip,
        weight,
        bias,
        state,
        scale,
        (s_w, s_b, s_t, s_n),
        thr_q=thr_q,
        low_q=low_q,
        rule="calibrated",
    )


def _common_scale(*scales: torch.Tensor | None) -> torch.Tensor:
    """The smallest candidate scale (Python ``min`` over 0-d tensors, as sinabs); None is skipped."""
    return min(s for s in scales if s is not None)


def _clip(t: npt.NDArray[np.float32], word: tuple[int, int]) -> tuple[npt.NDArray[np.int64], int]:
    """``t`` as integers clipped to ``word`` = (low, high), and how many values were clipped."""
    lo, hi = word
    arr = t.astype(np.int64)
    clipped = int(np.count_nonzero((arr < lo) | (arr > hi)))
    return np.clip(arr, lo, hi).astype(np.int64), clipped


def _finish(
    layer: ChipLayer,
    chip: ChipSpec,
    weight: npt.NDArray[np.float32],
    bias: npt.NDArray[np.float32],
    state: npt.NDArray[np.float32] | None,
    scale: torch.Tensor,
    candidates: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None],
    *,
    thr_q: int,
    low_q: int,
    rule: str,
) -> QuantizedLayer:
    """Round weight, bias and state with ``scale``, clip everything to the chip's words, and measure.

    ``thr_q`` / ``low_q`` are the rounded thresholds before clipping to the chip's register ranges.
    """
    w_q = _round(weight, scale)
    b_q = _round(bias, scale)
    v_q = _round(state, scale) if state is not None else np.zeros(layer.out_shape, dtype=np.float32)
    w, sat_w = _clip(w_q, chip.weight_range)
    b, sat_b = _clip(b_q, chip.bias_range)
    v, sat_v = _clip(v_q, chip.state_range)
    thr = min(max(thr_q, chip.threshold_high_range[0]), chip.threshold_high_range[1])
    low = min(max(low_q, chip.threshold_low_range[0]), chip.threshold_low_range[1])
    sat_t = int(thr != thr_q) + int(low != low_q)
    nz = weight != 0
    zero_fraction = float(np.count_nonzero((w == 0) & nz)) / max(int(np.count_nonzero(nz)), 1)
    w_max = int(w.max()) if w.size else 0
    w_pos = max(w_max, 0)
    stats = LayerQuantStats(
        scale=float(scale),
        scale_weights=float(candidates[0]),
        scale_bias=float(candidates[1]),
        scale_thresholds=float(candidates[2]),
        scale_state=math.inf if candidates[3] is None else float(candidates[3]),
        weight_range=(int(w.min()) if w.size else 0, w_max),
        bias_range=(int(b.min()) if b.size else 0, int(b.max()) if b.size else 0),
        threshold_high=thr,
        threshold_low=low,
        zero_fraction=zero_fraction,
        saturated=sat_w + sat_b + sat_v + sat_t,
        max_weight_over_threshold=(w_pos / thr) if thr > 0 else math.inf,
        overflow_margin=chip.state_range[1] - (thr + w_pos),
        rule=rule,
        clipped_weights=sat_w,
        clipped_biases=sat_b,
        clipped_states=sat_v,
        clipped_thresholds=sat_t,
    )
    return QuantizedLayer(
        source=layer,
        weight=w,
        bias=b,
        threshold_high=thr,
        threshold_low=low,
        initial_state=v.reshape(layer.out_shape),
        stats=stats,
    )
