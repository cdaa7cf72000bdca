"""The fast kernel's shortcuts against their definitions: tap ranges, and overflow errors on fused rows.

The kernel processes an event's rows in memory order with the taps of one kx fused into one row; only an
overflow error depends on the order (the reference stops at the first overflowing tap), so an overflow
there is redone in the reference's order. These tests pin both down without hypothesis.
"""

from __future__ import annotations

import numpy as np
import pytest
from _nets import chip, core

from deploy.errors import SimulationError
from deploy.sim import kernel
from deploy.sim.events import make_events
from deploy.sim.reference import simulate_reference
from deploy.sim.simulator import simulate


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
