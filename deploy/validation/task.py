"""The per-sample work of a validation: top-level, picklable, run in worker processes and on dask workers.

The parent compiles the model once and ships a :class:`TaskContext` (the float and quantised graphs and the
chip configuration, plain arrays in frozen dataclasses) with chunks of samples; :func:`run_chunk` evaluates
each sample in the three views:

- ``float``: the normalised float graph, time-stepped as sinabs does (:func:`deploy.timestep.evaluate`);
- ``quantised``: the chip integers, time-stepped the same way;
- ``simulated``: the chip configuration on the bit-accurate event-driven simulator, every used core
  monitored so that each layer's spikes are counted, from the initial (zero) state.

Class decision in every view (the project's rule, as ``models.training.predict``): the output feature with
the most spikes; ties go to the lowest index; no output spike at all gives :data:`NO_CLASS` (always wrong).
"""

from __future__ import annotations

import pickle
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from deploy.agreement import output_class
from deploy.datasets import is_tonic
from deploy.errors import DatasetError, EventFormatError
from deploy.graph import LayerGraph, QuantizedGraph
from deploy.sim.options import SimOptions
from hwconfig.config import ChipConfig

VIEWS: tuple[str, ...] = ("float", "quantised", "simulated")
NO_CLASS = -1
"""Prediction of a sample whose output layer emitted no spike."""

SampleItem = tuple[int, Any, int]
"""``(index in the data set, data, label)``: one unit of work."""


@dataclass(frozen=True, eq=False)
class TaskContext:
    """Everything a worker needs besides the samples (compiled once, in the parent).

    Attributes:
        graph: The float chip-layer graph.
        qgraph: The quantised graph.
        config: The chip configuration with every used core monitored.
        chip: Chip name.
        sim_options: Simulator semantics.
        core_of: Core of each layer.
        targets: Layer ids the input events go to (entry cores, or 13 for a DVS input).
        out_layer: The layer whose spikes decide the class.
        dt_us: Width of one time bin of the time-stepped views, µs.
        duration_us: Length of every recording (events at or after it count in the last bin), or None.
        raster_dt_us: Width of a raster bin when samples are rasters (their chip events' spacing), µs.
    """

    graph: LayerGraph
    qgraph: QuantizedGraph
    config: ChipConfig
    chip: str
    sim_options: SimOptions
    core_of: tuple[int, ...]
    targets: tuple[int, ...]
    out_layer: int
    dt_us: int
    duration_us: int | None
    raster_dt_us: int


@dataclass(frozen=True)
class SampleOutcome:
    """What one sample gave in the three views.

    Attributes:
        index: Position in the data set.
        label: Known class.
        predictions: Class per view (:data:`VIEWS` order); :data:`NO_CLASS` when the output was silent.
        layer_spikes: Per view, total spikes of each layer (graph order).
        synops: Synaptic operations of the simulation, summed over cores.
        input_events: Events fed to the chip.
    """

    index: int
    label: int
    predictions: tuple[int, int, int]
    layer_spikes: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]
    synops: int
    input_events: int


def decide(counts: npt.ArrayLike) -> int:
    """Class from per-class spike counts: most spikes, ties to the lowest index, silent → :data:`NO_CLASS`."""
    cls, _ = output_class(counts)  # the rule every view uses (deploy.agreement)
    return NO_CLASS if cls is None else cls


@contextmanager
def single_torch_thread() -> Iterator[None]:
    """Evaluate with one torch thread, so that float sums (and spikes) do not depend on the thread count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def sample_inputs(
    ctx: TaskContext, data: Any, index: int
) -> tuple[npt.NDArray[np.void], npt.NDArray[np.number]]:
    """Chip events and the ``(T, C, H, W)`` raster of the time-stepped views for one sample.

    Tonic-style events are binned from t = 0 in ``dt_us`` bins (through ``duration_us`` when known, events at
    or after it in the last bin); a raster is used as it is and becomes chip events spaced ``raster_dt_us``.

    Raises:
        DatasetError: ``data`` is neither tonic-style events nor a raster of the model's input shape.
    """
    from deploy.sim.events import events_to_raster, from_tonic, raster_to_events

    shape = ctx.graph.input_shape
    if is_tonic(data):
        xytp = np.asarray(data).reshape(-1)
        t = np.asarray(xytp["t"], dtype=np.int64)
        if len(t) and (t.min() < 0 or np.any(np.diff(t) < 0)):
            raise DatasetError(f"sample {index}: event times must be ≥ 0 and sorted (tonic 't' in µs)")
        last = int(t.max()) if len(t) else 0
        span = ctx.duration_us if ctx.duration_us is not None else last + 1
        n_bins = max(1, -(-span // ctx.dt_us))
        model_events = from_tonic(xytp, layer=0)
        model_events["timestamp"] = np.minimum(t, n_bins * ctx.dt_us - 1)
        raster: npt.NDArray[np.number] = events_to_raster(model_events, ctx.dt_us, shape, 0, n_bins)
        parts = [from_tonic(xytp, layer=target) for target in ctx.targets]
    else:
        raster = np.asarray(data)
        if raster.ndim != 4 or tuple(raster.shape[1:]) != tuple(shape):
            raise DatasetError(
                f"sample {index}: expected tonic-style events (x, y, t, p) or a raster (T, C, H, W) with "
                f"(C, H, W) = {tuple(shape)}; got dtype {raster.dtype} with shape {raster.shape}"
            )
        parts = [raster_to_events(raster, target, ctx.raster_dt_us) for target in ctx.targets]
    events = np.concatenate(parts) if len(parts) > 1 else parts[0]
    return events[np.argsort(events["timestamp"], kind="stable")], raster


def evaluate_sample(ctx: TaskContext, index: int, data: Any, label: int) -> SampleOutcome:
    """Evaluate one sample in the three views (see the module docstring).

    Raises:
        DatasetError: Malformed sample data.
        EventFormatError: The sample's events do not fit the chip configuration (named by sample index).
    """
    from deploy.agreement import monitored_counts
    from deploy.sim.events import validate_events
    from deploy.sim.simulator import simulate
    from deploy.timestep import evaluate
    from hwconfig.chips import get_chip

    events, raster = sample_inputs(ctx, data, index)
    chip = get_chip(ctx.chip)
    try:
        validate_events(events, ctx.config, dvs_size=chip.dvs_size)
    except EventFormatError as exc:
        raise EventFormatError(f"data set sample {index}: {exc}") from None
    out = ctx.out_layer
    predictions: list[int] = []
    spikes: list[tuple[int, ...]] = []
    for g in (ctx.graph, ctx.qgraph):
        res = evaluate(g, raster)
        spikes.append(tuple(round(float(s.sum())) for s in res.spikes))
        predictions.append(decide(res.spikes[out].sum(axis=(0, 2, 3))))
    sim = simulate(ctx.config, events, ctx.sim_options, chip=chip)
    shapes = [layer.out_shape for layer in ctx.graph.layers]
    counts = monitored_counts(sim.events, ctx.core_of, shapes)
    spikes.append(tuple(int(c.sum()) for c in counts))
    predictions.append(decide(counts[out].sum(axis=(1, 2))))
    return SampleOutcome(
        index=index,
        label=int(label),
        predictions=(predictions[0], predictions[1], predictions[2]),
        layer_spikes=(spikes[0], spikes[1], spikes[2]),
        synops=int(sim.synops.sum()),
        input_events=len(events),
    )


def warm_worker() -> None:
    """Load torch and the simulator kernel in this worker now (:mod:`deploy.validation.warmup`; once per
    process), so that its first chunk is not slowed down by it."""
    import importlib

    importlib.import_module("deploy.validation.warmup")


def run_chunk(ctx: TaskContext, items: Sequence[SampleItem]) -> list[SampleOutcome]:
    """Evaluate a chunk of samples (the unit shipped to a worker), with one torch thread."""
    with single_torch_thread():
        return [evaluate_sample(ctx, index, data, label) for index, data, label in items]


CACHED_CONTEXTS = 8
"""Task contexts a worker process keeps unpickled (a sweep's jobs run one after the other)."""

_contexts: OrderedDict[str, TaskContext] = OrderedDict()


@dataclass(frozen=True, eq=False)
class ShippedContext:
    """A :class:`TaskContext` pickled once in the parent and unpickled once per worker process.

    Pickling a ShippedContext writes the context's bytes made at construction (no pickling per chunk);
    unpickling it in a worker returns the :class:`TaskContext` itself, from a per-process cache keyed by
    :attr:`key` after the first chunk, so :func:`run_chunk` receives a plain context either way.

    Attributes:
        context: The context.
        key: Identifies this context across processes (random, made once).
        blob: ``pickle.dumps(context)``.
    """

    context: TaskContext
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    blob: bytes = b""

    def __post_init__(self) -> None:
        if not self.blob:
            object.__setattr__(self, "blob", pickle.dumps(self.context, protocol=pickle.HIGHEST_PROTOCOL))

    def __reduce__(self) -> tuple[Any, tuple[str, bytes]]:
        return cached_context, (self.key, self.blob)


def cached_context(key: str, blob: bytes) -> TaskContext:
    """The context pickled as ``blob``, unpickled once per process (least recently used ones dropped)."""
    ctx = _contexts.get(key)
    if ctx is None:
        ctx = pickle.loads(blob)
        _contexts[key] = ctx
        while len(_contexts) > CACHED_CONTEXTS:
            _contexts.popitem(last=False)
    else:
        _contexts.move_to_end(key)
    return ctx
