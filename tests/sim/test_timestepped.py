"""The time-stepped evaluation agrees with the event-driven simulators where the semantics coincide."""

from __future__ import annotations

import numpy as np
import pytest
from _nets import chip, core, dest

from deploy.sim.events import raster_to_events
from deploy.sim.reference import simulate_reference
from deploy.sim.simulator import simulate
from deploy.sim.timestepped import events_to_inputs, run_timestepped


@pytest.mark.parametrize("seed", range(6))
def test_one_event_per_bin_nonneg_weights_le_threshold(seed: int) -> None:
    """§10.1: non-negative weights ≤ threshold, one input event per bin, one layer → equal spike counts."""
    rng = np.random.default_rng(seed)
    thr = int(rng.integers(20, 120))
    k = int(rng.choice([1, 3, 5]))
    w = rng.integers(0, thr + 1, size=(int(rng.integers(1, 6)), 2, k, k))
    stride, pad = int(rng.choice([1, 2])), int(rng.integers(0, k))
    config = chip({4: core(w, (9, 7), stride=stride, padding=pad, threshold_high=thr, monitor_enable=True)})
    steps = 200
    raster = np.zeros((steps, 2, 7, 9), np.int64)
    for t in range(steps):
        raster[t, rng.integers(0, 2), rng.integers(0, 7), rng.integers(0, 9)] = 1
    events = raster_to_events(raster, layer=4, dt_us=1000)
    ts = run_timestepped(config, events_to_inputs(config, events, dt_us=1000, n_bins=steps))
    for sim in (simulate, simulate_reference):
        res = sim(config, events)
        assert res.spikes_generated[4] == ts.spike_counts()[4] > 0
        # Per-neuron counts agree too (events are pre-pooling [f][x][y]; timestepped is (N,T,F,H,W)).
        counts = np.zeros(ts.spikes[4].shape[2:], np.int64)
        np.add.at(counts, (res.events["feature"], res.events["y"], res.events["x"]), 1)
        np.testing.assert_array_equal(counts, ts.spikes[4][0].sum(0).numpy().astype(np.int64))


def test_multispike_differs_from_chip_as_documented() -> None:
    """§12b.5: three inputs of 25 with thr 10 in one bin: sinabs 7 spikes leaving 5, the chip 3 leaving 45."""
    config = chip({7: core([[[[25]]]], (1, 1), threshold_high=10, monitor_enable=True)})
    ts = run_timestepped(config, {7: np.full((1, 1, 1, 1), 3)})
    assert ts.spike_counts()[7] == 7 and float(ts.states[7][0, 0, 0, 0]) == 5.0


def test_chain_routing_pooling_and_shift() -> None:
    a = np.ones((2, 1, 1, 1))
    b = np.ones((1, 3, 1, 1))
    config = chip(
        {
            0: core(a, (4, 4), threshold_high=1, dests=(dest(1, pooling=2, feature_shift=1),)),
            1: core(b, (2, 2), threshold_high=100, monitor_enable=True),
        }
    )
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, :, :] = 1
    ts = run_timestepped(config, {0: x})
    assert ts.spike_counts()[0] == 32
    # each of core 1's 4 neurons gets 2 features × 4 pooled positions; features 1 and 2 (shift 1)
    np.testing.assert_array_equal(ts.states[1][0].numpy(), np.full((1, 2, 2), 8.0))
