"""Spiking CNN trained directly in sinabs (surrogate gradients, BPTT) on the digit events.

Architecture (input ``(2, 34, 34)`` = OFF/ON × H × W event counts per time bin)::

    Conv2d(2→8, k3, p0, no bias)  → IAFSqueeze → SumPool2d(2)     34 → 32 → 16
    Conv2d(8→16, k3, p1, no bias) → IAFSqueeze → SumPool2d(2)     16 → 16 → 8
    Flatten → Linear(1024→10, no bias) → IAFSqueeze               class = most output spikes

The first convolution has no padding so that the pooled maps divide evenly (34 → 32 → 16 → 8); no layer has
a bias, because a bias becomes a slow-clock leak on the chip (SPECK_SEMANTICS §2.4) and would make the
event-driven result depend on timing. All IAF layers use ``MultiSpike``, ``MembraneSubtract`` and
``min_v_mem = −threshold`` (the sinabs discretisation needs a finite ``min_v_mem``, §9.1). Training clamps
every weight to ``[−threshold, threshold]`` after each step: on the chip a neuron fires at most once per
input event (§2.2), so weights above threshold would lose spikes.
"""

from __future__ import annotations

from pathlib import Path

import sinabs.layers as sl
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
CHECKPOINT = HERE / "model.pt"
STATE_DICT = HERE / "state_dict.pt"
SAMPLE_INPUT = HERE / "sample_input.npz"

INPUT_SHAPE = (2, 34, 34)
N_BINS = 30
"""Time bins of the 300 ms recording used in time-stepped (sinabs) simulation: 10 ms each."""
THRESHOLD = 1.0


def iaf(n_bins: int = N_BINS, threshold: float = THRESHOLD) -> sl.IAFSqueeze:
    """The chip-compatible IAF layer used throughout: subtract reset, floor at ``-threshold``."""
    return sl.IAFSqueeze(num_timesteps=n_bins, spike_threshold=threshold, min_v_mem=-threshold)


def build_model(n_bins: int = N_BINS) -> nn.Sequential:
    """The untrained network (seeded by the caller via ``torch.manual_seed``).

    Args:
        n_bins: Time bins per sample; the batch fed to the model is ``(B·n_bins, 2, 34, 34)``.
    """
    return nn.Sequential(
        nn.Conv2d(2, 8, kernel_size=3, padding=0, bias=False),
        iaf(n_bins),
        sl.SumPool2d(2),
        nn.Conv2d(8, 16, kernel_size=3, padding=1, bias=False),
        iaf(n_bins),
        sl.SumPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 8 * 8, 10, bias=False),
        iaf(n_bins),
    )


def load_trained() -> nn.Sequential:
    """The committed trained network (architecture from :func:`build_model`, weights from the state dict)."""
    model = build_model()
    model.load_state_dict(torch.load(STATE_DICT, weights_only=True))
    return model
