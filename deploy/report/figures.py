"""The report's figures, rendered to PNG bytes with matplotlib's object API (no pyplot, no global state).

The run report's figures are drawn once each: their margins are fixed in inches, except the left one, which
:func:`_fit_axes` fits to the widest y tick label and y label, measured text by text without drawing.
matplotlib's layout engines (constrained, tight) draw a figure up to three times to find its margins: they
took 0.3–0.4 s of the 1.0 s that the bundled model's seven figures took to draw. Log axes have no minor
ticks (a tick costs ≈ 1 ms to create and draw; the labelled decades remain). The validation report's
figures (:mod:`deploy.report.validation`) keep the constrained layout.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deploy.report.summary import RunSummary, SpikeData

SOURCE_COLOURS = {"float": "#4C72B0", "quantised": "#DD8452", "simulated": "#55A868"}
MEMORY_COLOURS = {"kernel": "#4C72B0", "neuron": "#DD8452", "bias": "#8172B3"}
DPI = 110
MAX_TIME_BINS = 60
"""Spikes-over-time panels merge time steps so that at most this many bins are drawn."""


@dataclass(frozen=True)
class RenderedFigure:
    """A figure ready to embed.

    Attributes:
        key: Stable identifier (used as the HTML element id, ``fig-<key>``).
        title: Caption shown above it.
        alt: Text alternative.
        png: PNG bytes.
    """

    key: str
    title: str
    alt: str
    png: bytes


def _new_figure(width: float, height: float, *, fitted: bool = False) -> Any:
    """An Agg-backed figure of ``width`` × ``height`` inches: laid out by matplotlib's constrained layout, or
    with ``fitted`` by the caller (:func:`_fit_axes`, one draw instead of three)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout=None if fitted else "constrained")
    FigureCanvasAgg(fig)
    return fig


def _fit_axes(
    fig: Any, axes: Sequence[Any], *, bottom: float, top: float, right: float = 0.12, hspace: float = 0.0
) -> None:
    """Place the grid of ``axes`` with the given margins and gap between rows (inches) and a left margin
    that fits the widest y tick labels plus y label of any of them.

    Call it when the axes hold their data (their y limits and tick labels are final) and before adding a
    colorbar (which takes its room from the axes placed here).
    """
    renderer = fig.canvas.get_renderer()
    left_px = max(_left_extent(ax, renderer) for ax in axes)
    width, height = fig.get_size_inches()
    rows = max(ax.get_subplotspec().get_gridspec().nrows for ax in axes)
    inner = height - bottom - top
    fig.subplots_adjust(
        left=(left_px / fig.dpi + 0.08) / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - top / height,
        hspace=rows * hspace / max(inner - (rows - 1) * hspace, 1e-3),
    )


def _left_extent(ax: Any, renderer: Any) -> float:
    """Pixels left of ``ax`` that its y tick labels, ticks and y label need (what a layout engine measures
    by drawing the axes, here by laying out those texts only)."""
    axis = ax.yaxis
    lo, hi = sorted(ax.get_ylim())
    locs = [v for v in axis.get_major_locator()() if lo <= v <= hi]
    tick = axis.get_major_ticks(1)[0]
    prop = tick.label1.get_fontproperties()
    widths = [
        renderer.get_text_width_height_descent(text, prop, ismath=False)[0]
        for text in axis.get_major_formatter().format_ticks(locs)
    ]
    label = axis.label.get_window_extent(renderer).width if axis.label.get_text() else 0.0
    pad_pt = tick.get_tick_padding() + tick.get_pad() + (axis.labelpad if label else 0.0)
    return float(max(widths, default=0.0) + label + renderer.points_to_pixels(pad_pt))


def _plain_ticks(ax: Any) -> None:
    """Tick labels of a log/symlog axis as plain numbers (1,000) instead of math text (10³): easier to read
    in a table-heavy report, and it skips matplotlib's math-text parser, the largest cost of drawing them.
    No minor ticks (each costs ≈ 1 ms; the labelled decades remain)."""
    from matplotlib.ticker import FuncFormatter, NullLocator

    ax.yaxis.set_major_formatter(
        FuncFormatter(lambda v, _pos: f"{v:,.0f}" if v >= 1 or v <= -1 else f"{v:g}")
    )
    ax.yaxis.set_minor_locator(NullLocator())


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def memory_figure(s: RunSummary) -> RenderedFigure:
    """Memory use of all cores: used words over capacity (light bars), log scale, percentages on top."""
    fig = _new_figure(7.5, 3.2, fitted=True)
    ax = fig.add_subplot()
    cores = np.arange(len(s.core_memory))
    width = 0.26
    for j, kind in enumerate(("kernel", "neuron", "bias")):
        x = cores + (j - 1) * width
        cap = [getattr(m, f"{kind}_capacity") for m in s.core_memory]
        used = [getattr(m, f"{kind}_used") for m in s.core_memory]
        ax.bar(x, cap, width, color=MEMORY_COLOURS[kind], alpha=0.18, edgecolor=MEMORY_COLOURS[kind], lw=0.6)
        ax.bar(x, [max(u, 0) for u in used], width, color=MEMORY_COLOURS[kind], label=f"{kind} used")
        for xi, u, c in zip(x, used, cap, strict=True):
            if u > 0 and c > 0:
                ax.text(xi, c * 1.15, _pct(100 * u / c), ha="center", va="bottom", fontsize=6, rotation=90)
    ax.set_yscale("log")
    _plain_ticks(ax)
    ax.set_ylim(1, max((m.neuron_capacity for m in s.core_memory), default=1) * 12)
    labels = [f"{m.core}\n{_short(m.layer) if m.layer else 'free'}" for m in s.core_memory]
    ax.set_xticks(cores, labels, fontsize=8)
    ax.set_ylabel("words (log scale)")
    _legend_above(ax, 3)
    ax.spines[["top", "right"]].set_visible(False)
    _fit_axes(fig, [ax], bottom=0.45, top=0.3)
    return RenderedFigure(
        "memory",
        "Memory per core: used (solid) against capacity (light), percentage of capacity on top",
        "Bar chart of kernel, neuron and bias memory use of each core against its capacity",
        _png(fig),
    )


def spike_count_figure(s: RunSummary) -> RenderedFigure | None:
    """Total spikes per layer in the float, quantised and simulated views."""
    a = s.agreement
    if a is None or not a.layers:
        return None
    fig = _new_figure(7.5, 3.0, fitted=True)
    ax = fig.add_subplot()
    x = np.arange(len(a.layers))
    sources = a.sources
    _grouped_bars(ax, x, {src: [la.totals[src] for la in a.layers] for src in sources})
    ax.set_xticks(x, [f"{_short(la.name)}\ncore {la.core}" for la in a.layers], fontsize=8)
    ax.set_ylabel("spikes")
    if max((la.totals[s_] for la in a.layers for s_ in sources), default=0) > 0:
        ax.set_yscale("symlog", linthresh=1)
        _plain_ticks(ax)
    _legend_above(ax, len(sources))
    ax.spines[["top", "right"]].set_visible(False)
    _fit_axes(fig, [ax], bottom=0.45, top=0.3)
    return RenderedFigure(
        "spike-counts", "Spikes per layer", "Bar chart of spike counts per layer for each view", _png(fig)
    )


def spike_time_figure(d: SpikeData) -> RenderedFigure | None:
    """Spikes per time bin for every layer, one panel per layer, the three views overlaid."""
    n = len(d.layer_names)
    if n == 0 or not d.time_counts:
        return None
    fig = _new_figure(7.5, 1.35 * n + 0.6, fitted=True)
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    n_steps = max((len(np.asarray(v[0])) for v in d.time_counts.values() if v), default=0)
    factor = max(1, -(-n_steps // MAX_TIME_BINS))  # merge steps so that at most MAX_TIME_BINS remain
    bin_us = d.dt_us * factor
    for i, ax in enumerate(axes):
        for src, per_layer in d.time_counts.items():
            series = _rebin_rows(np.asarray(per_layer[i]), factor)
            t_ms = np.arange(len(series)) * bin_us / 1000
            ax.step(t_ms, series, where="post", lw=1.1, label=src, color=SOURCE_COLOURS.get(src))
        ax.set_ylabel(_short(d.layer_names[i]), fontsize=8, rotation=0, ha="right", va="center")
        ax.tick_params(labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
    _legend_above(axes[0], len(d.time_counts))
    axes[-1].set_xlabel(f"time (ms), spikes per {bin_us / 1000:g} ms bin")
    _fit_axes(fig, axes, bottom=0.45, top=0.3, hspace=0.15)
    return RenderedFigure(
        "spike-time",
        "Spikes over time per layer (float, quantised, simulated)",
        "Step plots of the number of spikes per time bin of each layer for each view",
        _png(fig),
    )


def raster_figure(d: SpikeData) -> RenderedFigure:
    """Input events and output events as spike rasters."""
    fig = _new_figure(7.5, 3.6, fitted=True)
    ax_in, ax_out = fig.subplots(2, 1, sharex=True, height_ratios=(1.4, 1))
    ev_in, ev_out = d.input_events, d.output_events
    if len(ev_in):
        t = (ev_in["timestamp"] - d.t0_us) / 1000
        w = int(ev_in["x"].max()) + 1
        h = int(ev_in["y"].max()) + 1
        idx = (ev_in["feature"].astype(np.int64) * h + ev_in["y"]) * w + ev_in["x"]
        ax_in.scatter(t, idx, s=0.4, c=np.where(ev_in["feature"] > 0, "#4C72B0", "#C44E52"), linewidths=0)
    ax_in.set_ylabel("input pixel\n(feature, y, x)", fontsize=8)
    ax_in.set_title(f"input: {len(ev_in):,} events", fontsize=9, loc="left")
    if len(ev_out):
        ax_out.scatter(
            (ev_out["timestamp"] - d.t0_us) / 1000, ev_out["feature"], s=6, marker="|", color="#55A868"
        )
    ax_out.set_ylabel("output feature", fontsize=8)
    ax_out.set_ylim(-0.5, max(d.output_features, 1) - 0.5)
    ax_out.set_title(f"output (target): {len(ev_out):,} events", fontsize=9, loc="left")
    ax_out.set_xlabel("time (ms)")
    for ax in (ax_in, ax_out):
        ax.tick_params(labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
    _fit_axes(fig, [ax_in, ax_out], bottom=0.45, top=0.25, hspace=0.35)
    return RenderedFigure(
        "raster", "Input and output spike rasters", "Scatter plots of input and output events", _png(fig)
    )


def output_raster_figure(d: SpikeData) -> RenderedFigure | None:
    """Spike raster of the output layer in each view: spikes per time bin (columns) and class (rows)."""
    if not d.output_rasters:
        return None
    sources = list(d.output_rasters)
    n_steps = max(r.shape[0] for r in d.output_rasters.values())
    factor = max(1, -(-n_steps // (2 * MAX_TIME_BINS)))
    rasters = {s: _rebin_rows(np.asarray(r), factor) for s, r in d.output_rasters.items()}
    vmax = max(1, *(int(r.max()) if r.size else 0 for r in rasters.values()))
    n_f = max(d.output_features, 1)
    fig = _new_figure(7.5, 0.5 + len(sources) * (0.45 + 0.13 * n_f), fitted=True)
    axes = fig.subplots(len(sources), 1, sharex=True, squeeze=False)[:, 0]
    bin_ms = d.dt_us * factor / 1000
    image = None
    for ax, src in zip(axes, sources, strict=True):
        r = rasters[src]
        extent = (0.0, r.shape[0] * bin_ms, n_f - 0.5, -0.5)
        image = ax.imshow(
            r.T, aspect="auto", cmap="Greys", vmin=0, vmax=vmax, extent=extent, interpolation="nearest"
        )
        ax.set_ylabel(src, fontsize=8, color=SOURCE_COLOURS.get(src, "black"))
        ax.set_yticks(range(n_f))
        ax.tick_params(labelsize=6)
    axes[-1].set_xlabel(f"time (ms), {bin_ms:g} ms bins; rows = output features (classes)")
    _fit_axes(fig, axes, bottom=0.4, top=0.08, right=0.1, hspace=0.15)
    if image is not None:
        from matplotlib.ticker import MaxNLocator

        bar = fig.colorbar(image, ax=list(axes), shrink=0.8, label="spikes per bin")
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
    return RenderedFigure(
        "output-raster",
        "Output-layer spike rasters: float vs quantised vs simulated",
        "Heat maps of output-layer spikes per time bin and class for each view",
        _png(fig),
    )


def output_class_figure(s: RunSummary) -> RenderedFigure | None:
    """Output spikes per class for each view."""
    a = s.agreement
    if a is None or not a.output_counts:
        return None
    n_cls = max((len(v) for v in a.output_counts.values()), default=0)
    if n_cls == 0:
        return None
    fig = _new_figure(7.5, 2.6, fitted=True)
    ax = fig.add_subplot()
    x = np.arange(n_cls)
    sources = a.sources
    _grouped_bars(ax, x, {src: a.output_counts[src] for src in sources})
    ax.set_xticks(x)
    ax.set_xlabel("output feature (class)")
    ax.set_ylabel("spikes")
    _legend_above(ax, len(sources))
    ax.spines[["top", "right"]].set_visible(False)
    _fit_axes(fig, [ax], bottom=0.45, top=0.3)
    return RenderedFigure(
        "output-classes",
        "Output spikes per class",
        "Bar chart of output spikes per class for each view",
        _png(fig),
    )


def throughput_figure(s: RunSummary) -> RenderedFigure | None:
    """Measured and predicted SynOps/s per used core against the budget."""
    if not s.activity:
        return None
    fig = _new_figure(7.5, 2.8, fitted=True)
    ax = fig.add_subplot()
    x = np.arange(len(s.activity))
    ax.bar(x - 0.2, [a.synops_rate for a in s.activity], 0.4, label="simulated", color="#55A868")
    ax.bar(x + 0.2, [a.predicted_rate for a in s.activity], 0.4, label="predicted (SD-tips)", color="#937860")
    for i, a in enumerate(s.activity):
        ax.hlines(a.budget, i - 0.45, i + 0.45, color="#C44E52", lw=1.5, label="budget" if i == 0 else None)
    ax.set_xticks(x, [f"core {a.core}\n{_short(a.layer)}" for a in s.activity], fontsize=8)
    ax.set_ylabel("SynOps/s")
    ax.set_yscale("log")
    _plain_ticks(ax)
    _legend_above(ax, 3)
    ax.spines[["top", "right"]].set_visible(False)
    _fit_axes(fig, [ax], bottom=0.45, top=0.3)
    return RenderedFigure(
        "throughput",
        "SynOps/s per core against the budget",
        "Bar chart of measured and predicted synaptic operations per second per core with the budget",
        _png(fig),
    )


def all_figures(s: RunSummary, d: SpikeData | None) -> list[RenderedFigure]:
    """Every figure of the report, in report order (figures without data are left out)."""
    makers: list[Callable[[], RenderedFigure | None]] = [
        lambda: memory_figure(s),
        lambda: throughput_figure(s),
        lambda: spike_count_figure(s),
        lambda: output_class_figure(s),
    ]
    if d is not None:
        makers += [lambda: spike_time_figure(d), lambda: output_raster_figure(d), lambda: raster_figure(d)]
    out = []
    for make in makers:
        fig = make()
        if fig is not None:
            out.append(fig)
    return out


def _legend_above(ax: Any, ncols: int) -> None:
    """Legend in one row above the plot's top-right corner, where it cannot hide data."""
    ax.legend(ncols=max(ncols, 1), fontsize=8, frameon=False, loc="lower right", bbox_to_anchor=(1, 1))


def _grouped_bars(ax: Any, x: np.ndarray, values: dict[str, Any]) -> None:
    """One bar per view (``values``: view → heights at ``x``) side by side around each ``x``."""
    width = 0.8 / max(len(values), 1)
    for j, (src, heights) in enumerate(values.items()):
        offset = (j - (len(values) - 1) / 2) * width
        ax.bar(x + offset, heights, width, label=src, color=SOURCE_COLOURS.get(src))


def _rebin_rows(raster: np.ndarray, factor: int) -> np.ndarray:
    """Sum groups of ``factor`` consecutive rows (time bins) of a ``(T,)`` or ``(T, F)`` array; the last
    group may be shorter."""
    if factor <= 1 or raster.shape[0] == 0:
        return raster
    pad = (-raster.shape[0]) % factor
    padded = np.concatenate([raster, np.zeros((pad, *raster.shape[1:]), dtype=raster.dtype)])
    return padded.reshape(-1, factor, *raster.shape[1:]).sum(axis=1)


def _pct(p: float) -> str:
    return f"{p:.1f}%" if p < 10 else f"{p:.0f}%"


def _short(name: str | None, n: int = 14) -> str:
    if not name:
        return ""
    return name if len(name) <= n else "…" + name[-(n - 1) :]
