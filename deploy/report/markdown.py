"""``report.md``: the report's text and tables as GitHub-flavoured Markdown (figures are in report.html)."""

from __future__ import annotations

from collections.abc import Sequence

from deploy.report.summary import RunSummary
from deploy.report.tables import (
    AGREEMENT_NOT_RUN,
    NO_BANDWIDTH_WARNINGS,
    NO_CHECKER_WARNINGS,
    NO_NOTES,
    Table,
    activity_table,
    agreement_table,
    board_table,
    class_verdict,
    divergence_lines,
    energy_headline,
    energy_table,
    exits_table,
    fit_table,
    memory_table,
    placement_table,
    predicted_class_text,
    quant_table,
    samples_table,
    spike_count_table,
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_table(t: Table, level: int = 3) -> str:
    """``t`` as a Markdown table under a level-``level`` heading (0: no title); flagged rows get ⚠."""
    lines = [f"{'#' * level} {t.title}", ""] if level else []
    lines.append("| " + " | ".join(_cell(h) for h in t.headers) + " |")
    lines.append("|" + "|".join("---" for _ in t.headers) + "|")
    for i, row in enumerate(t.rows):
        cells = [_cell(c) for c in row]
        if t.flagged(i):
            cells[0] = f"⚠ {cells[0]}"
        lines.append("| " + " | ".join(cells) + " |")
    if t.caption:
        lines += ["", f"_{t.caption}_"]
    return "\n".join(lines) + "\n"


def _messages(items: Sequence[str], empty: str) -> str:
    if not items:
        return empty + "\n"
    return "\n".join(f"- {m}" for m in items) + "\n"


def render_markdown(s: RunSummary) -> str:
    """The whole report as Markdown."""
    a = s.agreement
    pred = predicted_class_text(s)
    label = f" (sample label {s.input.label})" if s.input.label is not None else ""
    out = [
        f"# Deployment report: {s.model}",
        "",
        f"- chip: **{s.chip}**, target: **{s.target}**, configuration hash `{s.config_hash or '—'}`",
        f"- input: {s.input.description}; {s.input.n_events:,} events over "
        f"{s.input.duration_s * 1000:.0f} ms",
        f"- predicted class: **{pred}**{label}; {s.n_output_events:,} output events",
        f"- cores used: {len(s.placement)} of {len(s.core_memory)}",
        f"- {energy_headline(s.energy)}",
    ]
    if a is not None:
        out.append(f"- views agree on the output class: **{'yes' if a.classes_agree else 'no'}**")
        diverging = "; ".join(divergence_lines(a, only_diverging=True)) or "none"
        out.append(f"- layers beyond the agreement tolerance: {diverging}")
    out += ["", "Figures are in `report.html`.", "", "## Warnings", "", "### Bandwidth", ""]
    out.append(_messages(s.bandwidth_warnings, NO_BANDWIDTH_WARNINGS))
    out += ["### Checker", "", _messages(s.checker_warnings, NO_CHECKER_WARNINGS)]
    out += ["### Notes from the front end", "", _messages(s.notes, NO_NOTES)]
    out += ["## Placement", "", render_table(placement_table(s), 0), render_table(fit_table(s))]
    out += ["## Memory", "", render_table(memory_table(s), 0)]
    out += ["## Quantisation", "", render_table(quant_table(s), 0)]
    out += [
        "## Activity, throughput and energy",
        "",
        render_table(activity_table(s), 0),
        render_table(energy_table(s)),
    ]
    out += ["## Agreement: float ↔ quantised ↔ simulated", ""]
    if a is None:
        out.append(AGREEMENT_NOT_RUN + "\n")
    else:
        out.append(f"- output class: {class_verdict(a)}")
        out += [f"- {line}" for line in divergence_lines(a)]
        out += ["", render_table(spike_count_table(a)), render_table(agreement_table(a))]
    if s.samples is not None:
        out.append(render_table(samples_table(s.samples)))
    if len(s.exits) > 1:
        out += ["## Exit layers", "", render_table(exits_table(s.exits), 0)]
    if s.board_comparison is not None:
        out += ["## Board vs simulator", "", render_table(board_table(s.board_comparison), 0)]
    out.append(f"\n_speck-deploy {s.tool_version}; files: {', '.join(s.files)}_\n")
    return "\n".join(out)
