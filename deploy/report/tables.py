"""The report's tables as plain ``(headers, rows)`` of strings, shared by HTML, Markdown and the console."""

from __future__ import annotations

import math
from dataclasses import dataclass

from deploy.agreement import AgreementResult, ClassAgreement
from deploy.report.outputs import ExitOutput, TargetComparison
from deploy.report.summary import EnergyEstimate, RunSummary


@dataclass(frozen=True)
class Table:
    """A titled table of strings; ``flags[i]`` marks row ``i`` for highlighting (warnings, over budget)."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    flags: tuple[bool, ...] = ()
    caption: str = ""

    def flagged(self, i: int) -> bool:
        return bool(self.flags) and self.flags[i]


def fmt_int(n: int) -> str:
    return f"{n:,}"


def fmt_float(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if math.isinf(x):
        return "∞"
    return f"{x:.{digits}g}"


def fmt_pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def fmt_si(x: float, unit: str) -> str:
    """``1.2e-6, "J"`` → ``"1.2 µJ"``."""
    if x == 0 or not math.isfinite(x):
        return f"{fmt_float(x)} {unit}"
    for factor, prefix in (
        (1e9, "G"),
        (1e6, "M"),
        (1e3, "k"),
        (1, ""),
        (1e-3, "m"),
        (1e-6, "µ"),
        (1e-9, "n"),
    ):
        if abs(x) >= factor:
            return f"{x / factor:.3g} {prefix}{unit}"
    return f"{x / 1e-12:.3g} p{unit}"


def shape_str(shape: tuple[int, ...]) -> str:
    return "×".join(str(s) for s in shape)


def memory_table(s: RunSummary) -> Table:
    """Per-core memory use, all cores, used against capacity (SPECK_SEMANTICS §7.1)."""
    rows = []
    for m in s.core_memory:
        rows.append(
            (
                str(m.core),
                m.layer or "—",
                f"{fmt_int(m.kernel_used)} / {fmt_int(m.kernel_capacity)} ({fmt_pct(m.fraction('kernel'))})",
                f"{fmt_int(m.neuron_used)} / {fmt_int(m.neuron_capacity)} ({fmt_pct(m.fraction('neuron'))})",
                f"{fmt_int(m.bias_used)} / {fmt_int(m.bias_capacity)} ({fmt_pct(m.fraction('bias'))})",
            )
        )
    return Table(
        "Memory per core",
        ("core", "layer", "kernel words", "neuron words", "bias words"),
        tuple(rows),
        caption="Words used / capacity; kernel 8-bit, neuron and bias 16-bit (SPECK_SEMANTICS §7.1).",
    )


def placement_table(s: RunSummary) -> Table:
    rows = []
    for layer in s.placement:
        rows.append(
            (
                str(layer.index),
                layer.name,
                str(layer.core),
                layer.kind,
                shape_str(layer.in_shape),
                shape_str(layer.out_shape),
                f"k{layer.kernel_size} s{layer.stride[0]}×{layer.stride[1]} "
                f"p{layer.padding[0]}×{layer.padding[1]}",
                ", ".join(layer.destinations) or "—",
            )
        )
    return Table(
        "Placement",
        ("#", "layer", "core", "kind", "input C×H×W", "neurons F×H×W", "conv", "destinations"),
        tuple(rows),
    )


def fit_table(s: RunSummary) -> Table:
    """Fit matrix: which layer fits which core's memories."""
    n_cores = len(s.fit[0]) if s.fit else 0
    rows = []
    for layer, row in zip(s.placement, s.fit, strict=False):
        rows.append(
            (layer.name, *("■" if c == layer.core else ("✓" if ok else "·") for c, ok in enumerate(row)))
        )
    return Table(
        "Fit matrix",
        ("layer", *(str(c) for c in range(n_cores))),
        tuple(rows),
        caption="✓ fits the core's memories, · does not, ■ the core chosen.",
    )


def quant_table(s: RunSummary) -> Table:
    rows = []
    flags = []
    for q in s.quantisation:
        rows.append(
            (
                q.name,
                fmt_float(q.scale, 4),
                f"[{q.weight_range[0]}, {q.weight_range[1]}]",
                f"[{q.bias_range[0]}, {q.bias_range[1]}]",
                str(q.threshold_high),
                str(q.threshold_low),
                fmt_pct(q.zero_fraction),
                str(q.saturated),
                fmt_float(q.max_weight_over_threshold),
                fmt_int(q.overflow_margin),
                q.rule,
            )
        )
        flags.append(q.saturated > 0 or q.max_weight_over_threshold > 1 or q.overflow_margin < 0)
    return Table(
        "Quantisation",
        (
            "layer",
            "scale",
            "weights",
            "biases",
            "threshold_high",
            "threshold_low",
            "zeroed",
            "saturated",
            "max W / thr",
            "overflow margin",
            "rule",
        ),
        tuple(rows),
        tuple(flags),
        caption=(
            "integer = round(float · scale). 'zeroed': non-zero float weights rounded to 0. max W / thr > 1 "
            "loses spikes (one spike per neuron per event, SPECK_SEMANTICS §2.2); a negative overflow margin "
            "allows "
            "16-bit overflow (§2.3)."
        ),
    )


def activity_table(s: RunSummary) -> Table:
    rows = []
    flags = []
    for a in s.activity:
        rows.append(
            (
                str(a.core),
                a.layer,
                fmt_int(a.inputs),
                fmt_int(a.synops),
                fmt_int(a.spikes_generated),
                fmt_int(a.spikes_emitted),
                fmt_int(a.dropped),
                fmt_float(a.synops_rate),
                fmt_float(a.predicted_rate),
                fmt_float(a.budget),
                fmt_pct(a.load) if math.isfinite(a.load) else "∞",
            )
        )
        flags.append(a.over_budget)
    return Table(
        "Activity and throughput per core",
        (
            "core",
            "layer",
            "inputs",
            "SynOps",
            "spikes",
            "emitted",
            "dropped",
            "SynOps/s",
            "predicted SynOps/s",
            "budget",
            "load",
        ),
        tuple(rows),
        tuple(flags),
        caption=(
            "SynOps/s = simulated SynOps / input duration; predicted = N_in/s · C_out · k² / (s_x·s_y) with "
            "k/s capped by the output map size "
            "(SD-tips, SPECK_SEMANTICS §7.3 rule 7); load = max of both / budget. The budget is an "
            "assumption (no per-core limit is published) unless set with --synops-budget; core 0 gets 3.5× "
            "(SAM-2f)."
        ),
    )


def spike_count_table(a: AgreementResult) -> Table:
    sources = a.sources
    rows = []
    flags = []
    for la in a.layers:
        cells = [la.name, "—" if la.core is None else str(la.core)]
        cells += [fmt_int(la.totals[src]) for src in sources]
        for p in la.pairs:
            cells.append(f"{p.correlation:.3f}")
        rows.append(tuple(cells))
        flags.append(any(not p.within_tolerance for p in la.pairs))
    pair_headers = tuple(f"r {p.a[:5]}↔{p.b[:5]}" for p in (a.layers[0].pairs if a.layers else ()))
    return Table(
        "Spike counts per layer",
        ("layer", "core", *sources, *pair_headers),
        tuple(rows),
        tuple(flags),
        caption=(
            f"r = Pearson correlation of per-neuron spike counts. A layer is flagged when r < "
            f"{a.tolerance.min_correlation} or the total counts differ by more than "
            f"{fmt_pct(a.tolerance.max_relative_count_difference)} for some pair."
        ),
    )


def class_cell(cls: int | None, counts: list[int]) -> str:
    """``"3"``, ``"3 (tie: 3, 5, 9)"`` when several classes share the top count, or "no output spikes"."""
    if cls is None:
        return "no output spikes"
    top = max(counts)
    tied = [i for i, c in enumerate(counts) if c == top]
    return str(cls) if len(tied) == 1 else f"{cls} (tie: {', '.join(map(str, tied))})"


def agreement_table(a: AgreementResult) -> Table:
    rows = [
        (
            src,
            class_cell(a.output_classes[src], a.output_counts[src]),
            " ".join(str(c) for c in a.output_counts[src]),
        )
        for src in a.sources
    ]
    return Table(
        "Output class",
        ("view", "class (argmax)", "output spikes per class"),
        tuple(rows),
        caption="On a tie the lowest class index wins (numpy argmax).",
    )


def samples_table(c: ClassAgreement) -> Table:
    """Predicted class of every shipped sample per view, then accuracy and pairwise agreement."""
    sources = list(c.predictions)
    rows = []
    flags = []
    for i, label in enumerate(c.labels):
        preds = [c.predictions[s][i] for s in sources]
        rows.append(
            (str(i), "—" if label is None else str(label), *("—" if p is None else str(p) for p in preds))
        )
        flags.append(len(set(preds)) > 1)
    rows.append(
        ("accuracy", "", *("—" if c.accuracy[s] is None else fmt_pct(c.accuracy[s] or 0.0) for s in sources))
    )
    flags.append(False)
    pairs = "; ".join(f"{k}: {fmt_pct(v)}" for k, v in c.pairwise.items())
    return Table(
        f"Output class of the {c.n_samples} shipped samples",
        ("sample", "label", *sources),
        tuple(rows),
        tuple(flags),
        caption=f"Same class in both views: {pairs}. Rows where the views disagree are flagged; "
        "'—' = no output spike.",
    )


NO_BANDWIDTH_WARNINGS = "Every core is within its SynOps/s budget."
NO_CHECKER_WARNINGS = "The checker raised no warnings."
NO_NOTES = "No notes."
AGREEMENT_NOT_RUN = "The agreement check was not run."


def predicted_class_text(s: RunSummary) -> str:
    """The predicted class, or why there is none."""
    return "none (no output spikes)" if s.predicted_class is None else str(s.predicted_class)


def class_verdict(a: AgreementResult) -> str:
    """Whether the views agree on the output class, with each view's class."""
    verdict = "all views agree" if a.classes_agree else "the views disagree"
    return f"{verdict} (" + ", ".join(f"{k}: {v}" for k, v in a.output_classes.items()) + ")"


def divergence_lines(a: AgreementResult, only_diverging: bool = False) -> list[str]:
    """One line per compared pair: the first layer where it diverges, or that none does (the terminal and
    both reports print these lines; ``only_diverging`` keeps the diverging pairs)."""
    lines = []
    for pair, layer in a.first_divergence.items():
        if layer is None:
            if not only_diverging:
                lines.append(f"{pair}: every layer within tolerance")
        else:
            lines.append(f"{pair}: first diverges at layer '{layer}'")
    return lines


def energy_headline(e: EnergyEstimate) -> str:
    """``energy estimate: 145 µJ (dynamic 18.4 µJ + static 127 µJ over 0.3 s)``, one line for the terminal and
    the reports' headline (every place shows both parts)."""
    assumed = " (dynamic part uses an assumed energy per SynOp)" if e.energy_per_synop_is_assumption else ""
    return (
        f"energy estimate: {fmt_si(e.total_j, 'J')} = dynamic {fmt_si(e.dynamic_j, 'J')} "
        f"({fmt_int(e.synops)} SynOps) + static {fmt_si(e.static_j, 'J')} (resting power over "
        f"{fmt_float(e.duration_s)} s of input){assumed}"
    )


def energy_table(s: RunSummary) -> Table:
    e = s.energy
    rows = (
        ("synaptic operations", fmt_int(e.synops), "simulation"),
        ("energy per SynOp", fmt_si(e.energy_per_synop_j, "J"), e.energy_per_synop_source),
        ("dynamic energy", fmt_si(e.dynamic_j, "J"), "SynOps × energy per SynOp"),
        ("resting power", fmt_si(e.resting_power_w, "W"), e.resting_power_source),
        ("static energy", fmt_si(e.static_j, "J"), f"resting power × {fmt_float(e.duration_s)} s of input"),
        ("total", fmt_si(e.total_j, "J"), f"average {fmt_si(e.average_power_w, 'W')}"),
    )
    return Table(
        "Energy estimate",
        ("quantity", "value", "source"),
        rows,
        (False, e.energy_per_synop_is_assumption, e.energy_per_synop_is_assumption, False, False, False),
    )


def board_table(c: TargetComparison) -> Table:
    """Monitored events per core on the board and in the simulator (rows that differ are flagged)."""
    rows = tuple(
        (str(k.core), fmt_int(k.board), fmt_int(k.simulator), fmt_int(k.board - k.simulator)) for k in c.cores
    )
    return Table(
        "Board vs simulator: events per core",
        ("core", "board", "simulator", "board − simulator"),
        rows,
        tuple(k.board != k.simulator for k in c.cores),
        caption=c.verdict()
        + ". Cores 0 and 1 may reorder and withhold their last spike (SPECK_SEMANTICS §3.3); timestamps "
        "are not compared.",
    )


def exits_table(exits: tuple[ExitOutput, ...]) -> Table:
    """Output spikes per class of every exit layer; the class exit is marked."""
    rows = tuple(
        (
            f"{e.index} {e.name}" + (" (class exit)" if e.is_class_exit else ""),
            str(e.core),
            class_cell(e.predicted_class, list(e.counts)),
            " ".join(str(c) for c in e.counts),
        )
        for e in exits
    )
    return Table(
        "Exit layers",
        ("exit layer", "core", "class (argmax)", "output spikes per class"),
        rows,
        caption="The predicted class is the class exit's (choose it with --class-exit).",
    )
