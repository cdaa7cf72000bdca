"""Train ``models/digits_snn`` (spiking CNN, surrogate gradients, BPTT) on the digit events, on the CPU.

Full run (a few minutes on 2 cores) writes ``models/digits_snn/{model.pt,state_dict.pt,sample_input.npz,
train_log.json}``::

    .venv/bin/python scripts/train_digits_snn.py

``--quick`` (CI) trains a few steps on a small subset, prints the loss of every step, writes nothing unless
``--out`` is given, and exits 1 if the loss did not decrease.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import digits_snn, training


def loss_fn(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the output spike counts (counts act as logits)."""
    return nn.functional.cross_entropy(training.spike_counts(model, x), y)


def main(argv: list[str] | None = None) -> int:
    """Train, evaluate on the test split, save; returns the exit code."""
    ap = training.training_arg_parser(__doc__.splitlines()[0], epochs=6, lr=2e-3, default_out=digits_snn.HERE)
    ap.add_argument("--clip", type=float, default=digits_snn.THRESHOLD, help="|w| bound after each step")
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    x, y = training.load_split("train", digits_snn.N_BINS, limit=64 if args.quick else None)
    print(f"train data {tuple(x.shape)} in {time.perf_counter() - t0:.0f} s", flush=True)
    model = digits_snn.build_model()
    training.clamp_weights_(model, args.clip)
    out = args.out or digits_snn.HERE

    def checkpoint(epoch: int) -> list[str]:
        # Keep the latest weights on disk, so an interrupted run still leaves a usable model.
        training.save_checkpoint(model, digits_snn.build_model(), out)
        return [f"saved epoch {epoch + 1} weights to {out}"]

    log = training.train(
        model,
        x,
        y,
        loss_fn,
        epochs=100 if args.quick else args.epochs,
        batch_size=16 if args.quick else args.batch_size,
        lr=args.lr,
        seed=args.seed,
        after_step=lambda m: training.clamp_weights_(m, args.clip),
        max_steps=12 if args.quick else None,
        log=lambda s: print(s, flush=True),
        epoch_end=None if args.quick else checkpoint,
    )
    decreased = training.loss_decreased(log.losses)
    print(f"training {log.seconds:.0f} s; loss {log.losses[0]:.4f} -> {log.losses[-1]:.4f}")
    if args.quick and args.out is None:
        return 0 if decreased else 1

    xt, yt = training.load_split("test", digits_snn.N_BINS, limit=64 if args.quick else None)
    acc, _ = training.evaluate(model, xt, yt)
    print(f"test accuracy (float, time-stepped) {100 * acc:.2f} % on {len(yt)} samples")
    training.save_checkpoint(model, digits_snn.build_model(), out)
    training.save_sample_input(out)
    meta = {
        "model": "digits_snn",
        "args": {k: str(v) for k, v in vars(args).items()},
        "train_seconds": round(log.seconds, 1),
        "epoch_losses": [round(v, 4) for v in log.losses],
        "test_accuracy_float": round(acc, 4),
        "n_test": len(yt),
        "torch": torch.__version__,
    }
    (out / "train_log.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {out}")
    return 0 if decreased else 1


if __name__ == "__main__":
    sys.exit(main())
