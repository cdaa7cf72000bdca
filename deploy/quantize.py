"""Quantisation: float :class:`LayerGraph` → integer :class:`QuantizedGraph`.

The default rule reproduces sinabs 3.1.3's ``_discretize_conv_spk_`` bit for bit (SPECK_SEMANTICS §9.1):
one scale per chip layer, the smallest of the scales that fit the weights and the bias into 8 bits and the
thresholds (and an initial state) into 16 bits, computed in float32 torch arithmetic exactly as sinabs
does, then ``torch.round`` (round half to even).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
import torch

from deploy.errors import QuantizationError
from deploy.graph import ChipLayer, LayerGraph, LayerQuantStats, QuantizedGraph, QuantizedLayer

WEIGHT_BITS = 8
"""Kernel SRAM word (SPECK_SEMANTICS §2.1); sinabs also quantises biases with this precision."""
STATE_BITS = 16
"""Neuron SRAM word, thresholds and leak (§2.1)."""
PLAIN_MIN_V_MEM = -(2**15)
"""What sinabs uses for the lower threshold when ``min_v_mem is None``."""

Rule = Literal["sinabs", "calibrated"]


def sinabs_scale(t: torch.Tensor, bits: int) -> torch.Tensor:
    """sinabs ``determine_discretization_scale``: the largest s with ``round(t·s)`` in the signed range.

    Kept in sinabs's float32 tensor arithmetic so results match bit for bit; an all-zero tensor gives
    ``inf`` (it then never limits the common scale).
    """
    lo = -(2 ** (bits - 1))
    hi = 2 ** (bits - 1) - 1
    mn = torch.min(t)
    mx = torch.max(t)
    ratio = abs(lo / hi)
    if abs(mn) <= abs(mx) * ratio:
        return abs(hi / mx)
    return abs(lo / mn)


def _round(t: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """sinabs ``discretize_tensor(..., to_int=False)``: ``torch.round(t * scale)`` (half to even)."""
    return torch.round(t * scale)


def quantize(
    graph: LayerGraph,
    *,
    rule: Rule | str = "sinabs",
    allow_plain_min_v_mem_none: bool = False,
    calibration: npt.NDArray[np.floating] | npt.NDArray[np.integer] | None = None,
) -> QuantizedGraph:
    """Turn every chip layer into chip integers.

    Args:
        graph: The float layer graph.
        rule: ``"sinabs"`` — sinabs's per-layer rule, bit for bit; ``"calibrated"`` — per layer, the
            largest scale that keeps weights in 8 bits, thresholds/bias in 16 bits and the membrane state
            seen on ``calibration`` in 16 bits.
        allow_plain_min_v_mem_none: Accept layers with ``min_v_mem=None`` under the sinabs rule even
            though their scale collapses (sinabs then reserves −32768 for the lower threshold).
        calibration: For ``rule="calibrated"``: an input raster ``(T, C, H, W)``.

    Returns:
        The quantised graph with a :class:`LayerQuantStats` per layer.

    Raises:
        QuantizationError: The ``min_v_mem=None`` trap, a missing calibration raster, or an unknown rule.
    """
    if rule == "sinabs":
        layers = tuple(_quantize_sinabs(layer, allow_plain_min_v_mem_none) for layer in graph.layers)
        return QuantizedGraph(graph=graph, layers=layers)
    if rule == "calibrated":
        if calibration is None:
            raise QuantizationError(
                "rule='calibrated' needs a calibration raster (T, C, H, W) of typical input: "
                "pass calibration=raster (a numpy array of event counts per time bin)"
            )
        from deploy.timestep import evaluate

        result = evaluate(graph, calibration)
        qlayers = tuple(
            _quantize_calibrated(layer, result.v_min[i], result.v_max[i])
            for i, layer in enumerate(graph.layers)
        )
        return QuantizedGraph(graph=graph, layers=qlayers)
    raise QuantizationError(f"unknown quantisation rule {rule!r}; use 'sinabs' (default) or 'calibrated'")


def _float_tensors(layer: ChipLayer) -> tuple[torch.Tensor, torch.Tensor, bool]:
    weight = torch.from_numpy(np.asarray(layer.weight, dtype=np.float32).copy())
    has_bias = layer.bias is not None
    bias = (
        torch.from_numpy(np.asarray(layer.bias, dtype=np.float32).copy())
        if layer.bias is not None
        else torch.zeros(layer.out_features)
    )
    return weight, bias, has_bias


def _quantize_sinabs(layer: ChipLayer, allow_plain: bool) -> QuantizedLayer:
    weight, bias, _ = _float_tensors(layer)
    plain = layer.min_v_mem is None
    min_v = float(PLAIN_MIN_V_MEM) if plain else float(layer.min_v_mem)  # type: ignore[arg-type]
    thresholds = torch.tensor((min_v, float(layer.threshold)), dtype=torch.float32)
    s_w = sinabs_scale(weight, WEIGHT_BITS)
    s_b = sinabs_scale(bias, WEIGHT_BITS)
    s_t = sinabs_scale(thresholds, STATE_BITS)
    candidates = [s_w, s_b, s_t]
    state = None
    s_n: torch.Tensor | None = None
    if layer.initial_state is not None:
        state = torch.from_numpy(np.asarray(layer.initial_state, dtype=np.float32).copy())
        s_n = sinabs_scale(state, STATE_BITS)
        candidates.append(s_n)
    scale = min(candidates)  # Python min over 0-d tensors, as sinabs

    if plain and float(s_t) < min(float(s_w), float(s_b)) and not allow_plain:
        q = _round(weight, scale)
        nz = weight != 0
        zero_frac = float(((q == 0) & nz).sum()) / max(int(nz.sum()), 1)
        raise QuantizationError(
            f"layer '{layer.name}' (modules {', '.join(layer.modules)}): min_v_mem is None, so sinabs "
            f"reserves the 16-bit lower threshold for {PLAIN_MIN_V_MEM}; with threshold "
            f"{layer.threshold:g} that uses up the state range and the common scale collapses to "
            f"{float(scale):g} (the weights alone would "
            f"allow {float(s_w):g}): the largest weight becomes {int(q.abs().max())} of 127 and "
            f"{zero_frac:.0%} of the non-zero weights round to 0. Fix: give the spiking layer a lower "
            f"bound, e.g. `IAFSqueeze(..., min_v_mem=-{layer.threshold:g})` (-threshold, as "
            "sinabs.from_torch does), "
            "or use rule='calibrated' with sample input; to accept the collapsed weights anyway, call "
            "quantize(..., allow_plain_min_v_mem_none=True)"
        )

    w_q = _round(weight, scale)
    b_q = _round(bias, scale)
    low_q, thr_q = _round(thresholds, scale)
    v_q = _round(state, scale) if state is not None else torch.zeros(layer.out_shape, dtype=torch.float32)
    return _finish(
        layer,
        w_q,
        b_q,
        int(thr_q),
        int(low_q),
        v_q,
        weight,
        scale=float(scale),
        candidates=(float(s_w), float(s_b), float(s_t), float(s_n) if s_n is not None else math.inf),
        rule="sinabs-plain" if plain else "sinabs",
    )


def _quantize_calibrated(layer: ChipLayer, v_min: float, v_max: float) -> QuantizedLayer:
    """Largest scale keeping weights in int8, and bias, thresholds and observed states in int16."""
    weight, bias, _ = _float_tensors(layer)
    max_w = float(weight.clamp(min=0).max()) if weight.numel() else 0.0
    s_w = sinabs_scale(weight, WEIGHT_BITS)
    s_b = sinabs_scale(bias, STATE_BITS)
    bounds = [float(layer.threshold), v_max + max_w, v_min]
    if layer.min_v_mem is not None:
        bounds.append(float(layer.min_v_mem))
    s_t = sinabs_scale(torch.tensor(bounds, dtype=torch.float32), STATE_BITS)
    candidates = [s_w, s_b, s_t]
    state = None
    s_n: torch.Tensor | None = None
    if layer.initial_state is not None:
        state = torch.from_numpy(np.asarray(layer.initial_state, dtype=np.float32).copy())
        s_n = sinabs_scale(state, STATE_BITS)
        candidates.append(s_n)
    scale = min(candidates)
    w_q = _round(weight, scale)
    b_q = _round(bias, scale)
    thr_q = int(_round(torch.tensor(float(layer.threshold)), scale))
    if layer.min_v_mem is not None:
        low_q = int(_round(torch.tensor(float(layer.min_v_mem)), scale))
    else:
        low_q = PLAIN_MIN_V_MEM
    v_q = _round(state, scale) if state is not None else torch.zeros(layer.out_shape, dtype=torch.float32)
    return _finish(
        layer,
        w_q,
        b_q,
        thr_q,
        low_q,
        v_q,
        weight,
        scale=float(scale),
        candidates=(float(s_w), float(s_b), float(s_t), float(s_n) if s_n is not None else math.inf),
        rule="calibrated",
    )


def _clip(t: torch.Tensor, bits: int) -> tuple[npt.NDArray[np.int64], int]:
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    arr = t.to(torch.int64).numpy()
    saturated = int(np.count_nonzero((arr < lo) | (arr > hi)))
    return np.clip(arr, lo, hi).astype(np.int64), saturated


def _finish(
    layer: ChipLayer,
    w_q: torch.Tensor,
    b_q: torch.Tensor,
    thr_q: int,
    low_q: int,
    v_q: torch.Tensor,
    weight: torch.Tensor,
    *,
    scale: float,
    candidates: Sequence[float],
    rule: str,
) -> QuantizedLayer:
    w, sat_w = _clip(w_q, WEIGHT_BITS)
    b, sat_b = _clip(b_q, STATE_BITS)
    v, sat_v = _clip(v_q, STATE_BITS)
    thr = min(max(thr_q, 0), 2**15 - 1)
    low = min(max(low_q, -(2**15)), -1)
    saturated = sat_w + sat_b + sat_v + int(thr != thr_q) + int(low != low_q)
    nz = weight.numpy() != 0
    zero_fraction = float(np.count_nonzero((w == 0) & nz)) / max(int(np.count_nonzero(nz)), 1)
    w_max = int(w.max()) if w.size else 0
    w_pos = max(w_max, 0)
    stats = LayerQuantStats(
        scale=scale,
        scale_weights=candidates[0],
        scale_bias=candidates[1],
        scale_thresholds=candidates[2],
        scale_state=candidates[3],
        weight_range=(int(w.min()) if w.size else 0, w_max),
        bias_range=(int(b.min()) if b.size else 0, int(b.max()) if b.size else 0),
        threshold_high=thr,
        threshold_low=low,
        zero_fraction=zero_fraction,
        saturated=saturated,
        max_weight_over_threshold=(w_pos / thr) if thr > 0 else math.inf,
        overflow_margin=(2**15 - 1) - (thr + w_pos),
        rule=rule,
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
