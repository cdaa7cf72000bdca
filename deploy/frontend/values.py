"""The values that flow through a traced model while it is normalised, and the problems found on the way.

Every ``torch.fx`` node gets one :data:`Value`:

- :class:`Spikes`: a sum of spike streams (from chip layers or the model input), possibly pooled, flattened,
  merged (``+``) or concatenated (``torch.cat``) on the way;
- :class:`Pre`: a weight layer's output before its spiking layer (Conv2d/Linear, BatchNorm folded in);
- :class:`Bad`: downstream of a reported problem (consumers stay silent about it);
- :class:`Meta`: a non-tensor value (``x.size(0)``, ``x.shape``) used only to compute a reshape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.fx
from torch import nn

from deploy.graph import ChipLayer, Edge, Shape3

INPUT = -2
"""Source index meaning "the model input" while building edges."""


@dataclass(frozen=True)
class Src:
    """One spike stream arriving somewhere: from a chip layer (or the input), pooled on the way."""

    layer: int
    pooling: tuple[int, int] = (1, 1)
    pool_modules: tuple[str, ...] = ()
    factor: float = 1.0
    """Weight factor of the average poolings on the way (1/k² each); folded into the next weights."""
    feature_shift: int = 0


@dataclass(frozen=True)
class Spikes:
    """A value that is a sum of spike streams (one stream unless merged or concatenated)."""

    srcs: tuple[Src, ...]
    shape: tuple[int, ...]
    map_shape: Shape3
    """``(C, H, W)`` of the map before any flatten (what a following Linear's kernel covers)."""


@dataclass
class Pre:
    """A weight layer's output before its spiking layer (mutable: BatchNorm folds into it)."""

    name: str
    kind: str
    weight: torch.Tensor
    bias: torch.Tensor | None
    stride: tuple[int, int]
    padding: tuple[int, int]
    in_shape: Shape3
    srcs: tuple[Src, ...]
    shape: tuple[int, ...]
    modules: list[str]
    consumed: bool = False
    desc: str = ""
    """How messages describe the weight layer, e.g. "Conv2d 2→4, k=3"."""
    bad: bool = False
    """True when the weight layer or its input has a reported problem (its consumers stay silent)."""


@dataclass
class Bad:
    """A value downstream of a reported problem (consumers stay silent about it)."""


@dataclass
class Meta:
    """A non-tensor value (``x.size(0)``, ``x.shape``) used only to compute a reshape."""


Value = Spikes | Pre | Bad | Meta
"""Everything a traced node can evaluate to."""


def is_silent(v: Value) -> bool:
    """True for a value whose problem was already reported (a :class:`Bad`, or a bad weight layer)."""
    return isinstance(v, Bad) or (isinstance(v, Pre) and v.bad)


def consume(*values: Value) -> None:
    """Mark weight layer outputs as used, so they are not also reported as "no spiking layer after it"."""
    for v in values:
        if isinstance(v, Pre):
            v.consumed = True


@dataclass(frozen=True)
class InputEdge(Edge):
    """An edge from the model input, remembering the (py, px) pooling of a DVS layer."""

    pair: tuple[int, int] = (1, 1)


def input_edge(s: Src, dst: int) -> Edge:
    """The edge from the model input (``s.layer == INPUT``) to chip layer ``dst``."""
    return InputEdge(INPUT, dst, s.pooling[0], 0, s.pool_modules, pair=s.pooling)


ProblemKind = Literal["construct", "no_spiking_layer", "input_reaches_output", "pooling", "empty_model"]
"""What a problem is about: a construct at a module path (the usual case), a weight layer without a
spiking layer, the model input reaching the output, pooling that the chip cannot place, or a model with
nothing to put on the chip."""


@dataclass(frozen=True)
class Problem:
    """One thing the chip cannot run; ``text`` is the line shown to the user."""

    kind: ProblemKind
    text: str


@dataclass(frozen=True)
class DvsSettings:
    """Settings of a sinabs ``DVSLayer`` found at the model input (see :mod:`deploy.frontend.dvs`)."""

    merge_polarities: bool
    crop: tuple[tuple[int, int], tuple[int, int]] | None
    flip_x: bool
    flip_y: bool
    swap_xy: bool


@dataclass
class State:
    """What normalisation has found so far: problems, notes, chip layers and edges."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    layers: list[ChipLayer] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    pres: list[Pre] = field(default_factory=list)
    dvs: DvsSettings | None = None

    def problem(self, path: str, module: Any, text: str) -> Bad:
        """Report a construct at ``path`` (``module`` is described in the message); returns :class:`Bad`."""
        self.problems.append(Problem("construct", f"'{path}' ({describe(module)}): {text}"))
        return Bad()

    def add_problem(self, kind: ProblemKind, text: str) -> None:
        """Report a problem that is not about one construct."""
        self.problems.append(Problem(kind, text))


def describe(module: Any) -> str:
    """How messages name a module, function or method (e.g. "Conv2d 2→4, k=3", "Linear 8→4", "add")."""
    if isinstance(module, nn.Conv2d):
        return f"Conv2d {module.in_channels}→{module.out_channels}, k={pair_str(module.kernel_size)}"
    if isinstance(module, nn.Linear):
        return f"Linear {module.in_features}→{module.out_features}"
    if isinstance(module, nn.Module):
        return type(module).__name__
    return getattr(module, "__name__", str(module))


def pair_str(p: Any) -> str:
    """``"3"`` for a square pair, ``"3×5"`` otherwise."""
    p = pair(p)
    return str(p[0]) if p[0] == p[1] else f"{p[0]}×{p[1]}"


def pair(v: Any) -> tuple[int, int]:
    """A torch size argument (int, 1- or 2-sequence) as an ``(int, int)`` pair."""
    if isinstance(v, (tuple, list)):
        return (int(v[0]), int(v[1])) if len(v) == 2 else (int(v[0]), int(v[0]))
    return (int(v), int(v))


def as_array(t: torch.Tensor) -> np.ndarray:
    """A float32 numpy copy of a tensor (what chip layers store)."""
    return t.numpy().astype(np.float32, copy=True)


@dataclass(frozen=True)
class Call:
    """One traced operation being normalised: what a handler receives.

    Attributes:
        name: The module path (``call_module``) or the fx node name (functions and methods); messages
            start with it.
        target: The module, the function, or ``"Tensor.<method>"``; messages describe it.
        node: The fx node (for non-tensor arguments such as ``dim``).
        values: The values of the nodes evaluated so far (for tensors inside list arguments).
    """

    name: str
    target: Any
    node: torch.fx.Node
    values: Mapping[torch.fx.Node, Value]

    def arg(self, index: int = 0) -> Value:
        """The value of the ``index``-th positional tensor argument, or :class:`Bad` when there is none."""
        args = [a for a in self.node.args if isinstance(a, torch.fx.Node)]
        return self.values[args[index]] if index < len(args) else Bad()


Handler = Callable[[Call, State], Value]
"""What every entry of a dispatch table is: a traced operation → its value (problems go to the state)."""
