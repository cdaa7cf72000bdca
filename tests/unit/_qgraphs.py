"""Hand-built QuantizedGraphs for the check / place / emit unit tests (no front end involved)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deploy.graph import (
    OUTPUT,
    ChipLayer,
    DvsInput,
    Edge,
    LayerGraph,
    LayerQuantStats,
    QuantizedGraph,
    QuantizedLayer,
    Shape3,
)

STATS = LayerQuantStats(
    scale=1.0,
    scale_weights=1.0,
    scale_bias=float("inf"),
    scale_thresholds=1.0,
    scale_state=float("inf"),
    weight_range=(0, 0),
    bias_range=(0, 0),
    threshold_high=100,
    threshold_low=-100,
    zero_fraction=0.0,
    saturated=0,
    max_weight_over_threshold=0.0,
    overflow_margin=0,
)


def qlayer(
    name: str,
    in_shape: Shape3,
    out_features: int,
    k: int | tuple[int, int] = 3,
    *,
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0),
    rng: np.random.Generator | None = None,
    bias: Sequence[int] | None = None,
    threshold_high: int = 100,
    threshold_low: int = -100,
    reset: str = "subtract",
    weight: np.ndarray | None = None,
    initial_state: np.ndarray | None = None,
    kind: str = "conv",
    wmax: int = 50,
) -> QuantizedLayer:
    kh, kw = (k, k) if isinstance(k, int) else k
    c = in_shape[0]
    if weight is None:
        gen = rng if rng is not None else np.random.default_rng(0)
        weight = gen.integers(-wmax, wmax + 1, size=(out_features, c, kh, kw)).astype(np.int64)
    b = np.zeros(out_features, np.int64) if bias is None else np.asarray(bias, np.int64)
    src = ChipLayer(
        name=name,
        in_shape=in_shape,
        weight=weight.astype(np.float32),
        bias=None if bias is None else b.astype(np.float32),
        stride=stride,
        padding=padding,
        threshold=float(threshold_high),
        min_v_mem=float(threshold_low),
        reset=reset,  # type: ignore[arg-type]
        kind=kind,  # type: ignore[arg-type]
    )
    f, h, w = src.out_shape
    state = np.zeros((f, max(h, 0), max(w, 0)), np.int64) if initial_state is None else initial_state
    return QuantizedLayer(
        source=src,
        weight=weight.astype(np.int64),
        bias=b,
        threshold_high=threshold_high,
        threshold_low=threshold_low,
        initial_state=state,
        stats=STATS,
    )


def qgraph(
    layers: Sequence[QuantizedLayer],
    edges: Sequence[Edge] | None = None,
    *,
    dvs: DvsInput | None = None,
    input_shape: Shape3 | None = None,
) -> QuantizedGraph:
    """A graph; without ``edges`` a chain ``0 → 1 → ... → OUTPUT`` with pooling 1."""
    if edges is None:
        edges = [Edge(i, i + 1) for i in range(len(layers) - 1)] + [Edge(len(layers) - 1, OUTPUT)]
    graph = LayerGraph(
        layers=tuple(q.source for q in layers),
        edges=tuple(edges),
        input_shape=input_shape or (dvs.input_shape if dvs else layers[0].source.in_shape),
        entry_layers=() if dvs else (0,),
        dvs=dvs,
    )
    return QuantizedGraph(graph=graph, layers=tuple(layers))


def chain(rng: np.random.Generator) -> QuantizedGraph:
    """2×16×16 → conv 4 (k3 p1) → conv 2 (k3 s2 p1) → out: the shape of sinabs_reference/tiny_2layer."""
    a = qlayer("0", (2, 16, 16), 4, 3, padding=(1, 1), rng=rng)
    b = qlayer("2", (4, 16, 16), 2, 3, stride=(2, 2), padding=(1, 1), rng=rng)
    return qgraph([a, b])
