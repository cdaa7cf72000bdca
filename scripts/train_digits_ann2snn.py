"""Train ``models/digits_ann2snn``: a ReLU CNN on event frames, normalised and converted with sinabs.

Full run (about a minute on 2 cores) writes ``models/digits_ann2snn/{model.pt,state_dict.pt,
ann_state_dict.pt,sample_input.npz,train_log.json}``::

    .venv/bin/python scripts/train_digits_ann2snn.py

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

from models import digits_ann2snn, training


def loss_fn(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the logits *before* the final ReLU.

    On the ReLU outputs a class whose logit is negative gets no gradient, and training stalls (measured:
    loss stuck at 1.43, 48 % test accuracy). The final ReLU only matters for the conversion (it becomes the
    output layer's spiking layer); ``argmax`` is the same unless every logit is negative.
    """
    assert isinstance(model, nn.Sequential)
    return nn.functional.cross_entropy(model[:-1](x), y)


@torch.no_grad()
def normalise_(ann: nn.Sequential, frames: torch.Tensor, percentile: float = 99.9) -> list[float]:
    """Data-based weight normalisation: the given percentile of every ReLU's output becomes 1.

    With no biases, scaling layer l's weights by ``λ_{l-1} / λ_l`` scales every ReLU output l by ``1/λ_l``
    and leaves the network's decision unchanged (ReLU is positively homogeneous).

    Returns:
        The scale ``λ_l`` found for each ReLU, in order.
    """
    weighted = [m for m in ann if isinstance(m, nn.Conv2d | nn.Linear)]
    lambdas: list[float] = []
    x = frames
    for m in ann:
        x = m(x)
        if isinstance(m, nn.ReLU):
            positive = x[x > 0]
            lam = float(torch.quantile(positive[:1_000_000], percentile / 100)) if positive.numel() else 1.0
            lambdas.append(lam)
            x = x / lam  # later layers see the normalised activations
    prev = 1.0
    for layer, lam in zip(weighted, lambdas, strict=True):
        layer.weight.mul_(prev / lam)
        prev = lam
    return lambdas


def main(argv: list[str] | None = None) -> int:
    """Train, normalise, convert, evaluate on the test split, save; returns the exit code."""
    ap = training.training_arg_parser(
        __doc__.splitlines()[0], epochs=20, lr=5e-3, default_out=digits_ann2snn.HERE
    )
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    n_bins = digits_ann2snn.N_BINS
    t0 = time.perf_counter()
    x, y = training.load_split("train", n_bins, limit=64 if args.quick else None)
    frames = x.sum(1) / n_bins  # mean input per time bin, what the converted network sees on average
    print(f"train data {tuple(x.shape)} in {time.perf_counter() - t0:.0f} s", flush=True)
    ann = digits_ann2snn.build_ann()
    log = training.train(
        ann,
        frames,
        y,
        loss_fn,
        epochs=100 if args.quick else args.epochs,
        batch_size=16 if args.quick else args.batch_size,
        lr=args.lr,
        seed=args.seed,
        max_steps=12 if args.quick else None,
        log=lambda s: print(s, flush=True),
    )
    decreased = training.loss_decreased(log.losses)
    print(f"training {log.seconds:.0f} s; loss {log.losses[0]:.4f} -> {log.losses[-1]:.4f}")
    if args.quick and args.out is None:
        return 0 if decreased else 1

    out = args.out or digits_ann2snn.HERE
    xt, yt = training.load_split("test", n_bins, limit=64 if args.quick else None)
    ann.eval()
    with torch.no_grad():
        ann_acc = float((ann(xt.sum(1) / n_bins).argmax(1) == yt).float().mean())
    lambdas = normalise_(ann, frames)
    snn = digits_ann2snn.convert(ann, n_bins)
    acc, _ = training.evaluate(snn, xt, yt)
    max_w = max(
        float(m.weight.detach().abs().max()) for m in snn.modules() if isinstance(m, nn.Conv2d | nn.Linear)
    )
    print(f"ANN test accuracy {100 * ann_acc:.2f} %; normalisation scales {[round(v, 3) for v in lambdas]}")
    print(f"converted SNN accuracy (float, time-stepped) {100 * acc:.2f} % on {len(yt)}; max |w| {max_w:.3f}")
    training.save_checkpoint(snn, digits_ann2snn.build_model(), out)
    torch.save(ann.state_dict(), out / "ann_state_dict.pt")
    training.save_sample_input(out)
    meta = {
        "model": "digits_ann2snn",
        "args": {k: str(v) for k, v in vars(args).items()},
        "train_seconds": round(log.seconds, 1),
        "epoch_losses": [round(v, 4) for v in log.losses],
        "test_accuracy_ann": round(ann_acc, 4),
        "test_accuracy_float": round(acc, 4),
        "normalisation_scales": lambdas,
        "max_abs_weight": max_w,
        "n_test": len(yt),
        "torch": torch.__version__,
    }
    (out / "train_log.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {out}")
    return 0 if decreased else 1


if __name__ == "__main__":
    sys.exit(main())
