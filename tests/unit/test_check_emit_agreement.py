"""check and emit never disagree: a graph that check accepts, placed from check's fit matrix, always emits.

Every chip rule is decided in :mod:`deploy.check` before placement; :func:`deploy.emit.emit_config` only
asserts. Over seeded random quantised graphs (chains with fan-out, merges, pooling, feature shifts, Linear
exits, DVS input, out-of-range values, too many layers) on every chip, with the readout on and off, either
check reports violations, or placement finds no core assignment (a Hall witness, not a chip rule), or emit
succeeds: never check-OK-then-emit-raises.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from _qgraphs import qgraph, qlayer

from deploy.check import check
from deploy.emit import emit_config
from deploy.errors import PlacementError
from deploy.graph import OUTPUT, DvsInput, Edge, QuantizedGraph, QuantizedLayer
from deploy.place import place
from hwconfig import get_chip

SEEDS = range(400)


def _pick(rng: np.random.Generator, common: list[int], rare: list[int], p_rare: float = 0.1) -> int:
    return int(rng.choice(rare if rng.random() < p_rare else common))


def _layer(
    rng: np.random.Generator, name: str, in_shape: tuple[int, int, int], *, last: bool
) -> QuantizedLayer:
    _, h, w = in_shape
    bias = [int(v) for v in rng.integers(-20, 21, size=1)] if rng.random() < 0.2 else None
    wmax = 300 if rng.random() < 0.03 else 50
    threshold_high = _pick(rng, [100, 40], [-5, 32767])
    threshold_low = _pick(rng, [-100], [0], 0.03)
    if rng.random() < (0.6 if last else 0.25):  # a Linear layer: one kernel over the whole map → 1×1 output
        f = _pick(rng, [2, 3, 10, 14], [15, 40, 300], 0.2)
        kh, kw = (h, w) if rng.random() < 0.95 else (h, max(w - 1, 1))
        layer = qlayer(
            name, in_shape, f, (kh, kw), kind="linear", rng=rng, wmax=wmax, threshold_high=threshold_high
        )
    else:
        f = _pick(rng, [2, 4, 8, 16], [64, 200, 700, 1100])
        k = _pick(rng, [1, 3, 5], [2, 7, 17])
        stride = _pick(rng, [1, 1, 2], [3, 4, 8])
        padding = _pick(rng, [0, 1, 2], [8], 0.03)
        layer = qlayer(
            name,
            in_shape,
            f,
            k,
            stride=(stride, stride),
            padding=(padding, padding),
            rng=rng,
            wmax=wmax,
            threshold_high=threshold_high,
            threshold_low=threshold_low,
        )
    if bias is not None:
        f = layer.source.out_features
        layer = qlayer(
            name,
            in_shape,
            f,
            tuple(int(v) for v in layer.weight.shape[-2:]),  # type: ignore[arg-type]
            stride=layer.source.stride,
            padding=layer.source.padding,
            weight=layer.weight,
            bias=[int(v) for v in rng.integers(-20, 21, size=f)],
            kind=layer.source.kind,
            threshold_high=layer.threshold_high,
            threshold_low=layer.threshold_low,
        )
    return layer


def random_graph(seed: int) -> QuantizedGraph:
    """A mostly consistent random graph: a chain with extra edges, random pooling, sometimes DVS input."""
    rng = np.random.default_rng(seed)
    n = _pick(rng, [1, 2, 3, 4, 5], [9, 10], 0.1)
    dvs = None
    shape = (_pick(rng, [1, 2], [4, 64, 600]), _pick(rng, [4, 8, 16, 32], [64, 130]), 0)
    shape = (shape[0], shape[1], shape[1] if rng.random() < 0.85 else max(shape[1] // 2, 1))
    if rng.random() < 0.2:
        pool = _pick(rng, [1, 2, 4], [3], 0.1)
        sensor = (_pick(rng, [2, 1], [3], 0.1), shape[1] * pool, shape[2] * pool)
        dvs = DvsInput(input_shape=sensor, pooling=(pool, pool), destinations=(0,), module_path="dvs")
        shape = dvs.output_shape
    layers: list[QuantizedLayer] = []
    edges: list[Edge] = []
    for i in range(n):
        layer = _layer(rng, str(i), shape, last=i == n - 1)
        layers.append(layer)
        f, h, w = layer.source.out_shape
        if i < n - 1:
            pooling = _pick(rng, [1, 1, 2], [4, 3])
            edges.append(Edge(i, i + 1, pooling=pooling))
            shape = (f, max(h // pooling, 1), max(w // pooling, 1))
    exit_layer = n - 1 if rng.random() < 0.7 else int(rng.integers(0, n))  # an exit that also feeds others
    for _ in range(int(rng.integers(0, 3))):  # fan-out / merge / concatenation edges
        if n < 3:
            break
        src = int(rng.integers(0, n - 2))
        if exit_layer < n - 2 and rng.random() < 0.4:  # fan-out from the exit: both slots used
            src = exit_layer
        dst = int(rng.integers(src + 2, n))
        edges.append(Edge(src, dst, pooling=_pick(rng, [1, 2], [4]), feature_shift=_pick(rng, [0], [2], 0.3)))
    f, h, w = layers[-1].source.out_shape
    if (h, w) == (1, 1) and rng.random() < 0.3:  # side layers fed by a 1×1 exit (they use its slots)
        exit_layer = n - 1
        for j in range(int(rng.integers(1, 3))):
            layers.append(qlayer(f"side{j}", (f, 1, 1), 2, 1, rng=rng))
            edges.append(Edge(exit_layer, len(layers) - 1))
    edges.append(Edge(exit_layer, OUTPUT))
    if n > 1 and rng.random() < 0.15:
        edges.append(Edge(int(rng.integers(0, n - 1)), OUTPUT))  # a second exit
    return qgraph(layers, edges, dvs=dvs)


CHIPS = {
    "speck2f": get_chip("speck2f"),
    "speck2e": get_chip("speck2e"),
    "dynapcnn": get_chip("dynapcnn"),
    # A readout without the class erratum: the readout rules that the expansion does not already cover.
    "speck2f-no-erratum": dataclasses.replace(get_chip("speck2f"), readout_class_erratum=False),
}


@pytest.mark.parametrize("chip_name", sorted(CHIPS))
def test_check_ok_means_emit_succeeds(chip_name: str) -> None:
    chip = CHIPS[chip_name]
    emitted = {False: 0, True: 0}
    for seed in SEEDS:
        g = random_graph(seed)
        for readout in (False, True):
            result = check(g, chip, readout=readout)
            if not result.ok:
                continue
            try:
                placement = place(result.fit_matrix, chip)
            except PlacementError:
                continue  # no core assignment: check_model records it; not a chip rule emit decides
            try:
                emit_config(g, placement, chip, readout=readout)
            except Exception as exc:  # any failure here is the disagreement under test
                raise AssertionError(
                    f"seed {seed}, readout={readout}: check OK but emit raised {exc!r}"
                ) from exc
            emitted[readout] += 1
    # The property is not vacuous: graphs of both kinds reach emit (readout only on chips that have one).
    assert emitted[False] >= 40
    assert emitted[True] >= (10 if chip.has_readout else 0)
