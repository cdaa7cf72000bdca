"""Compile time of the gesture-like reference network (2×128×128, 7 spiking layers), per stage.

Usage: ``.venv/bin/python scripts/bench_compile.py [--repeat N]``. Prints the median over N runs of each
stage of :func:`deploy.pipeline.compile_model` (model given as an in-memory module, so "load" excludes disk
I/O) and of the whole call. No report is generated. Target: < 100 ms in total.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "golden"))
sys.path.insert(0, str(REPO))

from golden_models import CASES, build  # noqa: E402

from deploy.pipeline import STAGES, compile_model  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21, help="number of timed runs (default 21)")
    parser.add_argument("--case", default="gesture", help="reference case (default gesture)")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch.set_num_threads(N) first (default: torch's default). quantize rounds in numpy and "
        "normalize builds no GraphModule, so the result should no longer depend on it; this checks that",
    )
    args = parser.parse_args()
    if args.torch_threads is not None:
        import torch

        torch.set_num_threads(args.torch_threads)
    case = next(c for c in CASES if c.name == args.case)
    model = build(case)
    compile_model(model, "speck2f", case.input_shape)  # warm-up: imports, first-call caches
    per_stage: dict[str, list[float]] = {s: [] for s in STAGES}
    totals: list[float] = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = compile_model(model, "speck2f", case.input_shape)
        totals.append(time.perf_counter() - t0)
        for stage, seconds in result.timings.items():
            per_stage[stage].append(seconds)
    import torch

    print(
        f"compile_model({case.name}, speck2f, {case.input_shape}): median of {args.repeat} runs, "
        f"torch threads {torch.get_num_threads()}"
    )
    print(f"{'stage':<12} {'median ms':>10} {'min ms':>8}")
    for stage in STAGES:
        values = per_stage[stage]
        print(f"{stage:<12} {statistics.median(values) * 1e3:>10.2f} {min(values) * 1e3:>8.2f}")
    print(f"{'total':<12} {statistics.median(totals) * 1e3:>10.2f} {min(totals) * 1e3:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
