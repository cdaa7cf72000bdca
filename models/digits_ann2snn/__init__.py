"""The ANN → SNN path most sinabs users take: a ReLU CNN trained on event frames, converted by sinabs.

The ANN has the topology of :mod:`models.digits_snn`, with ``nn.AvgPool2d`` as in the sinabs conversion
tutorials and a ReLU after the last layer (so that ``from_model`` gives the output layer a spiking layer)::

    Conv2d(2→8, k3, p0) → ReLU → AvgPool2d(2) → Conv2d(8→16, k3, p1) → ReLU → AvgPool2d(2)
    → Flatten → Linear(1024→10) → ReLU                       (no biases: a bias is a leak on the chip)

It is trained on one frame per sample: the event counts divided by the number of time bins, i.e. the mean
input per bin that the converted network receives. After training, the weights are rescaled layer by layer
so that the 99.9th percentile of each ReLU's activation on training frames is 1 (data-based normalisation,
Rueckauer et al. 2017); without biases this does not change the ANN's decisions. Then
``sinabs.from_torch.from_model(ann, num_timesteps=T).spiking_model`` replaces each ReLU by
``IAFSqueeze(threshold 1, MultiSpike, MembraneSubtract, min_v_mem −1)``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from sinabs.from_torch import from_model
from torch import nn

from models.digits_snn import INPUT_SHAPE, N_BINS

HERE = Path(__file__).resolve().parent
CHECKPOINT = HERE / "model.pt"
STATE_DICT = HERE / "state_dict.pt"
ANN_STATE_DICT = HERE / "ann_state_dict.pt"
SAMPLE_INPUT = HERE / "sample_input.npz"

__all__ = ["INPUT_SHAPE", "N_BINS", "build_ann", "build_model", "convert", "load_trained"]


def build_ann() -> nn.Sequential:
    """The untrained ReLU network."""
    return nn.Sequential(
        nn.Conv2d(2, 8, kernel_size=3, padding=0, bias=False),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Conv2d(8, 16, kernel_size=3, padding=1, bias=False),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 8 * 8, 10, bias=False),
        nn.ReLU(),
    )


def convert(ann: nn.Module, n_bins: int = N_BINS) -> nn.Sequential:
    """The spiking network sinabs makes from ``ann`` (every ReLU → ``IAFSqueeze``)."""
    return from_model(ann, input_shape=INPUT_SHAPE, num_timesteps=n_bins).spiking_model


def build_model(n_bins: int = N_BINS) -> nn.Sequential:
    """The converted spiking network of an untrained ANN: the deployable architecture."""
    return convert(build_ann(), n_bins)


def load_trained() -> nn.Sequential:
    """The committed converted network: :func:`build_model` with the committed state dict."""
    model = build_model()
    model.load_state_dict(torch.load(STATE_DICT, weights_only=True))
    return model
