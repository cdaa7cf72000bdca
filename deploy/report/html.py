"""``report.html``: one self-contained file (inline CSS, base64 PNG figures, no scripts, no external URLs)."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

from deploy.report.figures import RenderedFigure
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
    energy_table,
    exits_table,
    fit_table,
    fmt_si,
    memory_table,
    placement_table,
    predicted_class_text,
    quant_table,
    samples_table,
    spike_count_table,
)

CSS = """
:root { --fg:#1d232a; --muted:#5b6672; --line:#dde2e7; --bg:#ffffff; --soft:#f5f7f9;
        --ok:#2f7d4f; --warn:#b7791f; --bad:#c0392b; --accent:#3b5b92; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--fg); background: var(--bg); margin: 0; }
main { max-width: 1040px; margin: 0 auto; padding: 28px 28px 60px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 20px 0 8px; }
p.sub { color: var(--muted); margin: 0 0 18px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 10px;
         margin: 14px 0; }
.card { background: var(--soft); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .v { font-size: 18px; font-weight: 600; margin-top: 2px; word-break: break-word; }
.card.ok { border-left: 4px solid var(--ok); } .card.warn { border-left: 4px solid var(--warn); }
.card.bad { border-left: 4px solid var(--bad); }
table { border-collapse: collapse; width: 100%; margin: 6px 0 4px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; white-space: nowrap; }
td { font-variant-numeric: tabular-nums; }
tr.flag td { background: #fff4e5; }
.scroll { overflow-x: auto; }
.caption { color: var(--muted); font-size: 12px; margin: 2px 0 12px; }
figure { margin: 12px 0 22px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 4px; }
ul.msgs { padding-left: 20px; } ul.msgs li { margin: 3px 0; }
.warnbox { background: #fff8e6; border: 1px solid #f0d9a6; border-radius: 8px; padding: 8px 14px; }
.notebox { background: var(--soft); border: 1px solid var(--line); border-radius: 8px;
           padding: 8px 14px; }
.okbox { background: #eef8f1; border: 1px solid #bfe3cb; border-radius: 8px; padding: 8px 14px; }
code { background: var(--soft); padding: 1px 4px; border-radius: 3px; }
nav.toc { margin: 4px 0 8px; font-size: 13px; } nav.toc a { color: var(--accent); text-decoration: none; }
footer { color: var(--muted); font-size: 12px; margin-top: 40px; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def render_table(t: Table, heading: str = "h3") -> str:
    """``t`` as an HTML table under a ``<heading>`` title (``heading=""``: no title); flagged rows marked."""
    head = "".join(f"<th>{_e(h)}</th>" for h in t.headers)
    body = []
    for i, row in enumerate(t.rows):
        cls = ' class="flag"' if t.flagged(i) else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
    caption = f'<p class="caption">{_e(t.caption)}</p>' if t.caption else ""
    title = f"<{heading}>{_e(t.title)}</{heading}>" if heading else ""
    return (
        f'{title}<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{caption}"
    )


def render_figure(f: RenderedFigure) -> str:
    data = base64.b64encode(f.png).decode("ascii")
    return (
        f'<figure id="fig-{_e(f.key)}"><img alt="{_e(f.alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(f.title)}</figcaption></figure>"
    )


def _messages(items: Sequence[str], empty: str, box: str = "warnbox") -> str:
    if not items:
        return f'<div class="okbox">{_e(empty)}</div>'
    return (
        f'<div class="{box}"><ul class="msgs">' + "".join(f"<li>{_e(m)}</li>" for m in items) + "</ul></div>"
    )


SECTIONS = (
    ("warnings", "Warnings"),
    ("placement", "Placement"),
    ("memory", "Memory"),
    ("quantisation", "Quantisation"),
    ("activity", "Activity and energy"),
    ("agreement", "Agreement"),
    ("spikes", "Spikes"),
)


def _toc() -> str:
    links = " · ".join(f'<a href="#{sid}">{_e(title)}</a>' for sid, title in SECTIONS)
    return f'<nav class="toc">{links}</nav>'


def _cards(s: RunSummary) -> str:
    a = s.agreement
    cards: list[tuple[str, str, str]] = [
        ("model", _model_name(s.model), ""),
        ("chip / target", f"{s.chip} / {s.target}", ""),
        ("cores used", f"{len(s.placement)} of {len(s.core_memory)}", ""),
        ("input", f"{s.input.n_events:,} events, {s.input.duration_s * 1000:.0f} ms", ""),
        (
            "predicted class",
            predicted_class_text(s),
            "",
        ),
    ]
    if s.input.label is not None:
        ok = s.predicted_class == s.input.label
        cards.append(("sample label", str(s.input.label), "ok" if ok else "bad"))
    if a is not None:
        cards.append(
            ("views agree on class", "yes" if a.classes_agree else "no", "ok" if a.classes_agree else "bad")
        )
        diverging = sum(layer is not None for layer in a.first_divergence.values())
        cards.append(("pairs of views diverging", str(diverging), "warn" if diverging else "ok"))
    n_warn = len(s.checker_warnings) + len(s.bandwidth_warnings)
    cards.append(("warnings", str(n_warn), "warn" if n_warn else "ok"))
    cards.append(
        (
            "energy estimate",
            f"{fmt_si(s.energy.total_j, 'J')} (dynamic {fmt_si(s.energy.dynamic_j, 'J')} + static "
            f"{fmt_si(s.energy.static_j, 'J')})",
            "warn" if s.energy.energy_per_synop_is_assumption else "",
        )
    )
    out = []
    for k, v, cls in cards:
        out.append(f'<div class="card {cls}"><div class="k">{_e(k)}</div><div class="v">{_e(v)}</div></div>')
    return '<div class="cards">' + "".join(out) + "</div>"


def _model_name(path: str) -> str:
    """``models/digits_snn/model.pt`` → ``digits_snn/model.pt`` (the full path is in the subtitle)."""
    parts = path.replace("\\", "/").split("/")
    return "/".join(parts[-2:])


def render_html(s: RunSummary, figures: Sequence[RenderedFigure]) -> str:
    """The whole report as one HTML document."""
    figs = {f.key: f for f in figures}

    def fig(key: str) -> str:
        return render_figure(figs[key]) if key in figs else ""

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>speck-deploy report: {_e(s.model)}</title>",
        f"<style>{CSS}</style></head><body><main>",
        f"<h1>Deployment report: {_e(_model_name(s.model))}</h1>",
        f'<p class="sub">model {_e(s.model)} · chip {_e(s.chip)} · target {_e(s.target)} · '
        f"input {_e(s.input.description)} · "
        f"configuration hash <code>{_e(s.config_hash or '—')}</code></p>",
        _cards(s),
        _toc(),
        "<h2 id='warnings'>Warnings</h2>",
        "<h3>Bandwidth</h3>",
        _messages(s.bandwidth_warnings, NO_BANDWIDTH_WARNINGS),
        "<h3>Checker</h3>",
        _messages(s.checker_warnings, NO_CHECKER_WARNINGS),
        "<h3>Notes from the front end</h3>",
        _messages(s.notes, NO_NOTES, box="notebox"),
        "<h2 id='placement'>Placement</h2>",
        render_table(placement_table(s), ""),
        render_table(fit_table(s)),
        "<h2 id='memory'>Memory</h2>",
        fig("memory"),
        render_table(memory_table(s), ""),
        "<h2 id='quantisation'>Quantisation</h2>",
        render_table(quant_table(s), ""),
        "<h2 id='activity'>Activity, throughput and energy</h2>",
        fig("throughput"),
        render_table(activity_table(s), ""),
        render_table(energy_table(s)),
    ]
    a = s.agreement
    parts.append("<h2 id='agreement'>Agreement: float ↔ quantised ↔ simulated</h2>")
    if a is None:
        parts.append(f'<div class="warnbox">{_e(AGREEMENT_NOT_RUN)}</div>')
    else:
        verdict = (
            "okbox" if a.classes_agree and all(v is None for v in a.first_divergence.values()) else "warnbox"
        )
        parts.append(f'<div class="{verdict}"><ul class="msgs">')
        parts.append(f"<li>Output class: {_e(class_verdict(a))}.</li>")
        parts += [f"<li>{_e(line)}</li>" for line in divergence_lines(a)]
        parts.append("</ul></div>")
        parts.append(render_table(spike_count_table(a)))
        parts.append(fig("spike-counts"))
        parts.append(render_table(agreement_table(a)))
        parts.append(fig("output-classes"))
        parts.append(
            '<p class="caption">Differences between the quantised (time-stepped) and simulated '
            "(event-driven) views are expected in kind: the chip fires at most one spike per neuron per "
            "input event and thresholds after every synaptic update, sinabs sums a whole time step first "
            "(SPECK_SEMANTICS §10).</p>"
        )
    if s.samples is not None:
        parts.append(render_table(samples_table(s.samples)))
    if len(s.exits) > 1:
        parts.append("<h2 id='exits'>Exit layers</h2>")
        parts.append(render_table(exits_table(s.exits), ""))
    if s.board_comparison is not None:
        c = s.board_comparison
        parts.append("<h2 id='board'>Board vs simulator</h2>")
        parts.append(f'<div class="{"okbox" if c.identical else "warnbox"}">{_e(c.verdict())}</div>')
        parts.append(render_table(board_table(c), ""))
    parts.append("<h2 id='spikes'>Spikes</h2>")
    parts.append(fig("spike-time"))
    parts.append(fig("output-raster"))
    parts.append(fig("raster"))
    timings = ", ".join(f"{k} {v:.2f} s" for k, v in s.timings.items())
    parts.append(
        f"<footer>speck-deploy {_e(s.tool_version)} · files: {_e(', '.join(s.files))}"
        f"{' · timings: ' + _e(timings) if timings else ''}</footer>"
    )
    parts.append("</main></body></html>")
    return "\n".join(p for p in parts if p)
