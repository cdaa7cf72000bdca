"""``deploy-model run`` as a library call: compile, run on the target, analyse, summarise.

:func:`run_model` does everything the command does except printing and writing files;
:func:`write_run_outputs` writes the output directory. The command (``deploy/commands/run.py``) is argument
parsing, these two calls and printing::

    from deploy import CompileOptions, RunOptions, run_model, write_run_outputs

    result = run_model("models/digits_snn/model.pt", "speck", run_options=RunOptions(dry_run=True))
    print(result.summary.predicted_class, result.analysis.agreement.classes_agree)
    write_run_outputs(result, "deploy-out/digits_snn", force=True)

Steps: :func:`deploy.board.require_board` (without ``dry_run``) → torch, sinabs and numba imported as a
timed step of their own (:func:`deploy.lazy_imports.import_run_dependencies`) →
:func:`deploy.pipeline.compile_model` → :func:`deploy.inputs.resolve_input` → the target
(:class:`deploy.sim.simulator.Simulator` or :func:`deploy.board.run_on_board`) →
:func:`deploy.analysis.analyse` → :func:`deploy.analysis.build_summary`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from deploy.analysis import Analysis, analyse, build_summary
from deploy.inputs import ResolvedInput, resolve_input
from deploy.options import CompileOptions, RunOptions
from deploy.progress import Progress, Silent, timed

if TYPE_CHECKING:
    from torch import nn

    from deploy.graph import Shape3
    from deploy.pipeline import CompileResult
    from deploy.report.summary import RunSummary, SpikeData
    from hwconfig.spec import ChipSpec

OUTPUT_FILES = (
    "config.json",
    "input_events.npy",
    "output_events.npy",
    "summary.json",
    "report.md",
    "report.html",
)
"""Files :func:`write_run_outputs` writes (also listed in the summary)."""


@dataclass(frozen=True, eq=False)
class RunResult:
    """Everything a run produced.

    Attributes:
        compiled: The compiler's result (graphs, placement, configuration, chip, stage timings).
        input: The input events (chip and model space), their description and any shipped samples.
        target: ``"simulator"`` or ``"board TYPE:INDEX"``.
        output_events: What the target sent back (``deploy.sim.events.EVENT_DTYPE``).
        analysis: The three views and their agreement (:mod:`deploy.analysis`).
        summary: The report's summary (``summary.json``).
        spikes: Arrays for the report's figures.
        timings: Seconds per step (keys of :data:`deploy.progress.STEP_LABELS`).
        result_warnings: Notes of the run that change its results (biases without a slow clock), which the
            CLI prints as warnings without ``-v`` (they are also in ``summary.notes``).
    """

    compiled: CompileResult
    input: ResolvedInput
    target: str
    output_events: npt.NDArray[Any]
    analysis: Analysis
    summary: RunSummary
    spikes: SpikeData
    timings: Mapping[str, float]
    result_warnings: tuple[str, ...] = ()


def run_model(
    model: str | Path | nn.Module | Any,
    chip: str | ChipSpec = "speck2f",
    *,
    input: str | Path | None = None,
    input_shape: Shape3 | None = None,
    options: CompileOptions | None = None,
    run_options: RunOptions | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Compile ``model`` for ``chip``, run it on the target and compare it with the float and quantised model.

    Args:
        model: A model file (``.pt``/``.pth``/``.nir``), an ``nn.Module`` or a ``nir.NIRGraph``.
        chip: Chip name or alias (``"speck2f"``, ``"speck"``, ...) or a :class:`ChipSpec`.
        input: An events file (``.npy``/``.npz``); None for the sample shipped next to a model file, else
            Poisson events (order: :func:`deploy.inputs.resolve_input`).
        input_shape: ``(C, H, W)`` of one input frame; None to find it as every command does
            (:func:`deploy.inputs.find_input_shape`).
        options: Compiler options (None: sinabs's flow).
        run_options: Target, slow clock, time step, Poisson input, SynOps budget (None: the defaults, which
            run on the simulator).
        progress: Told about each step (None: silent); the CLI passes its console.

    Returns:
        The compiled model, input, target output, analysis and summary.

    Raises:
        DeployError: a problem with the model, the input or the board (subclasses name which).
    """
    from deploy.lazy_imports import import_run_dependencies
    from deploy.report.outputs import compare_targets, exit_outputs, resolve_class_exit
    from deploy.sim.events import DVS_LAYER, validate_events
    from hwconfig.chips import get_chip

    run = run_options or RunOptions()
    reporter = progress or Silent()
    spec = get_chip(chip)
    model_path = Path(model) if isinstance(model, (str, Path)) else None
    board = None
    if not run.dry_run:
        from deploy.board.probe import require_board

        board = require_board(spec, run.board)
    timings: dict[str, float] = {}
    timed(reporter, "imports", timings, import_run_dependencies)
    from deploy.pipeline import compile_model  # imported above, in its own timed step

    result = timed(reporter, "compile", timings, lambda: compile_model(model, spec, input_shape, options))
    reporter.info(f"placement: {dict(enumerate(result.placement.core_of))}")
    class_exit = resolve_class_exit(result.graph, run.class_exit) if result.graph.exit_layers else None
    leak = _leak_note(result, run)
    notes = [*leak, *_dvs_note(result)]
    inp = resolve_input(result, model_path, None if input is None else Path(input), run)
    validate_events(inp.events, result.config, dvs_size=spec.dvs_size)
    reporter.info(f"input: {inp.info.description}: {inp.info.n_events} events")
    notes += list(inp.interpretation)

    if board is None:
        from deploy.sim.simulator import Simulator

        simulator = Simulator(run.sim_options(), chip=spec)
        simulator.load(result.config)
        output_events = timed(reporter, "target_simulator", timings, lambda: simulator.run(inp.events))
        target = "simulator"
    else:
        from deploy.board import run_on_board

        output_events = timed(
            reporter,
            "target_board",
            timings,
            lambda: run_on_board(result.config, spec, inp.events, board, slow_clock_hz=run.slow_clock_hz),
        )
        target = f"board {board}"

    analysis = analyse(result, inp, run, reporter, timings)
    monitored = set(result.config.monitored_cores())
    if result.config.dvs_layer.monitor_enable:
        monitored.add(DVS_LAYER)
    expected = analysis.sim.events[np.isin(analysis.sim.events["layer"], sorted(monitored))]
    if target == "simulator" and not np.array_equal(expected, output_events):
        notes.append(
            "the simulator's output with only the exit layer monitored differs from the analysis run with "
            "every layer monitored; monitoring should not change the computation (please report this)"
        )
    summary, spikes = build_summary(
        result,
        inp,
        analysis,
        run,
        model=str(model) if model_path is not None else type(model).__name__,
        target=target,
        output_events=output_events,
        timings=timings,
        notes=notes,
        files=OUTPUT_FILES,
    )
    summary = dataclasses.replace(
        summary,
        exits=()
        if class_exit is None
        else exit_outputs(result.graph, result.placement, output_events, class_exit),
        board_comparison=compare_targets(output_events, expected) if board is not None else None,
    )
    changes_results = tuple(leak) if run.slow_clock_hz is None else ()
    return RunResult(result, inp, target, output_events, analysis, summary, spikes, timings, changes_results)


def _leak_note(result: CompileResult, run: RunOptions) -> list[str]:
    """Which layers have biases (leak on chip), and whether a slow clock applies them."""
    leaky = [q.name for q in result.qgraph.layers if q.has_bias]
    if not leaky:
        return []
    clock = (
        f"the simulation applied them once per slow-clock tick at {run.slow_clock_hz} Hz"
        if run.slow_clock_hz
        else "no slow clock was given (--slow-clock-hz), so on the chip and in the simulation they have "
        "no effect, while the time-stepped views add them every step"
    )
    return [
        f"{'layers' if len(leaky) > 1 else 'layer'} {', '.join(repr(n) for n in leaky)} "
        f"{'have' if len(leaky) > 1 else 'has'} biases, which the chip applies as leak once "
        f"per slow-clock period (SPECK_SEMANTICS §2.4, §10.3); {clock}"
    ]


def _dvs_note(result: CompileResult) -> list[str]:
    """How input passes the DVS pre-processing layer, for models with a DVS input."""
    dvs = result.graph.dvs
    if dvs is None:
        return []
    cores = ", ".join(str(result.placement.core_of[i]) for i in dvs.destinations)
    return [
        f"input goes through the chip's DVS pre-processing layer (layer 13): input "
        f"{'×'.join(map(str, dvs.input_shape))}, sum pooling {dvs.pooling[0]}×{dvs.pooling[1]}"
        f"{', polarities merged' if dvs.merge_polarities else ''}, to core(s) {cores}"
    ]


def write_run_outputs(
    result: RunResult,
    out_dir: str | Path,
    *,
    force: bool = False,
    command: Sequence[str] | None = None,
    progress: Progress | None = None,
    protect: Sequence[Path] = (),
) -> Path:
    """Write :data:`OUTPUT_FILES` into ``out_dir`` atomically (:func:`deploy.outdir.atomic_output_dir`).

    Args:
        result: What :func:`run_model` returned.
        out_dir: The output directory; it must not exist unless ``force``.
        force: Replace an existing ``out_dir``.
        command: The command line, recorded in ``config.json``'s provenance (None: not recorded).
        progress: Told about the step (None: silent).
        protect: Paths ``force`` must never replace (the model file and its folder; see
            :func:`deploy.outdir.check_output_dir`).

    Returns:
        ``out_dir`` as a :class:`Path`.

    Raises:
        OutputExistsError: ``out_dir`` exists without ``force``.
        DeployError: ``out_dir`` cannot be written.
    """
    from deploy.inputs import entry_targets
    from deploy.outdir import atomic_output_dir
    from deploy.report import write_reports
    from deploy.routing import routing_extra
    from deploy.sim.events import save_events
    from hwconfig.json_io import Provenance, save_config

    out = Path(out_dir)
    extra: dict[str, Any] = {} if command is None else {"command": list(command)}
    extra["input"] = result.input.info.description
    extra.update(routing_extra(entry_targets(result.compiled), result.compiled.graph.input_shape))
    label = f"write {out} (config, events, reports and figures, incl. matplotlib's first-use import)"
    with (progress or Silent()).step(label), atomic_output_dir(out, force=force, protect=protect) as tmp:
        provenance = Provenance(
            tool_version=result.summary.tool_version,
            source_model_sha256=result.compiled.loaded.sha256,
            extra=extra,
        )
        save_config(tmp / "config.json", result.compiled.config, result.compiled.chip, provenance)
        save_events(tmp / "input_events.npy", result.input.events)
        save_events(tmp / "output_events.npy", result.output_events)
        write_reports(tmp, result.summary, result.spikes)
    return out
