"""``deploy-model [run] MODEL --device speck [--dry-run]``: compile, run on the target, compare, report.

This module only parses arguments and prints. The run is :func:`deploy.runner.run_model`: compile
(:func:`deploy.pipeline.compile_model`; the input shape as every command finds it,
:func:`deploy.inputs.find_input_shape`), the target (a connected board, or with ``--dry-run`` the bit-accurate
simulator), the input (:func:`deploy.inputs.resolve_input`: ``--input`` events or raster, explicit Poisson,
the sample shipped next to the model, else seeded Poisson) and the three views float ↔ quantised ↔ simulated
(:mod:`deploy.analysis`). :func:`deploy.runner.write_run_outputs` writes the output directory atomically
(``-o DIR``, a directory unlike ``compile -o FILE``; default ``deploy-out/<model>``, or
``deploy-out/<model>-board`` for a board run; replaced only with ``--force`` and only if the tool wrote it).

The terminal shows the report's verdict (:mod:`deploy.report.tables`, as ``report.md``): class agreement, the
first diverging layer of each pair, energy split into dynamic and static, and the warnings that change
results, without ``-v``.

Exit codes: 0 success; 2 a problem with the model, input, output directory or environment (no board, no
samna); 3 with ``--fail-on-divergence``, the views diverge (a failed gate); 1 a bug.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from deploy.commands import _common
from deploy.commands._console import Reporter
from deploy.options import (
    DEFAULT_DT_MS,
    DEFAULT_DURATION_MS,
    DEFAULT_POISSON_RATE_HZ,
    DEFAULT_SYNOPS_BUDGET,
    RunOptions,
)

if TYPE_CHECKING:
    from deploy.report.summary import RunSummary

HELP = (
    "compile a model, check and place it on the chip, write the configuration and run it on a board or, "
    "with --dry-run, on the bit-accurate simulator; writes config, events and reports to -o DIR"
)

OUTPUT_ROOT = Path("deploy-out")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``deploy-model run``: the compiler's (``_common``), the run's and the console's."""
    _common.add_model_arguments(p)
    _common.add_core_map_argument(p)
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="use the bit-accurate simulator as the target instead of a board (no samna needed)",
    )
    p.add_argument(
        "--board",
        metavar="TYPE:INDEX",
        default=None,
        help="board to run on, e.g. Speck2fDevKit:0, speck2fdevkit:0 or serial=XYZ (default: the board "
        "--device names with :INDEX, else the first board of the chip)",
    )
    p.add_argument(
        "--class-exit",
        default=None,
        metavar="LAYER",
        help="exit layer (index or torch module path) whose output names the class (default: the last exit)",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        metavar="DIR",
        help="output DIRECTORY (whereas `compile -o` names a file); default deploy-out/<model name> for "
        "--dry-run and deploy-out/<model name>-board on a board, so a dry run and a board run do not "
        "collide; written atomically",
    )
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    g = p.add_argument_group("input events (first match wins: --input, explicit Poisson, sample, Poisson)")
    g.add_argument(
        "--input",
        type=Path,
        default=None,
        metavar="EVENTS",
        help="events file (.npy/.npz): tonic-style (x, y, t, p; polarity {0,1}, {-1,1} or bool), chip "
        "events, N×5 rows, or a dense raster (T, C, H, W) of counts per --dt-ms bin (tonic's ToFrame)",
    )
    g.add_argument(
        "--poisson-rate",
        type=float,
        default=None,
        metavar="HZ",
        help=f"Poisson input rate per input pixel and channel (default {DEFAULT_POISSON_RATE_HZ:g} Hz)",
    )
    g.add_argument(
        "--duration-ms",
        type=float,
        default=None,
        metavar="MS",
        help=f"duration of the Poisson input (default {DEFAULT_DURATION_MS:g} ms)",
    )
    g.add_argument("--seed", type=int, default=0, help="seed of the Poisson input (default 0)")
    g.add_argument(
        "--dt-ms",
        type=float,
        default=DEFAULT_DT_MS,
        metavar="MS",
        help=f"time step of the float/quantised time-stepped evaluation (default {DEFAULT_DT_MS:g} ms)",
    )
    p.add_argument(
        "--synops-budget",
        type=float,
        default=DEFAULT_SYNOPS_BUDGET,
        metavar="N",
        help=(
            f"SynOps/s budget per core for the bandwidth warning (default {DEFAULT_SYNOPS_BUDGET:.0e}, an "
            "order-of-magnitude assumption: no per-core limit is published; core 0 gets 3.5×)"
        ),
    )
    p.add_argument(
        "--slow-clock-hz",
        type=int,
        default=None,
        metavar="HZ",
        help=(
            "slow clock driving leak (bias) on the target; default none, so biases have no effect on chip "
            "(SPECK_SEMANTICS §2.4)"
        ),
    )
    p.add_argument(
        "--fail-on-divergence",
        action="store_true",
        help="exit 3 (a failed gate) when the views diverge: the float, quantised and simulated views "
        "disagree on the output class or a layer is beyond the agreement tolerance",
    )
    p.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        metavar="N",
        help="torch threads for the time-stepped float/quantised views (default 1; 0: torch's default)",
    )
    _common.add_output_arguments(p, verbose_help="also print timings, the placement and every note")


def run_options(args: argparse.Namespace) -> RunOptions:
    """:class:`deploy.options.RunOptions` from parsed arguments (checked on creation)."""
    return RunOptions(
        dry_run=args.dry_run,
        board=args.board or getattr(args, "device_board", None),
        slow_clock_hz=args.slow_clock_hz,
        dt_ms=args.dt_ms,
        poisson_rate_hz=args.poisson_rate,
        duration_ms=args.duration_ms,
        seed=args.seed,
        synops_budget=args.synops_budget,
        class_exit=args.class_exit,
        torch_threads=args.torch_threads or None,
    )


BOARD_SUFFIX = "-board"
"""Appended to the default output directory of a board run, so that it does not collide with a dry run's."""


def default_output_dir(model: Path, dry_run: bool = True) -> Path:
    """``deploy-out/<stem>``, or ``deploy-out/<folder>`` for files named ``model.*``; a board run (not
    ``dry_run``) gets ``deploy-out/<name>-board``, so the README's dry run → board sequence needs no
    ``--force``."""
    name = model.parent.name if model.stem == "model" and model.parent.name else model.stem
    return OUTPUT_ROOT / ((name or "model") + ("" if dry_run else BOARD_SUFFIX))


def run(args: argparse.Namespace) -> int:
    """Fail early on the output directory, run (:func:`deploy.runner.run_model`), write, print; exit code."""
    from deploy.lazy_imports import gc_paused_for_imports

    with gc_paused_for_imports():  # until torch & co. are imported, then frozen out of the collector's view
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from deploy.outdir import check_output_dir
    from deploy.report import summary_json
    from deploy.report.tables import divergence_lines
    from deploy.runner import run_model, write_run_outputs

    reporter = Reporter.from_args(args)
    model_path = Path(args.model)
    out_dir: Path = args.output if args.output is not None else default_output_dir(model_path, args.dry_run)
    check_output_dir(out_dir.absolute(), args.force, protect=[model_path])
    result = run_model(
        args.model,
        args.device,
        input=args.input,
        input_shape=args.input_shape,
        options=_common.compile_options(args),
        run_options=run_options(args),
        progress=reporter,
    )
    compiled = result.compiled
    reporter.note(_common.input_shape_line(compiled.graph.input_shape, compiled.input_shape_source))
    for line in result.input.interpretation:
        reporter.note(line)
    command = ["deploy-model", *sys.argv[1:]]
    write_run_outputs(
        result, out_dir, force=args.force, command=command, progress=reporter, protect=[model_path]
    )
    if args.json:
        sys.stdout.write(summary_json(result.summary))
    else:
        print_summary(reporter, result.summary, out_dir, result.result_warnings)
    agreement = result.summary.agreement
    if args.fail_on_divergence and agreement is not None and agreement.diverges:
        print(
            "deploy-model: the views diverge (--fail-on-divergence): "
            + "; ".join(divergence_lines(agreement, only_diverging=True)),
            file=sys.stderr,
        )
        return _common.EXIT_GATE_FAILED
    return 0


def print_summary(
    reporter: Reporter, s: RunSummary, out_dir: Path, result_warnings: tuple[str, ...] = ()
) -> None:
    """Compact summary on stdout: the table, the verdict of the report (class agreement, the first diverging
    layer per pair, the warnings that change results), energy, hash; notes and timings with ``-v``.

    The verdict lines come from the same functions as ``report.md`` (:mod:`deploy.report.tables`).
    """
    from rich.markup import escape
    from rich.table import Table

    from deploy.report.tables import class_verdict, divergence_lines, energy_headline

    t = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    t.add_column("layer")
    t.add_column("core", justify="right")
    t.add_column("neurons F×H×W")
    for src in ("float", "quantised", "simulated"):
        t.add_column(src, justify="right")
    t.add_column("SynOps/s", justify="right")
    act = {a.core: a for a in s.activity}
    layers = {la.index: la for la in s.agreement.layers} if s.agreement else {}
    for layer in s.placement:
        la = layers.get(layer.index)
        tot = la.totals if la is not None else {}
        flagged = la is not None and not all(p.within_tolerance for p in la.pairs)
        a = act.get(layer.core)
        rate = f"{max(a.synops_rate, a.predicted_rate):.3g}" if a else "—"
        t.add_row(
            ("[yellow]⚠[/] " if flagged else "") + escape(layer.name),
            str(layer.core),
            "×".join(map(str, layer.out_shape)),
            *(f"{tot.get(src, 0):,}" for src in ("float", "quantised", "simulated")),
            f"[red]{rate}[/]" if a and a.over_budget else rate,
        )
    out = reporter.out
    out.print(f"[bold]{escape(s.model)}[/] → {s.chip} ({s.target}); input: {escape(s.input.description)}")
    out.print(t)
    pred = "none (no output spikes)" if s.predicted_class is None else str(s.predicted_class)
    label = f" (label {s.input.label})" if s.input.label is not None else ""
    out.print(f"predicted class: [bold]{pred}[/]{label}; {s.n_output_events:,} output events")
    agreement = s.agreement
    if agreement is not None:
        colour = "yellow" if agreement.diverges else "green"
        out.print(f"[{colour}]output class: {escape(class_verdict(agreement))}[/]")
        for line in divergence_lines(agreement):
            out.print(f"  {escape(line)}")
    if s.samples is not None:
        acc = ", ".join(
            f"{k} {'—' if v is None else f'{100 * v:.1f} %'}" for k, v in s.samples.accuracy.items()
        )
        out.print(f"{s.samples.n_samples} shipped samples: accuracy {acc}")
    out.print(escape(energy_headline(s.energy)))
    for w in (*s.checker_warnings, *s.bandwidth_warnings, *result_warnings):
        out.print("[yellow]warning:[/] " + escape(w))
    if reporter.verbose:
        for n in s.notes:
            if n not in result_warnings:
                reporter.err.print("note: " + n, markup=False)
        for key, seconds in s.timings.items():
            reporter.err.print(f"timing {key}: {seconds:.3f} s", markup=False)
    out.print(f"config hash {s.config_hash}", markup=False)
    out.print(f"wrote {out_dir}/ ({', '.join(s.files)})", markup=False)
