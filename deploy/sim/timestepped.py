"""Time-stepped (sinabs-style) evaluation of a ChipConfig in torch.

Per time bin, per core in topological order: ``conv2d`` of the binned input, add to the membrane, sinabs
``MultiSpike`` (``⌊v/threshold_high⌋`` spikes where ``v ≥ threshold_high``, subtract that many thresholds, or
reset to zero with ``return_to_zero``), clamp at ``threshold_low``, then route the spike counts to each
destination with sum pooling and ``feature_shift``. This is what sinabs's software forward computes on the
discretised network; it differs from the chip by design (SPECK_SEMANTICS §10: summed bins, several spikes per
step). It serves the benchmark and the agreement checks where the semantics coincide.

:mod:`deploy.timestep` is the other time-stepped evaluator: it runs the compiler's float or integer graphs
before placement; this one runs what the chip runs (a placed ChipConfig), so a comparison with the
event-driven simulator sees exactly the same cores, routing and integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from deploy.sim.events import Events, as_events, events_to_raster
from deploy.sim.result import check_config, topological_order
from hwconfig.config import N_CNN_LAYERS, ChipConfig

if TYPE_CHECKING:
    import torch


@dataclass(eq=False)
class TimesteppedResult:
    """Result of :func:`run_timestepped`.

    Attributes:
        spikes: Per used core, spike counts per bin, torch layout ``(N, T, F, H, W)``.
        states: Final membrane states per used core, ``(N, F, W, H)`` as float (chip order ``[f][x][y]``).
    """

    spikes: dict[int, torch.Tensor]
    states: dict[int, torch.Tensor]

    def spike_counts(self) -> dict[int, int]:
        """Total spikes per core."""
        return {c: int(s.sum().item()) for c, s in self.spikes.items()}


def events_to_inputs(
    config: ChipConfig, events: Events, dt_us: int, n_bins: int, t0_us: int = 0
) -> dict[int, npt.NDArray[np.int64]]:
    """Bin input events per target core into rasters ``(T, C, H, W)`` of that core's input shape."""
    ev = as_events(events)
    out: dict[int, npt.NDArray[np.int64]] = {}
    for core in np.unique(ev["layer"]).tolist():
        if not 0 <= core < N_CNN_LAYERS:
            continue
        shape = config.cnn_layers[core].dimensions.input_shape
        sel = ev[ev["layer"] == core]
        out[core] = events_to_raster(
            sel, dt_us, (shape.feature_count, shape.size.y, shape.size.x), t0_us=t0_us, n_bins=n_bins
        )
    return out


def run_timestepped(
    config: ChipConfig,
    inputs: dict[int, npt.ArrayLike | torch.Tensor],
    bias_per_step: bool = False,
    dtype: torch.dtype | None = None,
) -> TimesteppedResult:
    """Evaluate ``config`` bin by bin.

    Args:
        config: The chip configuration (acyclic routing).
        inputs: Per entry core, input counts ``(T, C, H, W)`` or batched ``(N, T, C, H, W)``.
        bias_per_step: Add each core's bias every bin when ``leak_enable`` (sinabs's software semantics);
            False (default) ignores biases, like the chip without a slow clock.
        dtype: Compute dtype (default float32; all values are integers well inside its exact range).

    Returns:
        Spike counts per core and bin, and final states.
    """
    import torch
    import torch.nn.functional as tf

    dtype = dtype or torch.float32
    used = check_config(config)
    order = [c for c in topological_order(config) if c in used]
    xs: dict[int, torch.Tensor] = {}
    for core, arr in inputs.items():
        raster = torch.as_tensor(np.asarray(arr) if not isinstance(arr, torch.Tensor) else arr).to(dtype)
        xs[core] = raster[None] if raster.dim() == 4 else raster
    if not xs:
        raise ValueError("run_timestepped needs at least one input raster")
    n, steps = next(iter(xs.values())).shape[:2]
    params = {}
    for c in order:
        layer = config.cnn_layers[c]
        d = layer.dimensions
        w = torch.as_tensor(layer.weights.astype(np.float64)).to(dtype).transpose(2, 3).contiguous()
        thr = float(layer.threshold_high)
        if thr <= 0:
            raise ValueError(
                f"core {c}: threshold_high must be > 0 for MultiSpike, got {layer.threshold_high}"
            )
        v = torch.as_tensor(layer.neurons_initial_value.astype(np.float64)).to(dtype).transpose(1, 2)
        params[c] = (
            w,
            d,
            thr,
            float(layer.threshold_low),
            layer.return_to_zero,
            v.expand(n, *v.shape).clone(),
        )
    spikes = {c: torch.zeros((n, steps, *params[c][5].shape[1:]), dtype=dtype) for c in order}
    bias = {
        c: torch.as_tensor(config.cnn_layers[c].biases.astype(np.float64)).to(dtype).view(1, -1, 1, 1)
        for c in order
    }
    for t in range(steps):
        routed: dict[int, torch.Tensor] = {}
        for c in order:
            w, d, thr, thr_lo, rtz, v = params[c]
            shape = (n, d.input_shape.feature_count, d.input_shape.size.y, d.input_shape.size.x)
            x = routed.get(c)
            if c in xs:
                x = xs[c][:, t] if x is None else x + xs[c][:, t]
            if x is None:
                x = torch.zeros(shape, dtype=dtype)
            v += tf.conv2d(x, w, stride=(d.stride.y, d.stride.x), padding=(d.padding.y, d.padding.x))
            if bias_per_step and config.cnn_layers[c].leak_enable:
                v += bias[c]
            s = torch.where(v >= thr, torch.floor(v / thr), torch.zeros_like(v))
            if rtz:
                v[s > 0] = 0
            else:
                v -= s * thr
            v.clamp_(min=thr_lo)
            spikes[c][:, t] = s
            for dst in config.cnn_layers[c].enabled_destinations:
                if dst.layer >= N_CNN_LAYERS:
                    continue
                _route(
                    s,
                    dst.pooling,
                    dst.feature_shift,
                    config.cnn_layers[dst.layer].dimensions,
                    routed,
                    dst.layer,
                )
    states = {c: params[c][5].transpose(2, 3) for c in order}
    return TimesteppedResult(spikes=spikes, states=states)


def _route(
    s: torch.Tensor, p: int, shift: int, dims: object, routed: dict[int, torch.Tensor], dest: int
) -> None:
    import torch
    import torch.nn.functional as tf

    from hwconfig.config import CnnLayerDimensions

    assert isinstance(dims, CnnLayerDimensions)
    if p > 1:
        s = tf.avg_pool2d(s, p) * (p * p)  # sum pooling; torch floors the pooled size (§4.6)
    n, f, h, w = s.shape
    ci, hi, wi = dims.input_shape.feature_count, dims.input_shape.size.y, dims.input_shape.size.x
    buf = routed.get(dest)
    if buf is None:
        buf = torch.zeros((n, ci, hi, wi), dtype=s.dtype)
        routed[dest] = buf
    f_end = min(ci, shift + f)
    if f_end > shift:
        buf[:, shift:f_end, : min(h, hi), : min(w, wi)] += s[:, : f_end - shift, :hi, :wi]
