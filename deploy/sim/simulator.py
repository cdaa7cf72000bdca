"""Fast, bit-accurate event-driven simulator (numba kernel) and the simulator target.

Results are identical to :mod:`deploy.sim.reference` (same output events in the same order, final states,
counters, readout counts) for every :class:`~deploy.sim.options.SimOptions`; the test-suite checks this on
the worked examples of SPECK_SEMANTICS §12b and on random configurations.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from deploy.errors import SimulationError
from deploy.sim import layout as K
from deploy.sim.events import EVENT_DTYPE, Events, as_events, make_events, validate_events
from deploy.sim.layout import Net, Work, ky_storage_order, new_work
from deploy.sim.options import SimOptions
from deploy.sim.result import (
    N_READOUT_CLASSES,
    SimResult,
    check_config,
    check_targets,
    out_of_range_error,
    overflow_error,
)
from deploy.sim.ticks import TickSpan
from deploy.sim.warmup import load_kernels
from hwconfig.chips import get_chip
from hwconfig.config import DVS_LAYER, N_CNN_LAYERS, ChipConfig, DvsLayerConfig
from hwconfig.spec import ChipSpec

_NO_TICKS = np.zeros(0, np.int64)
_OVF = {"error": K.OVF_ERROR, "wrap": K.OVF_WRAP, "saturate": K.OVF_SAT}


@dataclass(frozen=True, eq=False)
class CompiledConfig:
    """A ChipConfig flattened into the arrays the kernel reads (read-only after construction)."""

    config: ChipConfig
    options: SimOptions
    used: tuple[int, ...]
    P: npt.NDArray[np.int64]
    opt: npt.NDArray[np.int64]
    W: npt.NDArray[np.int8]
    S0: npt.NDArray[np.int32]
    B: npt.NDArray[np.int32]
    NNZ: npt.NDArray[np.int32]
    scratch_size: int
    lscratch_size: int
    dest: npt.NDArray[np.int64]
    dvs_dest: npt.NDArray[np.int64]
    dvs_size: tuple[int, int]

    @property
    def net(self) -> Net:
        """The read-only arrays in the kernel's :class:`~deploy.sim.layout.Net` tuple."""
        return Net(
            P=self.P, opt=self.opt, W=self.W, B=self.B, NNZ=self.NNZ, dest=self.dest, dvs_dest=self.dvs_dest
        )

    @property
    def leaks(self) -> bool:
        """Whether any used core has leak enabled (else slow-clock ticks change nothing)."""
        return bool((self.P[:, K.USED] * self.P[:, K.LEAK]).any())

    @property
    def max_features(self) -> int:
        """The largest output feature count of a core (sizes the kernel's per-row buffers)."""
        return int(self.P[:, K.F_].max())


_CACHE_SIZE = 4
_cache: OrderedDict[tuple[int, SimOptions, ChipSpec], CompiledConfig] = OrderedDict()
_cache_lock = threading.Lock()


def compile_config(
    config: ChipConfig, options: SimOptions | None = None, chip: str | ChipSpec = "speck2f"
) -> CompiledConfig:
    """Check a configuration and lay it out for the kernel (§3.1 layouts → f-contiguous layouts).

    The last few layouts are kept, keyed by the configuration object, the options and the chip: a
    ChipConfig and its arrays are immutable, so simulating many inputs on one configuration lays it out once.
    """
    options = options or SimOptions()
    spec = get_chip(chip)
    key = (id(config), options, spec)
    with _cache_lock:
        cc = _cache.get(key)
        if cc is not None and cc.config is config:  # (the entry holds the config, so its id is not reused)
            _cache.move_to_end(key)
            return cc
    cc = _compile_config(config, options, spec)
    with _cache_lock:
        _cache[key] = cc
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return cc


def _compile_config(config: ChipConfig, options: SimOptions, spec: ChipSpec) -> CompiledConfig:
    used = check_config(config)
    P = np.zeros((N_CNN_LAYERS, K.N_PARAM), np.int64)
    w_parts: list[npt.NDArray[np.int8]] = []
    s_parts: list[npt.NDArray[np.int32]] = []
    b_parts: list[npt.NDArray[np.int32]] = []
    n_parts: list[npt.NDArray[np.int32]] = []
    woff = soff = boff = noff = sc = lsc = 0
    dest = np.zeros((N_CNN_LAYERS, 2, 4), np.int64)
    fast = (
        options.overflow == "error"
        and options.overflow_check == "sum"
        and options.clamp_on_synapse
        and options.process_zero_weights
    )
    for L, layer in enumerate(config.cnn_layers):
        d = layer.dimensions
        F, C, k = d.output_shape.feature_count, d.input_shape.feature_count, d.kernel_size
        Wout, Hout = d.output_shape.size.x, d.output_shape.size.y
        if L in used and (k > K.MAX_KERNEL or F > 1024 or Wout > 128 or Hout > 128):
            # The kernel packs (f, x, y) of pending spikes into 10 + 7 + 7 bits (chip limits: §7.2).
            raise SimulationError(
                f"core {L}: kernel_size {k}, {F} output features and output map {Wout}×{Hout}: the simulator "
                f"supports kernel_size ≤ {K.MAX_KERNEL}, ≤ 1024 features and maps ≤ 128×128 (the chip's "
                "limits); run config.validate(chip) to find the offending field"
            )
        P[L, K.F_], P[L, K.C_], P[L, K.K_] = F, C, k
        P[L, K.SX], P[L, K.SY], P[L, K.PX], P[L, K.PY] = d.stride.x, d.stride.y, d.padding.x, d.padding.y
        P[L, K.WOUT], P[L, K.HOUT] = Wout, Hout
        P[L, K.SXL], P[L, K.SYL] = (_log2(v) for v in (d.stride.x, d.stride.y))
        P[L, K.WIN], P[L, K.HIN] = d.input_shape.size.x, d.input_shape.size.y
        P[L, K.THR], P[L, K.THRLO] = layer.threshold_high, layer.threshold_low
        P[L, K.RTZ], P[L, K.LEAK], P[L, K.MON] = layer.return_to_zero, layer.leak_enable, layer.monitor_enable
        if layer.output_decimator_enable:
            n = options.decimator_factors[layer.output_decimator_interval]
            P[L, K.DECN] = n
            P[L, K.DECPH] = n - 1 if options.decimator_phase is None else options.decimator_phase % n
        P[L, K.USED] = L in used
        P[L, K.FAST] = fast and layer.threshold_low < layer.threshold_high
        for s, dst in enumerate(layer.destinations[:2]):
            dest[L, s] = (dst.enable, dst.layer, max(dst.pooling, 1), dst.feature_shift)
        if L not in used:
            continue
        floor = min(layer.threshold_low, 0, int(layer.neurons_initial_value.min(initial=0)))
        P[L, K.LOWSAFE] = floor + int(layer.weights.min(initial=0)) >= -32768
        # [c][k-1-kx][ky in storage order][f]: the kernel's rows run in ascending memory order and an
        # event's taps of one kx are one contiguous range (see deploy.sim.kernel and ky_storage_order).
        order = ky_storage_order(k, d.stride.y)
        P[L, K.POS + np.array(order)] = np.arange(k)
        w = layer.weights.astype(np.int8).transpose(1, 2, 3, 0)
        wk = np.ascontiguousarray(w[:, ::-1][:, :, order])
        P[L, K.WOFF], P[L, K.SOFF], P[L, K.BOFF], P[L, K.NOFF] = woff, soff, boff, noff
        P[L, K.SCOFF], P[L, K.LSCOFF] = sc, lsc
        w_parts.append(wk.reshape(-1))
        n_parts.append((wk != 0).sum(axis=3, dtype=np.int32).reshape(-1))
        s_parts.append(
            np.ascontiguousarray(layer.neurons_initial_value.astype(np.int32).transpose(1, 2, 0)).ravel()
        )
        b_parts.append(layer.biases.astype(np.int32))
        woff += wk.size
        noff += C * k * k
        soff += F * Wout * Hout
        boff += F
        sc += F * k * k
        if layer.leak_enable and options.leak_spikes:
            lsc += F * Wout * Hout
    opt = np.zeros(K.N_OPT, np.int64)
    opt[K.O_CLAMP] = options.clamp_on_synapse
    opt[K.O_SKIPZERO] = not options.process_zero_weights
    opt[K.O_LEAKSPK] = options.leak_spikes
    opt[K.O_OVF] = _OVF[options.overflow]
    opt[K.O_CHECK] = K.CHECK_SUM if options.overflow_check == "sum" else K.CHECK_RESULT
    opt[K.O_OOR] = options.out_of_range == "error"
    erratum = spec.readout_class_erratum if options.readout_erratum is None else options.readout_erratum
    opt[K.O_ERRATUM] = erratum
    opt[K.O_TRACE] = options.record_traces
    dvs = config.dvs_layer
    opt[K.O_DVSMON] = dvs.monitor_enable and options.dvs_monitor
    dvs_dest = np.array(
        [d.layer if d.enable and d.layer < N_CNN_LAYERS else -1 for d in dvs.destinations[:2]]
    )
    arrays: dict[str, npt.NDArray[Any]] = {
        "P": P,
        "opt": opt,
        "W": _cat(w_parts, np.int8),
        "S0": _cat(s_parts),
        "B": _cat(b_parts),
        "NNZ": _cat(n_parts),
        "dest": dest,
        "dvs_dest": dvs_dest.astype(np.int64),
    }
    for a in arrays.values():
        a.setflags(write=False)
    return CompiledConfig(
        config=config,
        options=options,
        used=used,
        scratch_size=max(sc, 1),
        lscratch_size=max(lsc, 1),
        dvs_size=spec.dvs_size,
        **arrays,
    )


def _rows(ev: Events) -> npt.NDArray[np.int64]:
    """``ev`` (``EVENT_DTYPE``) as N×5 int64 rows, as :func:`deploy.sim.events.to_rows` but copied column by
    column into one array (10× faster than stacking converted columns)."""
    rows = np.empty((len(ev), 5), np.int64)
    for i, name in enumerate(EVENT_DTYPE.names or ()):
        rows[:, i] = ev[name]
    return rows


def _grow(out: npt.NDArray[np.int64], n: int, size: int) -> npt.NDArray[np.int64]:
    """A larger output buffer holding the first ``n`` rows of ``out``."""
    bigger = np.empty((size, out.shape[1]), np.int64)
    bigger[:n] = out[:n]
    return bigger


def _log2(v: int) -> int:
    """log2 of a positive power of two, else -1."""
    return v.bit_length() - 1 if v > 0 and v & (v - 1) == 0 else -1


def _cat(parts: list[npt.NDArray[Any]], dtype: type[np.integer[Any]] = np.int32) -> npt.NDArray[Any]:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(1, dtype)


def preprocess_dvs(rows: npt.NDArray[np.int64], dvs: DvsLayerConfig, merged_polarity: int) -> None:
    """§5 DVS pre-processing of rows with layer 13, in place; filtered events get layer -1.

    Polarity filter (p=1 is ON), merge (feature := ``merged_polarity``), pooling, ROI in pooled
    coordinates (``origin`` .. ``cut`` inclusive, shifted so ``origin`` becomes 0), mirror, diagonal swap.
    """
    m = rows[:, 1] == DVS_LAYER
    if not m.any():
        return
    p, x, y = rows[m, 2], rows[m, 3] // dvs.pooling.x, rows[m, 4] // dvs.pooling.y
    keep = ~(((p == 1) & (not dvs.on_channel)) | ((p == 0) & (not dvs.off_channel)))
    keep &= (x >= dvs.origin.x) & (x <= dvs.cut.x) & (y >= dvs.origin.y) & (y <= dvs.cut.y)
    f = np.full_like(p, merged_polarity) if dvs.merge else p
    x, y = x - dvs.origin.x, y - dvs.origin.y
    if dvs.mirror.x:
        x = dvs.cut.x - dvs.origin.x - x
    if dvs.mirror.y:
        y = dvs.cut.y - dvs.origin.y - y
    if dvs.mirror_diagonal:
        x, y = y, x
    rows[m, 1] = np.where(keep, DVS_LAYER, -1)
    rows[m, 2], rows[m, 3], rows[m, 4] = f, x, y


class _Run:
    """Mutable per-run simulation state for one compiled configuration."""

    def __init__(self, cc: CompiledConfig) -> None:
        self.cc = cc
        self.reset()

    def reset(self) -> None:
        self.capacity = 4096
        self.S = self.cc.S0.copy()
        self.dec = np.zeros(N_CNN_LAYERS, np.int64)
        self.last_tick: int | None = None
        self._out = np.empty((0, 6), np.int64)

    def run(self, events: Events, end_time_us: int | None = None) -> SimResult:
        cc = self.cc
        ev = as_events(events)
        if cc.options.validate:
            validate_events(ev, cc.config, cc.dvs_size)  # (includes what check_targets checks)
        else:
            check_targets(ev, cc.config, cc.used)
        rows = _rows(ev)
        preprocess_dvs(rows, cc.config.dvs_layer, cc.options.dvs_merged_polarity)
        last = int(rows[-1, 0]) if len(rows) else -1
        horizon = last if end_time_us is None else max(last, end_time_us)
        span = TickSpan(cc.options, self.last_tick, horizon)
        readout = np.zeros(N_READOUT_CLASSES, np.int64)
        cnt = np.zeros((K.N_COUNTERS, N_CNN_LAYERS), np.int64)
        wk = new_work(self.S, self.dec, readout, cnt, cc.max_features, cc.scratch_size, cc.lscratch_size)
        if cc.leaks:
            nticks, last_tick = self._simulate(rows, span, wk)
        else:  # ticks change nothing: count them, apply none
            nticks, last_tick = span.count_and_last()
            self._simulate(rows, None, wk)
        if last_tick is not None:
            self.last_tick = last_tick
        err = wk.err
        if err[0] != K.ERR_NONE:
            _raise(err, cc.config)
        out = self._out
        res = SimResult(
            synops=cnt[K.C_SYNOPS].copy(),
            spikes_generated=cnt[K.C_GEN].copy(),
            spikes_emitted=cnt[K.C_EMIT].copy(),
            inputs=cnt[K.C_INPUTS].copy(),
            dropped=cnt[K.C_DROPPED].copy(),
            readout_counts=readout,
            leak_ticks=int(nticks),
        )
        mon = out[out[:, 5] != 0]
        res.events = make_events(mon[:, 0], mon[:, 1], mon[:, 2], mon[:, 3], mon[:, 4])
        res.states = self.states()
        if cc.options.record_traces:
            res.traces = {}
            for L in cc.used:
                r = out[out[:, 1] == L]
                res.traces[L] = make_events(r[:, 0], r[:, 1], r[:, 2], r[:, 3], r[:, 4])
        return res

    def _simulate(
        self, rows: npt.NDArray[np.int64], span: TickSpan | None, wk: Work
    ) -> tuple[int, int | None]:
        """Run the kernel over ``rows`` and the ticks of ``span``, growing the output buffer as needed.

        Output rows go to ``self._out``; returns (ticks applied, time of the last one applied).
        """
        kernels = load_kernels()
        net = self.cc.net
        chunks = span.chunks() if span is not None else iter(())
        ticks = next(chunks, _NO_TICKS)
        following = next(chunks, None)
        out = np.empty((self.capacity, 6), np.int64)
        e = ti = nout = done = 0
        last_tick: int | None = None
        while e <= len(rows):
            snapshot = (wk.S.copy(), wk.dec.copy(), wk.cnt.copy(), wk.readout.copy())
            n_new, t_new, e_new = kernels.run_kernel(
                rows, ticks, int(following is not None), net, wk, out, e, ti, nout
            )
            if wk.err[0] == K.ERR_REDO:
                # A 16-bit overflow inside a fused row: redo the call tap by tap, which reports it exactly.
                wk.S[:], wk.dec[:], wk.cnt[:], wk.readout[:] = snapshot
                wk.err[:] = 0
                wk.err[K.REDO_TAPWISE] = 1
                continue
            if wk.err[0] == K.ERR_NONE and n_new > len(out):
                # One event's cascade overflowed the buffer: undo this call and redo it with more room.
                wk.S[:], wk.dec[:], wk.cnt[:], wk.readout[:] = snapshot
                out = _grow(out, nout, 2 * n_new)
                continue
            nout, ti, e = min(n_new, len(out)), t_new, e_new
            if ti:
                last_tick = int(ticks[ti - 1])
            if wk.err[0] != K.ERR_NONE:
                break
            if following is not None and ti == len(ticks):
                done += ti
                ticks, following, ti = following, next(chunks, None), 0
            if 2 * nout > len(out):
                out = _grow(out, nout, 2 * len(out))
        self.capacity = max(self.capacity, len(out))
        self._out = out[:nout]
        return done + ti, last_tick

    def states(self) -> dict[int, npt.NDArray[np.int16]]:
        out: dict[int, npt.NDArray[np.int16]] = {}
        for L in self.cc.used:
            F, W, H = (int(self.cc.P[L, i]) for i in (K.F_, K.WOUT, K.HOUT))
            o = int(self.cc.P[L, K.SOFF])
            out[L] = np.ascontiguousarray(
                self.S[o : o + W * H * F].reshape(W, H, F).transpose(2, 0, 1)
            ).astype(np.int16)
        return out


def _raise(err: npt.NDArray[np.int64], config: ChipConfig) -> None:
    code, core, f, x, y, t, v = (int(e) for e in err[:7])
    if code == K.ERR_OVERFLOW:
        raise overflow_error(core, f, x, y, t, v)
    raise out_of_range_error(config, core, v, f, x, y, t)


def simulate(
    config: ChipConfig,
    events: Events,
    options: SimOptions | None = None,
    chip: str | ChipSpec = "speck2f",
    end_time_us: int | None = None,
) -> SimResult:
    """Simulate ``events`` on ``config`` from the configured initial states (fast kernel).

    Args:
        config: The chip configuration.
        events: Input events (``EVENT_DTYPE``, tonic-style or N×5 rows), timestamps non-decreasing.
        options: Semantic choices (defaults: SPECK_SEMANTICS defaults).
        chip: Chip name or spec (readout erratum default, DVS size).
        end_time_us: Apply slow-clock ticks up to this time (µs) even after the last event.

    Returns:
        The :class:`SimResult`; output timestamps are those of the causing input events.
    """
    return _Run(compile_config(config, options, chip)).run(events, end_time_us)


def simulate_batch(
    config: ChipConfig,
    samples: Sequence[Events],
    options: SimOptions | None = None,
    workers: int | None = None,
    chip: str | ChipSpec = "speck2f",
) -> list[SimResult]:
    """Simulate independent samples (each from the initial states) in threads; the kernel releases the GIL.

    Args:
        config: The chip configuration (compiled once).
        samples: One event array per sample.
        options: Semantic choices.
        workers: Threads; default all cores.
        chip: Chip name or spec.
    """
    cc = compile_config(config, options, chip)
    n = workers or os.cpu_count() or 1
    if n == 1 or len(samples) <= 1:
        return [_Run(cc).run(s) for s in samples]
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda s: _Run(cc).run(s), samples))


class Simulator:
    """The simulator target (:class:`deploy.target.Target`): load a config, run events, reset.

    States, decimator counters and the slow-clock phase persist between :meth:`run` calls until
    :meth:`reset` (or :meth:`load`). The last :class:`SimResult` is kept as ``last_result``.

    Args:
        options: Semantic choices.
        chip: Chip name or spec.
    """

    name = "simulator"

    def __init__(self, options: SimOptions | None = None, chip: str | ChipSpec = "speck2f") -> None:
        self.options = options or SimOptions()
        self.chip = get_chip(chip)
        self._run: _Run | None = None
        self.last_result: SimResult | None = None

    def load(self, config: ChipConfig) -> None:
        """Compile ``config``; neuron states start from ``neurons_initial_value``."""
        self._run = _Run(compile_config(config, self.options, self.chip))
        self.last_result = None

    def run(self, events: Events, end_time_us: int | None = None) -> Events:
        """Feed input events; return the monitored output events (see :class:`SimResult`).

        Args:
            events: Input events, timestamps non-decreasing (µs).
            end_time_us: Apply slow-clock ticks up to this time (µs) even after the last event.

        After a :class:`SimulationError` the states are undefined; call :meth:`reset`.
        """
        if self._run is None:
            raise SimulationError("Simulator.run() before load(config)")
        self.last_result = self._run.run(events, end_time_us)
        return self.last_result.events

    def reset(self) -> None:
        """Neurons back to their configured initial values; decimators and slow clock restart."""
        if self._run is not None:
            self._run.reset()

    @property
    def states(self) -> dict[int, npt.NDArray[np.int16]]:
        """Current membrane states ``{core: [f][x][y]}``."""
        if self._run is None:
            raise SimulationError("Simulator has no configuration; call load(config) first")
        return self._run.states()
