"""Benchmark of ``deploy-model validate`` on the digits test split: workers, threads vs processes, dask.

Runs :func:`deploy.validation.validate` on the 359-sample digits test split (``digits:test``) with

- 1 worker (sequential, in this process),
- 2 worker processes: first while the fork server starts (it imports torch and loads the simulator kernel
  once per Python process, :mod:`deploy.validation.warmup`), then again with it running; 2 threads,
- a dask ``LocalCluster`` of 2 single-threaded worker processes (started before the timed runs, as an
  existing cluster would be), twice: the first run's workers import torch and load the kernel,

checks that every run gives the same result, and prints a Markdown table: wall time of ``validate`` (compile
+ pool start-up + all samples), samples/s, speed-up over 1 worker, and the time extrapolated to N-MNIST's
10,000 test samples at that rate. The load average is printed too: the figures are only comparable on a
quiet machine.

Usage::

    .venv/bin/python scripts/bench_validate.py                 # full split
    .venv/bin/python scripts/bench_validate.py --samples 60    # quick
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deploy.datasets import digits_dataset
from deploy.validation import ValidationResult, validate

MODEL = Path(__file__).resolve().parents[1] / "models" / "digits_snn" / "model.pt"
NMNIST_TEST = 10_000


def timed(label: str, fn, rows: list[tuple[str, float, ValidationResult]]) -> None:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    r = fn()
    rows.append((label, time.perf_counter() - t0, r))
    print(f"  {label}: {rows[-1][1]:.1f} s", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Command line; returns 1 if two runs disagree."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=None, help="first N samples (class-balanced)")
    ap.add_argument("--no-dask", action="store_true", help="skip the dask LocalCluster run")
    args = ap.parse_args(argv)
    ds = digits_dataset("test", limit=args.samples)
    n = len(ds)
    print(f"digits:test, {n} samples; load average before: {os.getloadavg()[0]:.1f}", file=sys.stderr)
    validate(MODEL, ds, samples=2)  # warm this process (numba cache, torch) so run 1 is not charged for it
    rows: list[tuple[str, float, ValidationResult]] = []
    timed("1 worker (sequential)", lambda: validate(MODEL, ds, workers=1), rows)
    timed(
        "2 processes (fork server starting)", lambda: validate(MODEL, ds, workers=2, executor="process"), rows
    )
    timed(
        "2 processes (fork server running)", lambda: validate(MODEL, ds, workers=2, executor="process"), rows
    )
    timed("2 threads", lambda: validate(MODEL, ds, workers=2, executor="thread"), rows)
    if not args.no_dask:
        from distributed import LocalCluster

        t0 = time.perf_counter()
        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            start = time.perf_counter() - t0
            address = cluster.scheduler_address
            for label in ("dask LocalCluster, 2 workers (first run)", "dask LocalCluster, 2 workers (warm)"):
                timed(label, lambda: validate(MODEL, ds, workers=2, executor="dask", scheduler=address), rows)
        print(f"  (dask cluster start-up, not in the table: {start:.1f} s)", file=sys.stderr)
    base = rows[0][1]
    print(f"\nload average after: {os.getloadavg()[0]:.1f}; {os.cpu_count()} CPUs\n")
    print("| run | wall time (s) | samples/s | speed-up vs 1 worker | 10,000 samples (extrapolated) |")
    print("|---|---:|---:|---:|---:|")
    for label, seconds, _ in rows:
        rate = n / seconds
        minutes = NMNIST_TEST / rate / 60
        print(f"| {label} | {seconds:.1f} | {rate:.1f} | {base / seconds:.2f}× | {minutes:.1f} min |")
    ref = rows[0][2]
    same = all(r == ref for _, _, r in rows)
    print(
        f"\nidentical results in every run: {'yes' if same else 'NO'}; accuracy float / quantised / "
        f"simulated {100 * ref.accuracy['float']:.2f} / {100 * ref.accuracy['quantised']:.2f} / "
        f"{100 * ref.accuracy['simulated']:.2f} %"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
