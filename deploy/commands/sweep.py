"""``deploy-model sweep SWEEP.json``: validate models × compiler options from a sweep file as one job.

The sweep file format is documented in :mod:`deploy.validation.sweep` and ``docs/validate.md``. All samples of
all runs go to one executor (``--executor process|thread|dask``). Prints one line per run; with ``-o DIR``
writes ``DIR/sweep.json`` and one report folder per run (``DIR/run-<i>/``).

Exit codes: 0 every gate of every run holds; 3 a gate failed; 2 bad input; 1 a bug.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from deploy.commands._common import EXIT_GATE_FAILED
from deploy.commands.validate import add_run_arguments, progress_bar

HELP = "validate models × compiler options listed in a sweep file (JSON, or YAML with PyYAML) as one job"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sweep", type=Path, metavar="SWEEP", help="sweep file (.json, .yaml)")
    add_run_arguments(p)
    p.add_argument("-o", "--output", type=Path, default=None, metavar="DIR", help="write the reports to DIR")
    p.add_argument("--force", action="store_true", help="replace an existing output directory")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from deploy.outdir import atomic_output_dir, check_output_dir
    from deploy.report.validation import write_validation_report
    from deploy.validation.sweep import load_sweep, run_sweep

    if args.output is not None:
        check_output_dir(args.output.absolute(), args.force)
    sweep = load_sweep(args.sweep)
    with progress_bar(args.quiet or args.json) as bar:
        task = bar.add_task("sweep", total=None)
        results = run_sweep(
            sweep,
            workers=args.workers,
            executor=args.executor,
            scheduler=args.scheduler,
            progress=lambda n, total: bar.update(task, advance=n, total=total),
        )
    doc = [{"name": r.name, **res.to_dict()} for r, res in results]
    if args.output is not None:
        with atomic_output_dir(args.output, force=args.force) as tmp:
            (tmp / "sweep.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", "utf-8")
            for i, (_, res) in enumerate(results):
                (tmp / f"run-{i}").mkdir()
                write_validation_report(tmp / f"run-{i}", res)
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    else:
        out = Console(quiet=args.quiet, highlight=False)
        for r, res in results:
            verdict = "ok" if res.passed else "GATE FAILED"
            out.print(
                f"{r.name}: float {100 * res.accuracy['float']:.2f} %, quantised "
                f"{100 * res.accuracy['quantised']:.2f} %, simulated {100 * res.accuracy['simulated']:.2f} % "
                f"({res.n_samples} samples of {res.dataset}) — {verdict}",
                markup=False,
            )
    return 0 if all(res.passed for _, res in results) else EXIT_GATE_FAILED
