"""``deploy-model validate MODEL --device speck --dataset DATA``: dataset-scale proof for CI.

Compiles the model once, then classifies every sample of a labelled data set with the float model, the
quantised model (both time-stepped, as sinabs) and the bit-accurate chip simulation
(:func:`deploy.validation.validate`), in parallel (``--workers``, ``--executor process|thread|dask``).
Prints accuracies, agreement, the layers that drift most and SynOps/energy per inference; with ``-o DIR``
writes ``summary.json``, ``report.md`` and ``report.html`` atomically.

Exit codes: 0 every gate holds (``--min-accuracy``, ``--max-drop``, ``--min-agreement``; none given = 0);
3 a gate failed; 2 bad input (model, data set, options, unreachable scheduler); 1 a bug.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploy.commands import _common

if TYPE_CHECKING:
    from deploy.validation import ValidationResult

HELP = (
    "classify a labelled data set with the float, quantised and simulated model; accuracy, agreement, drift, "
    "energy and a report; exit 3 when a gate (--min-accuracy, --max-drop, --min-agreement) fails"
)

DEFAULT_EXECUTOR = "process"
"""Processes, not threads: the time-stepped views hold the GIL for part of every sample. On the shared 2-core
benchmark machine the two went both ways within noise (scripts/bench_validate.py, README)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    _common.add_model_arguments(p)
    _common.add_core_map_argument(p)
    add_run_arguments(p)
    p.add_argument(
        "--dataset",
        required=True,
        metavar="DATA",
        help="labelled data: .npz (events: sample_events/offsets/labels; dense: rasters/labels), a folder of "
        "class folders of .npy events, or digits:test (see docs/validate.md)",
    )
    p.add_argument("--samples", type=int, default=None, metavar="N", help="only the first N samples")
    g = p.add_argument_group("gates (exit code 3 when one fails)")
    g.add_argument(
        "--min-accuracy", type=float, default=None, metavar="PCT", help="simulated accuracy ≥ PCT %%"
    )
    g.add_argument(
        "--max-drop", type=float, default=None, metavar="POINTS", help="float − simulated accuracy ≤ POINTS"
    )
    g.add_argument(
        "--min-agreement",
        type=float,
        default=None,
        metavar="PCT",
        help="share of samples on which simulated and float predict the same class ≥ PCT %%",
    )
    p.add_argument(
        "--dt-ms", type=float, default=10.0, metavar="MS", help="time bin of the float/quantised views"
    )
    p.add_argument(
        "--duration-ms",
        type=float,
        default=None,
        metavar="MS",
        help="length of every recording (default: the data set's, else each sample's last event)",
    )
    p.add_argument("-o", "--output", type=Path, default=None, metavar="DIR", help="write the report to DIR")
    p.add_argument("--force", action="store_true", help="replace an existing output directory")


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """--workers, --executor, --scheduler, --json, -q/-v (shared with ``deploy-model sweep``)."""
    from deploy.options import EXECUTORS

    p.add_argument(
        "--workers", type=int, default=None, metavar="N", help="parallel workers (default: all cores)"
    )
    p.add_argument(
        "--executor",
        choices=EXECUTORS,
        default=DEFAULT_EXECUTOR,
        help=f"where samples run: worker processes, threads, or a dask cluster (default {DEFAULT_EXECUTOR})",
    )
    p.add_argument(
        "--scheduler", default=None, metavar="ADDRESS", help="dask scheduler, e.g. tcp://10.0.0.5:8786"
    )
    _common.add_output_arguments(p)


def progress_bar(quiet: bool) -> Any:
    """A rich progress bar on stderr showing samples done, samples/s and the time left."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{speed:.1f} samples/s")

    return Progress(
        TextColumn("validating"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True, quiet=quiet),
        transient=False,
    )


def print_result(r: ValidationResult, quiet: bool) -> None:
    """Console summary of one validation."""
    from rich.console import Console
    from rich.table import Table

    out = Console(quiet=quiet, highlight=False)
    out.print(f"{r.model} on {r.chip}: {r.n_samples} samples of {r.dataset}", markup=False)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in ("view", "accuracy", "Δ vs float"):
        table.add_column(col, justify="right" if col != "view" else "left")
    for view, acc in r.accuracy.items():
        table.add_row(view, f"{100 * acc:.2f} %", f"{100 * (acc - r.accuracy['float']):+.2f}")
    out.print(table)
    out.print(f"same class simulated/float: {100 * r.agreement['float vs simulated']:.1f} %", markup=False)
    drift = ", ".join(f"{la.name} {100 * la.drift:+.1f} %" for la in r.most_drifting())
    out.print(f"layers that drift most (float → simulated spikes): {drift}", markup=False)
    out.print(
        f"SynOps/inference {r.synops.mean:,.0f} ± {r.synops.std:,.0f}; energy/inference "
        f"{r.energy_j.mean * 1e6:.2f} ± {r.energy_j.std * 1e6:.2f} µJ (estimate)",
        markup=False,
    )
    for g in r.gates:
        out.print(("[green]✓[/] " if g.passed else "[red]✗[/] ") + g.text.replace("[", "\\["))


def run(args: argparse.Namespace) -> int:
    from deploy.errors import DeployError
    from deploy.outdir import atomic_output_dir, check_output_dir
    from deploy.report.validation import write_validation_report
    from deploy.validation import ExecutorSpec, Gates, validate

    if args.output is not None:
        check_output_dir(args.output.absolute(), args.force)
    if not args.dt_ms > 0 or (args.duration_ms is not None and not args.duration_ms > 0):
        raise DeployError("--dt-ms and --duration-ms must be positive")
    gates = Gates(args.min_accuracy, args.max_drop, args.min_agreement)
    quiet = args.quiet or args.json
    with progress_bar(quiet) as bar:
        task = bar.add_task("validate", total=None)

        def tick(n: int, total: int) -> None:
            bar.update(task, advance=n, total=total)

        result = validate(
            args.model,
            args.dataset,
            args.device,
            _common.compile_options(args),
            input_shape=args.input_shape,
            samples=args.samples,
            parallel=ExecutorSpec(args.executor, args.workers, args.scheduler),
            dt_us=max(round(args.dt_ms * 1000), 1),
            duration_us=None if args.duration_ms is None else round(args.duration_ms * 1000),
            gates=gates,
            progress=tick,
        )
    if args.output is not None:
        with atomic_output_dir(args.output, force=args.force) as tmp:
            write_validation_report(tmp, result)
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        print_result(result, args.quiet)
        if args.output is not None and not args.quiet:
            print(f"wrote {args.output}/ (summary.json, report.md, report.html)")
    return 0 if result.passed else _common.EXIT_GATE_FAILED
