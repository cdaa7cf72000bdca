"""numba kernel of the fast simulator (the only module that imports numba).

Data layout (prepared by :mod:`deploy.sim.simulator`):

- states: one flat int32 array, per core ``[x][y][f]`` (f contiguous), offset ``P[L, SOFF]``;
- weights: one flat int32 array, per core ``[c][kx][ky][f]`` (f contiguous), offset ``P[L, WOFF]``;
- non-zero weight counts per ``(c, kx, ky)`` for ``process_zero_weights=False``, offset ``P[L, NOFF]``.

The inner loop runs over the output features f of one (kx, ky) tap, contiguous in both weights and states,
so it vectorises. The emission order of the project convention (f outermost, then kx, then ky) is restored by
recording each firing neuron's key ``f·(nkx·nky) + ix·nky + iy`` and sorting the keys before emitting. This
is exact because routing is acyclic (checked before the kernel runs): the depth-first cascade of a spike of
core L never reaches L again, so neither L's states nor L's decimator counter change between L's neuron
updates, and computing all of one event's updates before emitting its spikes gives the reference's results.

Depth-first routing uses an explicit stack of frames; in an acyclic network each core is on the stack at
most once, so each core has its own scratch buffer for its pending spikes.
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np

# Columns of the per-core parameter table P[9, N_PARAM].
F_, C_, K_, SX, SY, PX, PY, WOUT, HOUT, WIN, HIN = range(11)
THR, THRLO, RTZ, LEAK, MON, DECN, DECPH, WOFF, SOFF, NOFF, BOFF, SCOFF, LSCOFF, USED, SAFE = range(11, 26)
SXL, SYL = 26, 27  # log2 of the strides (chip strides are powers of two), -1 otherwise
N_PARAM = 28

# Option flags opt[N_OPT].
O_CLAMP, O_SKIPZERO, O_LEAKSPK, O_OVF, O_CHECK, O_OOR, O_ERRATUM, O_TRACE = range(8)
N_OPT = 8
OVF_ERROR, OVF_WRAP, OVF_SAT = 0, 1, 2
CHECK_SUM, CHECK_RESULT = 0, 1

# Pending spikes are stored as ``order_key << 24 | f << 14 | x << 7 | y`` (f < 1024, x, y < 128): sorting
# the packed values sorts by the emission-order key, and decoding needs no integer division.
PACK_F, PACK_X = 14, 7

# Error codes in err[0].
ERR_NONE, ERR_OVERFLOW, ERR_RANGE = 0, 1, 2

# Counter rows.
C_SYNOPS, C_GEN, C_EMIT, C_INPUTS, C_DROPPED = range(5)

# No allocation happens inside the kernel, so the numba runtime (reference counting of arrays, which
# costs atomic updates on every array hand-over) is switched off.
_JIT: dict[str, Any] = {
    "cache": True,
    "nogil": True,
    "boundscheck": False,
    "error_model": "numpy",
    "_nrt": False,
}
_INLINE: dict[str, Any] = {**_JIT, "inline": "always"}


@nb.njit(**_INLINE)
def _fit(v: int, mode: int) -> int:
    if mode == OVF_WRAP:
        return ((v + 32768) & 65535) - 32768
    if mode == OVF_SAT:
        return min(max(v, -32768), 32767)
    return v


@nb.njit(**_INLINE)
def _overflow_error(err: Any, core: int, f: int, x: int, y: int, t: int, v: int) -> None:
    err[0] = ERR_OVERFLOW
    err[1] = core
    err[2] = f
    err[3] = x
    err[4] = y
    err[5] = t
    err[6] = v


@nb.njit(**_INLINE)
def _sort(a: Any, start: int, n: int) -> None:
    """Sort ``a[start:start+n]`` in place without allocating (Shell sort; keys are unique)."""
    gap = 1
    while gap < n // 3:
        gap = 3 * gap + 1
    while gap > 0:
        for i in range(start + gap, start + n):
            key = a[i]
            j = i
            while j >= start + gap and a[j - gap] > key:
                a[j] = a[j - gap]
                j -= gap
            a[j] = key
        gap //= 3


@nb.njit(**_INLINE)
def _row_default(
    S: Any, W: Any, sb: int, wb: int, F: int, thr: int, thrlo: int, keep: int, fl: Any
) -> tuple[int, int, int]:
    """One (kx, ky) tap for all F features with the default options; branch-free so it vectorises.

    Returns (any neuron fired, min sum, max sum) — the sums are checked for 16-bit overflow by the caller.
    """
    anyf: Any = 0
    lo: Any = 0
    hi: Any = 0
    # Unsigned indices: numba then emits no negative-index wrap-around, so LLVM vectorises the loop
    # (slicing would do the same but costs reference-count updates on every row).
    usb = np.uint64(sb)
    uwb = np.uint64(wb)
    for f in range(F):
        uf = np.uint64(f)
        v = np.int32(S[usb + uf] + W[uwb + uf])
        lo = min(lo, v)
        hi = max(hi, v)
        fire = v >= thr
        S[usb + uf] = (v - thr) * keep if fire else max(v, thrlo)
        fl[uf] = fire
        anyf |= fire
    return anyf, lo, hi


@nb.njit(**_INLINE)
def _row_safe(S: Any, W: Any, sb: int, wb: int, F: int, thr: int, thrlo: int, keep: int, fl: Any) -> Any:
    """:func:`_row_default` for a core that provably cannot overflow (``P[L, SAFE]``): no min/max tracking.

    The compiler sets SAFE when an invariant keeps every state in ``[threshold_low, threshold_high)``, so
    every sum fits 16 bits (see ``simulator._overflow_free``).
    """
    anyf: Any = 0
    usb = np.uint64(sb)
    uwb = np.uint64(wb)
    for f in range(F):
        uf = np.uint64(f)
        v = np.int32(S[usb + uf] + W[uwb + uf])
        fire = v >= thr
        S[usb + uf] = (v - thr) * keep if fire else max(v, thrlo)
        fl[uf] = fire
        anyf |= fire
    return anyf


@nb.njit(**_INLINE)
def _row_generic(
    S: Any, W: Any, sb: int, wb: int, F: int, thr: int, thrlo: int, rtz: bool, clamp: bool, skipzero: bool,
    ovf: int, check_sum: bool, fl: Any,
) -> tuple[int, int, int]:  # fmt: skip
    """One (kx, ky) tap for all F features, every option honoured (§12 ``synop``)."""
    anyf = 0
    lo = 0
    hi = 0
    for f in range(F):
        s = S[sb + f]
        w = W[wb + f]
        v = s + w
        if check_sum:
            v = _fit(v, ovf)
        fire = v >= thr
        if fire:
            r = 0 if rtz else v - thr
        elif clamp:
            r = max(v, thrlo)
        else:
            r = v
        if skipzero and w == 0:
            r = s
            fire = False
        if not check_sum:
            r = _fit(r, ovf)
        chk = v if check_sum else r
        lo = min(lo, chk)
        hi = max(hi, chk)
        S[sb + f] = r
        fl[f] = fire
        anyf |= fire
    return anyf, lo, hi


@nb.njit(**_INLINE)
def _compute_event(
    L: int, c: int, x: int, y: int, t: int, P: Any, opt: Any, W: Any, WR: Any, S: Any, NNZ: Any,
    scratch: Any, xol: Any, yol: Any, nk: Any, cnt: Any, err: Any, fl: Any,
) -> int:  # fmt: skip
    """Apply one input event to core L; write the keys of firing neurons, sorted, to L's scratch."""
    F = P[L, F_]
    k = P[L, K_]
    sx = P[L, SX]
    sy = P[L, SY]
    sxl = P[L, SXL]
    syl = P[L, SYL]
    Wout = P[L, WOUT]
    Hout = P[L, HOUT]
    nkx = 0
    for kx in range(k):
        nx = x + P[L, PX] - kx
        if nx < 0:
            break  # nx decreases with kx; a negative nx gives x_o < 0
        if sx == 1:
            xo = nx
        elif sxl >= 0:
            if nx & (sx - 1):
                continue
            xo = nx >> sxl
        else:
            if nx % sx != 0:
                continue
            xo = nx // sx
        if xo < Wout:
            xol[L, nkx, 0] = kx
            xol[L, nkx, 1] = xo
            nkx += 1
    nky = 0
    for ky in range(k):
        ny = y + P[L, PY] - ky
        if ny < 0:
            break
        if sy == 1:
            yo = ny
        elif syl >= 0:
            if ny & (sy - 1):
                continue
            yo = ny >> syl
        else:
            if ny % sy != 0:
                continue
            yo = ny // sy
        if yo < Hout:
            yol[L, nky, 0] = ky
            yol[L, nky, 1] = yo
            nky += 1
    nk[L, 0] = nkx
    nk[L, 1] = nky
    cnt[C_INPUTS, L] += 1
    thr = P[L, THR]
    thrlo = P[L, THRLO]
    rtz = P[L, RTZ] != 0
    clamp = opt[O_CLAMP] != 0
    skipzero = opt[O_SKIPZERO] != 0
    ovf = opt[O_OVF]
    check_sum = opt[O_CHECK] == CHECK_SUM
    woff = P[L, WOFF]
    soff = P[L, SOFF]
    noff = P[L, NOFF]
    sc = P[L, SCOFF]
    nk2 = nkx * nky
    nsp = 0
    synops = 0
    keep = 0 if rtz else 1
    fast = check_sum and ovf == OVF_ERROR and clamp and not skipzero
    safe = fast and P[L, SAFE] != 0
    if fast and sy == 1 and nky > 0:
        # Stride 1 in y: the valid ky form one run, whose target neurons (x_o, y_o descending) are adjacent
        # f-blocks in the [x][y][f] state; with the ky-reversed weight copy WR they are adjacent too, so
        # one loop of nky·F elements replaces nky rows.
        ky_hi = yol[L, nky - 1, 0]
        yo_lo = yol[L, nky - 1, 1]
        n = nky * F
        for ix in range(nkx):
            kx = xol[L, ix, 0]
            xo = xol[L, ix, 1]
            wb = woff + ((c * k + kx) * k + (k - 1 - ky_hi)) * F
            sb = soff + (xo * Hout + yo_lo) * F
            synops += n
            if safe:
                anyf = _row_safe(S, WR, sb, wb, n, thr, thrlo, keep, fl)
                lo = 0
                hi = 0
            else:
                anyf, lo, hi = _row_default(S, WR, sb, wb, n, thr, thrlo, keep, fl)
            if lo < -32768 or hi > 32767:
                _overflow_error(err, L, -1, xo, -1, t, hi if hi > 32767 else lo)
                return 0
            if anyf:
                for j in range(nky):
                    iy = nky - 1 - j
                    base = ix * nky + iy
                    low = (xo << PACK_X) | (yo_lo + j)
                    for f in range(F):
                        if fl[j * F + f]:
                            scratch[sc + nsp] = ((f * nk2 + base) << 24) | (f << PACK_F) | low
                            nsp += 1
        cnt[C_SYNOPS, L] += synops
        cnt[C_GEN, L] += nsp
        if nsp > 1:
            _sort(scratch, sc, nsp)
        return nsp
    for ix in range(nkx):
        kx = xol[L, ix, 0]
        xo = xol[L, ix, 1]
        for iy in range(nky):
            ky = yol[L, iy, 0]
            yo = yol[L, iy, 1]
            tap = (c * k + kx) * k + ky
            wb = woff + tap * F
            sb = soff + (xo * Hout + yo) * F
            if skipzero:
                synops += NNZ[noff + tap]
            else:
                synops += F
            if safe:
                anyf = _row_safe(S, W, sb, wb, F, thr, thrlo, keep, fl)
                lo = 0
                hi = 0
            elif fast:
                anyf, lo, hi = _row_default(S, W, sb, wb, F, thr, thrlo, keep, fl)
            else:
                anyf, lo, hi = _row_generic(
                    S, W, sb, wb, F, thr, thrlo, rtz, clamp, skipzero, ovf, check_sum, fl
                )
            if ovf == OVF_ERROR and (lo < -32768 or hi > 32767):
                # The feature is not tracked in the vectorised loop; f = -1 means "one of this tap's".
                _overflow_error(err, L, -1, xo, yo, t, hi if hi > 32767 else lo)
                return 0
            if anyf:
                base = ix * nky + iy
                for f in range(F):
                    if fl[f]:
                        scratch[sc + nsp] = ((f * nk2 + base) << 24) | (f << PACK_F) | (xo << PACK_X) | yo
                        nsp += 1
    cnt[C_SYNOPS, L] += synops
    cnt[C_GEN, L] += nsp
    if nsp > 1:
        _sort(scratch, sc, nsp)
    return nsp


@nb.njit(**_JIT)
def _compute_leak(L: int, t: int, P: Any, opt: Any, S: Any, B: Any, lscratch: Any, cnt: Any, err: Any) -> int:
    """Apply one slow-clock tick to core L; sorted firing keys ``f·W·H + x·H + y`` go to the leak scratch."""
    F = P[L, F_]
    Wout = P[L, WOUT]
    Hout = P[L, HOUT]
    thr = P[L, THR]
    thrlo = P[L, THRLO]
    rtz = P[L, RTZ] != 0
    may_fire = opt[O_LEAKSPK] != 0
    ovf = opt[O_OVF]
    check_sum = opt[O_CHECK] == CHECK_SUM
    soff = P[L, SOFF]
    boff = P[L, BOFF]
    sc = P[L, LSCOFF]
    nsp = 0
    for xo in range(Wout):
        for yo in range(Hout):
            sb = soff + (xo * Hout + yo) * F
            for f in range(F):
                v = S[sb + f] + B[boff + f]
                if check_sum:
                    if ovf == OVF_ERROR and (v < -32768 or v > 32767):
                        _overflow_error(err, L, f, xo, yo, t, v)
                        return 0
                    v = _fit(v, ovf)
                fire = may_fire and v >= thr
                r = (0 if rtz else v - thr) if fire else max(v, thrlo)
                if not check_sum:
                    if ovf == OVF_ERROR and (r < -32768 or r > 32767):
                        _overflow_error(err, L, f, xo, yo, t, r)
                        return 0
                    r = _fit(r, ovf)
                S[sb + f] = r
                if fire:
                    lscratch[sc + nsp] = (
                        (((f * Wout + xo) * Hout + yo) << 24) | (f << PACK_F) | (xo << PACK_X) | yo
                    )
                    nsp += 1
    cnt[C_GEN, L] += nsp
    if nsp > 1:
        _sort(lscratch, sc, nsp)
    return nsp


@nb.njit(**_INLINE)
def _append(out: Any, n: int, t: int, layer: int, f: int, x: int, y: int, monitored: int) -> None:
    """Write output row ``n`` if it fits; the caller counts rows and re-runs with a larger buffer if not."""
    if n < out.shape[0]:
        out[n, 0] = t
        out[n, 1] = layer
        out[n, 2] = f
        out[n, 3] = x
        out[n, 4] = y
        out[n, 5] = monitored


@nb.njit(**_INLINE)
def _readout(f: int, opt: Any, readout: Any) -> None:
    cls = f // 4 + 1 if opt[O_ERRATUM] != 0 else f
    if 0 <= cls < readout.shape[0]:
        readout[cls] += 1


@nb.njit(**_INLINE)
def _in_range(D: int, f: int, x: int, y: int, P: Any) -> bool:
    return 0 <= f < P[D, C_] and 0 <= x < P[D, WIN] and 0 <= y < P[D, HIN]


@nb.njit(**_INLINE)
def _range_error(err: Any, src: int, D: int, f: int, x: int, y: int, t: int) -> None:
    err[0] = ERR_RANGE
    err[1] = src
    err[2] = f
    err[3] = x
    err[4] = y
    err[5] = t
    err[6] = D


@nb.njit(**_INLINE)
def _push_frame(fr: Any, row: int, L: int, mode: int, nsp: int) -> None:
    """Frame ``row`` of the stack := core ``L``'s ``nsp`` new spikes (mode 0 event, 1 leak), none started."""
    fr[row, 0] = L
    fr[row, 1] = mode
    fr[row, 2] = nsp
    fr[row, 3] = 0
    fr[row, 4] = 0


@nb.njit(**_JIT)
def _drain(
    t: int, sp: int, fr: Any, P: Any, opt: Any, W: Any, WR: Any, S: Any, NNZ: Any, scratch: Any,
    lscratch: Any, xol: Any, yol: Any, nk: Any, dest: Any, dec: Any, readout: Any, cnt: Any, out: Any,
    nout: int, err: Any, fl: Any,
) -> int:  # fmt: skip
    """Run the depth-first cascade of the frames on the stack until it is empty.

    Frame columns: 0 core, 1 mode (0 event spikes, 1 leak spikes), 2 spike count, 3 current spike index,
    4 phase (0 spike not started, 1 slot 0 next, 2 slot 1 next, 3 slots done), 5 f, 6 x, 7 y.
    """
    trace = opt[O_TRACE] != 0
    while sp > 0:
        i = sp - 1
        L = fr[i, 0]
        phase = fr[i, 4]
        if phase == 0:  # next pending spike of this frame: decimator, monitor
            if fr[i, 3] >= fr[i, 2]:
                sp -= 1
                continue
            if fr[i, 1] == 0:  # noqa: SIM108 - two different buffers
                packed = scratch[P[L, SCOFF] + fr[i, 3]]
            else:
                packed = lscratch[P[L, LSCOFF] + fr[i, 3]]
            f = (packed >> PACK_F) & 1023
            x = (packed >> PACK_X) & 127
            y = packed & 127
            n = P[L, DECN]
            if n > 0:
                c0 = dec[L]
                dec[L] += 1
                if c0 % n != P[L, DECPH]:
                    fr[i, 3] += 1
                    continue
            cnt[C_EMIT, L] += 1
            mon = P[L, MON]
            if mon != 0 or trace:
                _append(out, nout, t, L, f, x, y, mon)
                nout += 1
            fr[i, 5] = f
            fr[i, 6] = x
            fr[i, 7] = y
            phase = 1
        pushed = False
        while phase <= 2:  # destination slots 0 then 1; a slot whose event makes spikes pushes a frame
            s = phase - 1
            phase += 1
            if dest[L, s, 0] == 0:
                continue
            D = dest[L, s, 1]
            p = dest[L, s, 2]
            nf = fr[i, 5] + dest[L, s, 3]
            if p == 1:
                nx = fr[i, 6]
                ny = fr[i, 7]
            elif p == 2:
                nx = fr[i, 6] >> 1
                ny = fr[i, 7] >> 1
            elif p == 4:
                nx = fr[i, 6] >> 2
                ny = fr[i, 7] >> 2
            else:
                nx = fr[i, 6] // p
                ny = fr[i, 7] // p
            if D == 12:
                _readout(nf, opt, readout)
                continue
            if not _in_range(D, nf, nx, ny, P):
                if opt[O_OOR] != 0:
                    _range_error(err, L, D, nf, nx, ny, t)
                    return nout
                cnt[C_DROPPED, D] += 1
                continue
            nsp = _compute_event(D, nf, nx, ny, t, P, opt, W, WR, S, NNZ, scratch, xol, yol, nk, cnt, err, fl)
            if err[0] != ERR_NONE:
                return nout
            if nsp > 0:
                _push_frame(fr, sp, D, 0, nsp)
                pushed = True
                break
        if pushed:
            fr[i, 4] = phase
            sp += 1
            continue
        fr[i, 3] += 1
        fr[i, 4] = 0
    return nout


@nb.njit(**_INLINE)
def _inject(
    L: int, c: int, x: int, y: int, t: int, fr: Any, P: Any, opt: Any, W: Any, WR: Any, S: Any, NNZ: Any,
    scratch: Any, lscratch: Any, xol: Any, yol: Any, nk: Any, dest: Any, dec: Any, readout: Any,
    cnt: Any, out: Any, nout: int, err: Any, fl: Any,
) -> int:  # fmt: skip
    """One root event into core ``L`` (feature ``c`` at ``x``, ``y``) and its whole cascade; returns rows."""
    nsp = _compute_event(L, c, x, y, t, P, opt, W, WR, S, NNZ, scratch, xol, yol, nk, cnt, err, fl)
    if err[0] != ERR_NONE or nsp == 0:
        return nout
    _push_frame(fr, 0, L, 0, nsp)
    return _drain(
        t,
        1,
        fr,
        P,
        opt,
        W,
        WR,
        S,
        NNZ,
        scratch,
        lscratch,
        xol,
        yol,
        nk,
        dest,
        dec,
        readout,
        cnt,
        out,
        nout,
        err,
        fl,
    )


@nb.njit(**_JIT)
def run_kernel(
    ev: Any, ticks: Any, P: Any, opt: Any, W: Any, WR: Any, S: Any, B: Any, NNZ: Any, scratch: Any,
    lscratch: Any, dest: Any, dvs_dest: Any, dvs_mon: int, dec: Any, readout: Any, cnt: Any, out: Any,
    err: Any, fl: Any, xol: Any, yol: Any, nk: Any, fr: Any, e0: int, ti0: int, nout0: int,
) -> tuple[int, int, int]:  # fmt: skip
    """Simulate root events ``ev`` (int64 rows t, layer, f, x, y) and slow-clock ``ticks``.

    Root layers: 0..8 core input, 12 readout input, 13 DVS event already pre-processed (§5), -1 skipped.
    Starts at root event ``e0``, tick ``ti0``, output row ``nout0``. Output rows (t, layer, f, x, y,
    monitored) go to ``out``. Returns (rows so far, ticks applied, next root event): the kernel stops before
    a root event once ``out`` is half full, so the caller can grow it and resume (next root event ≤ len(ev));
    it has finished when the next root event is ``len(ev) + 1``. If one event's cascade alone overflows
    ``out``, the row count exceeds its length (extra rows are not written) and the caller must redo the call
    from a copy of the state with a larger buffer. Work arrays: ``fl`` bool[max F·k], ``xol``/``yol``
    int64[9, 16, 2], ``nk`` int64[9, 2], ``fr`` int64[11, 8].
    Errors stop the run and are reported in ``err`` (code, core, f, x, y, t, value).
    """
    nout = nout0
    ti = ti0
    nev = ev.shape[0]
    tmax = ev[nev - 1, 0] if nev > 0 else 0
    if ticks.shape[0] > 0:
        tmax = max(tmax, ticks[ticks.shape[0] - 1])
    for e in range(e0, nev + 1):
        if e > e0 and 2 * nout > out.shape[0]:
            return nout, ti, e
        tev = ev[e, 0] if e < nev else tmax
        while ti < ticks.shape[0] and ticks[ti] <= tev:
            tt = ticks[ti]
            ti += 1
            for L in range(P.shape[0]):
                if P[L, USED] == 0 or P[L, LEAK] == 0:
                    continue
                nsp = _compute_leak(L, tt, P, opt, S, B, lscratch, cnt, err)
                if err[0] != ERR_NONE:
                    return nout, ti, e
                if nsp > 0:
                    _push_frame(fr, 0, L, 1, nsp)
                    nout = _drain(
                        tt,
                        1,
                        fr,
                        P,
                        opt,
                        W,
                        WR,
                        S,
                        NNZ,
                        scratch,
                        lscratch,
                        xol,
                        yol,
                        nk,
                        dest,
                        dec,
                        readout,
                        cnt,
                        out,
                        nout,
                        err,
                        fl,
                    )
                    if err[0] != ERR_NONE:
                        return nout, ti, e
        if e == nev:
            break
        t = ev[e, 0]
        layer = ev[e, 1]
        f = ev[e, 2]
        x = ev[e, 3]
        y = ev[e, 4]
        if layer < 0:
            continue
        if layer == 12:
            _readout(f, opt, readout)
        elif layer == 13:
            if dvs_mon != 0:
                _append(out, nout, t, 13, f, x, y, 1)
                nout += 1
            for s in range(2):
                D = dvs_dest[s]
                if D < 0:
                    continue
                if not _in_range(D, f, x, y, P):
                    if opt[O_OOR] != 0:
                        _range_error(err, 13, D, f, x, y, t)
                        return nout, ti, e
                    cnt[C_DROPPED, D] += 1
                    continue
                nout = _inject(
                    D,
                    f,
                    x,
                    y,
                    t,
                    fr,
                    P,
                    opt,
                    W,
                    WR,
                    S,
                    NNZ,
                    scratch,
                    lscratch,
                    xol,
                    yol,
                    nk,
                    dest,
                    dec,
                    readout,
                    cnt,
                    out,
                    nout,
                    err,
                    fl,
                )
                if err[0] != ERR_NONE:
                    return nout, ti, e
        else:
            nout = _inject(
                layer,
                f,
                x,
                y,
                t,
                fr,
                P,
                opt,
                W,
                WR,
                S,
                NNZ,
                scratch,
                lscratch,
                xol,
                yol,
                nk,
                dest,
                dec,
                readout,
                cnt,
                out,
                nout,
                err,
                fl,
            )
            if err[0] != ERR_NONE:
                return nout, ti, e
    return nout, ti, nev + 1
