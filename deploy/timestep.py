"""Time-stepped reference evaluation of a :class:`LayerGraph` (float) or :class:`QuantizedGraph` (integer).

This is sinabs's semantics, not the chip's (SPECK_SEMANTICS §10): per time step every layer sums all of
its input, adds the bias, emits ``MultiSpike`` ⌊v/thr⌋ spikes (or one, ``SingleSpike``), subtracts the
threshold per spike or resets to zero, then clamps at ``min_v_mem``. Spikes reach the next layer in the
same time step. The same function runs float and integer graphs, so float and quantised networks can be
compared layer by layer; the integer graph is evaluated exactly (float64 holding integers), the float
graph in float32 like sinabs.

Why there are two time-stepped evaluators: this one runs the compiler's graphs (before placement, float or
integer, with DVS input handling), so float and quantised models can be compared; the other,
:mod:`deploy.sim.timestepped`, runs a placed :class:`~hwconfig.config.ChipConfig` (cores, destinations,
pooling, feature shifts) and is what the simulator benchmark and the simulator agreement checks use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from deploy.errors import EventFormatError
from deploy.graph import OUTPUT, DvsInput, Edge, LayerGraph, QuantizedGraph


@dataclass(frozen=True, eq=False)
class EvalResult:
    """What :func:`evaluate` computed.

    Attributes:
        spikes: Per chip layer, spikes per time step ``(T, F, H_out, W_out)`` before pooling.
        outputs: Per edge to ``OUTPUT`` (in ``graph.edges`` order), the pooled spikes ``(T, F, H, W)``.
        output_edges: The edges ``outputs`` belong to.
        v_min, v_max: Per layer, the lowest/highest membrane value reached after adding a step's input
            (before spiking, reset and clamping), in the graph's units; 0 when T = 0.
        integer: True when a QuantizedGraph was evaluated.
    """

    spikes: tuple[npt.NDArray[np.floating], ...]
    outputs: tuple[npt.NDArray[np.floating], ...]
    output_edges: tuple[Edge, ...]
    v_min: tuple[float, ...]
    v_max: tuple[float, ...]
    integer: bool

    @property
    def counts(self) -> tuple[npt.NDArray[np.floating], ...]:
        """Per layer, total spikes per neuron ``(F, H_out, W_out)``."""
        return tuple(s.sum(axis=0) for s in self.spikes)

    @property
    def output(self) -> npt.NDArray[np.floating]:
        """Spikes of the first output edge ``(T, F, H, W)``."""
        return self.outputs[0]


@dataclass(frozen=True)
class _Params:
    weight: torch.Tensor
    bias: torch.Tensor | None
    threshold: float
    min_v_mem: float | None
    initial: torch.Tensor | None


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (None: torch's setting unchanged), then restore it.

    The views evaluate small convolutions step by step; on a busy machine torch's threads wait for each other
    and one thread is faster (:attr:`deploy.options.RunOptions.torch_threads`).
    """
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _params(graph: LayerGraph | QuantizedGraph, dtype: torch.dtype) -> list[_Params]:
    out = []
    if isinstance(graph, QuantizedGraph):
        for q in graph.layers:
            out.append(
                _Params(
                    weight=torch.from_numpy(q.weight.astype(np.float64)).to(dtype),
                    bias=torch.from_numpy(q.bias.astype(np.float64)).to(dtype),
                    threshold=float(q.threshold_high),
                    min_v_mem=float(q.threshold_low),
                    initial=torch.from_numpy(q.initial_state.astype(np.float64)).to(dtype),
                )
            )
        return out
    for layer in graph.layers:
        out.append(
            _Params(
                weight=torch.from_numpy(np.asarray(layer.weight, dtype=np.float32)).to(dtype),
                bias=None
                if layer.bias is None
                else torch.from_numpy(np.asarray(layer.bias, np.float32)).to(dtype),
                threshold=float(layer.threshold),
                min_v_mem=layer.min_v_mem,
                initial=(
                    None
                    if layer.initial_state is None
                    else torch.from_numpy(np.asarray(layer.initial_state, np.float32)).to(dtype)
                ),
            )
        )
    return out


def _sum_pool(x: torch.Tensor, pooling: tuple[int, int]) -> torch.Tensor:
    if pooling == (1, 1):
        return x
    # Sum pooling with stride = kernel, flooring the map size like torch and sinabs.
    return F.avg_pool2d(x, kernel_size=pooling, stride=pooling) * (pooling[0] * pooling[1])


def _dvs(x: torch.Tensor, dvs: DvsInput) -> torch.Tensor:
    if dvs.merge_polarities:
        x = x.sum(dim=1, keepdim=True)
    x = _sum_pool(x, dvs.pooling)
    if dvs.crop is not None:
        (y0, y1), (x0, x1) = dvs.crop
        x = x[:, :, y0:y1, x0:x1]
    if dvs.flip_y:
        x = x.flip(2)
    if dvs.flip_x:
        x = x.flip(3)
    if dvs.swap_xy:
        x = x.transpose(2, 3)
    return x


def evaluate(
    graph: LayerGraph | QuantizedGraph,
    raster: npt.NDArray[np.number] | torch.Tensor,
) -> EvalResult:
    """Run the network time step by time step on an input raster (fresh states unless initialised).

    Args:
        graph: A float :class:`LayerGraph` or an integer :class:`QuantizedGraph`.
        raster: Input counts ``(T, C, H, W)`` in the model's input shape (before any DVS pooling); with
            merged DVS polarities also ``(T, 2, H, W)`` (summed to one channel).

    Returns:
        Spikes per layer and output edge, and the membrane ranges seen.

    Raises:
        EventFormatError: The raster does not have the shape ``(T, *graph.input_shape)``.
    """
    integer = isinstance(graph, QuantizedGraph)
    lg = graph.graph if isinstance(graph, QuantizedGraph) else graph
    dtype = torch.float64 if integer else torch.float32
    x = torch.as_tensor(np.asarray(raster)).to(dtype)
    # A merging DVS layer also takes both polarity channels and sums them, as the chip merges them.
    accepted = {tuple(lg.input_shape)} | ({tuple(lg.dvs.event_shape)} if lg.dvs is not None else set())
    if x.ndim != 4 or tuple(x.shape[1:]) not in accepted:
        raise EventFormatError(
            f"input raster has shape {tuple(x.shape)}, expected (T, C, H, W) with (C, H, W) = "
            f"{' or '.join(map(str, sorted(accepted)))}; transpose or reshape it to (time, channel, height, "
            "width)"
        )
    params = _params(graph, dtype)
    dvs_out = _dvs(x, lg.dvs) if lg.dvs is not None else None
    spikes: list[torch.Tensor] = []
    v_min: list[float] = []
    v_max: list[float] = []
    for i, layer in enumerate(lg.layers):
        current: torch.Tensor | None = None
        sources: list[torch.Tensor] = []
        if i in lg.entry_layers:
            sources.append(x)
        if lg.dvs is not None and i in lg.dvs.destinations and dvs_out is not None:
            sources.append(dvs_out)
        for e in lg.in_edges(i):
            pooled = _sum_pool(spikes[e.src], (e.pooling, e.pooling))
            if e.feature_shift or pooled.shape[1] != layer.in_shape[0]:
                # Concatenation: the source's features land at [shift, shift + F) of the input.
                placed = torch.zeros((pooled.shape[0], *layer.in_shape), dtype=dtype)
                placed[:, e.feature_shift : e.feature_shift + pooled.shape[1]] += pooled
                pooled = placed
            sources.append(pooled)
        for s in sources:
            current = s if current is None else current + s
        p = params[i]
        f_out, h_out, w_out = layer.out_shape
        if current is None:
            current = torch.zeros((x.shape[0], *layer.in_shape), dtype=dtype)
        syn = F.conv2d(current, p.weight, p.bias, stride=layer.stride, padding=layer.padding)
        v = (
            p.initial.clone().reshape(f_out, h_out, w_out)
            if p.initial is not None
            else torch.zeros((f_out, h_out, w_out), dtype=dtype)
        )
        out = torch.zeros_like(syn)
        lo, hi = np.inf, -np.inf
        for t in range(syn.shape[0]):
            v = v + syn[t]
            lo = min(lo, float(v.min()))
            hi = max(hi, float(v.max()))
            if layer.spike_fn == "SingleSpike":
                s = (v - p.threshold >= 0).to(dtype)
            else:  # MultiSpike, as sinabs: (v > 0) * trunc(v / thr)
                s = (v > 0).to(dtype) * torch.div(v, p.threshold, rounding_mode="trunc")
            # Zero reset as sinabs's MembraneReset(0): v·(s == 0); subtract: v − s·thr.
            v = v * (s == 0).to(dtype) if layer.reset == "zero" else v - s * p.threshold
            if p.min_v_mem is not None:
                v = F.relu(v - p.min_v_mem) + p.min_v_mem
            out[t] = s
        spikes.append(out)
        v_min.append(lo if syn.shape[0] else 0.0)
        v_max.append(hi if syn.shape[0] else 0.0)
    out_edges = tuple(e for e in lg.edges if e.dst == OUTPUT)
    outputs = tuple(_sum_pool(spikes[e.src], (e.pooling, e.pooling)).numpy() for e in out_edges)
    return EvalResult(
        spikes=tuple(s.numpy() for s in spikes),
        outputs=outputs,
        output_edges=out_edges,
        v_min=tuple(v_min),
        v_max=tuple(v_max),
        integer=integer,
    )
