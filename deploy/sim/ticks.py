"""Slow-clock ticks in bounded chunks: the simulator never holds more than :data:`CHUNK` tick times.

The ticks are those of :meth:`SimOptions.tick_times` (same values, same order): with ``slow_clock_hz``, tick
``k`` is at ``round(start + k·period)`` µs. Instead of a list that grows with simulated time (one event at
t = 10^12 µs with a 1 kHz clock would need 10^9 entries), :class:`TickSpan` finds the first and last tick
index of an interval arithmetically and :meth:`TickSpan.chunks` yields them as int64 arrays of at most
:data:`CHUNK` entries. When no core leaks, the simulator only needs the count and the last tick.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from deploy.sim.options import SimOptions

CHUNK = 1 << 16


def _first_index_after(start: float, period: float, bound: int) -> int:
    """The smallest ``k ≥ 0`` with ``round(start + k·period) > bound`` (tick times never decrease in k)."""
    k = max(0, int((bound - start) // period) - 1)
    while round(start + k * period) <= bound:
        k += 1
    return k


@dataclass(frozen=True)
class TickSpan:
    """The slow-clock ticks ``t`` with ``after_us < t ≤ up_to_us`` (``after_us=None``: from the start)."""

    options: SimOptions
    after_us: int | None
    up_to_us: int

    def _explicit(self) -> npt.NDArray[np.int64] | None:
        if self.options.slow_clock_ticks_us is None:
            return None
        t = np.asarray(self.options.slow_clock_ticks_us, dtype=np.int64)
        lo = -1 if self.after_us is None else self.after_us
        return t[(t > lo) & (t <= self.up_to_us)]

    def _clock(self) -> tuple[float, float, int, int]:
        """(start, period, first index, end index) of the periodic clock; an empty range without one."""
        hz = self.options.slow_clock_hz
        if hz is None:
            return 0.0, 1.0, 0, 0
        period = 1e6 / hz
        first = self.options.slow_clock_first_tick_us
        start = period if first is None else float(first)
        lo = -1 if self.after_us is None else self.after_us
        k0 = _first_index_after(start, period, lo)
        return start, period, k0, max(k0, _first_index_after(start, period, self.up_to_us))

    def count_and_last(self) -> tuple[int, int | None]:
        """How many ticks the span holds and the last one's time (``None`` if there is none)."""
        explicit = self._explicit()
        if explicit is not None:
            return len(explicit), (int(explicit[-1]) if len(explicit) else None)
        start, period, k0, k1 = self._clock()
        return k1 - k0, (round(start + (k1 - 1) * period) if k1 > k0 else None)

    def chunks(self, size: int | None = None) -> Iterator[npt.NDArray[np.int64]]:
        """The tick times in order, as int64 arrays of at most ``size`` (default :data:`CHUNK`) entries."""
        size = size or CHUNK
        explicit = self._explicit()
        if explicit is not None:
            for i in range(0, len(explicit), size):
                yield explicit[i : i + size]
            return
        start, period, k0, k1 = self._clock()
        for k in range(k0, k1, size):
            ks = np.arange(k, min(k + size, k1), dtype=np.float64)
            # float64 arithmetic and round-half-even, exactly as Python's round(start + k * period).
            yield np.round(start + ks * period).astype(np.int64)
