"""The three views of a run and their comparison, and the run summary (DESIGN.md "Agreement").

After the target ran, :func:`analyse` simulates the configuration once more with every used core monitored,
evaluates the float and the quantised graphs time-stepped (:func:`deploy.timestep.evaluate`) on the same
input, and compares per-layer spike counts (:func:`deploy.agreement.compare`); with shipped samples it also
classifies each of them in all three views (:func:`evaluate_samples`). :func:`build_summary` turns the
compiled model, the input, this analysis and the target's output into the report's
:class:`deploy.report.summary.RunSummary` and :class:`deploy.report.summary.SpikeData`.

Adding a view or a measurement: add a field to :class:`Analysis` (with a default, so existing callers keep
working), compute it in :func:`analyse` under its own :func:`deploy.progress.timed` step, and carry it into
the summary in :func:`build_summary`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from deploy.inputs import ResolvedInput, input_raster, time_bins
from deploy.options import RunOptions
from deploy.progress import Progress, Silent, timed

if TYPE_CHECKING:
    from deploy.agreement import AgreementResult, ClassAgreement
    from deploy.pipeline import CompileResult
    from deploy.report.summary import RunSummary, SpikeData
    from deploy.sim.options import SimOptions
    from deploy.sim.result import SimResult
    from hwconfig.config import ChipConfig


def monitor_all(config: ChipConfig, cores: list[int] | tuple[int, ...]) -> ChipConfig:
    """A copy of ``config`` that sends every spike of ``cores`` to the host (for per-layer counts)."""
    for core in cores:
        config = config.with_layer(core, dataclasses.replace(config.cnn_layers[core], monitor_enable=True))
    return config


@dataclass(frozen=True)
class Analysis:
    """Results of the analysis run and the agreement check.

    Attributes:
        sim: The simulation with every used core monitored.
        agreement: Per-layer spike counts of the float, quantised and simulated views, and their comparison.
        spikes_over_time: View → per layer, spikes per time bin (for the report's figures).
        output_rasters: View → ``(T, F)`` spikes per time bin and feature of the output layer.
        n_bins: Number of time bins of :attr:`deploy.options.RunOptions.dt_ms`.
        samples: Class agreement over the samples shipped with the input, or None without samples.
    """

    sim: SimResult
    agreement: AgreementResult
    spikes_over_time: dict[str, list[npt.NDArray[np.int64]]]
    output_rasters: dict[str, npt.NDArray[np.int64]]
    n_bins: int
    samples: ClassAgreement | None = None


def analyse(
    result: CompileResult,
    inp: ResolvedInput,
    run: RunOptions | None = None,
    progress: Progress | None = None,
    timings: dict[str, float] | None = None,
) -> Analysis:
    """Simulate with every used core monitored, evaluate float and quantised models time-stepped, compare;
    then classify the shipped samples, if any, in all three views.

    Args:
        result: The compiled model.
        inp: The input the target ran on.
        run: Time step and slow clock (defaults: :class:`RunOptions`).
        progress: Told about each step (default: silent).
        timings: Filled with each step's seconds (keys of :data:`deploy.progress.STEP_LABELS`).
    """
    from deploy.agreement import compare, monitored_counts, reduce_counts
    from deploy.dvs import raster_shape
    from deploy.report.build import time_counts_from_events, time_counts_from_rasters
    from deploy.report.outputs import resolve_class_exit
    from deploy.sim.simulator import simulate
    from deploy.timestep import evaluate, torch_threads

    run = run or RunOptions()
    reporter = progress or Silent()
    timings = {} if timings is None else timings
    dt_us, options = run.dt_us, run.sim_options()
    graph, core_of = result.graph, result.placement.core_of
    analysis_config = monitor_all(result.config, core_of)
    sim = timed(
        reporter,
        "simulate_all_layers",
        timings,
        lambda: simulate(analysis_config, inp.events, options, chip=result.chip),
    )
    t0, n_bins = time_bins(inp.events, dt_us)
    raster = input_raster(inp.model_events, raster_shape(graph), dt_us, t0, n_bins)
    with torch_threads(run.torch_threads):
        float_out = timed(reporter, "timestep_float", timings, lambda: evaluate(graph, raster))
        quant_out = timed(reporter, "timestep_quantised", timings, lambda: evaluate(result.qgraph, raster))
    float_layers, quant_layers = list(float_out.spikes), list(quant_out.spikes)
    out_shapes = [layer.out_shape for layer in graph.layers]
    counts = {
        "float": reduce_counts(float_layers),
        "quantised": reduce_counts(quant_layers),
        "simulated": monitored_counts(sim.events, core_of, out_shapes),
    }
    exits = graph.exit_layers
    agreement = compare(
        counts,
        [layer.name for layer in graph.layers],
        cores=list(core_of),
        output_layer=resolve_class_exit(graph, run.class_exit) if exits else None,
    )
    over_time = {
        "float": time_counts_from_rasters(float_layers),
        "quantised": time_counts_from_rasters(quant_layers),
        "simulated": time_counts_from_events(sim.events, core_of, n_bins, dt_us, t0),
    }
    out = agreement.output_layer
    n_out = graph.layers[out].out_features
    rasters = {
        "float": _feature_raster(float_layers[out]),
        "quantised": _feature_raster(quant_layers[out]),
        "simulated": output_raster_from_events(sim.events, core_of[out], n_out, n_bins, dt_us, t0),
    }
    with torch_threads(run.torch_threads):
        samples = (
            timed(reporter, "samples", timings, lambda: evaluate_samples(result, inp, dt_us, out, options))
            if inp.samples
            else None
        )
    return Analysis(sim, agreement, over_time, rasters, n_bins, samples)


def evaluate_samples(
    result: CompileResult, inp: ResolvedInput, dt_us: int, out_layer: int, options: SimOptions
) -> ClassAgreement:
    """Output class of every shipped sample in the float, quantised and simulated views, and accuracies."""
    from deploy.agreement import class_agreement, output_class
    from deploy.dvs import raster_shape
    from deploy.report.build import predicted_class
    from deploy.sim.events import validate_events
    from deploy.sim.simulator import simulate_batch
    from deploy.timestep import evaluate

    graph = result.graph
    out_core = result.placement.core_of[out_layer]
    n_out = graph.layers[out_layer].out_features
    preds: dict[str, list[int | None]] = {"float": [], "quantised": [], "simulated": []}
    for chip_events, model_events, _ in inp.samples:
        validate_events(chip_events, result.config, dvs_size=result.chip.dvs_size)
        t0, n_bins = time_bins(chip_events, dt_us)
        raster = input_raster(model_events, raster_shape(graph), dt_us, t0, n_bins)
        for src, g in (("float", graph), ("quantised", result.qgraph)):
            preds[src].append(output_class(evaluate(g, raster).spikes[out_layer].sum(axis=0))[0])
    for sim in simulate_batch(result.config, [s[0] for s in inp.samples], options, chip=result.chip):
        ev = sim.events[np.asarray(sim.events["layer"]) == out_core]
        counts = np.bincount(np.asarray(ev["feature"], dtype=np.int64), minlength=n_out)[:n_out]
        preds["simulated"].append(predicted_class(counts.tolist()))
    return class_agreement(preds, [s[2] for s in inp.samples])


def _feature_raster(spikes: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """``(T, F, H, W)`` spikes → ``(T, F)`` spikes per time step and feature."""
    a = np.asarray(spikes)
    return np.rint(a.reshape(a.shape[0], a.shape[1], -1).sum(axis=2)).astype(np.int64)


def output_raster_from_events(
    events: npt.NDArray[Any], core: int, n_features: int, n_bins: int, dt_us: int, t0_us: int = 0
) -> npt.NDArray[np.int64]:
    """``(T, F)`` spikes per time bin and feature of one core's monitored events."""
    raster = np.zeros((n_bins, n_features), dtype=np.int64)
    sel = events[np.asarray(events["layer"]) == core] if len(events) else events
    if len(sel):
        bins = (np.asarray(sel["timestamp"], dtype=np.int64) - t0_us) // dt_us
        feat = np.asarray(sel["feature"], dtype=np.int64)
        keep = (bins >= 0) & (bins < n_bins) & (feat >= 0) & (feat < n_features)
        np.add.at(raster, (bins[keep], feat[keep]), 1)
    return raster


def build_summary(
    result: CompileResult,
    inp: ResolvedInput,
    analysis: Analysis,
    run: RunOptions,
    *,
    model: str,
    target: str,
    output_events: npt.NDArray[Any],
    timings: Mapping[str, float],
    notes: Sequence[str],
    files: tuple[str, ...],
) -> tuple[RunSummary, SpikeData]:
    """The report's summary and figure data of a run.

    Args:
        result, inp, analysis, run: The compiled model, its input, the analysis and the run's options.
        model: How the model is named in the report (the path as given).
        target: ``"simulator"`` or ``"board TYPE:INDEX"``.
        output_events: What the target sent back.
        timings: Seconds per step (the compile stages are added as ``compile.<stage>``).
        notes: Notes of the run (after the front end's).
        files: Names of the files written with the report.
    """
    from deploy import __version__
    from deploy.report import build
    from deploy.report.outputs import resolve_class_exit
    from deploy.report.summary import RunSummary, SpikeData, estimate_energy
    from hwconfig.json_io import config_hash

    graph, placement = result.graph, result.placement
    exits = graph.exit_layers
    out_layer = resolve_class_exit(graph, run.class_exit) if exits else len(graph.layers) - 1
    out_core = placement.core_of[out_layer]
    n_out = graph.layers[out_layer].out_features
    sel = (
        output_events[np.asarray(output_events["layer"]) == out_core] if len(output_events) else output_events
    )
    target_counts = np.bincount(np.asarray(sel["feature"], dtype=np.int64), minlength=n_out)[:n_out].tolist()
    activity = build.core_activity(
        graph, placement, analysis.sim.counters(), inp.info.duration_s, run.synops_budget
    )
    summary = RunSummary(
        model=model,
        chip=result.chip.name,
        target=target,
        input=inp.info,
        placement=build.layer_infos(graph, placement),
        fit=result.check.fit_matrix.fits,
        core_memory=build.core_memory(result.check.fit_matrix, placement),
        quantisation=build.quant_rows(result.qgraph),
        activity=activity,
        energy=estimate_energy(int(sum(a.synops for a in activity)), inp.info.duration_s),
        agreement=analysis.agreement,
        samples=analysis.samples,
        n_output_events=len(output_events),
        predicted_class=build.predicted_class(target_counts),
        synops_budget=run.synops_budget,
        checker_warnings=build.checker_warning_lines(result.warnings),
        notes=tuple(graph.notes) + tuple(notes),
        timings={**{f"compile.{k}": v for k, v in result.timings.items()}, **timings},
        config_hash=config_hash(result.config),
        tool_version=__version__,
        files=files,
    )
    spikes = SpikeData(
        layer_names=tuple(layer.name for layer in graph.layers),
        time_counts=analysis.spikes_over_time,
        dt_us=run.dt_us,
        input_events=inp.events,
        output_events=output_events,
        output_features=n_out,
        output_rasters=analysis.output_rasters,
        t0_us=time_bins(inp.events, run.dt_us)[0],
    )
    return summary, spikes
