"""Slow-clock ticks are generated in bounded chunks, equal to SimOptions.tick_times, never as one big list."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from _nets import chip, core

from deploy.sim import ticks as ticks_module
from deploy.sim.events import make_events
from deploy.sim.options import SimOptions
from deploy.sim.reference import simulate_reference
from deploy.sim.simulator import Simulator, simulate
from deploy.sim.ticks import TickSpan
from hwconfig.config import ChipConfig

CASES = [
    (SimOptions(slow_clock_hz=1000.0), None, 10_000),
    (SimOptions(slow_clock_hz=3.0), 400_000, 5_000_000),
    (SimOptions(slow_clock_hz=7e5, slow_clock_first_tick_us=3), 10, 200),  # period < 2 µs: repeated times
    (SimOptions(slow_clock_hz=333.3, slow_clock_first_tick_us=0), -1, 123_456),
    (SimOptions(slow_clock_ticks_us=(5, 9, 9, 30, 31)), 5, 30),
    (SimOptions(), None, 10**12),
]


@pytest.mark.parametrize(("options", "after", "up_to"), CASES)
def test_chunks_equal_tick_times(options: SimOptions, after: int | None, up_to: int) -> None:
    expected = options.tick_times(after, up_to)
    span = TickSpan(options, after, up_to)
    chunks = list(span.chunks(size=7))
    assert all(len(c) <= 7 for c in chunks)
    got = [int(t) for c in chunks for t in c]
    assert got == expected
    assert span.count_and_last() == (len(expected), expected[-1] if expected else None)


def test_far_event_needs_no_tick_list() -> None:
    """One event at t = 10^12 µs with a 1 kHz clock: 10^9 ticks, counted without being listed."""
    span = TickSpan(SimOptions(slow_clock_hz=1000.0), None, 10**12)
    assert span.count_and_last() == (10**9, 10**12)
    first = next(span.chunks())
    assert len(first) == ticks_module.CHUNK and first[0] == 1000


def _no_leak_net() -> ChipConfig:
    return chip({0: replace(core([[[[5]]]], (2, 2), threshold_high=5), monitor_enable=True)})


def test_far_event_without_leak_runs_at_once() -> None:
    ev = make_events([1, 10**12], [0, 0], [0, 0], [0, 1], [0, 1])
    res = simulate(_no_leak_net(), ev, SimOptions(slow_clock_hz=1000.0))
    assert res.leak_ticks == 10**9
    assert len(res.events) == 2


def test_chunked_ticks_match_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """A leaking net over many tick chunks (tiny chunks) gives the reference's states, events and counts."""
    monkeypatch.setattr(ticks_module, "CHUNK", 3)
    layer = core([[[[40]]]], (3, 3), threshold_high=50, threshold_low=-60, biases=[-7], leak_enable=True)
    cfg = chip({0: replace(layer, monitor_enable=True)})
    rng = np.random.default_rng(0)
    t = np.sort(rng.integers(0, 60_000, 40))
    ev = make_events(t, np.zeros(40, int), np.zeros(40, int), rng.integers(0, 3, 40), rng.integers(0, 3, 40))
    opts = SimOptions(slow_clock_hz=500.0, leak_spikes=True)
    sim = Simulator(opts)
    sim.load(cfg)
    fast = [sim.run(ev[:20]), sim.run(ev[20:], end_time_us=70_000)]
    ref = simulate_reference(cfg, ev, opts, end_time_us=70_000)
    assert len(ref.events) > 3 and ref.leak_ticks == 35  # ticks every 2 ms up to 70 ms, in chunks of 3
    assert np.array_equal(np.concatenate(fast), ref.events)
    np.testing.assert_array_equal(sim.states[0], ref.states[0])
