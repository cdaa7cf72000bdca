"""Tiny sinabs models and a LayerGraph comparison, shared by the front-end and quantiser tests.

Architectures here are importable as ``helpers.snn_models:<function>`` for ``--arch module:function``.
"""

from __future__ import annotations

import numpy as np
import sinabs.layers as sl
import torch
from torch import nn

from deploy.graph import LayerGraph

TINY_SHAPE = (2, 16, 16)


def iaf(threshold: float = 1.0, min_v_mem: float | None = -1.0, **kw: object) -> sl.IAFSqueeze:
    """The chip-compatible spiking layer used in the tests."""
    return sl.IAFSqueeze(batch_size=1, spike_threshold=threshold, min_v_mem=min_v_mem, **kw)


def build_tiny() -> nn.Sequential:
    """Same architecture as the ``tiny_2layer`` sinabs reference case (random weights)."""
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False),
        iaf(),
        nn.Conv2d(4, 2, 3, stride=2, padding=1, bias=False),
        iaf(),
    )


def build_conv_pool_linear() -> nn.Sequential:
    """conv → IAF → SumPool → conv → IAF → Flatten → Linear → IAF on (2, 16, 16)."""
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False),
        iaf(),
        sl.SumPool2d(2),
        nn.Conv2d(4, 4, 3, padding=1, bias=False),
        iaf(),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 3, bias=False),
        iaf(),
    )


def not_a_module() -> int:
    """An "architecture" that returns something else (for the error test)."""
    return 3


def seeded(builder, seed: int = 0) -> nn.Module:  # type: ignore[no-untyped-def]
    """Build with fixed weights."""
    torch.manual_seed(seed)
    return builder()


class Residual(nn.Module):
    """a = L1(x); b = L2(a); y = Merge(a, L3(b)) + b; pooled into a Linear: merges and 2 destinations."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(2, 4, 3, padding=1, bias=False)
        self.s1 = iaf()
        self.c2 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.s2 = iaf()
        self.c3 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.s3 = iaf()
        self.merge = sl.Merge()
        self.pool = sl.SumPool2d(2)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(4 * 4 * 4, 3, bias=False)
        self.s4 = iaf()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.s1(self.c1(x))
        b = self.s2(self.c2(a))
        c = self.s3(self.c3(b))
        y = self.merge(a, c) + b
        return self.s4(self.fc(self.flat(self.pool(y))))


def graphs_equal(a: LayerGraph, b: LayerGraph) -> list[str]:
    """Differences between two LayerGraphs (empty when equal); ``source`` and ``notes`` are ignored."""
    diffs = []
    if len(a.layers) != len(b.layers):
        return [f"{len(a.layers)} vs {len(b.layers)} layers"]
    for i, (x, y) in enumerate(zip(a.layers, b.layers, strict=True)):
        for f in (
            "name",
            "in_shape",
            "stride",
            "padding",
            "threshold",
            "min_v_mem",
            "reset",
            "spike_fn",
            "kind",
        ):
            if getattr(x, f) != getattr(y, f):
                diffs.append(f"layer {i}.{f}: {getattr(x, f)!r} vs {getattr(y, f)!r}")
        if not np.array_equal(x.weight, y.weight):
            diffs.append(f"layer {i}.weight differs")
        if (x.bias is None) != (y.bias is None) or (
            x.bias is not None and not np.array_equal(x.bias, y.bias)
        ):
            diffs.append(f"layer {i}.bias differs")
    for f in ("edges", "input_shape", "entry_layers", "dvs"):
        if getattr(a, f) != getattr(b, f):
            diffs.append(f"{f}: {getattr(a, f)!r} vs {getattr(b, f)!r}")
    return diffs
