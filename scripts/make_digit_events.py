"""Write the N-MNIST-style digit events (``models/digits_events.py``) of a split to one ``.npz``.

Example::

    .venv/bin/python scripts/make_digit_events.py --split test --out digits_test.npz
    .venv/bin/python scripts/make_digit_events.py --split test --limit 20 --out some.npz  # class-balanced

The archive layout is the one of the models' ``sample_input.npz`` (``sample_events`` + ``offsets``,
``labels``, ``indices``), which ``deploy-model ... --input`` accepts.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import digits_events, training


def main(argv: list[str] | None = None) -> int:
    """Command line; returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("train", "test", "all"), default="test")
    ap.add_argument("--limit", type=int, default=None, help="first N samples, class-balanced")
    ap.add_argument("--seed", type=int, default=0, help="pixel threshold-mismatch seed")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    train, test = digits_events.split_indices()
    idx = {"train": train, "test": test, "all": np.sort(np.concatenate([train, test]))}[args.split]
    if args.limit is not None:
        idx = training.balanced_subset(idx, args.limit)
    start = time.perf_counter()
    n = digits_events.save_npz(args.out, idx, seed=args.seed)
    print(f"wrote {args.out}: {len(idx)} samples, {n} events ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
