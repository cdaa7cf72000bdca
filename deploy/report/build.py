"""Fill the report's dataclasses (:mod:`deploy.report.summary`) from the pipeline's results.

Pure functions: no printing, no file access. The pieces are small so that each can be tested on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

import numpy as np
import numpy.typing as npt

from deploy.graph import OUTPUT, LayerGraph, Placement, QuantizedGraph
from deploy.memory import FitMatrix
from deploy.report.summary import (
    CoreActivity,
    CoreMemory,
    LayerInfo,
    QuantRow,
    core_budget,
    predicted_synops_rate,
)


def layer_infos(graph: LayerGraph, placement: Placement) -> tuple[LayerInfo, ...]:
    """One :class:`LayerInfo` per layer: geometry, core and destinations."""
    infos = []
    for i, layer in enumerate(graph.layers):
        dests = []
        for e in graph.out_edges(i):
            where = "output" if e.dst == OUTPUT else f"core {placement.core_of[e.dst]}"
            extras = []
            if e.pooling > 1:
                extras.append(f"pool {e.pooling}")
            if e.feature_shift:
                extras.append(f"shift {e.feature_shift}")
            dests.append(where + (f" ({', '.join(extras)})" if extras else ""))
        infos.append(
            LayerInfo(
                index=i,
                name=layer.name,
                core=placement.core_of[i],
                kind=layer.kind,
                in_shape=_int3(layer.in_shape),
                out_shape=_int3(layer.out_shape),
                kernel_size=layer.kernel_size,
                stride=(int(layer.stride[0]), int(layer.stride[1])),
                padding=(int(layer.padding[0]), int(layer.padding[1])),
                destinations=tuple(dests),
                modules=tuple(layer.modules),
            )
        )
    return tuple(infos)


def _int3(shape: Sequence[int]) -> tuple[int, int, int]:
    c, h, w = shape
    return int(c), int(h), int(w)


def core_memory(fit: FitMatrix, placement: Placement) -> tuple[CoreMemory, ...]:
    """Memory use of every core of the chip (free cores show zero use)."""
    layer_on = {core: i for i, core in enumerate(placement.core_of)}
    rows = []
    for j, core in enumerate(fit.core_ids):
        i = layer_on.get(core)
        mem = fit.memory[i] if i is not None else None
        rows.append(
            CoreMemory(
                core=core,
                layer=fit.layer_names[i] if i is not None else None,
                kernel_used=mem.kernel if mem else 0,
                kernel_capacity=fit.kernel_capacity[j],
                neuron_used=mem.neuron if mem else 0,
                neuron_capacity=fit.neuron_capacity[j],
                bias_used=mem.bias if mem else 0,
                bias_capacity=fit.bias_capacity[j],
            )
        )
    return tuple(rows)


def quant_rows(qgraph: QuantizedGraph) -> tuple[QuantRow, ...]:
    """Per layer, the fields of its ``LayerQuantStats`` that :class:`QuantRow` shows."""
    shown = [f.name for f in fields(QuantRow) if f.name != "name"]
    return tuple(
        QuantRow(name=q.name, **{k: _plain(getattr(q.stats, k)) for k in shown}) for q in qgraph.layers
    )


def _plain(value: Any) -> Any:
    """numpy scalars, also inside tuples, as Python numbers (``summary.json`` must serialise them)."""
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value.item() if isinstance(value, np.generic) else value


def core_activity(
    graph: LayerGraph,
    placement: Placement,
    counters: Mapping[str, npt.ArrayLike],
    duration_s: float,
    budget: float,
) -> tuple[CoreActivity, ...]:
    """Per used core: the simulator's counters, measured and predicted SynOps/s, and the budget.

    Args:
        graph: The float graph (geometry for the SD-tips estimate).
        placement: Layer → core.
        counters: Per-core arrays ``synops``, ``spikes_generated``, ``spikes_emitted``, ``inputs``,
            ``dropped`` (as in ``SimResult.counters()``).
        duration_s: Input duration in seconds (rates are per second of input time).
        budget: SynOps/s budget of a regular core.
    """
    c = {k: np.asarray(v, dtype=np.int64) for k, v in counters.items()}
    rows = []
    for i, layer in enumerate(graph.layers):
        core = placement.core_of[i]
        inputs = int(c["inputs"][core])
        synops = int(c["synops"][core])
        rows.append(
            CoreActivity(
                core=core,
                layer=layer.name,
                inputs=inputs,
                synops=synops,
                spikes_generated=int(c["spikes_generated"][core]),
                spikes_emitted=int(c["spikes_emitted"][core]),
                dropped=int(c["dropped"][core]),
                synops_rate=synops / duration_s if duration_s > 0 else 0.0,
                predicted_rate=predicted_synops_rate(
                    inputs,
                    duration_s,
                    layer.out_features,
                    layer.kernel_size,
                    layer.stride,
                    out_size=(layer.out_shape[1], layer.out_shape[2]),
                ),
                budget=core_budget(core, budget),
            )
        )
    return tuple(sorted(rows, key=lambda r: r.core))


def time_counts_from_events(
    events: npt.NDArray[Any], core_of: Sequence[int], n_bins: int, dt_us: int, t0_us: int = 0
) -> list[npt.NDArray[np.int64]]:
    """Spikes per time bin of each layer from monitored events (``layer`` field = core)."""
    out = []
    for core in core_of:
        series = np.zeros(n_bins, dtype=np.int64)
        if len(events):
            ts = np.asarray(events["timestamp"][np.asarray(events["layer"]) == core], dtype=np.int64)
            bins = (ts - t0_us) // dt_us
            bins = bins[(bins >= 0) & (bins < n_bins)]
            np.add.at(series, bins, 1)
        out.append(series)
    return out


def time_counts_from_rasters(per_layer: Sequence[npt.ArrayLike]) -> list[npt.NDArray[np.int64]]:
    """Spikes per time step of each layer from ``(T, F, H, W)`` spike rasters."""
    out = []
    for arr in per_layer:
        a = np.asarray(arr)
        if a.ndim == 5:  # (B, T, F, H, W) with one sample
            a = a[0]
        out.append(np.rint(a.reshape(a.shape[0], -1).sum(axis=1)).astype(np.int64))
    return out


def checker_warning_lines(warnings: Sequence[object]) -> tuple[str, ...]:
    """The checker's warnings as the report's message lines (each warning's ``str``)."""
    return tuple(str(w) for w in warnings)


def predicted_class(target_counts: Sequence[int]) -> int | None:
    """The class the target's output spikes vote for (argmax per feature; lowest on ties); None if silent."""
    if sum(target_counts) == 0:
        return None
    return int(np.argmax(np.asarray(target_counts)))
