"""Reference models for the golden configuration files, and the golden document format.

Each model is built from a fixed torch seed, compiled for speck2f with :func:`deploy.pipeline.compile_model`,
and summarised by :func:`golden_document`: the placement, the memory per layer, the warnings and the whole
chip configuration (arrays larger than :data:`INLINE_LIMIT` values are stored as a digest). Golden files are
written only by ``scripts/regen_golden.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sinabs.activation as sa
import sinabs.layers as sl
import torch
from torch import nn

from deploy.pipeline import CompileResult, compile_model
from hwconfig.json_io import config_to_dict

GOLDEN_DIR = Path(__file__).resolve().parent / "data"
SCHEMA_VERSION = 1
INLINE_LIMIT = 4096
"""Arrays with more values than this are stored as ``{"shape", "sha256", "min", "max", "sum", "nonzero"}``."""
CHIP = "speck2f"


def iaf(**kw: Any) -> sl.IAFSqueeze:
    return sl.IAFSqueeze(batch_size=1, spike_threshold=1.0, min_v_mem=-1.0, **kw)


def tiny() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False),
        iaf(),
        nn.Conv2d(4, 2, 3, stride=2, padding=1, bias=False),
        iaf(),
    )


def nmnist() -> nn.Module:
    # 2×34×34 → conv 8 (k3) 32×32 → pool 2 → 16×16 → conv 16 (k3 p1) → pool 2 → 8×8 → Linear 1024 → 10.
    return nn.Sequential(
        nn.Conv2d(2, 8, 3, bias=False),
        iaf(),
        sl.SumPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, bias=False),
        iaf(),
        sl.SumPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 8 * 8, 10, bias=False),
        iaf(),
    )


def gesture() -> nn.Module:
    # 2×128×128 → conv 8 (k2 s2) 64×64 → pool → 32 → conv 16 → pool → 16 → conv 16 → pool → 8 → conv 32 →
    # pool → 4 → conv 32 → pool → 2 → Linear 128 → 64 → Linear 64 → 11: 7 spiking layers.
    return nn.Sequential(
        nn.Conv2d(2, 8, 2, stride=2, bias=False),
        iaf(),
        sl.SumPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, bias=False),
        iaf(),
        sl.SumPool2d(2),
        nn.Conv2d(16, 16, 3, padding=1, bias=False),
        iaf(),
        sl.SumPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, bias=False),
        iaf(),
        sl.SumPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1, bias=False),
        iaf(),
        sl.SumPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 2 * 2, 64, bias=False),
        iaf(),
        nn.Linear(64, 11, bias=False),
        iaf(),
    )


def avgpool() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 5, bias=False),
        iaf(),
        nn.AvgPool2d(2),
        nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False),
        iaf(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 3 * 3, 10, bias=False),
        iaf(),
    )


def batchnorm() -> nn.Module:
    bn = nn.BatchNorm2d(8)
    with torch.no_grad():
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 1.5)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.1, 0.1)
    return nn.Sequential(
        nn.Conv2d(2, 8, 3, padding=1, bias=False),
        bn,
        iaf(),
        nn.Conv2d(8, 4, 3, stride=2, padding=1, bias=False),
        iaf(),
    ).eval()


def biases() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(2, 8, 3, padding=1, bias=True),
        iaf(),
        sl.SumPool2d(2),
        nn.Conv2d(8, 8, 3, stride=2, padding=1, bias=False),
        iaf(),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 5, bias=True),
        iaf(),
    )


def reset_zero() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(2, 8, 3, padding=1, bias=False),
        iaf(reset_fn=sa.MembraneReset()),
        nn.Conv2d(8, 4, 3, stride=2, padding=1, bias=False),
        iaf(),
    )


def non_square() -> nn.Module:
    # 2×16×24 (H×W) → conv 4 (k3 p1) → pool 2 → 8×12 → conv 4 (k3 p1, stride 2) → 4×6.
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False),
        iaf(),
        sl.SumPool2d(2),
        nn.Conv2d(4, 4, 3, stride=2, padding=1, bias=False),
        iaf(),
    )


def dvs_input() -> nn.Module:
    # A leading pooling layer becomes the chip's DVS layer: 2×128×128 pooled by 2 → 64×64.
    return nn.Sequential(
        sl.SumPool2d(2),
        nn.Conv2d(2, 8, 3, padding=1, bias=False),
        iaf(),
        sl.SumPool2d(2),
        nn.Conv2d(8, 4, 3, padding=1, bias=False),
        iaf(),
    )


class Concat(nn.Module):
    """2×16×16 → conv 4 (k3 p1) → two branches, conv 4 (k3 p1) and conv 2 (k1), concatenated along channels
    (the second lands at feature_shift 4) → 6×16×16 → pool 2 → conv 4 (k3 p1) → 4×8×8."""

    def __init__(self) -> None:
        super().__init__()
        self.stem, self.s0 = nn.Conv2d(2, 4, 3, padding=1, bias=False), iaf()
        self.a, self.sa = nn.Conv2d(4, 4, 3, padding=1, bias=False), iaf()
        self.b, self.sb = nn.Conv2d(4, 2, 1, bias=False), iaf()
        self.pool = sl.SumPool2d(2)
        self.c, self.sc = nn.Conv2d(6, 4, 3, padding=1, bias=False), iaf()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.s0(self.stem(x))
        return self.sc(self.c(self.pool(torch.cat([self.sa(self.a(h)), self.sb(self.b(h))], dim=1))))


def anisotropic() -> nn.Module:
    # 2×16×24 (H×W) → conv 4 (k3, padding (0, 1)) → 4×14×24 → conv 4 (k3, stride (2, 1), padding (1, 0))
    # → 4×7×22: torch's (H, W) pairs become the chip's (y, x).
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=(0, 1), bias=False),
        iaf(),
        nn.Conv2d(4, 4, 3, stride=(2, 1), padding=(1, 0), bias=False),
        iaf(),
    )


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], nn.Module]
    input_shape: tuple[int, int, int]
    seed: int


CASES: tuple[Case, ...] = (
    Case("tiny_2layer", tiny, (2, 16, 16), 1),
    Case("nmnist", nmnist, (2, 34, 34), 2),
    Case("gesture", gesture, (2, 128, 128), 3),
    Case("avgpool", avgpool, (1, 28, 28), 4),
    Case("batchnorm", batchnorm, (2, 16, 16), 5),
    Case("biases", biases, (2, 16, 16), 6),
    Case("reset_zero", reset_zero, (2, 16, 16), 7),
    Case("non_square", non_square, (2, 16, 24), 8),
    Case("dvs_input", dvs_input, (2, 128, 128), 9),
    Case("concat", Concat, (2, 16, 16), 10),
    Case("anisotropic", anisotropic, (2, 16, 24), 11),
)


def build(case: Case) -> nn.Module:
    """The case's model with weights from its seed."""
    torch.manual_seed(case.seed)
    return case.build()


def compile_case(case: Case) -> CompileResult:
    return compile_model(build(case), CHIP, case.input_shape)


def _digest(value: list[Any]) -> Any:
    arr = np.asarray(value, dtype=np.int64)
    if arr.size <= INLINE_LIMIT:
        return value
    return {
        "shape": list(arr.shape),
        "sha256": hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest(),
        "min": int(arr.min()),
        "max": int(arr.max()),
        "sum": int(arr.sum()),
        "nonzero": int(np.count_nonzero(arr)),
    }


def golden_document(case: Case, result: CompileResult) -> dict[str, Any]:
    """What a golden file holds for one compiled case."""
    config = config_to_dict(result.config)
    for layer in config["cnn_layers"]:
        for key in ("weights", "biases", "neurons_initial_value"):
            layer[key] = _digest(layer[key])
    return {
        "schema_version": SCHEMA_VERSION,
        "case": case.name,
        "chip": result.chip.name,
        "input_shape": list(case.input_shape),
        "seed": case.seed,
        "placement": [
            {"layer": q.name, "core": core, "kernel": m.kernel, "neuron": m.neuron, "bias": m.bias}
            for q, core, m in zip(
                result.qgraph.layers, result.placement.core_of, result.check.fit_matrix.memory, strict=True
            )
        ],
        "warnings": sorted(f"{w.rule}:{w.layer}" for w in result.warnings),
        "config": config,
    }


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """``{"a.b[0].c": leaf}``: the field-by-field view used to compare golden documents."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{path}.{k}" if path else str(k)))
        return out
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{path}[{i}]"))
        return out
    return {path: value}
