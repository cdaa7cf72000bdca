"""Joint fixes: one set of changes that makes the whole model fit the chip, proven by re-checking it.

The hints of :mod:`deploy.check` are computed per layer in isolation, so for one model they may suggest
stride 2 for one layer, stride 4 for a later one and fewer classes for the classifier, when one stride change
on the first layer fixes everything. :func:`find_joint_fix` searches over changes to the *model* — per layer
its stride, the sum pooling after it, its out_channels and its kernel size — in order of how little they
change it:

1. fewest layers touched;
2. then the smallest change: halving a map by stride or pooling costs less than shrinking a kernel, which
   costs less than removing channels; at equal cost the earlier layer is preferred;
3. the out_channels of an exit layer (the class count) are never changed.

Every change is propagated through the graph (a stride changes the input map of every later layer; a
Linear turned into a convolution keeps covering its whole incoming map, so its weight shape follows), the
changed graph is quantised again and every chip rule and the placement are run on it
(:func:`deploy.check.check`, :func:`deploy.place.place`). Only a candidate that passes all of them is
returned, with that proof attached. A fix touches at most ``max_layers`` layers (default 3) and at most two
fields per layer; candidates are enumerated lazily in cost order, only those that touch every violating layer
or one of its ancestors and pass a cheap size/memory pre-check are quantised and checked, and the search
stops at ``max_candidates`` checked models or ``time_budget_s`` seconds.

Weights of a changed layer only need the right shape for the rules (memory, sizes, word ranges): kept
channels are sliced, a smaller kernel is the centre of the old one and a Linear's map is resampled by
nearest neighbour. They are not a trained model: the user retrains with the changed architecture.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from deploy.check import NETWORK, CheckResult, check, layer_memory
from deploy.errors import DeployError
from deploy.graph import (
    OUTPUT,
    ChipLayer,
    LayerGraph,
    Placement,
    QuantizedGraph,
    Shape3,
    conv_out_shape,
)
from deploy.options import CompileOptions
from deploy.place import place
from hwconfig.spec import ChipSpec, ceil_log2, kernel_memory_words, neuron_memory_words

Field = Literal["stride", "pooling", "out_channels", "kernel_size", "padding"]
"""What a :class:`LayerChange` changes; ``padding`` only accompanies a ``kernel_size`` change."""

_FIELD_ORDER: dict[str, int] = {"stride": 0, "pooling": 1, "kernel_size": 2, "out_channels": 3, "padding": 4}

UNFIXABLE_RULES = frozenset(
    {
        "layer_count",
        "destinations",
        "weight_range",
        "bias_range",
        "state_range",
        "threshold_range",
        "dvs",
        "readout",
    }
)
"""Rules a change of stride, pooling, channels or kernel size cannot repair (the search is not run)."""

STRIDE_COST = 1.0
"""Cost of halving a layer's output map by stride (per factor 2)."""
POOLING_COST = 1.0
"""Cost of halving a map by sum pooling after a layer (per factor 2)."""
KERNEL_COST = 2.0
"""Base cost of a smaller kernel (plus twice the fraction of the side removed)."""
CHANNEL_COST = 4.0
"""Base cost of fewer out_channels (plus four times the fraction removed)."""


@dataclass(frozen=True)
class LayerChange:
    """One change to one layer of the model.

    Attributes:
        layer_name: Torch module path of the layer's Conv2d/Linear (as in the check's messages).
        field: ``"stride"`` (square, both axes), ``"pooling"`` (square sum pooling on every edge to the
            next layers: a ``SumPool2d`` after the layer's spiking neuron, or the existing one changed),
            ``"out_channels"`` (the first ``new`` kept; the next layers' in_channels follow),
            ``"kernel_size"`` (square) or ``"padding"`` (square; only with a kernel change, kept ≤ k // 2).
        old: The value in the model (for ``stride``/``padding`` the larger of the two axes).
        new: The value that makes the model fit.
    """

    layer_name: str
    field: Field
    old: int
    new: int

    def describe(self) -> str:
        """e.g. ``"layer '0': stride 1 → 4"``."""
        what = "sum pooling after it" if self.field == "pooling" else self.field
        return f"layer '{self.layer_name}': {what} {self.old} → {self.new}"

    def as_dict(self) -> dict[str, Any]:
        return {"layer": self.layer_name, "field": self.field, "old": self.old, "new": self.new}


@dataclass(frozen=True, eq=False)
class JointFix:
    """A set of changes proven to make the whole model fit the chip.

    Attributes:
        changes: The changes, by layer order.
        graph: The changed float graph.
        qgraph: The changed graph quantised again (same rule as the original).
        check: Every chip rule run on the changed graph: no violations.
        placement: The placement of the changed graph.
        candidates_checked: Candidate models checked before this one was proven (including it).
        search_space: Number of candidate models in the search space.
    """

    changes: tuple[LayerChange, ...]
    graph: LayerGraph
    qgraph: QuantizedGraph
    check: CheckResult
    placement: Placement
    candidates_checked: int
    search_space: int

    @property
    def layers_touched(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.layer_name for c in self.changes))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (for ``deploy-model check --json``)."""
        return {
            "found": True,
            "changes": [c.as_dict() for c in self.changes],
            "proof": {
                "violations": len(self.check.violations),
                "warnings": [w.message for w in self.check.warnings],
                "placement": {
                    name: core
                    for name, core in zip(
                        self.check.fit_matrix.layer_names, self.placement.core_of, strict=True
                    )
                },
            },
            "candidates_checked": self.candidates_checked,
            "search_space": self.search_space,
        }


@dataclass(frozen=True)
class NoJointFix:
    """Why no joint fix was found.

    Attributes:
        reason: One sentence (rule that cannot be fixed, search space exhausted, or budget reached).
        candidates_checked: Candidate models checked.
        search_space: Number of candidate models in the search space (0 when the search did not run).
        exhausted: True when every candidate of the space was considered.
    """

    reason: str
    candidates_checked: int = 0
    search_space: int = 0
    exhausted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "found": False,
            "reason": self.reason,
            "candidates_checked": self.candidates_checked,
            "search_space": self.search_space,
            "exhausted": self.exhausted,
        }


# ----------------------------------------------------------------------------------------------------
# Applying changes to a LayerGraph


@dataclass(frozen=True)
class _Move:
    """A candidate setting of one layer (index into ``graph.layers``): one or two fields, and its cost."""

    layer: int
    fields: tuple[tuple[Field, int], ...]
    cost: float

    @property
    def key(self) -> tuple[float, int, int, tuple[tuple[int, int], ...]]:
        order = tuple((_FIELD_ORDER[f], -v) for f, v in self.fields)
        return (self.cost, self.layer, len(self.fields), order)


def _nearest(arr: npt.NDArray[Any], axis: int, size: int) -> npt.NDArray[Any]:
    """Resample ``arr`` along ``axis`` to ``size`` by nearest neighbour (values stay the original ones)."""
    n = arr.shape[axis]
    if n == size:
        return arr
    idx = (np.arange(size) * n) // max(size, 1)
    return np.take(arr, np.minimum(idx, n - 1), axis=axis)


def _centre(weight: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.float32]:
    kh, kw = weight.shape[-2:]
    y0, x0 = (kh - k) // 2, (kw - k) // 2
    return weight[..., y0 : y0 + k, x0 : x0 + k]


def _shrunk_padding(layer: ChipLayer, k: int) -> int:
    """Padding that goes with kernel ``k``: the old one, at most ``k // 2`` (a 'same' conv stays 'same')."""
    return min(max(layer.padding), k // 2)


def _changed_layer(layer: ChipLayer, fields: Mapping[str, int], in_shape: Shape3) -> ChipLayer:
    """``layer`` with ``fields`` applied and receiving ``in_shape``; weights reshaped to match."""
    weight = layer.weight
    bias = layer.bias
    state = layer.initial_state
    f = fields.get("out_channels", layer.out_features)
    weight = weight[:f, : in_shape[0]]
    if bias is not None:
        bias = bias[:f]
    stride, padding = layer.stride, layer.padding
    if layer.kind == "linear":
        # A Linear on chip is a convolution over the whole incoming map: its kernel follows the map.
        weight = _nearest(_nearest(weight, 2, in_shape[1]), 3, in_shape[2])
    elif "kernel_size" in fields:
        k = fields["kernel_size"]
        weight = _centre(weight, k)
        p = _shrunk_padding(layer, k)
        padding = (p, p)
    if "stride" in fields:
        stride = (fields["stride"], fields["stride"])
    out = conv_out_shape(in_shape, f, int(weight.shape[-1]), stride, padding)
    if state is not None:
        state = _nearest(_nearest(state[:f], 1, max(out[1], 1)), 2, max(out[2], 1))
    if (
        weight.shape == layer.weight.shape
        and in_shape == layer.in_shape
        and stride == layer.stride
        and padding == layer.padding
    ):
        return layer
    return replace(
        layer,
        in_shape=in_shape,
        weight=np.ascontiguousarray(weight),
        bias=None if bias is None else np.ascontiguousarray(bias),
        stride=stride,
        padding=padding,
        initial_state=None if state is None else np.ascontiguousarray(state),
    )


def _apply(graph: LayerGraph, changes: Mapping[int, Mapping[str, int]]) -> LayerGraph:
    """The graph with ``changes`` (layer index → field → new value) propagated in topological order."""
    edges = tuple(
        replace(e, pooling=changes[e.src]["pooling"])
        if e.dst != OUTPUT and "pooling" in changes.get(e.src, {})
        else e
        for e in graph.edges
    )
    new_layers: list[ChipLayer] = []
    for i, layer in enumerate(graph.layers):
        ins = [e for e in edges if e.dst == i and 0 <= e.src < i]
        in_shape = layer.in_shape
        if ins:
            e = ins[0]
            src = new_layers[e.src]
            _, h, w = src.out_shape
            c = layer.in_shape[0]
            if (
                len(ins) == 1
                and e.feature_shift == 0
                and src.out_features != graph.layers[e.src].out_features
            ):
                c = src.out_features
            in_shape = (c, h // e.pooling, w // e.pooling)
        new_layers.append(_changed_layer(layer, changes.get(i, {}), in_shape))
    return replace(graph, layers=tuple(new_layers), edges=edges)


def _layer_changes(graph: LayerGraph, changed: LayerGraph, moves: Sequence[_Move]) -> tuple[LayerChange, ...]:
    out: list[LayerChange] = []
    for m in sorted(moves, key=lambda m: m.layer):
        before, after = graph.layers[m.layer], changed.layers[m.layer]
        for field, new in sorted(m.fields, key=lambda fv: _FIELD_ORDER[fv[0]]):
            old = {
                "stride": max(before.stride),
                "pooling": _out_pooling(graph, m.layer),
                "out_channels": before.out_features,
                "kernel_size": before.kernel_size,
            }[field]
            out.append(LayerChange(before.name, field, old, new))
            if field == "kernel_size" and after.padding != before.padding:
                out.append(LayerChange(before.name, "padding", max(before.padding), max(after.padding)))
    return tuple(out)


def _out_pooling(graph: LayerGraph, i: int) -> int:
    return max((e.pooling for e in graph.out_edges(i) if e.dst != OUTPUT), default=1)


def apply_changes(graph: LayerGraph, changes: Sequence[LayerChange]) -> LayerGraph:
    """Apply :class:`LayerChange` s to a float graph (``padding`` follows ``kernel_size`` and is skipped).

    Raises:
        DeployError: a change names a layer the graph does not have.
    """
    index = {layer.name: i for i, layer in enumerate(graph.layers)}
    by_layer: dict[int, dict[str, int]] = {}
    for c in changes:
        if c.layer_name not in index:
            raise DeployError(f"change {c.describe()}: the model has no layer '{c.layer_name}'")
        if c.field != "padding":
            by_layer.setdefault(index[c.layer_name], {})[c.field] = c.new
    return _apply(graph, by_layer)


# ----------------------------------------------------------------------------------------------------
# Candidate moves


def _descendants(graph: LayerGraph, i: int) -> set[int]:
    seen = {i}
    stack = [i]
    while stack:
        for e in graph.out_edges(stack.pop()):
            if e.dst != OUTPUT and e.dst not in seen:
                seen.add(e.dst)
                stack.append(e.dst)
    return seen


def _channel_candidates(layer: ChipLayer, chip: ChipSpec) -> list[int]:
    """Smaller out_channels worth trying: powers of two, and the largest count fitting each core."""
    f = layer.out_features
    values = {1 << j for j in range(ceil_log2(f) + 1) if (1 << j) < f}
    _, h, w = layer.out_shape
    k = int(max(layer.weight.shape[-2:]))
    for kernel_cap, neuron_cap, bias_cap in {
        (c.kernel_memory, c.neuron_memory, c.bias_memory) for c in chip.cores
    }:
        for ff in range(f - 1, 0, -1):
            if (
                kernel_memory_words(layer.in_features, ff, k) <= kernel_cap
                and neuron_memory_words(ff, max(w, 1), max(h, 1)) <= neuron_cap
                and (layer.bias is None or ff <= bias_cap)
            ):
                values.add(ff)
                break
    return sorted(values, reverse=True)


def _kernel_candidates(layer: ChipLayer) -> list[int]:
    """Smaller kernels worth trying: the largest of each kernel-memory class ``ceil(log2(k·k))``."""
    best: dict[int, int] = {}
    for k in range(layer.kernel_size - 1, 0, -1):
        best.setdefault(ceil_log2(k * k), k)
    return sorted(best.values(), reverse=True)


def _moves(graph: LayerGraph, chip: ChipSpec, layers: Sequence[int]) -> list[_Move]:
    """Every candidate setting of the given layers: each single-field change and each pair of fields."""
    moves: list[_Move] = []
    for i in layers:
        single = _single_moves(graph, chip, i)
        moves += single
        moves += [
            _Move(i, a.fields + b.fields, a.cost + b.cost)
            for ai, a in enumerate(single)
            for b in single[ai + 1 :]
            if a.fields[0][0] != b.fields[0][0]
        ]
    return sorted(moves, key=lambda m: m.key)


def _single_moves(graph: LayerGraph, chip: ChipSpec, i: int) -> list[_Move]:
    """Single-field candidates of layer ``i``: larger strides/pooling, smaller kernels and channel counts."""
    moves: list[_Move] = []
    layer = graph.layers[i]
    if layer.kind == "conv":
        s = max(layer.stride)
        for ns in sorted(chip.allowed_stride):
            if ns > s or (s not in chip.allowed_stride and ns != s):
                moves.append(_Move(i, (("stride", ns),), STRIDE_COST * abs(math.log2(ns / s))))
        for k in _kernel_candidates(layer):
            moves.append(_Move(i, (("kernel_size", k),), KERNEL_COST + 2 * (1 - k / layer.kernel_size)))
    out = [e for e in graph.out_edges(i) if e.dst != OUTPUT]
    if out and len({e.pooling for e in out}) == 1:
        p = out[0].pooling
        for np_ in sorted(chip.allowed_pooling):
            if np_ > p:
                moves.append(_Move(i, (("pooling", np_),), POOLING_COST * math.log2(np_ / p)))
    # The class count of an exit layer is the model's output: never shrink it. Channels of a layer
    # whose destinations also receive other inputs would shift their feature ranges: not tried.
    sole_source = all(len(graph.in_edges(e.dst)) == 1 and e.feature_shift == 0 for e in out)
    if i not in graph.exit_layers and sole_source:
        for f in _channel_candidates(layer, chip):
            cost = CHANNEL_COST + 4 * (1 - f / layer.out_features)
            moves.append(_Move(i, (("out_channels", f),), cost))
    return moves


def _space_size(moves: Sequence[_Move], max_layers: int) -> int:
    """Number of sets of ≤ ``max_layers`` moves on distinct layers (one setting per layer)."""
    per_layer: dict[int, int] = {}
    for m in moves:
        per_layer[m.layer] = per_layer.get(m.layer, 0) + 1
    counts = [1] + [0] * max_layers  # counts[n]: sets of n moves
    for n_moves in per_layer.values():
        for n in range(max_layers, 0, -1):
            counts[n] += counts[n - 1] * n_moves
    return sum(counts[1:])


def _combinations(moves: Sequence[_Move], n: int) -> Iterator[tuple[int, ...]]:
    """Index sets of ``n`` distinct moves in increasing total cost (lazy, with a heap)."""
    m = len(moves)
    if n > m:
        return
    start = tuple(range(n))
    heap = [(sum(moves[i].cost for i in start), start)]
    seen = {start}
    while heap:
        cost, idx = heapq.heappop(heap)
        yield idx
        for j in range(n):
            limit = idx[j + 1] if j + 1 < n else m
            if idx[j] + 1 < limit:
                nxt = (*idx[:j], idx[j] + 1, *idx[j + 1 :])
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (cost - moves[idx[j]].cost + moves[idx[j] + 1].cost, nxt))


# ----------------------------------------------------------------------------------------------------
# Proof


def _quantize(graph: LayerGraph, chip: ChipSpec, options: CompileOptions) -> QuantizedGraph:
    """Quantise as :func:`deploy.pipeline.check_model` does."""
    from deploy.quantize import quantize

    return quantize(graph, chip, options)


def _plausible(graph: LayerGraph, chip: ChipSpec) -> bool:
    """Cheap necessary conditions (sizes and memory per layer) before the full proof is paid for."""
    lo, hi = chip.kernel_size_range
    for layer in graph.layers:
        if min(layer.in_shape) < 1 or layer.weight.size == 0:
            return False
        _, h, w = layer.out_shape
        _, hi_in, wi_in = layer.in_shape
        if not (1 <= h <= chip.max_output_size and 1 <= w <= chip.max_output_size):
            return False
        if max(hi_in, wi_in) > chip.max_input_size or not lo <= max(layer.weight.shape[-2:]) <= hi:
            return False
        mem = layer_memory(layer)
        if not any(
            mem.kernel <= c.kernel_memory and mem.neuron <= c.neuron_memory and mem.bias <= c.bias_memory
            for c in chip.cores
        ):
            return False
    return True


def _class_count_limit(graph: LayerGraph, chip: ChipSpec) -> str | None:
    """Why an exit layer cannot fit whatever else changes (its class count is fixed), or None."""
    hi = chip.feature_count_range[1]
    bias_cap = max(c.bias_memory for c in chip.cores)
    for i in graph.exit_layers:
        layer = graph.layers[i]
        f = layer.out_features
        if f > hi or (layer.bias is not None and f > bias_cap):
            limit = f"{hi} output features" if f > hi else f"{bias_cap} bias words (one per class)"
            return (
                f"the exit layer '{layer.name}' has {f} classes and a core holds at most {limit}; a joint "
                "fix never changes the class count (split the classifier over several layers)"
            )
    return None


def _prove(
    graph: LayerGraph, chip: ChipSpec, options: CompileOptions
) -> tuple[QuantizedGraph, CheckResult, Placement | None]:
    """Quantise, run every chip rule and, if they pass, place: the same stages as ``check_model``."""
    qgraph = _quantize(graph, chip, options)
    result = check(qgraph, chip, readout=bool(options.readout))
    if not result.ok:
        return qgraph, result, None
    try:
        return qgraph, result, place(result.fit_matrix, chip, options.core_map)
    except DeployError:
        return qgraph, result, None


def find_joint_fix(
    graph: LayerGraph,
    chip: ChipSpec,
    options: CompileOptions | None = None,
    *,
    max_layers: int = 3,
    max_candidates: int = 500,
    time_budget_s: float = 1.0,
) -> JointFix | NoJointFix:
    """Search for one set of changes that makes the whole model fit ``chip``, and prove it.

    Args:
        graph: The model's float layer graph (``ModelCheck.graph``).
        chip: The target chip.
        options: The compiler options of the original check (quantisation rule, core map, readout).
        max_layers: Most layers one fix may touch (at most two fields changed per layer).
        max_candidates: Most candidate models quantised and checked.
        time_budget_s: Wall-clock budget of the search, in seconds.

    Returns:
        The cheapest proven fix (no changes if the model already fits), or why there is none.
    """
    opts = options or CompileOptions()
    t0 = time.perf_counter()
    qgraph, base, placement = _prove(graph, chip, opts)
    if placement is not None:
        return JointFix((), graph, qgraph, base, placement, 1, 1)
    fixed = sorted({v.rule for v in base.violations} & UNFIXABLE_RULES)
    if fixed:
        v = next(v for v in base.violations if v.rule == fixed[0])
        return NoJointFix(
            f"the [{v.rule}] violation ({v.layer}) is not about sizes: no change of stride, pooling, "
            "channels or kernel size repairs it"
        )
    classes = _class_count_limit(graph, chip)
    if classes is not None:
        return NoJointFix(classes)
    index = {layer.name: i for i, layer in enumerate(graph.layers)}
    violating = {index[v.layer] for v in base.violations if v.layer != NETWORK and v.layer in index}
    reach = {i: _descendants(graph, i) for i in range(len(graph.layers))}
    relevant = [i for i in range(len(graph.layers)) if not violating or violating & reach[i]]
    moves = _moves(graph, chip, relevant)
    space = _space_size(moves, max_layers)
    checked = 0
    for n in range(1, max_layers + 1):
        for idx in _combinations(moves, n):
            if checked >= max_candidates or time.perf_counter() - t0 > time_budget_s:
                return NoJointFix(
                    f"search stopped after {checked} candidate models ({time.perf_counter() - t0:.1f} s) "
                    f"of {space} (changes to ≤ {max_layers} layers) without a fix",
                    checked,
                    space,
                )
            chosen = [moves[j] for j in idx]
            touched = {m.layer for m in chosen}
            if len(touched) < n or not violating <= set().union(*(reach[i] for i in touched)):
                continue
            changed = _apply(graph, {m.layer: dict(m.fields) for m in chosen})
            if not _plausible(changed, chip):
                continue
            checked += 1
            try:
                qgraph, result, placed = _prove(changed, chip, opts)
            except DeployError:
                continue
            if placed is not None:
                return JointFix(
                    _layer_changes(graph, changed, chosen), changed, qgraph, result, placed, checked, space
                )
    return NoJointFix(
        f"search space exhausted: none of the {space} candidate models (stride, pooling, out_channels or "
        f"kernel size changed on ≤ {max_layers} layers; exit layers keep their class count) fits "
        f"{chip.name} ({checked} passed the size and memory pre-check and failed the full check)",
        checked,
        space,
        exhausted=True,
    )


def format_joint_fix(fix: JointFix | NoJointFix, chip: ChipSpec) -> str:
    """The lines ``deploy-model check`` prints before the per-layer violations."""
    if isinstance(fix, NoJointFix):
        return f"no joint fix: {fix.reason}"
    n = sum(c.field != "padding" for c in fix.changes)
    cores = ", ".join(str(c) for c in fix.placement.core_of)
    head = "one change makes" if n == 1 else f"{n} changes make"
    lines = [
        f"{head} the whole model fit {chip.name} (checked: every rule passes and the layers place on cores "
        f"{cores}; retrain with the changed architecture):"
    ]
    lines += [
        f"  {c.describe()}" + (" (goes with the smaller kernel)" if c.field == "padding" else "")
        for c in fix.changes
    ]
    return "\n".join(lines)
