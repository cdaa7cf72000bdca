"""Report of a dataset-scale validation: ``summary.json``, ``report.md`` and a self-contained ``report.html``.

Uses the deployment report's style and helpers (:mod:`deploy.report.html` CSS and embedding,
:mod:`deploy.report.figures` figure canvas and grouped bars, :class:`deploy.report.tables.Table`).
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np

from deploy.energy import ENERGY_PER_SYNOP
from deploy.report import figures as F
from deploy.report.figures import RenderedFigure
from deploy.report.html import CSS, render_figure
from deploy.report.html import render_table as html_table
from deploy.report.markdown import render_table as md_table
from deploy.report.tables import Table, fmt_si
from deploy.validation.result import ValidationResult
from deploy.validation.task import VIEWS

VALIDATION_FILES = ("summary.json", "report.md", "report.html")


def accuracy_table(r: ValidationResult) -> Table:
    """Accuracy of each view and the drop from float."""
    rows = tuple(
        (v, f"{100 * r.accuracy[v]:.2f} %", f"{100 * (r.accuracy[v] - r.accuracy['float']):+.2f}")
        for v in VIEWS
    )
    return Table(
        "Accuracy",
        ("view", "accuracy", "Δ vs float (points)"),
        rows,
        caption=f"{r.n_samples} samples of {r.dataset}; class = most output spikes, ties to the lowest "
        "index, no output spike = wrong.",
    )


def agreement_table(r: ValidationResult) -> Table:
    """Per-sample class agreement of each pair of views."""
    return Table(
        "Per-sample agreement",
        ("views", "same class"),
        tuple((pair, f"{100 * v:.1f} %") for pair, v in r.agreement.items()),
    )


def drift_table(r: ValidationResult) -> Table:
    """Mean spikes per sample of each layer in the three views, and the drift float → simulated."""
    worst = {la.index for la in r.most_drifting()}
    rows = []
    for la in r.layers:
        drift = "∞" if math.isinf(la.drift) else f"{100 * la.drift:+.1f} %"
        rate = "—" if r.duration_s is None else f"{la.rate_hz('simulated', r.duration_s):.2f}"
        rows.append((la.name, str(la.core), *(f"{la.spikes[v]:,.1f}" for v in VIEWS), drift, rate))
    return Table(
        "Spikes per layer and drift",
        (
            "layer",
            "core",
            "float",
            "quantised",
            "simulated",
            "drift float → simulated",
            "sim. rate (Hz/neuron)",
        ),
        tuple(rows),
        flags=tuple(la.index in worst and la.drift != 0 for la in r.layers),
        caption="Mean spikes per sample; drift = (simulated − float) / float; the layers that drift most are "
        "marked.",
    )


def cost_table(r: ValidationResult) -> Table:
    """SynOps, energy and input events per inference: mean and spread."""
    rows = []
    for name, s, fmt in (
        ("SynOps", r.synops, lambda x: f"{x:,.0f}"),
        ("energy (estimate)", r.energy_j, lambda x: fmt_si(x, "J")),
        ("input events", r.input_events, lambda x: f"{x:,.0f}"),
    ):
        rows.append((name, fmt(s.mean), fmt(s.std), fmt(s.min), fmt(s.median), fmt(s.p95), fmt(s.max)))
    return Table(
        "Cost per inference",
        ("quantity", "mean", "std", "min", "median", "p95", "max"),
        tuple(rows),
        caption=f"Energy = SynOps × {ENERGY_PER_SYNOP.value * 1e12:g} pJ: {ENERGY_PER_SYNOP.source}.",
    )


def gates_table(r: ValidationResult) -> Table:
    """The CI gates and their verdicts."""
    return Table(
        "Gates",
        ("gate", "verdict"),
        tuple((g.name, g.text) for g in r.gates),
        flags=tuple(not g.passed for g in r.gates),
    )


def confusion_table(r: ValidationResult) -> Table:
    """Confusion matrix of the simulated view (rows = label, columns = predicted class, last = no spike)."""
    m = r.confusion("simulated")
    headers = ("label", *(str(c) for c in range(r.n_classes)), "none")
    rows = tuple((str(i), *(str(int(v)) for v in row)) for i, row in enumerate(m))
    return Table("Confusion matrix (simulated)", headers, rows)


def all_tables(r: ValidationResult) -> list[Table]:
    """Every table, in report order."""
    out = [accuracy_table(r), agreement_table(r), drift_table(r), cost_table(r), confusion_table(r)]
    return ([gates_table(r)] if r.gates else []) + out


def confusion_figure(r: ValidationResult) -> RenderedFigure:
    """Heat map of the simulated confusion matrix, counts written in the cells."""
    m = r.confusion("simulated")
    fig = F._new_figure(5.2, 4.4)
    ax = fig.add_subplot()
    image = ax.imshow(m, cmap="Blues", aspect="auto")
    for (i, j), v in np.ndenumerate(m):
        if v:
            colour = "white" if v > m.max() / 2 else "black"
            ax.text(j, i, str(int(v)), ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(range(m.shape[1]), [*map(str, range(r.n_classes)), "none"], fontsize=7)
    ax.set_yticks(range(m.shape[0]), [str(i) for i in range(r.n_classes)], fontsize=7)
    ax.set_xlabel("predicted class (simulated)")
    ax.set_ylabel("label")
    fig.colorbar(image, ax=ax, shrink=0.8, label="samples")
    return RenderedFigure(
        "confusion",
        "Confusion matrix of the simulated chip",
        "Heat map of label against simulated class",
        F._png(fig),
    )


def accuracy_figure(r: ValidationResult) -> RenderedFigure:
    """Accuracy bars of the three views."""
    fig = F._new_figure(5.0, 2.6)
    ax = fig.add_subplot()
    x = np.arange(len(VIEWS))
    values = [100 * r.accuracy[v] for v in VIEWS]
    ax.bar(x, values, 0.6, color=[F.SOURCE_COLOURS[v] for v in VIEWS])
    for xi, v in zip(x, values, strict=True):
        ax.text(xi, v + 1, f"{v:.2f} %", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, list(VIEWS))
    ax.set_ylim(0, 110)
    ax.set_ylabel("accuracy (%)")
    ax.spines[["top", "right"]].set_visible(False)
    return RenderedFigure(
        "accuracy",
        "Accuracy of the float, quantised and simulated views",
        "Bar chart of accuracies",
        F._png(fig),
    )


def drift_figure(r: ValidationResult) -> RenderedFigure:
    """Mean spikes per sample per layer in each view (grouped bars)."""
    fig = F._new_figure(7.5, 3.0)
    ax = fig.add_subplot()
    x = np.arange(len(r.layers))
    F._grouped_bars(ax, x, {v: [la.spikes[v] for la in r.layers] for v in VIEWS})
    labels = []
    for la in r.layers:
        drift = "∞" if math.isinf(la.drift) else f"{100 * la.drift:+.1f} %"
        labels.append(f"{F._short(la.name)}\ncore {la.core}\n{drift}")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("spikes per sample")
    if max((la.spikes[v] for la in r.layers for v in VIEWS), default=0) > 0:
        ax.set_yscale("symlog", linthresh=1)
    F._legend_above(ax, len(VIEWS))
    ax.spines[["top", "right"]].set_visible(False)
    return RenderedFigure(
        "drift",
        "Spikes per layer (mean per sample) and drift float → simulated",
        "Grouped bar chart of mean spikes per layer in each view",
        F._png(fig),
    )


def render_markdown(r: ValidationResult) -> str:
    """The report as Markdown (figures are in report.html)."""
    verdict = "PASSED" if r.passed else "FAILED"
    out = [
        f"# Validation: {r.model}",
        "",
        f"Chip `{r.chip}`, data set `{r.dataset}` ({r.n_samples} samples), gates **{verdict}**. "
        f"Simulated accuracy {100 * r.accuracy['simulated']:.2f} % "
        f"(float {100 * r.accuracy['float']:.2f} %, drop {r.drop_points:+.2f} points).",
        "",
    ]
    out += [md_table(t, level=2) for t in all_tables(r)]
    drifting = ", ".join(f"`{la.name}`" for la in r.most_drifting())
    out.append(f"Layers that drift most (float → simulated): {drifting}.\n")
    return "\n".join(out)


def _cards(r: ValidationResult) -> str:
    cards = [
        ("simulated accuracy", f"{100 * r.accuracy['simulated']:.2f} %", ""),
        ("float accuracy", f"{100 * r.accuracy['float']:.2f} %", ""),
        ("drop", f"{r.drop_points:+.2f} points", ""),
        ("sim ↔ float agreement", f"{100 * r.agreement['float vs simulated']:.1f} %", ""),
        ("energy / inference", fmt_si(r.energy_j.mean, "J"), "warn" if ENERGY_PER_SYNOP.assumption else ""),
        ("gates", "passed" if r.passed else "FAILED", "ok" if r.passed else "bad"),
    ]
    e = html.escape
    body = "".join(
        f'<div class="card {c}"><div class="k">{e(k)}</div><div class="v">{e(v)}</div></div>'
        for k, v, c in cards
    )
    return f'<div class="cards">{body}</div>'


def render_html(r: ValidationResult, figures: list[RenderedFigure]) -> str:
    """The report as one self-contained HTML document."""
    e = html.escape
    figs = {f.key: render_figure(f) for f in figures}
    tables = {t.title: html_table(t, "h2") for t in all_tables(r)}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>speck-deploy validation: {e(r.model)}</title>",
        f"<style>{CSS}</style></head><body><main>",
        f"<h1>Validation: {e(r.model)}</h1>",
        f'<p class="sub">chip {e(r.chip)} · data set {e(r.dataset)} · {r.n_samples} samples · '
        f"{e(r.executor)} executor, {r.workers} worker(s), {r.seconds:.1f} s</p>",
        _cards(r),
        tables.get("Gates", ""),
        tables["Accuracy"],
        figs.get("accuracy", ""),
        tables["Per-sample agreement"],
        tables["Spikes per layer and drift"],
        figs.get("drift", ""),
        tables["Cost per inference"],
        tables["Confusion matrix (simulated)"],
        figs.get("confusion", ""),
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p)


def write_validation_report(directory: Path, r: ValidationResult) -> tuple[str, ...]:
    """Write ``summary.json``, ``report.md`` and ``report.html`` into ``directory``; returns the names."""
    (directory / "summary.json").write_text(
        json.dumps(r.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (directory / "report.md").write_text(render_markdown(r), encoding="utf-8")
    figures = [accuracy_figure(r), drift_figure(r), confusion_figure(r)]
    (directory / "report.html").write_text(render_html(r, figures), encoding="utf-8")
    return VALIDATION_FILES
