"""The fast simulator's own API: batch runs, output-buffer growth, Target behaviour, input formats."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from _nets import chip, core, dest

from deploy.errors import EventFormatError, SimulationError
from deploy.sim.events import Events, make_events, to_rows, to_tonic
from deploy.sim.options import SimOptions
from deploy.sim.reference import simulate_reference
from deploy.sim.result import SimResult
from deploy.sim.simulator import Simulator, simulate, simulate_batch
from hwconfig.config import ChipConfig


def _net() -> ChipConfig:
    return chip(
        {
            1: core(
                np.full((4, 2, 3, 3), 9), (8, 8), padding=1, threshold_high=20, dests=(dest(2, pooling=2),)
            ),
            2: core(np.full((3, 4, 2, 2), 5), (4, 4), threshold_high=15, monitor_enable=True),
        }
    )


def _events(rng: np.random.Generator, n: int) -> Events:
    return make_events(
        np.sort(rng.integers(0, 10_000, n)),
        1,
        rng.integers(0, 2, n),
        rng.integers(0, 8, n),
        rng.integers(0, 8, n),
    )


def test_batch_equals_single_runs(rng: np.random.Generator) -> None:
    config = _net()
    samples = [_events(rng, int(rng.integers(1, 300))) for _ in range(5)]
    for workers in (1, 2):
        results = simulate_batch(config, samples, workers=workers)
        for sample, res in zip(samples, results, strict=True):
            single = simulate(config, sample)
            np.testing.assert_array_equal(res.events, single.events)
            np.testing.assert_array_equal(res.states[2], single.states[2])
            np.testing.assert_array_equal(res.synops, single.synops)


def test_output_buffer_grows_and_state_is_not_applied_twice() -> None:
    """More output rows than the initial buffer: the run restarts from the saved state, same result."""
    config = chip({3: core([[[[10]]]], (1, 1), threshold_high=10, monitor_enable=True)})
    events = make_events(np.arange(10_000), 3, 0, 0, 0)
    sim = Simulator(SimOptions(record_traces=True))
    sim.load(config)
    out = sim.run(events)
    assert len(out) == 10_000 and np.array_equal(out["timestamp"], np.arange(10_000))
    assert sim.last_result is not None and sim.last_result.inputs[3] == 10_000
    assert len(sim.last_result.traces[3]) == 10_000  # type: ignore[index]
    ref = simulate_reference(config, events)
    np.testing.assert_array_equal(out, ref.events)


def test_tonic_and_rows_inputs_are_accepted(rng: np.random.Generator) -> None:
    config = _net()
    ev = _events(rng, 200)
    a = simulate(config, ev)
    b = simulate(config, to_rows(ev))
    np.testing.assert_array_equal(a.events, b.events)
    tonic = to_tonic(ev)
    with pytest.raises(EventFormatError, match="target layer 13 is an unused layer"):
        simulate(config, tonic)  # tonic arrays are DVS events (layer 13); this config has no DVS input


def test_run_before_load() -> None:
    sim = Simulator()
    with pytest.raises(SimulationError, match="before load"):
        sim.run(make_events([0], 0, 0, 0, 0))
    with pytest.raises(SimulationError, match="load\\(config\\) first"):
        _ = sim.states


def test_bad_array_shape_is_reported() -> None:
    layer = core(np.ones((2, 1, 3, 3)), (4, 4), monitor_enable=True)
    from dataclasses import replace

    bad = replace(layer, neurons_initial_value=np.zeros((2, 3, 3), np.int16))
    with pytest.raises(
        SimulationError,
        match=r"core 4: neurons_initial_value has shape \(2, 3, 3\), dimensions need \(2, 2, 2\)",
    ):
        simulate(chip({4: bad}), make_events([0], 4, 0, 0, 0))


def test_core_beyond_the_kernels_packing_limits_is_named() -> None:
    """A used core with a 130-wide output map cannot be packed into the kernel's 7-bit x."""
    wide = chip({0: core(np.ones((1, 1, 1, 1)), (130, 1), threshold_high=1, monitor_enable=True)})
    with pytest.raises(
        SimulationError,
        match=r"core 0: kernel_size 1, 1 output features and output map 130×1: .* maps ≤ 128×128",
    ):
        simulate(wide, make_events([0], 0, 0, 0, 0))


@pytest.mark.parametrize("sim", [simulate, simulate_reference])
def test_unsafe_targets_rejected_without_validation(sim: Callable[..., SimResult]) -> None:
    """Events to unused cores or with out-of-range features are refused even with validate=False."""
    config = _net()
    opts = SimOptions(validate=False)
    with pytest.raises(EventFormatError, match=r"event 1: target layer 0 is not a used core"):
        sim(config, make_events([0, 1], [1, 0], 0, 0, 0), opts)
    with pytest.raises(EventFormatError, match=r"event 0: target layer 11 is not a used core"):
        sim(config, make_events([0], [11], 0, 0, 0), opts)
    with pytest.raises(EventFormatError, match=r"event 0: feature = 2 out of range for layer 1"):
        sim(config, make_events([0], [1], 2, 0, 0), opts)


def test_one_event_cascade_larger_than_the_output_buffer() -> None:
    """8192 spikes from one input event (> the initial 4096-row buffer): the call is redone, same result."""
    config = chip(
        {5: core(np.ones((32, 1, 16, 16)), (16, 16), padding=15, threshold_high=1, monitor_enable=True)}
    )
    events = make_events([0, 5], 5, 0, [8, 3], [8, 12])
    fast = simulate(config, events)
    ref = simulate_reference(config, events)
    assert len(fast.events) == fast.spikes_generated[5] > 8192
    np.testing.assert_array_equal(fast.events, ref.events)
    np.testing.assert_array_equal(fast.states[5], ref.states[5])
    np.testing.assert_array_equal(fast.synops, ref.synops)
