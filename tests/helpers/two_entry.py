"""A network whose input enters two cores: a skip connection from the input into a merge (issue #12)."""

from __future__ import annotations

import sinabs.layers as sl
import torch
from torch import nn


class TwoEntry(nn.Module):
    """``a = IAF(conv1(x)); y = IAF(conv2(Merge(x, a)))``: conv2's core receives the input and core(conv1)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(2, 2, 3, padding=1, bias=False)
        self.spk1 = sl.IAFSqueeze(batch_size=1, spike_threshold=1.0, min_v_mem=-1.0)
        self.merge = sl.Merge()
        self.conv2 = nn.Conv2d(2, 4, 3, padding=1, bias=False)
        self.spk2 = sl.IAFSqueeze(batch_size=1, spike_threshold=1.0, min_v_mem=-1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.spk1(self.conv1(x))
        return self.spk2(self.conv2(self.merge(x, a)))


def build_two_entry() -> nn.Module:
    """Seeded :class:`TwoEntry` with excitatory weights (so that short inputs make output spikes)."""
    torch.manual_seed(5)
    m = TwoEntry()
    with torch.no_grad():
        m.conv1.weight.abs_()
        m.conv2.weight.abs_()
    return m
