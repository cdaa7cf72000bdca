"""Pure-Python reference simulator: SPECK_SEMANTICS §12, written to be read, not to be fast.

Every rule is one short function that follows the pseudo-code of §12 and the project ordering convention:

- within one input event, target neurons are updated with f ascending (outermost), then k_x, then k_y;
- a spike is forwarded the moment it is emitted, depth-first (plain recursion here): destination slot 0's
  whole cascade, then slot 1's, then the next target neuron of the current event;
- an input event's cascade completes before the next input event or slow-clock tick;
- slow-clock ticks at the same timestamp as an input event are applied before it.

Output timestamps are the timestamp of the causing input event (or tick). The fast simulator in
:mod:`deploy.sim.simulator` must reproduce this module's results exactly. The two deliberately share no
semantic code (DVS pre-processing, pooling, thresholds are written twice, scalar here and vectorised
there), so the differential tests compare independent implementations; they share only validation and
error messages (:mod:`deploy.sim.result`).
"""

from __future__ import annotations

import numpy as np

from deploy.sim.events import DVS_LAYER, READOUT_LAYER, Events, as_events, make_events, validate_events
from deploy.sim.options import SimOptions
from deploy.sim.result import (
    N_READOUT_CLASSES,
    SimResult,
    check_config,
    check_targets,
    out_of_range_error,
    overflow_error,
)
from hwconfig.chips import get_chip
from hwconfig.config import N_CNN_LAYERS, ChipConfig
from hwconfig.spec import ChipSpec

INT16_MIN, INT16_MAX = -32768, 32767


class ReferenceSimulator:
    """Event-by-event reference model of the chip; states persist across :meth:`run` calls.

    Args:
        config: The chip configuration.
        options: Semantic choices.
        chip: Chip name or spec (for the readout erratum default and the DVS size).
    """

    def __init__(
        self, config: ChipConfig, options: SimOptions | None = None, chip: str | ChipSpec = "speck2f"
    ):
        self.config = config
        self.options = options or SimOptions()
        self.chip = get_chip(chip)
        self.used = check_config(config)
        erratum = self.options.readout_erratum
        self.readout_erratum = self.chip.readout_class_erratum if erratum is None else erratum
        self.reset()

    def reset(self) -> None:
        """Neurons back to ``neurons_initial_value``; decimator counters, readout and clock restart."""
        self.V = {c: self.config.cnn_layers[c].neurons_initial_value.astype(int).tolist() for c in self.used}
        self.decimator_count = [0] * N_CNN_LAYERS
        self.last_tick: int | None = None

    # ------------------------------------------------------------------------------------------ run

    def run(self, events: Events, end_time_us: int | None = None) -> SimResult:
        """Simulate input events (and slow-clock ticks up to the last event or ``end_time_us``)."""
        ev = as_events(events)
        if self.options.validate:
            validate_events(ev, self.config, self.chip.dvs_size)
        check_targets(ev, self.config, self.used)
        self.out: list[tuple[int, int, int, int, int]] = []
        self.trace: dict[int, list[tuple[int, int, int, int, int]]] = {c: [] for c in self.used}
        self.res = SimResult()
        last = int(ev["timestamp"][-1]) if len(ev) else -1
        horizon = last if end_time_us is None else max(last, end_time_us)
        ticks = self.options.tick_times(self.last_tick, horizon)
        ti = 0
        for t, layer, f, x, y in ev.tolist():
            while ti < len(ticks) and ticks[ti] <= t:  # ticks at the same timestamp come first
                self.slow_clock_tick(ticks[ti])
                ti += 1
            if layer == DVS_LAYER:
                self.on_dvs_event(f, x, y, t)
            elif layer == READOUT_LAYER:
                self.readout_count(f, x, y)
            else:
                self.on_input_event(layer, f, x, y, t)
        for tick in ticks[ti:]:
            self.slow_clock_tick(tick)
        res = self.res
        res.events = _to_events(self.out)
        res.states = {c: np.array(v, dtype=np.int16) for c, v in self.V.items()}
        if self.options.record_traces:
            res.traces = {c: _to_events(tr) for c, tr in self.trace.items()}
        return res

    # ------------------------------------------------------------------------------------------ core

    def on_input_event(self, L: int, c: int, x: int, y: int, t: int) -> None:
        """§12 ``on_input_event``: every tap of the kernel that lands on a valid output neuron."""
        cfg = self.config.cnn_layers[L]
        d = cfg.dimensions
        k, sx, sy, px, py = d.kernel_size, d.stride.x, d.stride.y, d.padding.x, d.padding.y
        F, Wout, Hout = d.output_shape.feature_count, d.output_shape.size.x, d.output_shape.size.y
        self.res.inputs[L] += 1
        for f in range(F):
            for kx in range(k):
                nx = x + px - kx
                if nx % sx:
                    continue
                xo = nx // sx
                if not 0 <= xo < Wout:
                    continue
                for ky in range(k):
                    ny = y + py - ky
                    if ny % sy:
                        continue
                    yo = ny // sy
                    if not 0 <= yo < Hout:
                        continue
                    self.synop(L, f, xo, yo, int(cfg.weights[f, c, kx, ky]), t)

    def synop(self, L: int, f: int, xo: int, yo: int, w: int, t: int) -> None:
        """§12 ``synop``: read, add, compare (fire at most once), reset or clamp, write."""
        if w == 0 and not self.options.process_zero_weights:
            return
        self.res.synops[L] += 1
        v = self.V[L][f][xo][yo] + w
        v, fire = self.threshold(L, v, f, xo, yo, t, may_fire=True, clamp=self.options.clamp_on_synapse)
        self.V[L][f][xo][yo] = v
        if fire:
            self.emit(L, f, xo, yo, t)

    def threshold(
        self, L: int, v: int, f: int, x: int, y: int, t: int, may_fire: bool, clamp: bool
    ) -> tuple[int, bool]:
        """Overflow policy, threshold compare with reset, and clamp at ``threshold_low``."""
        cfg = self.config.cnn_layers[L]
        if self.options.overflow_check == "sum":
            v = self.fit16(v, L, f, x, y, t)
        fire = False
        if may_fire and v >= cfg.threshold_high:
            fire = True
            v = 0 if cfg.return_to_zero else v - cfg.threshold_high
        elif clamp and v < cfg.threshold_low:
            v = cfg.threshold_low
        if self.options.overflow_check == "result":
            v = self.fit16(v, L, f, x, y, t)
        return v, fire

    def fit16(self, v: int, L: int, f: int, x: int, y: int, t: int) -> int:
        """Apply the 16-bit overflow policy (§2.3)."""
        if INT16_MIN <= v <= INT16_MAX:
            return v
        if self.options.overflow == "wrap":
            return (v - INT16_MIN) % 65536 + INT16_MIN
        if self.options.overflow == "saturate":
            return min(max(v, INT16_MIN), INT16_MAX)
        raise overflow_error(L, f, x, y, t, v)

    def emit(self, L: int, f: int, x: int, y: int, t: int) -> None:
        """§12 ``emit``: decimator, monitor (pre-pooling), then each destination depth-first."""
        cfg = self.config.cnn_layers[L]
        self.res.spikes_generated[L] += 1
        if cfg.output_decimator_enable:
            n = self.options.decimator_factors[cfg.output_decimator_interval]
            count = self.decimator_count[L]
            self.decimator_count[L] += 1
            if not self.options.decimator_passes(count, n):
                return
        self.res.spikes_emitted[L] += 1
        if cfg.monitor_enable:
            self.out.append((t, L, f, x, y))
        if L in self.trace:
            self.trace[L].append((t, L, f, x, y))
        for dest in cfg.destinations:
            if not dest.enable:
                continue
            nf, nx, ny = f + dest.feature_shift, x // dest.pooling, y // dest.pooling
            if dest.layer == READOUT_LAYER:
                self.readout_count(nf, nx, ny)
            else:
                self.route(L, dest.layer, nf, nx, ny, t)

    def route(self, src: int, D: int, f: int, x: int, y: int, t: int) -> None:
        """Deliver a routed event to core ``D``, applying the out-of-range policy (§4.6)."""
        shape = self.config.cnn_layers[D].dimensions.input_shape
        if not (0 <= f < shape.feature_count and 0 <= x < shape.size.x and 0 <= y < shape.size.y):
            if self.options.out_of_range == "error":
                raise out_of_range_error(self.config, src, D, f, x, y, t)
            self.res.dropped[D] += 1
            return
        self.on_input_event(D, f, x, y, t)

    def readout_count(self, f: int, x: int, y: int) -> None:
        """§6: count a spike for its class (1x1y16f mode; erratum: class = f//4 + 1)."""
        cls = f // 4 + 1 if self.readout_erratum else f
        if 0 <= cls < N_READOUT_CLASSES:
            self.res.readout_counts[cls] += 1

    # ------------------------------------------------------------------------------------------ leak

    def slow_clock_tick(self, t: int) -> None:
        """§12 ``on_slow_clock_tick`` for every used core with ``leak_enable``, cores ascending."""
        self.res.leak_ticks += 1
        self.last_tick = t
        for L in self.used:
            cfg = self.config.cnn_layers[L]
            if not cfg.leak_enable:
                continue
            V = self.V[L]
            for f in range(len(V)):
                b = int(cfg.biases[f])
                for x in range(len(V[f])):
                    for y in range(len(V[f][x])):
                        v, fire = self.threshold(
                            L, V[f][x][y] + b, f, x, y, t, may_fire=self.options.leak_spikes, clamp=True
                        )
                        V[f][x][y] = v
                        if fire:
                            self.emit(L, f, x, y, t)

    # ------------------------------------------------------------------------------------------ DVS

    def on_dvs_event(self, p: int, x: int, y: int, t: int) -> None:
        """§5: polarity filter, merge, pooling, ROI (origin/cut, shifted to 0), mirror, diagonal swap."""
        dvs = self.config.dvs_layer
        if (p == 1 and not dvs.on_channel) or (p == 0 and not dvs.off_channel):
            return
        f = self.options.dvs_merged_polarity if dvs.merge else p
        x, y = x // dvs.pooling.x, y // dvs.pooling.y
        if not (dvs.origin.x <= x <= dvs.cut.x and dvs.origin.y <= y <= dvs.cut.y):
            return
        x, y = x - dvs.origin.x, y - dvs.origin.y
        if dvs.mirror.x:
            x = dvs.cut.x - dvs.origin.x - x
        if dvs.mirror.y:
            y = dvs.cut.y - dvs.origin.y - y
        if dvs.mirror_diagonal:
            x, y = y, x
        if dvs.monitor_enable and self.options.dvs_monitor:
            self.out.append((t, DVS_LAYER, f, x, y))
        for dest in dvs.destinations:
            if dest.enable and dest.layer < N_CNN_LAYERS:
                self.route(DVS_LAYER, dest.layer, f, x, y, t)


def _to_events(rows: list[tuple[int, int, int, int, int]]) -> Events:
    if not rows:
        return make_events(np.zeros(0, np.int64), 0, 0, 0, 0)
    a = np.array(rows, dtype=np.int64)
    return make_events(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4])


def simulate_reference(
    config: ChipConfig,
    events: Events,
    options: SimOptions | None = None,
    chip: str | ChipSpec = "speck2f",
    end_time_us: int | None = None,
) -> SimResult:
    """Run the reference simulator once from the configured initial states."""
    return ReferenceSimulator(config, options, chip).run(events, end_time_us=end_time_us)
