"""The fast kernel's shortcuts against their definitions: tap ranges, the storage order of kernel rows,
overflow errors on fused rows, the skipped low-side check, and the layout cache.

The kernel processes an event's rows in memory order with the taps of one kx fused into one row; only an
overflow error depends on the order (the reference stops at the first overflowing tap), so an overflow
there is redone in the reference's order. These tests pin them down without hypothesis.
"""

from __future__ import annotations

import numpy as np
import pytest
from _nets import chip, core

from deploy.errors import SimulationError
from deploy.sim import kernel
from deploy.sim import layout as K
from deploy.sim.events import make_events
from deploy.sim.layout import ky_storage_order
from deploy.sim.options import SimOptions
from deploy.sim.reference import simulate_reference
from deploy.sim.simulator import compile_config, simulate


def _enumerated_taps(d: int, k: int, pad: int, stride: int, size_out: int) -> list[tuple[int, int]]:
    """(k_i, o) by definition: o = (d + pad - k_i) / stride must be an integer in [0, size_out)."""
    taps = []
    for ki in range(k):
        nd = d + pad - ki
        if nd >= 0 and nd % stride == 0 and nd // stride < size_out:
            taps.append((ki, nd // stride))
    return taps


@pytest.mark.parametrize("stride", [1, 2, 3, 4])
def test_tap_ranges_equal_the_enumeration(stride: int) -> None:
    for k in (1, 2, 3, 5, 8):
        for pad in (0, 1, 2, 7):
            for size_out in (1, 2, 5, 16):
                for d in range(-3 - pad, stride * size_out + k + 3):
                    slog = stride.bit_length() - 1 if stride & (stride - 1) == 0 else -1
                    k0, o0, n = kernel._taps(d, k, pad, stride, slog, size_out)
                    got = [(k0 + i * stride, o0 - i) for i in range(n)]
                    assert got == _enumerated_taps(d, k, pad, stride, size_out), (d, k, pad, stride, size_out)


def test_overflow_in_a_fused_row_is_reported_as_the_reference_does() -> None:
    # Event (2, 2) reaches outputs x, y in 1..3. Two neurons overflow: (x 3, y 1) comes first in the
    # reference's tap order (kx ascending = x descending, then y descending), (x 1, y 3) first in memory
    # order.
    init = np.zeros((2, 5, 5), np.int64)
    init[0, 3, 1] = 32700
    init[1, 1, 3] = 32700
    layer = core(
        np.full((2, 1, 3, 3), 100), (5, 5), padding=1, threshold_high=32767, init=init, monitor_enable=True
    )
    config = chip({0: layer})
    events = make_events([5, 9], 0, 0, [0, 2], [0, 2])
    with pytest.raises(SimulationError) as fast:
        simulate(config, events)
    with pytest.raises(SimulationError) as ref:
        simulate_reference(config, events)
    # The fast simulator does not track which feature of the tap overflowed (f=?); the rest is the same.
    assert "core 0 neuron (f=0, x=3, y=1) at t=9 µs: state 32800 outside" in str(ref.value)
    assert "core 0 neuron (f=?, x=3, y=1) at t=9 µs: state 32800 outside" in str(fast.value)


@pytest.mark.parametrize("stride", [1, 2, 3, 4, 5])
def test_the_kernel_rows_an_event_reaches_are_stored_contiguously_in_memory_order(stride: int) -> None:
    for k in range(1, 17):
        order = ky_storage_order(k, stride)
        assert sorted(order) == list(range(k))
        pos = {ky: i for i, ky in enumerate(order)}
        if stride == 1:
            assert order == list(range(k - 1, -1, -1))  # the kernel flipped in y
        for ky0 in range(min(stride, k)):
            # An event reaches ky0, ky0 + stride, ... (outputs y0, y0 - 1, ...): the rows must be stored
            # consecutively, the last-reached (lowest output y, lowest state address) first.
            reached = list(range(ky0, k, stride))
            for n in range(1, len(reached) + 1):
                stored = [pos[ky] for ky in reached[:n]]
                assert stored == list(range(stored[0], stored[0] - n, -1)), (k, stride, ky0, n)


@pytest.mark.parametrize("stride", [2, 3])
def test_fused_rows_with_a_stride_above_one_equal_the_reference(stride: int) -> None:
    rng = np.random.default_rng(stride)
    layer = core(rng.integers(-60, 100, (4, 2, 5, 5)), (12, 12), stride=stride, padding=2, threshold_high=150,
                 threshold_low=-150, monitor_enable=True)  # fmt: skip
    n = 300
    events = make_events(
        np.arange(n), 0, rng.integers(0, 2, n), rng.integers(0, 12, n), rng.integers(0, 12, n)
    )
    config = chip({0: layer})
    assert compile_config(config).P[0, K.FAST] == 1
    fast = simulate(config, events)
    ref = simulate_reference(config, events)
    assert len(ref.events) > 20
    assert fast.events.tobytes() == ref.events.tobytes()
    assert all(np.array_equal(fast.states[c], ref.states[c]) for c in ref.states)


def test_a_core_whose_sums_can_fall_below_the_state_range_keeps_the_low_side_check() -> None:
    # threshold_low = -32768 (sinabs's value when min_v_mem is None) and a negative weight: a sum can fall
    # below -32768, so the core is not LOWSAFE and the overflow is reported as the reference does.
    init = np.full((1, 3, 3), -32700, np.int64)
    layer = core(np.full((1, 1, 1, 1), -100), (3, 3), threshold_high=100, threshold_low=-32768, init=init,
                 monitor_enable=True)  # fmt: skip
    config = chip({0: layer})
    assert compile_config(config).P[0, K.LOWSAFE] == 0
    events = make_events([3], 0, 0, [1], [2])
    with pytest.raises(SimulationError) as fast:
        simulate(config, events)
    with pytest.raises(SimulationError) as ref:
        simulate_reference(config, events)
    assert "state -32800 outside" in str(ref.value)
    assert "state -32800 outside" in str(fast.value)
    safe = chip(
        {
            0: core(
                np.full((1, 1, 1, 1), -100),
                (3, 3),
                threshold_high=100,
                threshold_low=-32000,
                monitor_enable=True,
            )
        }
    )
    assert compile_config(safe).P[0, K.LOWSAFE] == 1


def test_the_layout_is_cached_per_configuration_object_options_and_chip() -> None:
    config = chip({0: core(np.ones((2, 1, 3, 3)), (5, 5), monitor_enable=True)})
    same = compile_config(config)
    assert compile_config(config) is same
    assert compile_config(config, SimOptions()) is same  # equal options
    assert compile_config(config, SimOptions(leak_spikes=True)) is not same
    assert compile_config(config, chip="speck2e") is not same
    twin = chip({0: core(np.ones((2, 1, 3, 3)), (5, 5), monitor_enable=True)})
    assert compile_config(twin) is not same
