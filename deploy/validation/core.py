"""``validate(model, dataset)``: compile once, evaluate every sample in three views, aggregate, gate."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deploy.analysis import monitor_all
from deploy.datasets import dataset_name, input_shape_of, load_dataset, subset
from deploy.errors import DatasetError
from deploy.options import CompileOptions
from deploy.routing import entry_targets
from deploy.sim.options import SimOptions
from deploy.validation.executors import ExecutorSpec, Progress, open_runner
from deploy.validation.result import Gates, ValidationResult, summarise
from deploy.validation.task import SampleItem, TaskContext

if TYPE_CHECKING:
    from deploy.graph import Shape3
    from deploy.pipeline import CompileResult

DEFAULT_DT_US = 10_000
"""Time bin of the time-stepped views (10 ms, the bin the bundled models were trained with)."""


@dataclass(frozen=True, eq=False)
class PreparedModel:
    """A compiled model ready to be validated: the task context and what the summary needs."""

    context: TaskContext
    compiled: CompileResult
    description: str

    @property
    def n_classes(self) -> int:
        return self.compiled.graph.layers[self.context.out_layer].out_features


def prepare(
    model: Any,
    chip: str = "speck2f",
    options: CompileOptions | None = None,
    *,
    input_shape: Shape3 | None = None,
    dt_us: int = DEFAULT_DT_US,
    duration_us: int | None = None,
    raster_dt_us: int | None = None,
    sim_options: SimOptions | None = None,
) -> PreparedModel:
    """Compile ``model`` for ``chip`` and build the context every per-sample task receives.

    Raises:
        DeployError: from :func:`deploy.pipeline.compile_model`; DatasetError for a non-positive ``dt_us``.
    """
    from deploy.pipeline import compile_model

    if dt_us < 1 or (duration_us is not None and duration_us < 1):
        raise DatasetError(f"time bin ({dt_us} µs) and duration ({duration_us} µs) must be positive")
    result = compile_model(model, chip, input_shape, options)
    core_of = tuple(result.placement.core_of)
    exits = result.graph.exit_layers
    ctx = TaskContext(
        graph=result.graph,
        qgraph=result.qgraph,
        config=monitor_all(result.config, core_of),
        chip=result.chip.name,
        sim_options=sim_options or SimOptions(),
        core_of=core_of,
        targets=tuple(entry_targets(result.graph, result.placement)),
        out_layer=exits[-1] if exits else len(result.graph.layers) - 1,
        dt_us=dt_us,
        duration_us=duration_us,
        raster_dt_us=raster_dt_us or dt_us,
    )
    description = str(model) if isinstance(model, str | Path) else type(model).__name__
    return PreparedModel(ctx, result, description)


def read_items(dataset: Any, samples: int | None = None) -> list[SampleItem]:
    """``(index, data, label)`` of the first ``samples`` samples (all when None), read in this process.

    Raises:
        DatasetError: An item is not a ``(data, label)`` pair or its label is not an integer class.
    """
    items: list[SampleItem] = []
    for i in subset(dataset, samples):
        item = dataset[i]
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise DatasetError(f"data set item {i} is not a (data, label) pair but {type(item).__name__}")
        data, label = item
        try:
            lab = int(np.asarray(label).reshape(-1)[0]) if np.size(label) == 1 else None
        except (TypeError, ValueError):
            lab = None
        if lab is None or lab < 0:
            raise DatasetError(f"data set item {i}: label {label!r} is not a non-negative integer class")
        items.append((i, data, lab))
    return items


def _summary(prepared: PreparedModel, outcomes: Any, dataset: str, gates: Gates | None) -> ValidationResult:
    ctx = prepared.context
    layers = prepared.compiled.graph.layers
    duration = ctx.duration_us
    return summarise(
        outcomes,
        model=prepared.description,
        chip=ctx.chip,
        dataset=dataset,
        n_classes=prepared.n_classes,
        layer_names=[la.name for la in layers],
        cores=ctx.core_of,
        neurons=[int(np.prod(la.out_shape)) for la in layers],
        gates=gates,
        duration_s=None if duration is None else duration / 1e6,
    )


def validate(
    model: Any,
    dataset: Any,
    chip: str = "speck2f",
    options: CompileOptions | None = None,
    *,
    input_shape: Shape3 | None = None,
    samples: int | None = None,
    parallel: ExecutorSpec | None = None,
    dt_us: int = DEFAULT_DT_US,
    duration_us: int | None = None,
    sim_options: SimOptions | None = None,
    gates: Gates | None = None,
    progress: Progress | None = None,
) -> ValidationResult:
    """Float, quantised and simulated accuracy of ``model`` on ``dataset``, with agreement, drift and energy.

    Args:
        model: Model file, ``nn.Module`` or NIR graph (as :func:`deploy.pipeline.compile_model`). An
            ``nn.Module`` that has been run carries neuron states, which compile into the chip's initial
            states; pass a freshly loaded one.
        dataset: A path or built-in name (:func:`deploy.datasets.load_dataset`), or any indexable of
            ``(data, label)`` (a tonic dataset, :class:`deploy.datasets.ArrayDataset`).
        chip: Chip name or alias.
        options: Compiler choices.
        input_shape: ``(C, H, W)``; None for the data set's (:func:`deploy.datasets.input_shape_of`) or,
            failing that, what the front end infers from the model.
        samples: Validate only the first ``samples`` samples.
        parallel: Executor, workers and dask scheduler (:class:`deploy.validation.executors.ExecutorSpec`;
            None: one worker). Results do not depend on it.
        dt_us: Time bin of the float and quantised (time-stepped) views, µs.
        duration_us: Length of every recording, µs; default the data set's ``duration_us``, else each
            sample's last event.
        sim_options: Simulator semantics.
        gates: CI gates to evaluate.
        progress: Called as ``progress(finished_now, total)`` as samples finish.

    Raises:
        DeployError: Bad model, data set, sample or executor (each message names the culprit).
    """
    t0 = time.perf_counter()
    spec = parallel or ExecutorSpec()
    with open_runner(spec.kind, spec.workers, spec.scheduler) as runner:
        ds = load_dataset(dataset) if isinstance(dataset, str | Path) else dataset
        prepared = prepare(
            model,
            chip,
            options,
            input_shape=input_shape or input_shape_of(ds),
            dt_us=dt_us,
            duration_us=duration_us if duration_us is not None else getattr(ds, "duration_us", None),
            raster_dt_us=getattr(ds, "dt_us", None),
            sim_options=sim_options,
        )
        items = read_items(ds, samples)
        if not items:
            raise DatasetError(f"data set '{dataset_name(ds)}' has no samples")
        (outcomes,) = runner.run([(prepared.context, items)], progress)
    result = _summary(prepared, outcomes, dataset_name(ds), gates)
    return replace(result, executor=spec.kind, workers=spec.workers or 0, seconds=time.perf_counter() - t0)


def validate_many(
    models: Sequence[tuple[PreparedModel, Any, Gates | None]],
    samples: int | None = None,
    *,
    workers: int | None = 1,
    executor: str = "process",
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> list[ValidationResult]:
    """Validate several prepared models (each with its data set and gates) as one job on one executor."""
    from deploy.validation.executors import run_jobs

    t0 = time.perf_counter()
    jobs = [(p.context, read_items(ds, samples)) for p, ds, _ in models]
    outcomes = run_jobs(jobs, executor, workers, scheduler, progress)
    seconds = time.perf_counter() - t0
    return [
        replace(
            _summary(p, out, dataset_name(ds), g), executor=executor, workers=workers or 0, seconds=seconds
        )
        for (p, ds, g), out in zip(models, outcomes, strict=True)
    ]
