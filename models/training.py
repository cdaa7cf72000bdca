"""Training and evaluation helpers shared by the reference models' training scripts.

A sample is a ``(T, 2, 34, 34)`` tensor of event counts per time bin (:func:`models.digits_events.rasterize`).
sinabs ``IAFSqueeze`` layers take the time bins folded into the batch, ``(B·T, C, H, W)``; the network's
answer is the output layer's spike count per class summed over time.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import sinabs
import sinabs.activation
import sinabs.layers as sl
import torch
from torch import nn

from models import digits_events

SAFE_GLOBALS: tuple[type, ...] = (
    nn.Sequential,
    nn.Conv2d,
    nn.Linear,
    nn.Flatten,
    nn.ReLU,
    nn.AvgPool2d,
    sl.IAFSqueeze,
    sl.SumPool2d,
    sinabs.activation.MultiSpike,
    sinabs.activation.MembraneSubtract,
    sinabs.activation.SingleExponential,
)
"""Classes to allowlist for ``torch.load(path, weights_only=True)`` of the committed whole-module files."""


def load_module(path: str | Path) -> nn.Module:
    """Load a whole-module ``.pt`` with ``weights_only=True`` and the :data:`SAFE_GLOBALS` allowlist."""
    with torch.serialization.safe_globals(list(SAFE_GLOBALS)):
        return torch.load(path, weights_only=True)


def spike_counts(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Output spikes per class of each sample, states reset first.

    Args:
        model: Network taking ``(B·T, 2, 34, 34)`` and returning ``(B·T, n_classes)``.
        x: ``(B, T, 2, 34, 34)`` event counts.

    Returns:
        ``(B, n_classes)`` spike counts (differentiable through the surrogate gradient).
    """
    sinabs.reset_states(model)
    b, t = x.shape[:2]
    out = model(x.reshape(b * t, *x.shape[2:]))
    return out.reshape(b, t, -1).sum(1)


def predict(counts: torch.Tensor | npt.NDArray[np.number]) -> npt.NDArray[np.int64]:
    """Class decision from output spike counts: the project's tie-break rule.

    The class with the most output spikes; ties go to the lowest class index; a sample whose output layer
    emits no spike at all gets ``-1`` (always counted as wrong).

    Args:
        counts: ``(B, n_classes)`` spike counts.
    """
    c = np.asarray(counts.detach().cpu() if isinstance(counts, torch.Tensor) else counts)
    pred = c.argmax(1).astype(np.int64)
    pred[c.max(1) <= 0] = -1
    return pred


@torch.no_grad()
def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 64
) -> tuple[float, npt.NDArray[np.float64]]:
    """Time-stepped accuracy of ``model`` and its output spike counts.

    Returns:
        ``(accuracy, counts)``: accuracy in [0, 1] under :func:`predict`'s rule, counts ``(N, classes)``.
    """
    model.eval()
    counts = torch.cat([spike_counts(model, x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
    acc = float((predict(counts) == y.numpy()).mean())
    return acc, counts.numpy().astype(np.float64)


def clamp_weights_(model: nn.Module, bound: float) -> None:
    """Clip every conv/linear weight to ``[-bound, bound]`` in place."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                m.weight.clamp_(-bound, bound)


def load_split(
    split: str, n_bins: int, limit: int | None = None, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rasterised digit events of a split as tensors ``(N, T, 2, 34, 34)`` and labels ``(N,)``.

    Args:
        split: ``"train"`` or ``"test"``.
        n_bins: Time bins T.
        limit: Take only the first ``limit`` samples of the split (for quick runs), picked class-balanced.
        seed: Data seed (threshold mismatch).
    """
    train, test = digits_events.split_indices()
    idx = {"train": train, "test": test}[split]
    if limit is not None:
        idx = balanced_subset(idx, limit)
    events, labels = digits_events.build_dataset(idx, seed=seed)
    x = np.stack([digits_events.rasterize(e, n_bins) for e in events])
    return torch.from_numpy(x), torch.from_numpy(labels)


def balanced_subset(indices: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.int64]:
    """First ``n`` of ``indices`` taken round-robin over the classes (deterministic)."""
    _, labels = digits_events.load_digits_arrays()
    per_class = [indices[labels[indices] == c] for c in range(digits_events.N_CLASSES)]
    order = [c[i] for i in range(max(len(c) for c in per_class)) for c in per_class if i < len(c)]
    return np.sort(np.asarray(order[:n], dtype=np.int64))


@dataclass
class TrainLog:
    """What a training run did: mean loss per epoch and timing."""

    losses: list[float]
    seconds: float


def train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    after_step: Callable[[nn.Module], None] | None = None,
    max_steps: int | None = None,
    log: Callable[[str], None] = print,
    epoch_end: Callable[[int], Iterable[str]] | None = None,
) -> TrainLog:
    """Mini-batch Adam with a cosine learning-rate schedule.

    Args:
        model: Network to train in place.
        x: ``(N, ...)`` inputs.
        y: ``(N,)`` labels.
        loss_fn: ``loss_fn(model, xb, yb)`` → scalar loss.
        epochs: Passes over the data.
        batch_size: Samples per step.
        lr: Peak learning rate.
        seed: Seeds the shuffling.
        after_step: Called after every optimiser step (weight clamping).
        max_steps: Stop after this many steps (quick mode); the loss of each step is logged.
        log: Where progress lines go.
        epoch_end: Called after each epoch with its index; lines it yields are logged.

    Returns:
        Per-epoch (or, with ``max_steps``, per-step) mean losses and the wall time.
    """
    torch.set_flush_denormal(True)  # membrane values decaying into denormals made BPTT 25x slower here
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = (len(x) + batch_size - 1) // batch_size
    total = epochs * steps_per_epoch if max_steps is None else max_steps
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(total, 1))
    losses: list[float] = []
    step, start = 0, time.perf_counter()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        running = []
        for i in range(0, len(x), batch_size):
            b = perm[i : i + batch_size]
            loss = loss_fn(model, x[b], y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if after_step is not None:
                after_step(model)
            running.append(loss.item())
            step += 1
            if max_steps is not None:
                losses.append(loss.item())
                log(f"step {step:3d}  loss {loss.item():.4f}")
                if step >= max_steps:
                    return TrainLog(losses, time.perf_counter() - start)
        losses.append(float(np.mean(running)))
        log(f"epoch {epoch + 1:2d}  loss {losses[-1]:.4f}  ({time.perf_counter() - start:.0f} s)")
        if epoch_end is not None:
            for line in epoch_end(epoch):
                log(line)
    return TrainLog(losses, time.perf_counter() - start)


def loss_decreased(losses: list[float], window: int = 3) -> bool:
    """Whether the mean of the last ``window`` losses is below the mean of the first ``window``."""
    w = max(1, min(window, len(losses) // 2))
    return float(np.mean(losses[-w:])) < float(np.mean(losses[:w]))


def save_checkpoint(model: nn.Module, fresh: nn.Module, directory: Path) -> None:
    """Write ``model.pt`` (whole module) and ``state_dict.pt`` into ``directory``.

    The weights are copied into ``fresh`` (a newly built, never-run instance of the same architecture) so
    that no neuron state (``v_mem`` of the last training batch) ends up in the files; the state dict then
    loads into ``build_model()`` with ``strict=True``.
    """
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    missing, unexpected = fresh.load_state_dict(params, strict=False)
    assert not unexpected and all(k.endswith(("v_mem", "min_v_mem", "spike_threshold")) for k in missing)
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(fresh.state_dict(), directory / "state_dict.pt")
    torch.save(fresh, directory / "model.pt")


def save_sample_input(directory: Path, n: int = 8, seed: int = 0) -> None:
    """Write ``sample_input.npz``: the first ``n`` test-split samples (class-balanced) as tonic-style events.

    Layout: :func:`models.digits_events.save_npz`.
    """
    _, test = digits_events.split_indices()
    digits_events.save_npz(directory / "sample_input.npz", balanced_subset(test, n), seed=seed)


def training_arg_parser(
    description: str, *, epochs: int, lr: float, default_out: Path
) -> argparse.ArgumentParser:
    """The command-line options every ``scripts/train_*.py`` shares; a script adds its own on top."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=lr)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1: with other jobs on the 2 cores, 2 threads made a quick run 15x slower)",
    )
    ap.add_argument("--quick", action="store_true", help="a few steps on 64 samples; exit 1 unless loss fell")
    ap.add_argument("--out", type=Path, default=None, help=f"output folder (default {default_out})")
    return ap
