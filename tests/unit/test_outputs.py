"""Board vs simulator comparison and per-exit outputs in the reports (issue #12)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import sinabs.layers as sl
import torch
from samna_double import Behaviour, make_samna
from test_report import _summary
from torch import nn

from deploy.board import run_on_board
from deploy.errors import DeployError
from deploy.pipeline import compile_model
from deploy.report.html import render_html
from deploy.report.markdown import render_markdown
from deploy.report.outputs import CoreCounts, compare_targets, exit_outputs, resolve_class_exit
from deploy.sim.events import make_events
from deploy.sim.simulator import simulate
from hwconfig import ChipConfig, CnnLayerConfig, CnnLayerDestination, CnnLayerDimensions, IOShape, Vec2


def ev(rows: list[tuple[int, int, int, int, int]]) -> Any:
    a = np.array(rows, dtype=np.int64).reshape(-1, 5)
    return make_events(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4])


def test_same_events_at_other_times_are_identical() -> None:
    c = compare_targets(ev([(5, 3, 0, 1, 1), (9, 5, 1, 0, 0)]), ev([(1, 3, 0, 1, 1), (2, 5, 1, 0, 0)]))
    assert c.identical and c.same_counts
    assert c.cores == (CoreCounts(3, 1, 1), CoreCounts(5, 1, 1))
    assert c.verdict().startswith("identical: 2 events")


def test_first_difference_names_both_events() -> None:
    c = compare_targets(ev([(5, 3, 0, 1, 1), (9, 3, 2, 0, 0)]), ev([(5, 3, 0, 1, 1), (9, 3, 1, 0, 0)]))
    assert (c.first_difference, c.board_event, c.simulator_event) == (1, (9, 3, 2, 0, 0), (9, 3, 1, 0, 0))
    assert c.same_counts and not c.identical
    assert "first difference at event 1: board core 3 feature 2" in c.verdict()


def test_a_missing_event_is_a_difference_past_the_end() -> None:
    c = compare_targets(ev([(5, 3, 0, 1, 1)]), ev([(5, 3, 0, 1, 1), (7, 4, 0, 0, 0)]))
    assert (c.first_difference, c.board_event, c.simulator_event) == (1, None, (7, 4, 0, 0, 0))
    assert c.cores == (CoreCounts(3, 1, 1), CoreCounts(4, 0, 1)) and not c.same_counts
    assert c.to_dict()["cores"][1] == {"core": 4, "board": 0, "simulator": 1}


def chain(rng: np.random.Generator) -> ChipConfig:
    """core 3 → core 5, both monitored."""
    first = CnnLayerConfig(
        dimensions=CnnLayerDimensions(
            IOShape(Vec2(8, 8), 2), IOShape(Vec2(8, 8), 4), Vec2(1, 1), Vec2(1, 1), 3
        ),
        weights=rng.integers(-20, 60, size=(4, 2, 3, 3)),
        biases=np.zeros(4, int),
        neurons_initial_value=np.zeros((4, 8, 8), int),
        threshold_high=250,
        threshold_low=-80,
        monitor_enable=True,
        destinations=(CnnLayerDestination(enable=True, layer=5), CnnLayerDestination()),
    )
    second = replace(
        first,
        dimensions=CnnLayerDimensions(
            IOShape(Vec2(8, 8), 4), IOShape(Vec2(8, 8), 2), Vec2(1, 1), Vec2(1, 1), 3
        ),
        weights=rng.integers(-10, 50, size=(2, 4, 3, 3)),
        biases=np.zeros(2, int),
        neurons_initial_value=np.zeros((2, 8, 8), int),
        destinations=(CnnLayerDestination(), CnnLayerDestination()),
    )
    return ChipConfig().with_layer(3, first).with_layer(5, second)


def test_board_double_against_the_simulator() -> None:
    rng = np.random.default_rng(4)
    config = chain(rng)
    n = 60
    inp = make_events(
        np.sort(rng.integers(0, 50_000, n)), 3, rng.integers(0, 2, n), *rng.integers(0, 8, (2, n))
    )
    sim = simulate(config, inp).events
    samna = make_samna([("Speck2fDevKit", "F-1")])
    board = run_on_board(config, "speck2f", inp, samna=samna, clock=samna.clock, sleep=samna.clock.sleep)
    c = compare_targets(board, sim)
    assert 20 < len(sim) < 600 and c.identical  # few enough for the double's polling
    assert {k.core for k in c.cores} == {3, 5}

    # A board that loses core 5's first spike: the comparison points at it.
    from deploy.sim.simulator import Simulator

    chip_sim = Simulator()
    chip_sim.load(config)
    dropped: list[bool] = []

    def lossy(configuration: Any, spikes: list[Any]) -> list[tuple[int, int, int, int, int]]:
        cols = [[getattr(e, f) for e in spikes] for f in ("timestamp", "layer", "feature", "x", "y")]
        rows = [tuple(int(v) for v in r) for r in chip_sim.run(make_events(*cols)).tolist()]
        fives = [i for i, r in enumerate(rows) if r[1] == 5]
        if fives and not dropped:
            dropped.append(True)
            del rows[fives[0]]
        return rows

    samna = make_samna([("Speck2fDevKit", "F-1", Behaviour(responder=lossy))])
    board = run_on_board(config, "speck2f", inp, samna=samna, clock=samna.clock, sleep=samna.clock.sleep)
    c = compare_targets(board, sim)
    first5 = int(np.nonzero(sim["layer"] == 5)[0][0])
    assert c.first_difference == first5
    assert [(k.core, k.board - k.simulator) for k in c.cores] == [(3, 0), (5, -1)]


class TwoExit(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(2, 4, 3, padding=1, bias=False)
        self.s1 = sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0)
        self.head_a = nn.Conv2d(4, 3, 8, bias=False)
        self.sa = sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0)
        self.head_b = nn.Conv2d(4, 5, 8, bias=False)
        self.sb = sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.s1(self.c1(x))
        return self.sa(self.head_a(h)), self.sb(self.head_b(h))


def test_each_exit_is_reported_and_the_class_exit_can_be_named() -> None:
    r = compile_model(TwoExit(), "speck2f", (2, 8, 8))
    a, b = (r.placement.core_of[i] for i in (1, 2))
    out = ev(
        [
            (0, a, 2, 0, 0),
            (1, b, 4, 0, 0),
            (2, b, 4, 0, 0),
            (3, b, 0, 0, 0),
            (4, r.placement.core_of[0], 1, 3, 3),
        ]
    )
    assert resolve_class_exit(r.graph, None) == 2  # the last exit, as before
    assert resolve_class_exit(r.graph, "head_a") == resolve_class_exit(r.graph, 1) == 1
    exits = exit_outputs(r.graph, r.placement, out, class_exit=1)
    assert [(e.name, e.counts, e.predicted_class, e.is_class_exit) for e in exits] == [
        ("head_a", (0, 0, 1), 2, True),
        ("head_b", (1, 0, 0, 0, 2), 4, False),
    ]
    with pytest.raises(
        DeployError,
        match=r"--class-exit 'c1' is not an exit layer of the model; its exits are 1 \('head_a'\), 2 ",
    ):
        resolve_class_exit(r.graph, "c1")


def test_both_reports_show_the_board_section_and_the_exits() -> None:
    summary, _ = _summary(np.random.default_rng(0))
    c = compare_targets(ev([(5, 3, 0, 1, 1)]), ev([(5, 3, 0, 1, 1), (7, 4, 0, 0, 0)]))
    r = compile_model(TwoExit(), "speck2f", (2, 8, 8))
    exits = exit_outputs(r.graph, r.placement, ev([(0, r.placement.core_of[1], 2, 0, 0)]), class_exit=1)
    s = replace(summary, board_comparison=c, exits=exits)
    md, html = render_markdown(s), render_html(s, ())
    for text in (md, html):
        assert "Board vs simulator" in text and "first difference at event 1" in text
        assert "Exit layers" in text and "head_a (class exit)" in text
    d = s.to_dict()
    assert d["board_vs_simulator"]["first_difference"] == 1 and d["exits"][0]["class_exit"] is True
    plain = render_markdown(summary)
    assert "Board vs simulator" not in plain and "Exit layers" not in plain
