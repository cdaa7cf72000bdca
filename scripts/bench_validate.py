"""Benchmark of ``deploy-model validate`` on the digits test split: workers, threads vs processes, dask.

Runs :func:`deploy.validation.validate` on the 359-sample digits test split (``digits:test``) with

- 1 worker (sequential, in this process),
- 2 worker processes (``--executor process``), 2 threads (``--executor thread``),
- a dask ``LocalCluster`` of 2 single-threaded worker processes (``--executor dask``),

``--repeats`` times in turn (best time of each kept, since other jobs share the machine), checks that every
run gives the same result, and prints a Markdown table: wall time of ``validate`` (compile + all samples),
samples/s, speed-up over 1 worker, and the time extrapolated to N-MNIST's 10,000 test samples at that rate.
One-off start-up costs are measured separately before (the process executor's fork server, which imports
torch and loads the simulator kernel once per Python process; the dask cluster's start and its workers'
first run) and printed under the table. The load average is printed too: the figures are only comparable on
a quiet machine.

Usage::

    .venv/bin/python scripts/bench_validate.py                          # full split
    .venv/bin/python scripts/bench_validate.py --samples 60 --repeats 1 # quick
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deploy.datasets import digits_dataset
from deploy.validation import ExecutorSpec, ValidationResult, validate

MODEL = Path(__file__).resolve().parents[1] / "models" / "digits_snn" / "model.pt"
NMNIST_TEST = 10_000


def seconds(fn: Callable[[], ValidationResult]) -> tuple[float, ValidationResult]:
    t0 = time.perf_counter()
    r = fn()
    return time.perf_counter() - t0, r


def main(argv: list[str] | None = None) -> int:
    """Command line; returns 1 if two runs disagree."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=None, help="first N samples (class-balanced)")
    ap.add_argument("--repeats", type=int, default=2, help="runs of each configuration (best kept)")
    ap.add_argument("--no-dask", action="store_true", help="skip the dask LocalCluster runs")
    args = ap.parse_args(argv)
    from contextlib import ExitStack

    ds = digits_dataset("test", limit=args.samples)
    n = len(ds)
    print(f"digits:test, {n} samples; load average before: {os.getloadavg()[0]:.1f}", file=sys.stderr)
    small = digits_dataset("test", limit=4)
    validate(MODEL, small)  # warm this process (numba cache, torch)
    startup = {
        "fork server start + first run (4 samples)": seconds(
            lambda: validate(MODEL, small, parallel=ExecutorSpec(workers=2))
        )[0]
    }
    configs: dict[str, Callable[[], ValidationResult]] = {
        "1 worker (sequential)": lambda: validate(MODEL, ds, parallel=ExecutorSpec(workers=1)),
        "2 processes": lambda: validate(MODEL, ds, parallel=ExecutorSpec("process", 2)),
        "2 threads": lambda: validate(MODEL, ds, parallel=ExecutorSpec("thread", 2)),
    }
    with ExitStack() as stack:
        if not args.no_dask:
            from distributed import LocalCluster

            t0 = time.perf_counter()
            cluster = stack.enter_context(
                LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
            )
            address = cluster.scheduler_address
            startup["dask LocalCluster start"] = time.perf_counter() - t0
            startup["dask workers' first run (4 samples)"] = seconds(
                lambda: validate(MODEL, small, parallel=ExecutorSpec("dask", 2, address))
            )[0]
            configs["dask LocalCluster, 2 workers"] = lambda: validate(
                MODEL, ds, parallel=ExecutorSpec("dask", 2, address)
            )
        best: dict[str, float] = {}
        results: list[ValidationResult] = []
        for rep in range(args.repeats):
            for label, fn in configs.items():
                load = os.getloadavg()[0]
                t, r = seconds(fn)
                results.append(r)
                best[label] = min(best.get(label, t), t)
                msg = f"  run {rep + 1}, {label}: {t:.1f} s (load average before {load:.1f})"
                print(msg, file=sys.stderr, flush=True)
    base = best["1 worker (sequential)"]
    print(f"\nload average after: {os.getloadavg()[0]:.1f}; {os.cpu_count()} CPUs; best of {args.repeats}\n")
    print("| run | wall time (s) | samples/s | speed-up vs 1 worker | 10,000 samples (extrapolated) |")
    print("|---|---:|---:|---:|---:|")
    for label, t in best.items():
        rate = n / t
        print(f"| {label} | {t:.1f} | {rate:.1f} | {base / t:.2f}× | {NMNIST_TEST / rate / 60:.1f} min |")
    print("\nOne-off start-up (not in the table): " + "; ".join(f"{k} {v:.1f} s" for k, v in startup.items()))
    same = all(r == results[0] for r in results)
    acc = results[0].accuracy
    print(
        f"identical results in every run: {'yes' if same else 'NO'}; accuracy float / quantised / simulated "
        f"{100 * acc['float']:.2f} / {100 * acc['quantised']:.2f} / {100 * acc['simulated']:.2f} %"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
