"""Simulator options: every [INF]/[CONFLICT] choice of SPECK_SEMANTICS.md as a named, documented field.

Both simulators (:mod:`deploy.sim.reference` and the numba one in :mod:`deploy.sim.simulator`) take the same
:class:`SimOptions` and must give identical results for every combination.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OverflowPolicy = Literal["error", "wrap", "saturate"]
OverflowCheck = Literal["sum", "result"]
OutOfRangePolicy = Literal["drop", "error"]
Ordering = Literal["depth_first"]


@dataclass(frozen=True)
class SimOptions:
    """Semantic choices of the simulator (SPECK_SEMANTICS §2–§6, §12 "defaults to expose as options").

    Attributes:
        clamp_on_synapse: Apply ``v := max(v, threshold_low)`` after synaptic updates too, not only after
            leak [INF §2.2, DK]; False models "cannot be surpassed by leak" only.
        process_zero_weights: A zero-weight tap still does read-add-compare-write, so a neuron sitting at
            or above threshold fires on it, and it counts as a SynOp [INF §2.2].
        leak_spikes: A slow-clock leak update may make a neuron fire (threshold/reset as for a synaptic
            update, cascade depth-first) [INF §2.4: default off, "leak ticks do not generate spikes"].
        overflow: Policy for a 16-bit state outside [-32768, 32767] (§2.3): ``"error"`` raises
            :class:`deploy.errors.StateOverflowError`, ``"wrap"`` wraps two's complement, ``"saturate"``
            clips.
        overflow_check: What is checked: ``"sum"`` = the raw ``v + w`` (or ``v + bias``) before the
            threshold compare, as a 16-bit adder would see it (the shared expected outputs use this);
            ``"result"`` = only the value written back after reset/clamp (the §12 pseudo-code's
            ``check_int16`` placement). With "wrap"/"saturate" and "sum" the sum is wrapped/clipped
            before the compare; with "result" the compare uses the exact sum.
        decimator_factors: N for ``output_decimator_interval`` codes 0..7 ([CONFLICT §4.1]: the SAM-cfg/DK
            table is the default; SAM-2f's would be ``(2, 4, 8, 16, 32, 64, 128, 256)``).
        decimator_phase: Which spike of each group of N passes, 0-based; ``None`` = the N-th (the counter
            is per core and never reset except by ``reset()``) [INF §4.1].
        out_of_range: What to do with a routed event whose pooled coordinates or shifted feature fall
            outside the destination's input shape (source size not divisible by pooling): ``"drop"``
            (counted in ``SimResult.dropped`` of the destination core) or ``"error"`` [INF §4.6].
        readout_erratum: Apply the speck2e/2f readout class erratum (class = f//4 + 1); ``None`` = the
            chip's ``readout_class_erratum`` [DOC §6].
        slow_clock_hz: Frequency of the slow clock driving leak; ``None`` = no slow clock, so bias has no
            effect at all [DOC §2.4]. Ticks fall at ``slow_clock_first_tick_us + k·10^6/hz`` (integer µs).
        slow_clock_first_tick_us: Timestamp of the first tick (µs); ``None`` = one period after 0.
        slow_clock_ticks_us: Explicit tick timestamps (µs, non-decreasing); overrides ``slow_clock_hz``.
            Ticks are applied up to the last input event's timestamp, or up to ``end_time_us`` when a run
            is given one. The internal slow clock (``leak_internal_slow_clk_enable``: DVS events / 2^N) is
            not modelled; describe it with explicit ticks if needed.
        dvs_merged_polarity: Feature of merged DVS events ([CONFLICT §5]: 0, consistent with sinabs).
        dvs_monitor: Emit DVS-layer output as ``layer=13`` events when ``dvs_layer.monitor_enable`` is set.
        ordering: Event ordering; only the project convention ``"depth_first"`` of §12 (targets f, kx, ky
            ascending; slot 0's cascade before slot 1's; ticks before input events at the same time).
        record_traces: Also return every core's emitted spikes (``SimResult.traces``), monitored or not.
        validate: Validate input events against the configuration before simulating.
    """

    clamp_on_synapse: bool = True
    process_zero_weights: bool = True
    leak_spikes: bool = False
    overflow: OverflowPolicy = "error"
    overflow_check: OverflowCheck = "sum"
    decimator_factors: tuple[int, ...] = (2, 4, 8, 16, 32, 128, 256, 512)
    decimator_phase: int | None = None
    out_of_range: OutOfRangePolicy = "drop"
    readout_erratum: bool | None = None
    slow_clock_hz: float | None = None
    slow_clock_first_tick_us: int | None = None
    slow_clock_ticks_us: tuple[int, ...] | None = None
    dvs_merged_polarity: int = 0
    dvs_monitor: bool = True
    ordering: Ordering = "depth_first"
    record_traces: bool = False
    validate: bool = True

    def __post_init__(self) -> None:
        if self.overflow not in ("error", "wrap", "saturate"):
            raise ValueError(f"overflow must be 'error', 'wrap' or 'saturate', got {self.overflow!r}")
        if self.overflow_check not in ("sum", "result"):
            raise ValueError(f"overflow_check must be 'sum' or 'result', got {self.overflow_check!r}")
        if self.out_of_range not in ("drop", "error"):
            raise ValueError(f"out_of_range must be 'drop' or 'error', got {self.out_of_range!r}")
        if self.ordering != "depth_first":
            raise ValueError(f"ordering must be 'depth_first', got {self.ordering!r}")
        if len(self.decimator_factors) != 8 or min(self.decimator_factors) < 1:
            raise ValueError(f"decimator_factors needs 8 positive factors, got {self.decimator_factors}")
        if self.slow_clock_hz is not None and self.slow_clock_hz <= 0:
            raise ValueError(f"slow_clock_hz must be positive, got {self.slow_clock_hz}")

    def decimator_passes(self, count_before: int, n: int) -> bool:
        """Whether the spike with 0-based per-core index ``count_before`` passes a 1-of-``n`` decimator."""
        phase = n - 1 if self.decimator_phase is None else self.decimator_phase % n
        return count_before % n == phase

    def tick_times(self, after_us: int | None, up_to_us: int) -> list[int]:
        """Slow-clock tick timestamps ``t`` with ``after_us < t <= up_to_us`` (``after_us=None``: all)."""
        lo = -1 if after_us is None else after_us
        if self.slow_clock_ticks_us is not None:
            return [int(t) for t in self.slow_clock_ticks_us if lo < t <= up_to_us]
        if self.slow_clock_hz is None:
            return []
        period = 1e6 / self.slow_clock_hz
        first = self.slow_clock_first_tick_us
        start = period if first is None else float(first)
        out: list[int] = []
        k = 0
        if lo >= start:
            k = max(0, int((lo - start) // period) - 1)
        while True:
            t = round(start + k * period)
            if t > up_to_us:
                break
            if t > lo:
                out.append(t)
            k += 1
        return out
