"""The report writers on a synthetic run summary (no pipeline needed)."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import asdict, replace
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from _qgraphs import STATS

from deploy.agreement import class_agreement, compare
from deploy.report import write_reports
from deploy.report.build import quant_rows
from deploy.report.figures import all_figures
from deploy.report.html import render_html
from deploy.report.markdown import render_markdown
from deploy.report.summary import (
    DEFAULT_SYNOPS_BUDGET,
    ENERGY_PER_SYNOP,
    LAYER0_THROUGHPUT_FACTOR,
    RESTING_POWER,
    CoreActivity,
    CoreMemory,
    InputInfo,
    LayerInfo,
    QuantRow,
    RunSummary,
    SpikeData,
    core_budget,
    estimate_energy,
    predicted_synops_rate,
)
from deploy.report.tables import activity_table, fit_table, fmt_si, memory_table, quant_table
from deploy.sim.events import make_events

SHAPES = [(4, 8, 8), (2, 4, 4)]
NAMES = ("0", "2")


def _summary(rng: np.random.Generator, over_budget: bool = False) -> tuple[RunSummary, SpikeData]:
    counts = {
        "float": [rng.poisson(3, s) for s in SHAPES],
        "quantised": [rng.poisson(3, s) for s in SHAPES],
    }
    counts["simulated"] = [c.copy() for c in counts["quantised"]]
    agreement = compare(counts, NAMES, cores=(1, 3))
    placement = (
        LayerInfo(0, "0", 1, "conv", (2, 16, 16), (4, 8, 8), 3, (2, 2), (1, 1), ("core 3",), ("0", "1")),
        LayerInfo(1, "2", 3, "conv", (4, 8, 8), (2, 4, 4), 3, (2, 2), (1, 1), ("output",), ("2", "3")),
    )
    memory = tuple(
        CoreMemory(
            c,
            {1: "0", 3: "2"}.get(c),
            {1: 128, 3: 128}.get(c, 0),
            16384 if c < 3 else 32768,
            {1: 256, 3: 32}.get(c, 0),
            65536,
            0,
            1024,
        )
        for c in range(9)
    )
    quant = (
        QuantRow("0", 127.0, (-120, 127), (0, 0), 127, -127, 0.01, 0, 1.0, 32513, "sinabs"),
        QuantRow("2", 300.5, (-128, 90), (0, 0), 301, -301, 0.0, 2, 0.3, 32376, "sinabs"),
    )
    budget = 10.0 if over_budget else DEFAULT_SYNOPS_BUDGET
    activity = (
        CoreActivity(1, "0", 500, 18000, 300, 300, 0, 18000 / 0.05, 5e5, core_budget(1, budget)),
        CoreActivity(3, "2", 300, 5400, 40, 40, 0, 5400 / 0.05, 2e5, core_budget(3, budget)),
    )
    summary = RunSummary(
        model="tiny.pt",
        chip="speck2f",
        target="simulator",
        input=InputInfo("poisson", "Poisson 100 Hz, 50 ms, seed 0", 500, 0.05, label=1),
        placement=placement,
        fit=tuple(tuple(True for _ in range(9)) for _ in placement),
        core_memory=memory,
        quantisation=quant,
        activity=activity,
        energy=estimate_energy(23400, 0.05),
        agreement=agreement,
        n_output_events=40,
        predicted_class=agreement.output_classes["simulated"],
        synops_budget=budget,
        checker_warnings=("layer '0': weights above threshold <script>alert(1)</script>",),
        notes=("BatchNorm folded",),
        timings={"compile": 0.5},
        config_hash="abcdef0123456789",
        tool_version="0.1.0",
        files=("config.json", "summary.json"),
        samples=class_agreement({"float": [1, 0], "quantised": [1, 1], "simulated": [1, None]}, [1, 0]),
    )
    t = np.arange(500) * 100
    spikes = SpikeData(
        layer_names=NAMES,
        time_counts={k: [rng.poisson(2, 10) for _ in NAMES] for k in ("float", "quantised", "simulated")},
        dt_us=5000,
        input_events=make_events(
            t, 1, rng.integers(0, 2, 500), rng.integers(0, 16, 500), rng.integers(0, 16, 500)
        ),
        output_events=make_events(t[:40], 3, rng.integers(0, 2, 40), 0, 0),
        output_features=2,
        output_rasters={k: rng.poisson(1, (10, 2)) for k in ("float", "quantised", "simulated")},
    )
    return summary, spikes


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_energy_estimate_uses_cited_figures() -> None:
    e = estimate_energy(1_000_000, 2.0)
    assert e.dynamic_j == pytest.approx(1e6 * ENERGY_PER_SYNOP.value)
    assert e.static_j == pytest.approx(2.0 * 0.42e-3)
    assert e.total_j == pytest.approx(e.dynamic_j + e.static_j)
    assert e.average_power_w == pytest.approx(e.total_j / 2.0)
    assert ENERGY_PER_SYNOP.assumption and "ASSUMPTION" in ENERGY_PER_SYNOP.source
    assert not RESTING_POWER.assumption and "0.42 mW" in RESTING_POWER.source


def test_predicted_rate_is_the_sd_tips_formula() -> None:
    # 1000 spikes in 0.5 s into a 3x3, 8-feature, stride-2 layer: 2000/s · 8 · 9 / 4 = 36000 SynOps/s.
    assert predicted_synops_rate(1000, 0.5, 8, 3, (2, 2)) == pytest.approx(36000)
    assert predicted_synops_rate(1000, 0.0, 8, 3, (1, 1)) == 0.0
    # A Linear layer (k = input size, 1×1 output): one input event reaches one position per feature.
    assert predicted_synops_rate(1000, 1.0, 10, 8, (1, 1)) == pytest.approx(1000 * 10 * 64)
    assert predicted_synops_rate(1000, 1.0, 10, 8, (1, 1), out_size=(1, 1)) == pytest.approx(1000 * 10)
    assert core_budget(0, 1e6) == pytest.approx(LAYER0_THROUGHPUT_FACTOR * 1e6)
    assert core_budget(5, 1e6) == 1e6


def test_bandwidth_warning_only_when_over_budget(rng: np.random.Generator) -> None:
    ok, _ = _summary(rng)
    assert ok.bandwidth_warnings == ()
    over, _ = _summary(rng, over_budget=True)
    assert len(over.bandwidth_warnings) == 2
    assert "core 1 ('0')" in over.bandwidth_warnings[0]
    assert all(activity_table(over).flags)


def test_tables_cover_all_cores_and_flag_problems(rng: np.random.Generator) -> None:
    s, _ = _summary(rng)
    mem = memory_table(s)
    assert [r[0] for r in mem.rows] == [str(c) for c in range(9)]
    assert mem.rows[1][2].startswith("128 / 16,384")
    assert mem.rows[0][1] == "—"
    q = quant_table(s)
    assert q.flags == (False, True)  # the second layer saturated 2 values
    fit = fit_table(s)
    assert fit.rows[0][1 + 1] == "■" and fit.rows[0][1] == "✓"


def test_summary_json_is_complete_and_strict_json(rng: np.random.Generator) -> None:
    s, _ = _summary(rng)
    d = json.loads(json.dumps(s.to_dict(), allow_nan=False))
    assert d["fit_matrix"]["layers"] == ["0", "2"] and len(d["fit_matrix"]["fits"][0]) == 9
    assert [p["core"] for p in d["placement"]] == [1, 3]
    assert len(d["core_memory"]) == 9
    assert d["quantisation"][1]["saturated"] == 2
    assert [c["core"] for c in d["cores"]] == [1, 3]
    assert d["energy"]["energy_per_synop_is_assumption"] is True
    assert d["agreement"]["classes_agree"] is (s.agreement is not None and s.agreement.classes_agree)
    assert {"float", "quantised", "simulated"} <= set(d["spike_counts"][0])
    assert d["warnings"]["checker"] and d["warnings"]["bandwidth"] == []
    assert d["samples"]["accuracy"] == {"float": 1.0, "quantised": 0.5, "simulated": 0.5}


def test_html_is_self_contained_escaped_and_has_every_figure(rng: np.random.Generator) -> None:
    s, spikes = _summary(rng)
    figures = all_figures(s, spikes)
    keys = {f.key for f in figures}
    assert keys == {
        "memory",
        "throughput",
        "spike-counts",
        "output-classes",
        "spike-time",
        "output-raster",
        "raster",
    }
    doc = render_html(s, figures)
    parser = _Collector()
    parser.feed(doc)
    imgs = [a for t, a in parser.tags if t == "img"]
    assert len(imgs) == len(figures)
    for a in imgs:
        src = a["src"] or ""
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [t for t, _ in parser.tags if t in ("script", "link", "iframe")]
    assert not re.search(r"(src|href)=\"(https?:)?//", doc)
    assert "<script>alert(1)</script>" not in doc and "&lt;script&gt;" in doc
    for key in keys:
        assert f'id="fig-{key}"' in doc
    ids = {a.get("id") for _, a in parser.tags}
    anchors = [a["href"] for t, a in parser.tags if t == "a" and a.get("href")]
    assert anchors and all(h is not None and h.startswith("#") and h[1:] in ids for h in anchors)


def test_markdown_has_every_section(rng: np.random.Generator) -> None:
    s, _ = _summary(rng)
    md = render_markdown(s)
    for heading in (
        "## Placement",
        "## Memory",
        "## Quantisation",
        "## Agreement",
        "### Spike counts per layer",
    ):
        assert heading in md
    assert "| 8 | — | 0 / 32,768 (0.0 %)" in md
    assert "ASSUMPTION" in md
    assert "### Output class of the 2 shipped samples" in md and "| ⚠ 1 | 0 | 0 | 1 | — |" in md


def test_write_reports_writes_three_files(tmp_path: Path, rng: np.random.Generator) -> None:
    s, spikes = _summary(rng)
    names = write_reports(tmp_path, s, spikes)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    assert json.loads((tmp_path / "summary.json").read_text())["model"] == "tiny.pt"


def test_class_cell_shows_ties() -> None:
    from deploy.report.tables import class_cell

    assert class_cell(None, [0, 0]) == "no output spikes"
    assert class_cell(1, [0, 4, 2]) == "1"
    assert class_cell(3, [1, 0, 2, 6, 4, 6, 1, 0, 2, 6]) == "3 (tie: 3, 5, 9)"


def test_fmt_si() -> None:
    assert fmt_si(2.5e-6, "J") == "2.5 µJ"
    assert fmt_si(4.2e-4, "W") == "420 µW"
    assert fmt_si(3e-12, "J") == "3 pJ"


def test_quant_rows_copy_the_shown_stats_by_name_as_plain_numbers() -> None:
    stats = replace(
        STATS,
        scale=127.0,
        weight_range=(np.int64(-120), np.int64(127)),
        threshold_high=127,
        threshold_low=-127,
        zero_fraction=0.01,
        saturated=np.int64(2),
        max_weight_over_threshold=1.0,
        overflow_margin=32513,
    )
    qgraph = SimpleNamespace(layers=[SimpleNamespace(name="features.0", stats=stats)])
    (row,) = quant_rows(qgraph)  # type: ignore[arg-type]
    assert row == QuantRow("features.0", 127.0, (-120, 127), (0, 0), 127, -127, 0.01, 2, 1.0, 32513, "sinabs")
    assert type(row.saturated) is int and type(row.weight_range[0]) is int
    json.dumps(asdict(row))


@pytest.mark.parametrize(
    ("top", "ylabel", "rotation"),
    [(1e9, "SynOps/s", 90), (10.0, "x", 90), (1e5, "…layer_name_12", 0), (1e3, "input pixel\n(f, y, x)", 90)],
)
def test_fit_axes_leaves_room_for_exactly_the_y_labels(top: float, ylabel: str, rotation: int) -> None:
    """Figures are laid out without a layout engine: their y tick labels and y label must be inside the
    figure (not clipped) with no more than a few pixels to spare on the left."""
    from deploy.report import figures as F

    fig = F._new_figure(7.5, 3.0, fitted=True)
    axes = fig.subplots(2, 1, sharex=True)[:]
    for ax in axes:
        ax.bar([0, 1, 2], [1, top / 10, top])
        ax.set_yscale("log")
        F._plain_ticks(ax)
        ax.set_ylabel(ylabel, rotation=rotation, ha="right" if rotation == 0 else "center")
    F._fit_axes(fig, list(axes), bottom=0.4, top=0.2, hspace=0.2)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in axes:
        box = ax.get_tightbbox(renderer)
        assert 0 <= box.x0 <= 0.1 * F.DPI + 2  # the 0.08 in spare margin, rounding
        assert box.y0 >= 0 and box.y1 <= fig.bbox.height
    upper, lower = (ax.get_position() for ax in axes)
    assert upper.y0 - lower.y1 == pytest.approx(0.2 / 3.0)  # the gap between rows, in inches
