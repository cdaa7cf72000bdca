"""Constraint checker: every rule of SPECK_SEMANTICS §7.3 that applies to a :class:`QuantizedGraph`.

The rules are small named functions listed in :data:`RULES` (rockpool's ``xylo_drc`` idea), but unlike a
check that stops at the first problem, :func:`check` runs them all and collects every finding.
:func:`raise_on_violations` then raises one :class:`~deploy.errors.ChipConstraintError` listing all of them.

Every finding names the layer by its torch module path, the measured value, the limit, and a fix computed
from the numbers (e.g. the largest ``out_channels`` that fits the largest core, solved by
:mod:`deploy.memory` from the §7.1 memory formulas). Findings that are legal but risky are
:class:`CheckWarning` s and never stop compilation.

Every chip rule is decided here, before placement, including the readout's (with ``readout=True`` the fit
matrix sizes the exit layer as emit expands it for the class erratum): a graph that passes :func:`check` and
is placed from its fit matrix always emits (tests/unit/test_check_emit_agreement.py).

Rules that depend on the core assignment (the leak erratum of cores 0/1) live in
:data:`POST_PLACEMENT_RULES` and run from :func:`check_placement`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from deploy.errors import ChipConstraintError
from deploy.graph import OUTPUT, Placement, QuantizedGraph, QuantizedLayer, conv_out_shape
from deploy.memory import (
    FitMatrix,
    describe,
    fit_matrix,
    max_features_fitting,
    max_kernel_fitting,
    min_stride_fitting,
)

# Re-exported for callers written before deploy.memory existed (issue #11); new code imports deploy.memory.
from deploy.memory import LayerMemory as LayerMemory
from deploy.memory import layer_memory as layer_memory
from hwconfig.spec import ChipSpec

NETWORK = "(network)"
"""The ``layer`` of findings about the whole network rather than one layer."""


@dataclass(frozen=True)
class _Finding:
    """Fields shared by :class:`Violation` and :class:`CheckWarning` (a finding of one rule).

    Attributes:
        rule: Name of the rule in :data:`RULES` (e.g. ``"memory_fit"``).
        layer: Torch module path of the offending layer (:data:`NETWORK` for whole-network rules).
        measured: The measured value (words, size, count, ...).
        limit: The chip's limit for that value.
        fix: A concrete change computed from the numbers.
        message: One line with all of the above, as shown to the user.
    """

    rule: str
    layer: str
    measured: int | str
    limit: int | str
    fix: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Violation(_Finding):
    """A broken chip rule: the model cannot run as it is (fields: see :class:`_Finding`)."""


@dataclass(frozen=True)
class CheckWarning(_Finding):
    """A legal but risky construct (spike loss, overflow risk, erratum); same fields as :class:`Violation`."""


Warning = CheckWarning
"""Alias: the design calls it ``Warning``; prefer ``CheckWarning`` (it does not shadow the builtin)."""
Finding = Violation | CheckWarning


def _finding(
    kind: type[Finding], rule: str, layer: str, detail: str, measured: int | str, limit: int | str, fix: str
) -> Finding:
    where = f"layer '{layer}'" if layer != NETWORK else "network"
    message = f"[{rule}] {where}: {detail}; fix: {fix}" if fix else f"[{rule}] {where}: {detail}"
    return kind(rule=rule, layer=layer, measured=measured, limit=limit, fix=fix, message=message)


def _violation(
    rule: str, layer: str, detail: str, measured: int | str, limit: int | str, fix: str
) -> Finding:
    return _finding(Violation, rule, layer, detail, measured, limit, fix)


def _warning(rule: str, layer: str, detail: str, measured: int | str, limit: int | str, fix: str) -> Finding:
    return _finding(CheckWarning, rule, layer, detail, measured, limit, fix)


# ----------------------------------------------------------------------------------------------------
# Result


@dataclass(frozen=True)
class CheckResult:
    """What :func:`check` found.

    Attributes:
        violations: Every broken rule, in rule order then layer order.
        warnings: Every risky construct.
        fit_matrix: Memory of every layer against every core.
    """

    violations: tuple[Violation, ...]
    warnings: tuple[CheckWarning, ...]
    fit_matrix: FitMatrix

    @property
    def ok(self) -> bool:
        return not self.violations


# ----------------------------------------------------------------------------------------------------
# Rules. Each takes (qgraph, chip, fit) and yields findings.

Rule = Callable[[QuantizedGraph, ChipSpec, FitMatrix], Iterator[Finding]]


def rule_layer_count(qgraph: QuantizedGraph, chip: ChipSpec, fit: FitMatrix) -> Iterator[Finding]:
    """At most one chip layer (conv + IAF) per core (§7.3 rule 1)."""
    n = len(qgraph.layers)
    if n > chip.n_cores:
        extra = [q.name for q in qgraph.layers[chip.n_cores :]]
        yield _violation(
            "layer_count",
            NETWORK,
            f"{n} spiking layers (conv/Linear + IAF) but {chip.name} has {chip.n_cores} cores; "
            f"layers beyond the {chip.n_cores}th: {', '.join(repr(e) for e in extra)}",
            n,
            chip.n_cores,
            f"remove or merge {n - chip.n_cores} spiking layer(s) so that at most {chip.n_cores} remain",
        )


def rule_memory_fit(qgraph: QuantizedGraph, chip: ChipSpec, fit: FitMatrix) -> Iterator[Finding]:
    """Every layer fits the kernel, neuron and bias memories of at least one core (§7.1, §7.3 rule 1)."""
    max_k = max(fit.kernel_capacity)
    max_n = max(fit.neuron_capacity)
    max_b = max(fit.bias_capacity)
    exits = set(qgraph.graph.exit_layers)
    for i, q in enumerate(qgraph.layers):
        if any(fit.fits[i]):
            continue
        mem = fit.memory[i]
        k_cores = [c.core_id for c in chip.cores if mem.kernel <= c.kernel_memory]
        n_cores = [c.core_id for c in chip.cores if mem.neuron <= c.neuron_memory]
        parts = []
        if mem.kernel > max_k:
            parts.append(f"kernel memory {mem.kernel} words > {max_k} (largest kernel memory of any core)")
        if mem.neuron > max_n:
            parts.append(f"neuron memory {mem.neuron} words > {max_n} (largest neuron memory of any core)")
        if mem.bias > max_b:
            parts.append(f"bias memory {mem.bias} words > {max_b}")
        if not parts:
            parts.append(
                f"kernel memory {mem.kernel} words fits only cores {k_cores} and neuron memory {mem.neuron} "
                f"words fits only cores {n_cores}: no core holds both"
            )
        expansion = fit.readout_expansion
        emitted = expansion[1] if expansion is not None and expansion[0] == i else None
        expanded = emitted is not None
        if expanded:
            parts.append(
                f"sized as emitted for the readout erratum: {q.source.out_features} classes expanded to "
                f"{emitted} channels"
            )
        fixes = []
        best = max_features_fitting(q.source, chip, readout=expanded)
        if best is not None and best[0] < q.source.out_features and i not in exits:  # classes stay
            fixes.append(
                f"reduce out_channels from {q.source.out_features} to ≤ {best[0]} (fits core {best[1]})"
            )
        if mem.kernel > max_k or not n_cores or not k_cores:
            kk = max_kernel_fitting(q.source, chip, emitted)
            if mem.kernel > max_k and kk is not None:
                fixes.append(f"use kernel_size ≤ {kk}")
        if mem.neuron > max_n or (k_cores and not set(k_cores) & set(n_cores)):
            st = min_stride_fitting(q.source, chip, emitted)
            if st is not None:
                fixes.append(f"use stride {st[0]} (neuron memory {st[1]} words)")
        fallback = (
            "its out_channels are the class count: reduce its input channels, kernel size or map (stride "
            "or pooling in an earlier layer)"
            if i in exits
            else "reduce the layer's channels, kernel size or output map"
        )
        fix = " or ".join(fixes) if fixes else fallback
        measured = f"kernel {mem.kernel}, neuron {mem.neuron}, bias {mem.bias}"
        limit = f"kernel {max_k}, neuron {max_n}, bias {max_b} (per core, see the fit matrix)"
        yield _violation(
            "memory_fit", q.name, f"({describe(q.source)}) " + "; ".join(parts), measured, limit, fix
        )


def rule_kernel_size(qgraph: QuantizedGraph, chip: ChipSpec, fit: FitMatrix) -> Iterator[Finding]:
    """Kernels are square and 1..16 (§7.2)."""
    lo, hi = chip.kernel_size_range
    for q in qgraph.layers:
        kh, kw = (int(v) for v in q.weight.shape[-2:])
        layer = q.source
        if kh != kw:
            if layer.kind == "linear":
                fix = (
                    f"the Linear layer sees a {kh}×{kw} (H×W) map; make the map square before it "
                    f"(crop or pool to {min(kh, kw)}×{min(kh, kw)})"
                )
            else:
                fix = f"use a square kernel, e.g. kernel_size={max(kh, kw)} (with padding) or {min(kh, kw)}"
            yield _violation(
                "kernel_size",
                q.name,
                f"({describe(layer)}) non-square kernel {kh}×{kw}; the chip only has square kernels",
                f"{kh}×{kw}",
                "square",
                fix,
            )
        k = max(kh, kw)
        if not lo <= k <= hi:
            if layer.kind == "linear" and k > hi:
                p = next((p for p in sorted(chip.allowed_pooling) if -(-k // p) <= hi), None)
                fix = (
                    f"the Linear layer sees a {kh}×{kw} map; pool by {p} before it (kernel {k // p})"
                    if p
                    else f"reduce the map before the Linear layer to ≤ {hi}×{hi}"
                )
            else:
                fix = f"use kernel_size in {lo}..{hi}"
            yield _violation(
                "kernel_size",
                q.name,
                f"({describe(layer)}) kernel size {k} outside {lo}..{hi}",
                k,
                f"{lo}..{hi}",
                fix,
            )


def _nearest(value: int, allowed: frozenset[int]) -> int:
    return min(sorted(allowed), key=lambda a: (abs(a - value), a))


def rule_stride(qgraph: QuantizedGraph, chip: ChipSpec, fit: FitMatrix) -> Iterator[Finding]:
    """Stride per axis in {1, 2, 4, 8} (§7.2); both axes are checked (sinabs's check passes if either is)."""
    allowed = sorted(chip.allowed_stride)
    for q in qgraph.layers:
        for axis, s in zip(("y", "x"), q.source.stride, strict=True):
            if s not in chip.allowed_stride:
                yield _violation(
                    "stride",
                    q.name,
                    f"({describe(q.source)}) stride {axis}={s} not in {allowed}",
                    s,
                    str(allowed),
                    f"use stride {_nearest(s, chip.allowed_stride)} on {axis}",
                )


def rule_padding(qgraph: QuantizedGraph, chip: ChipSpec, fit: FitMatrix) -> Iterator[Finding]:
    """Padding per axis 0..7 (§7.2)."""
    lo, hi = chip.padding_range
    for q in qgraph.layers:
        for axis, p in zip(("y", "x"), q.source.padding, strict=True):
            if not lo <= p <= hi:
                yield _violation(
                    "padding",
                    q.name,
                    f"({describe(q.source)}) padding {axis}={p} outside {lo}..{hi}",
                    p,
                    f"{lo}..{hi}",
                    f"use padding ≤ {hi} on {axis} (e.g. a smaller kernel: padding {p} suits k={2 * p + 1})",
                )


def rule_features(qgraph: QuantizedGraph, chip: ChipSpec, fit: FitMatrix) -> Iterator[Finding]:
    """Input and output feature counts 1..1024 (§7.2)."""
    lo, hi = chip.feature_count_range
    for q in qgraph.layers:
        for what, n in (("input features", q.source.in_features), ("output features", q.source.out_features)):
            if not lo <= n <= hi:
                yield _violation(
                    "features",
                    q.name,
                    f"({describe(q.source)}) {what} {n} outside {lo}..{hi}",
                    n,
                    f"{lo}..{hi}",
                    f"use ≤ {hi} {what} (split the layer in {-(-n // hi)} parts)",
                )


def rule_input_map(qgraph: QuantizedGraph, chip: ChipSpec, fit: FitMatrix) -> Iterator[Finding]:
    """Input map ≤ 128×128 (event x/y are 7 bit, §7.2)."""
    lim = chip.max_input_size
    for q in qgraph.layers:
        _, h, w = q.source.in_shape
        if h > lim or w > lim:
            big = max(h, w)
            p = next((p for p in sorted(chip.allowed_pooling) if big // p <= lim), None)
            fix = (
                f"pool the input by {p} (map {h // p}×{w // p})"
                if p
                else f"reduce the input map to ≤ {lim}×{lim}"
            )
            yield _violation(
                "input_map",
                q.name,
                f"({describe(q.source)}) input map {h}×{w} (H×W) > {lim}×{lim}",
                f"{h}×{w}",
                f"{lim}×{lim}",
                fix,
            )


def rule_output_map(qgraph: QuantizedGraph, chip: ChipSpec, fit: FitMatrix) -> Iterator[Finding]:
    """Output map 1..64 per axis (OFSX/OFSY are 6 bit, §7.2)."""
    lim = chip.max_output_size
    for q in qgraph.layers:
        layer = q.source
        _, h, w = layer.out_shape
        if h < 1 or w < 1:
            yield _violation(
                "output_map",
                q.name,
                f"({describe(layer)}) output map {h}×{w} is empty (kernel {layer.kernel_size} larger "
                f"than the "
                f"padded input {layer.in_shape[1]}×{layer.in_shape[2]})",
                f"{h}×{w}",
                "≥ 1×1",
                "use a smaller kernel or more padding",
            )
            continue
        if h <= lim and w <= lim:
            continue
        fixes = []
        for s in sorted(chip.allowed_stride):
            _, hs, ws = conv_out_shape(
                layer.in_shape, layer.out_features, layer.kernel_size, (s, s), layer.padding
            )
            if s > max(layer.stride) and 1 <= hs <= lim and 1 <= ws <= lim:
                fixes.append(f"use stride {s} (output {hs}×{ws})")
                break
        for p in sorted(chip.allowed_pooling):
            if p == 1:
                continue
            c, hi, wi = layer.in_shape
            _, hp, wp = conv_out_shape(
                (c, hi // p, wi // p), layer.out_features, layer.kernel_size, layer.stride, layer.padding
            )
            if 1 <= hp <= lim and 1 <= wp <= lim:
                fixes.append(f"pool the input by {p} (output {hp}×{wp})")
                break
        yield _violation(
            "output_map",
            q.name,
            f"({describe(layer)}) output map {h}×{w} (H×W) > {lim}×{lim}",
            f"{h}×{w}",
            f"{lim}×{lim}",
            " or ".join(fixes) if fixes else f"reduce the output map to ≤ {lim}×{lim}",
        )


def rule_pooling(qgraph: QuantizedGraph, chip: ChipSpec, fit: FitMatrix) -> Iterator[Finding]:
    """Sum pooling on a destination in {1, 2, 4} (§4.3, §7.2)."""
    allowed = sorted(chip.allowed_pooling)
    for e in qgraph.edges:
        if e.dst == OUTPUT or e.pooling in chip.allowed_pooling:
            continue
        src = qgraph.layers[e.src]
        dst = qgraph.layers[e.dst].name if 0 <= e.dst < len(qgraph.layers) else str(e.dst)
        modules = f" (from {', '.join(e.pool_modules)})" if e.pool_modules else ""
        fix = (
            f"use pooling {max(a for a in allowed if e.pooling % a == 0)} and stride "
            f"{e.pooling // max(a for a in allowed if e.pooling % a == 0)} in '{dst}'"
            if any(e.pooling % a == 0 for a in allowed if a > 1)
            else f"use pooling in {allowed}"
        )
        yield _violation(
            "pooling",
            src.name,
            f"pooling {e.pooling}{modules} towards '{dst}' not in {allowed}",
            e.pooling,
            str(allowed),
            fix,
        )


def rule_destinations(qgraph: QuantizedGraph, chip: ChipSpec, fit: FitMatrix) -> Iterator[Finding]:
    """At most 2 destination layers per layer (§4.3); no self-loops; targets exist (§7.3 rule 6)."""
    n = len(qgraph.layers)
    for i, q in enumerate(qgraph.layers):
        dsts = [e.dst for e in qgraph.edges if e.src == i and e.dst != OUTPUT]
        bad = [d for d in dsts if not 0 <= d < n]
        if bad:
            yield _violation(
                "destinations",
                q.name,
                f"edges to unknown layers {bad}",
                str(bad),
                f"0..{n - 1}",
                "fix the graph",
            )
        if i in dsts:
            yield _violation(
                "destinations",
                q.name,
                "sends its spikes to itself (self-loop)",
                "self-loop",
                "no self-loops",
                "remove the recurrent connection",
            )
        if len(dsts) > chip.max_destinations:
            names = ", ".join(repr(qgraph.layers[d].name) for d in dsts if 0 <= d < n)
            yield _violation(
                "destinations",
                q.name,
                f"feeds {len(dsts)} layers ({names}) but a core has "
                f"{chip.max_destinations} destination slots",
                len(dsts),
                chip.max_destinations,
                f"feed at most {chip.max_destinations} layers from it, e.g. insert a 1×1 identity layer that "
                f"fans out to the remaining {len(dsts) - chip.max_destinations + 1}",
            )


def rule_destination_shape(qgraph: QuantizedGraph, chip: ChipSpec, fit: FitMatrix) -> Iterator[Finding]:
    """A destination's input size equals the pooled source output; features fit after the shift (§4.6)."""
    n = len(qgraph.layers)
    for e in qgraph.edges:
        if e.dst == OUTPUT or not 0 <= e.dst < n or not 0 <= e.src < n or e.pooling < 1:
            continue
        src, dst = qgraph.layers[e.src], qgraph.layers[e.dst]
        f, h, w = src.source.out_shape
        ph, pw = h // e.pooling, w // e.pooling
        c, hd, wd = dst.source.in_shape
        if (ph, pw) != (hd, wd):
            yield _violation(
                "destination_shape",
                src.name,
                f"output {h}×{w} pooled by {e.pooling} is {ph}×{pw} but '{dst.name}' expects {hd}×{wd} (H×W)",
                f"{ph}×{pw}",
                f"{hd}×{wd}",
                f"make the input of '{dst.name}' {ph}×{pw} or change the pooling",
            )
        if e.feature_shift + f > c:
            yield _violation(
                "destination_shape",
                src.name,
                f"{f} features + feature_shift {e.feature_shift} exceed the {c} input features "
                f"of '{dst.name}'",
                e.feature_shift + f,
                c,
                f"give '{dst.name}' {e.feature_shift + f} input features",
            )


def rule_pooling_divisibility(qgraph: QuantizedGraph, chip: ChipSpec, fit: FitMatrix) -> Iterator[Finding]:
    """Warn when a pooled map does not divide evenly (torch drops the edge; chip behaviour unknown)."""
    for e in qgraph.edges:
        if e.dst == OUTPUT or e.pooling <= 1 or not 0 <= e.src < len(qgraph.layers):
            continue
        src = qgraph.layers[e.src]
        _, h, w = src.source.out_shape
        if h % e.pooling or w % e.pooling:
            yield _warning(
                "pooling_divisibility",
                src.name,
                f"output {h}×{w} is not divisible by pooling {e.pooling}: the last {h % e.pooling} row(s) / "
                f"{w % e.pooling} column(s) map outside the destination (chip behaviour undocumented, §4.6)",
                f"{h}×{w}",
                f"multiple of {e.pooling}",
                f"make the output a multiple of {e.pooling} (e.g. {h - h % e.pooling}×{w - w % e.pooling})",
            )


def rule_merge(qgraph: QuantizedGraph, chip: ChipSpec, fit: FitMatrix) -> Iterator[Finding]:
    """Warn when sources write partly overlapping feature ranges of one layer (summed there, §4.5).

    Sources covering the *same* range are a residual sum, the intended use of a merge, and get no warning;
    ranges that overlap only in part are usually a concatenation whose offset (``torch.cat``) went wrong.
    """
    for j, dst in enumerate(qgraph.layers):
        ranges = [
            (
                e.feature_shift,
                e.feature_shift + qgraph.layers[e.src].source.out_features,
                qgraph.layers[e.src].name,
            )
            for e in qgraph.edges
            if e.dst == j and 0 <= e.src < len(qgraph.layers)
        ]
        for a in range(len(ranges)):
            for b in range(a + 1, len(ranges)):
                (a0, a1, an), (b0, b1, bn) = ranges[a], ranges[b]
                if a0 < b1 and b0 < a1 and (a0, a1) != (b0, b1):
                    yield _warning(
                        "merge",
                        dst.name,
                        f"inputs from '{an}' (features {a0}..{a1 - 1}) and '{bn}' (features {b0}..{b1 - 1}) "
                        "overlap in part and are summed where they overlap",
                        f"{a0}..{a1 - 1} / {b0}..{b1 - 1}",
                        "equal (a residual sum) or disjoint (a concatenation)",
                        "to concatenate, join the branches with torch.cat([a, b], dim=1); to add them, "
                        "give both the same channels",
                    )


def _fitting_scale(vmin: int, vmax: int, lo: int, hi: int) -> float:
    """Largest factor by which values in [vmin, vmax] can be scaled to fit [lo, hi]."""
    up = hi / vmax if vmax > 0 else float("inf")
    down = lo / vmin if vmin < 0 else float("inf")
    return min(up, down)


def _range_finding(
    rule: str, q: QuantizedLayer, what: str, arr: np.ndarray, lo: int, hi: int
) -> Iterator[Finding]:
    if arr.size == 0:
        return
    vmin, vmax = int(arr.min()), int(arr.max())
    if vmin < lo or vmax > hi:
        bad = int(np.count_nonzero((arr < lo) | (arr > hi)))
        yield _violation(
            rule,
            q.name,
            f"({describe(q.source)}) {what} range [{vmin}, {vmax}] outside [{lo}, {hi}] ({bad} value(s))",
            f"[{vmin}, {vmax}]",
            f"[{lo}, {hi}]",
            f"quantise {what} to [{lo}, {hi}] (re-run quantize; a scale ≤ "
            f"{_fitting_scale(vmin, vmax, lo, hi):.3g}× the current one fits)",
        )


def _clipping_findings(q: QuantizedLayer, chip: ChipSpec) -> Iterator[Finding]:
    """Warn for every kind of value quantisation clipped to its word (counts in ``q.stats``, §2.1)."""
    s = q.stats
    arrays = (
        ("weights", s.clipped_weights, q.weight.size, chip.weight_range, "weight"),
        ("biases", s.clipped_biases, q.bias.size, chip.bias_range, "bias"),
        ("initial states", s.clipped_states, q.initial_state.size, chip.state_range, "state"),
    )
    for what, clipped, total, (lo, hi), word in arrays:
        if clipped:
            yield _warning(
                "clipping",
                q.name,
                f"({describe(q.source)}) {clipped} of {total} {what} rounded outside the {word} word "
                f"[{lo}, {hi}] at scale {s.scale:.6g} and were clipped: the chip computes with other values "
                "than the trained ones",
                clipped,
                0,
                f"bring the {what} into the range of the other quantities of the layer (their largest "
                "magnitude sets the scale), or quantise with sample input (--quantization calibrated)",
            )
    if s.clipped_thresholds:
        (hlo, hhi), (llo, lhi) = chip.threshold_high_range, chip.threshold_low_range
        yield _warning(
            "clipping",
            q.name,
            f"({describe(q.source)}) {s.clipped_thresholds} threshold(s) rounded outside their registers "
            f"(threshold_high [{hlo}, {hhi}], threshold_low [{llo}, {lhi}]) and were clipped to "
            f"{q.threshold_high} / {q.threshold_low}",
            s.clipped_thresholds,
            0,
            "use a positive spike threshold and a negative min_v_mem (threshold_low 0 is a chip bug)",
        )


def rule_word_ranges(qgraph: QuantizedGraph, chip: ChipSpec, fit: FitMatrix) -> Iterator[Finding]:
    """Weights, biases and states in the chip's words, thresholds in their register ranges (§2.1).

    Integers outside their word are violations (a graph quantised elsewhere); values that
    :func:`deploy.quantize.quantize` had to clip into the word are ``clipping`` warnings.
    """
    for q in qgraph.layers:
        yield from _clipping_findings(q, chip)
        yield from _range_finding("weight_range", q, "weights", q.weight, *chip.weight_range)
        yield from _range_finding("bias_range", q, "biases", q.bias, *chip.bias_range)
        yield from _range_finding("state_range", q, "initial states", q.initial_state, *chip.state_range)
        for what, value, (lo, hi) in (
            ("threshold_high", q.threshold_high, chip.threshold_high_range),
            ("threshold_low", q.threshold_low, chip.threshold_low_range),
        ):
            if not lo <= value <= hi:
                fix = (
                    "use a negative min_v_mem (threshold_low 0 is a documented chip bug)"
                    if what == "threshold_low" and value >= 0
                    else f"quantise {what} into [{lo}, {hi}]"
                )
                yield _violation(
                    "threshold_range",
                    q.name,
                    f"({describe(q.source)}) {what} {value} outside [{lo}, {hi}]",
                    value,
                    f"[{lo}, {hi}]",
                    fix,
                )


def rule_dvs(qgraph: QuantizedGraph, chip: ChipSpec, fit: FitMatrix) -> Iterator[Finding]:
    """DVS layer: ≤ 2 input channels, ≤ 2 destinations, pooling in {1, 2, 4}, sizes match (§5, §9.3)."""
    dvs = qgraph.graph.dvs
    if dvs is None:
        return
    name = dvs.module_path or "dvs"
    if not chip.has_dvs:
        yield _violation(
            "dvs", name, f"{chip.name} has no DVS layer", "DVS input", "none", "feed the cores directly"
        )
        return
    c, h, w = dvs.input_shape
    if c > chip.dvs_max_input_channels:
        yield _violation(
            "dvs",
            name,
            f"DVS input has {c} channels; the DVS layer takes ≤ {chip.dvs_max_input_channels} "
            "(ON/OFF polarity)",
            c,
            chip.dvs_max_input_channels,
            "feed a 2-polarity (or merged 1-channel) event stream",
        )
    dh, dw = chip.dvs_size
    if h > dh or w > dw:
        yield _violation(
            "dvs",
            name,
            f"DVS input {h}×{w} larger than the sensor {dh}×{dw}",
            f"{h}×{w}",
            f"{dh}×{dw}",
            f"use an input of ≤ {dh}×{dw}",
        )
    for axis, p in zip(("y", "x"), dvs.pooling, strict=True):
        if p not in chip.dvs_allowed_pooling:
            yield _violation(
                "dvs",
                name,
                f"DVS pooling {axis}={p} not in {sorted(chip.dvs_allowed_pooling)}",
                p,
                str(sorted(chip.dvs_allowed_pooling)),
                f"use DVS pooling {_nearest(p, chip.dvs_allowed_pooling)} and move the rest into the "
                "first layer",
            )
    if len(dvs.destinations) > chip.max_destinations:
        yield _violation(
            "dvs",
            name,
            f"DVS layer feeds {len(dvs.destinations)} layers; it has {chip.max_destinations} "
            "destination slots",
            len(dvs.destinations),
            chip.max_destinations,
            f"feed at most {chip.max_destinations} layers from the DVS input",
        )
    oc, oh, ow = dvs.output_shape
    for d in dvs.destinations:
        if not 0 <= d < len(qgraph.layers):
            continue
        q = qgraph.layers[d]
        if q.source.in_shape != (oc, oh, ow):
            yield _violation(
                "dvs",
                name,
                f"DVS output {oc}×{oh}×{ow} (C×H×W) but '{q.name}' expects "
                f"{'×'.join(map(str, q.source.in_shape))}",
                f"{oc}×{oh}×{ow}",
                "×".join(map(str, q.source.in_shape)),
                "make the DVS merge/pooling/crop produce the first layer's input shape",
            )


def rule_spike_loss(qgraph: QuantizedGraph, chip: ChipSpec, fit: FitMatrix) -> Iterator[Finding]:
    """Warn when a weight exceeds threshold_high: the chip fires at most once per input event (§2.2)."""
    for q in qgraph.layers:
        wmax = int(q.weight.max()) if q.weight.size else 0
        if wmax > q.threshold_high:
            yield _warning(
                "spike_loss",
                q.name,
                f"({describe(q.source)}) max weight {wmax} > threshold_high {q.threshold_high}: "
                "one input event "
                # From just below threshold (v = threshold_high − 1), v + w crosses it (v + w) // threshold
                # times in sinabs's MultiSpike: at least 2 whenever w > threshold.
                f"can cross the threshold up to {(q.threshold_high - 1 + wmax) // max(q.threshold_high, 1)} "
                "times but the chip fires once",
                wmax,
                q.threshold_high,
                f"train with weights ≤ threshold (scale weights by ≤ {q.threshold_high / wmax:.3g})",
            )


def rule_overflow(qgraph: QuantizedGraph, chip: ChipSpec, fit: FitMatrix) -> Iterator[Finding]:
    """Warn on 16-bit state overflow risk: ``threshold_high + max(W⁺) > 32767`` (§2.3)."""
    _lo, hi = chip.state_range
    for q in qgraph.layers:
        wpos = max(int(q.weight.max()) if q.weight.size else 0, 0)
        bpos = max(int(q.bias.max()) if q.bias.size else 0, 0)
        top = q.threshold_high + max(wpos, bpos)
        if top > hi:
            yield _warning(
                "overflow",
                q.name,
                f"({describe(q.source)}) threshold_high {q.threshold_high} + max positive weight/bias "
                f"{max(wpos, bpos)} = {top} > {hi}: the 16-bit state can overflow",
                top,
                hi,
                f"lower threshold_high to ≤ {hi - max(wpos, bpos)} "
                "(smaller threshold relative to the weights)",
            )


def rule_leak(qgraph: QuantizedGraph, chip: ChipSpec, fit: FitMatrix) -> Iterator[Finding]:
    """Warn that a bias becomes a leak applied per slow-clock tick, not per time step (§2.4, §10.3)."""
    for q in qgraph.layers:
        if q.has_bias:
            nz = int(np.count_nonzero(q.bias))
            yield _warning(
                "leak",
                q.name,
                f"({describe(q.source)}) {nz} non-zero bias(es) → leak_enable: the bias is added once per "
                "slow-clock period (needs a slow clock) and every tick sweeps all neurons",
                nz,
                0,
                "train without bias (bias=False, no BatchNorm) if time-step bias semantics matter",
            )


def rule_readout(qgraph: QuantizedGraph, chip: ChipSpec, fit: FitMatrix) -> Iterator[Finding]:
    """Readout (§6), only with ``readout=True``: one exit layer, < 15 classes, a 1×1 map, a free destination
    slot for layer 12, and the 2e/2f class-mapping erratum: the expanded exit layer feeds no other layer (its
    size is checked by the fit matrix)."""
    exits = qgraph.graph.exit_layers
    if not chip.has_readout:
        yield _violation(
            "readout",
            NETWORK,
            f"{chip.name} has no readout layer",
            "readout",
            "none",
            "drop --readout (Python: readout=False) and read the exit layer's spikes",
        )
        return
    if len(exits) != 1:
        yield _violation(
            "readout",
            NETWORK,
            f"the readout needs exactly one output layer, the model has {len(exits)}",
            len(exits),
            1,
            "end the model in one spiking layer",
        )
        return
    i = exits[0]
    q = qgraph.layers[i]
    n = q.source.out_features
    if n >= chip.readout_max_classes:
        yield _violation(
            "readout",
            q.name,
            f"{n} classes; the readout layer supports < {chip.readout_max_classes}",
            n,
            chip.readout_max_classes - 1,
            f"use ≤ {chip.readout_max_classes - 1} classes or read the spikes of '{q.name}' directly",
        )
    _, h, w = q.source.out_shape
    if (h, w) != (1, 1):
        yield _violation(
            "readout",
            q.name,
            f"outputs a {h}×{w} map; the 1x1y16f readout mode needs 1×1",
            f"{h}×{w}",
            "1×1",
            "end the model in a Linear layer (or pool the map to 1×1)",
        )
    dsts = [e.dst for e in qgraph.edges if e.src == i and e.dst != OUTPUT]
    if len(dsts) + 1 > chip.max_destinations >= len(dsts):
        yield _violation(
            "readout",
            q.name,
            f"feeds {len(dsts)} layer(s) and the readout would be destination {len(dsts) + 1}; a core has "
            f"{chip.max_destinations} destination slots",
            len(dsts) + 1,
            chip.max_destinations,
            f"free a destination slot of '{q.name}' (feed at most {chip.max_destinations - 1} other layers)",
        )
    if chip.readout_class_erratum and dsts:
        f = chip.readout_features(n)
        names = ", ".join(repr(qgraph.layers[d].name) for d in dsts if 0 <= d < len(qgraph.layers))
        yield _violation(
            "readout",
            q.name,
            f"{chip.name} readout erratum: the exit layer is expanded from {n} to {f} channels (class i at "
            f"channel 4·i), but it also feeds {names}, which would receive the expanded channels",
            f"{len(dsts)} other destination(s)",
            0,
            f"read the readout from a layer that feeds no other layer (e.g. a separate Linear exit after "
            f"'{q.name}')",
        )
    if chip.readout_class_erratum:
        f = chip.readout_features(n)
        yield _warning(
            "readout",
            q.name,
            f"{chip.name} readout erratum: class i is read from channel 4·i, so the exit layer is expanded "
            f"from {n} to {f} channels",
            n,
            f,
            "nothing to do: emit expands the layer and the fit matrix sizes it expanded",
        )


RULES: tuple[tuple[str, Rule], ...] = (
    ("layer_count", rule_layer_count),
    ("memory_fit", rule_memory_fit),
    ("kernel_size", rule_kernel_size),
    ("stride", rule_stride),
    ("padding", rule_padding),
    ("features", rule_features),
    ("input_map", rule_input_map),
    ("output_map", rule_output_map),
    ("pooling", rule_pooling),
    ("destinations", rule_destinations),
    ("destination_shape", rule_destination_shape),
    ("pooling_divisibility", rule_pooling_divisibility),
    ("merge", rule_merge),
    ("word_ranges", rule_word_ranges),
    ("dvs", rule_dvs),
    ("spike_loss", rule_spike_loss),
    ("overflow", rule_overflow),
    ("leak", rule_leak),
)
"""Every pre-placement rule, run in this order by :func:`check`."""

READOUT_RULES: tuple[tuple[str, Rule], ...] = (("readout", rule_readout),)
"""Rules that apply only when the readout layer is used."""


def _split(findings: Sequence[Finding]) -> tuple[tuple[Violation, ...], tuple[CheckWarning, ...]]:
    return (
        tuple(f for f in findings if isinstance(f, Violation)),
        tuple(f for f in findings if isinstance(f, CheckWarning)),
    )


def check(qgraph: QuantizedGraph, chip: ChipSpec, *, readout: bool = False) -> CheckResult:
    """Run every rule of :data:`RULES` (and :data:`READOUT_RULES` with ``readout``) and collect all findings.

    Args:
        qgraph: The quantised model.
        chip: The target chip.
        readout: Also check the readout layer's rules (:func:`rule_readout`) and size the exit layer in the
            fit matrix as emitted (expanded for the class erratum), so placement picks a core it fits.

    Returns:
        Every violation and warning, and the fit matrix.
    """
    fit = fit_matrix(qgraph, chip, readout=readout)
    rules = RULES + (READOUT_RULES if readout else ())
    findings = [f for _, rule in rules for f in rule(qgraph, chip, fit)]
    violations, warnings = _split(findings)
    return CheckResult(violations=violations, warnings=warnings, fit_matrix=fit)


def raise_on_violations(result: CheckResult) -> None:
    """Raise one :class:`ChipConstraintError` listing every violation of ``result`` (nothing if none).

    Raises:
        ChipConstraintError: with ``violations`` = ``result.violations``.
    """
    if result.violations:
        raise ChipConstraintError(result.violations)


# ----------------------------------------------------------------------------------------------------
# Post-placement rules

PlacementRule = Callable[[QuantizedGraph, ChipSpec, Placement], Iterator[Finding]]


def rule_leak_erratum(qgraph: QuantizedGraph, chip: ChipSpec, placement: Placement) -> Iterator[Finding]:
    """Warn when a leak-enabled layer sits on a core with the leak erratum (cores 0/1, §2.4 DS-bug)."""
    erratum = {c.core_id for c in chip.cores if c.leak_erratum}
    used = set(placement.core_of)
    free = [c for c in chip.core_ids if c not in used and c not in erratum]
    for q, core in zip(qgraph.layers, placement.core_of, strict=True):
        if q.has_bias and core in erratum:
            yield _warning(
                "leak_erratum",
                q.name,
                f"leak-enabled layer on core {core}: the datasheet lists leak on cores "
                f"{sorted(erratum)} as unusable (a hardware run leaked correctly; [CONFLICT] §2.4)",
                core,
                f"a core not in {sorted(erratum)}",
                (
                    f"pin it to a free core with --core-map (free cores without the erratum: {free})"
                    if free
                    else "remove its bias, or free a core without the erratum for it"
                ),
            )


POST_PLACEMENT_RULES: tuple[tuple[str, PlacementRule], ...] = (("leak_erratum", rule_leak_erratum),)


def check_placement(qgraph: QuantizedGraph, placement: Placement, chip: ChipSpec) -> tuple[CheckWarning, ...]:
    """Run :data:`POST_PLACEMENT_RULES` (only warnings: placement already guarantees memory fit)."""
    findings = [f for _, rule in POST_PLACEMENT_RULES for f in rule(qgraph, chip, placement)]
    return _split(findings)[1]
