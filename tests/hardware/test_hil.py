"""Hardware-in-the-loop: the board must compute what the simulator computes (DESIGN.md "Tests").

Run with ``pytest --board tests/hardware`` on a machine with the real samna and a board (docs/hardware.md).
Every comparison that fails writes a divergence report (first diverging layer, events) to
``$SPECK_DEPLOY_HIL_REPORTS`` (default ``hil-reports/``) and names the file in the assertion message.

What is compared (SPECK_SEMANTICS §3.3, §12):

- Chains on cores 2–8: per-core output sequences must be identical, event for event (identity
  ``(core, feature, x, y)``; board timestamps are the chip's, the simulator's are the causing input's).
- Networks on cores 0/1 (the parallel cores): output order is not guaranteed and the last spike of a finite
  train may be withheld, so the board's output must be a sub-multiset of the simulator's with at most
  ``PARALLEL_CORE_MISSING`` events missing.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from typing import Any

import numpy as np
import pytest
from _fixtures import board_fixture, hil_chip_fixture, hil_samna_fixture  # noqa: F401  (pytest fixtures)
from _support import (
    first_divergence,
    load_reference_case,
    random_chain,
    random_input,
    relocate,
    using_double,
    write_divergence_report,
)

from deploy.board import BoardTarget
from deploy.sim.events import Events, make_events
from deploy.sim.options import SimOptions
from deploy.sim.result import topological_order
from hwconfig import ChipConfig, CnnLayerConfig, CnnLayerDestination, CnnLayerDimensions, IOShape, Vec2
from hwconfig.config import ReadoutConfig

pytestmark = pytest.mark.hardware

EXACT_CASES = ("tiny_2layer", "reset_zero", "bias_leak", "mnist_avgpool")
PARALLEL_CASES = ("tiny_2layer", "reset_zero")
PARALLEL_CORE_MISSING = 2  # §3.3: core 0 and core 1 may each withhold the last spike of the train


def simulate(config: ChipConfig, events: Events, chip: str, **options: Any) -> Events:
    """The project's fast simulator (itself tested event for event against the reference one)."""
    from deploy.sim.simulator import simulate as fast_simulate

    return fast_simulate(config, events, SimOptions(**options), chip).events


def assert_same(name: str, board: BoardTarget, config: ChipConfig, events: Events) -> None:
    board.set_slow_clock(None)  # no slow clock: biases have no effect on board and simulator alike (§2.4)
    board.load(config)
    got = board.run(events)
    expected = simulate(config, events, board.chip.name)
    divergence = first_divergence(got, expected, topological_order(config))
    if divergence is not None:
        path = write_divergence_report(
            name,
            config,
            events,
            got,
            expected,
            divergence.describe(),
            {"diagnostics": board.last_run.describe() if board.last_run else None},
        )
        pytest.fail(f"{name}: {divergence.describe()}; report: {path}")
    assert len(got) == len(expected)


# ------------------------------------------------------------------------------- exact comparisons


@pytest.mark.parametrize("case", EXACT_CASES)
def test_reference_case_on_cores_2_to_8_matches_the_simulator(board: BoardTarget, case: str) -> None:
    ref = load_reference_case(case)
    config, events, mapping = relocate(ref.config, ref.events, board.chip.name)
    assert all(core >= 2 for core in mapping.values())
    assert_same(f"reference-{case}-relocated", board, config, events)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_chain_matches_the_simulator(board: BoardTarget, seed: int) -> None:
    rng = np.random.default_rng(seed)
    config = random_chain(rng)
    events = random_input(rng, core=2, channels=2, size=12, n=400, span_us=200_000)
    assert_same(f"random-chain-{seed}", board, config, events)


@pytest.mark.parametrize("core", range(2, 9))
def test_single_neuron_on_each_deterministic_core(board: BoardTarget, core: int) -> None:
    """SPECK_SEMANTICS §12b.2: 1×1 kernel, W=127, thr=127, v0=0: one input → exactly one spike, v=0 after."""
    layer = CnnLayerConfig(
        weights=np.full((1, 1, 1, 1), 127), threshold_high=127, threshold_low=-127, monitor_enable=True
    )
    config = ChipConfig().with_layer(core, layer)
    board.set_slow_clock(None)
    board.load(config)
    out = board.run(make_events([1000], core, 0, 0, 0))
    assert [(int(e["layer"]), int(e["feature"]), int(e["x"]), int(e["y"])) for e in out] == [(core, 0, 0, 0)]
    assert board.read_neuron_state(core, 0, 0, 0) == 0


# ----------------------------------------------------------------------------- parallel cores 0/1


@pytest.mark.parametrize("case", PARALLEL_CASES)
def test_reference_case_on_parallel_cores_matches_in_counts(board: BoardTarget, case: str) -> None:
    ref = load_reference_case(case)
    board.set_slow_clock(None)
    board.load(ref.config)
    got = board.run(ref.events)
    expected = simulate(ref.config, ref.events, board.chip.name)
    got_ids = Counter((int(e["layer"]), int(e["feature"]), int(e["x"]), int(e["y"])) for e in got)
    exp_ids = Counter((int(e["layer"]), int(e["feature"]), int(e["x"]), int(e["y"])) for e in expected)
    extra = got_ids - exp_ids
    missing = sum((exp_ids - got_ids).values())
    if extra or missing > PARALLEL_CORE_MISSING:
        summary = (
            f"parallel-core comparison failed: {sum(extra.values())} event(s) the simulator never produced, "
            f"{missing} missing (allowed {PARALLEL_CORE_MISSING})"
        )
        path = write_divergence_report(
            f"reference-{case}-parallel", ref.config, ref.events, got, expected, summary
        )
        pytest.fail(f"{summary}; report: {path}")


# ------------------------------------------------------------------------------------ leak, readout


def leak_config(core: int) -> ChipConfig:
    """SPECK_SEMANTICS §12b.1 (sinabs leak notebook): W=127, B=−13, thr=127, thr_low=−127, v0=127."""
    layer = CnnLayerConfig(
        weights=np.full((1, 1, 1, 1), 127),
        biases=np.array([-13]),
        neurons_initial_value=np.full((1, 1, 1), 127),
        threshold_high=127,
        threshold_low=-127,
        leak_enable=True,
        monitor_enable=True,
    )
    return ChipConfig().with_layer(core, layer)


def test_leak_decreases_the_state_by_13_per_slow_clock_period(board: BoardTarget) -> None:
    hz, periods, core = 2, 5, 4  # a core without the leak erratum (§2.4)
    board.set_slow_clock(None)
    board.load(leak_config(core))
    assert len(board.run(make_events([], core, 0, 0, 0))) == 0  # starts the stopwatch
    board.set_slow_clock(hz)
    states = []
    for _ in range(periods):
        board.wait(1.0 / hz)  # one bounded wait per period
        states.append(board.read_neuron_state(core, 0, 0, 0))
    board.set_slow_clock(None)
    report = {"states": states, "slow_clock_hz": hz}
    drops = [127 - s for s in states]
    ok = (
        all(d % 13 == 0 for d in drops)
        and all(b >= a for a, b in itertools.pairwise(drops))
        and 13 * (periods - 1) <= drops[-1] <= 13 * (periods + 1)
    )
    if not ok:
        path = write_divergence_report(
            "leak",
            leak_config(core),
            make_events([], core, 0, 0, 0),
            make_events([], 0, 0, 0, 0),
            make_events([], 0, 0, 0, 0),
            f"leak read-back {states}",
            report,
        )
        pytest.fail(f"leak read-back {states} is not 127 − 13·k with k ≈ periods elapsed; report: {path}")
    if using_double():
        assert states == [127 - 13 * (k + 1) for k in range(periods)]


def readout_config(core: int) -> ChipConfig:
    """16 output features on one 1×1 map, only feature 4 driven (weight 127 = threshold) → readout class 2
    under the speck2e/2f erratum (class = f // 4 + 1, §6) in address mode 3 (1x·1y·16f)."""
    weights = np.zeros((16, 1, 1, 1), int)
    weights[4] = 127
    layer = CnnLayerConfig(
        dimensions=CnnLayerDimensions(IOShape(Vec2(1, 1), 1), IOShape(Vec2(1, 1), 16)),
        weights=weights,
        biases=np.zeros(16, int),
        neurons_initial_value=np.zeros((16, 1, 1), int),
        threshold_high=127,
        threshold_low=-127,
        destinations=(CnnLayerDestination(enable=True, layer=12), CnnLayerDestination()),
    )
    readout = ReadoutConfig(
        enable=True,
        monitor_enable=True,
        readout_configuration_sel=3,
        low_pass_filter_disable=True,
        output_mode_sel=3,
        override_threshold_max=True,
    )
    return dataclasses.replace(ChipConfig().with_layer(core, layer), readout=readout)


def test_readout_reports_the_driven_class(board: BoardTarget) -> None:
    if using_double():
        pytest.skip("the samna double models no readout layer; this test needs a board")
    core, hz = 2, 10
    config = readout_config(core)
    events = make_events(np.arange(0, 500_000, 5_000), core, 0, 0, 0)
    board.set_slow_clock(hz)
    board.load(config)
    board.run(events)
    board.set_slow_clock(None)
    from deploy.sim.simulator import simulate as fast_simulate

    expected_counts = fast_simulate(
        config, events, SimOptions(slow_clock_hz=hz), board.chip.name
    ).readout_counts
    expected_class = int(np.argmax(expected_counts))
    values = [int(e.value) for e in board.other_events if type(e).__name__ == "ReadoutValue"]
    classes = [(v >> 16) & 0xF for v in values]  # bits 19:16 = argmax class (§6)
    if not values or Counter(classes).most_common(1)[0][0] != expected_class:
        path = write_divergence_report(
            "readout",
            config,
            events,
            make_events([], 0, 0, 0, 0),
            make_events([], 0, 0, 0, 0),
            f"readout classes {Counter(classes)} vs expected class {expected_class}",
            {"readout_values": values, "expected_counts": expected_counts.tolist()},
        )
        pytest.fail(f"readout reported classes {Counter(classes)}, expected {expected_class}; report: {path}")
