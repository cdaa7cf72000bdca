"""numba kernel of the fast simulator (the only module that imports numba).

Data layout (prepared by :mod:`deploy.sim.simulator`), in two named tuples:

- :class:`Net`, read-only: the per-core parameter table ``P[9, N_PARAM]``, the option flags ``opt``, weights
  (flat int8, per core ``[c][k-1-kx][ky in storage order][f]``, f contiguous, offset ``P[L, WOFF]``; the
  storage order of the kernel rows is :func:`deploy.sim.layout.ky_storage_order`, ``P[L, POS + ky]``),
  biases, non-zero weight counts per tap (same order; for ``process_zero_weights=False``) and the
  destinations;
- :class:`Work`, written by the kernel: states (flat int32, per core ``[x][y][f]``, offset ``P[L, SOFF]``),
  decimator counters, readout counts, counters, the error record and scratch buffers.

Fast path (default options, ``P[L, FAST]``): an event's taps on each axis are a range (:func:`_taps`). A row
is the F features of one tap, contiguous in weights and states. The taps of one kx touch consecutive y_out,
and, thanks to the storage order of the kernel rows (grouped by ``ky mod stride``, descending within a
group), consecutive weight rows, so they form one fused row of ``nky·F`` synapses, whatever the stride.
Rows run in ascending memory order (LLVM's runtime overlap checks then admit the vectorised loop), in int32
(a sum that wraps is out of the 16-bit range too, so it is caught as an overflow). Each neuron is touched
once per event, so the row order changes no state; an overflow error does depend on it (the reference stops
at the first overflowing tap), so on an overflow the kernel returns ``ERR_REDO`` and the caller repeats the
call from its snapshot on the generic path, which reports it as the reference does. The row loop is
branch-free and finds the largest sum (and the smallest, unless the core's sums cannot fall below -32768,
``P[L, LOWSAFE]``); only a row whose largest sum reaches the threshold gets a second, also branch-free pass
that resets the firing neurons and records each as bit ``ix·nky + iy`` of ``mask[f]``; the project's
emission order (f outermost, then kx, then ky) is then read off the masks of the features that fired, set
bit by set bit (ascending bits are that order), with no sort. This is exact because routing is acyclic
(checked before the kernel runs): the depth-first cascade of a spike of core L never reaches L again, so
neither L's states nor L's decimator counter change between L's neuron updates, and computing all of one
event's updates before emitting its spikes gives the reference's results. The rarely used options (no
clamping, skipped zero weights, wrap/saturate, result checks, ``threshold_low >= threshold_high``, kernels
with more than 64 taps) take the generic path, one tap at a time in the reference's order, recording sort
keys instead.

Cold start: each compiled function has one explicit signature and is compiled once, eagerly, into numba's
on-disk cache (``cache=True``) when this module is first imported on a fresh cache (a few seconds;
:func:`deploy.sim.warmup.load_kernels` announces it); later imports load the machine code.
``scripts/install.sh`` runs :mod:`deploy.sim.warmup` so that a user's first run is already warm.
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np
from numba import types as nt
from numba.cpython.unsafe.numbers import trailing_zeros

from deploy.sim.layout import (
    BOFF,
    C_,
    C_DROPPED,
    C_EMIT,
    C_GEN,
    C_INPUTS,
    C_SYNOPS,
    CHECK_SUM,
    DECN,
    DECPH,
    ERR_NONE,
    ERR_OVERFLOW,
    ERR_RANGE,
    ERR_REDO,
    F_,
    FAST,
    HIN,
    HOUT,
    K_,
    LEAK,
    LOWSAFE,
    LSCOFF,
    MAX_MASK_TAPS,
    MON,
    NOFF,
    O_CHECK,
    O_CLAMP,
    O_DVSMON,
    O_ERRATUM,
    O_LEAKSPK,
    O_OOR,
    O_OVF,
    O_SKIPZERO,
    O_TRACE,
    OVF_ERROR,
    OVF_SAT,
    OVF_WRAP,
    PACK_F,
    PACK_X,
    POS,
    PX,
    PY,
    REDO_TAPWISE,
    RTZ,
    SCOFF,
    SOFF,
    SX,
    SXL,
    SY,
    SYL,
    THR,
    THRLO,
    USED,
    WIN,
    WOFF,
    WOUT,
    Net,
    Work,
)
from hwconfig.config import DVS_LAYER, N_DESTINATIONS, READOUT_LAYER


def _array(dtype: Any, ndim: int, readonly: bool = False) -> Any:
    return nt.Array(nb.from_dtype(np.dtype(dtype)), ndim, "C", readonly=readonly)


NET_TYPE = nt.NamedTuple(
    [_array(np.int64, 2, True), _array(np.int64, 1, True), _array(np.int8, 1, True)]
    + [_array(np.int32, 1, True)] * 2
    + [_array(np.int64, 3, True), _array(np.int64, 1, True)],
    Net,
)
WORK_TYPE = nt.NamedTuple(
    [_array(np.int32, 1), _array(np.int64, 1), _array(np.int64, 1), _array(np.int64, 2)]
    + [_array(np.int64, 1)] * 3
    + [_array(np.uint64, 1), _array(np.bool_, 1), _array(np.int64, 2)],
    Work,
)
_I = nt.int64
_OUT = _array(np.int64, 2)
_I32A = _array(np.int32, 1)
_I64A = _array(np.int64, 1)

# Compile time goes to numba typing inlined code (``inline="always"`` re-types the callee at every call
# site) and to LLVM optimising each compiled function again in every caller that links it; run time goes
# to the rows and to passing the Net/Work tuples on every call of a compiled function. So run_kernel holds
# the cascade loop with the default-option event path (_compute_event, the row loop and the emission)
# inlined at their single call sites, while the rarely run code (_compute_event_generic for the other
# options, _compute_leak for slow-clock ticks) and the small helpers are compiled once each. No allocation
# happens inside the kernel, so the numba runtime (reference counting, atomic updates on every array
# hand-over) is switched off.
_JIT: dict[str, Any] = {
    "cache": True,
    "nogil": True,
    "boundscheck": False,
    "error_model": "numpy",
    "_nrt": False,
}
_INLINE: dict[str, Any] = {**_JIT, "cache": False, "inline": "always"}


@nb.njit(_I(_I, _I), **_JIT)
def _fit(v: int, mode: int) -> int:
    if mode == OVF_WRAP:
        return ((v + 32768) & 65535) - 32768
    if mode == OVF_SAT:
        return min(max(v, -32768), 32767)
    return v


@nb.njit(nt.void(_I64A, _I, _I, _I, _I, _I, _I, _I), **_JIT)
def _set_error(err: Any, code: int, core: int, f: int, x: int, y: int, t: int, v: int) -> None:
    """Record error ``code`` (fields: core, f, x, y, t, value); the kernel then stops."""
    err[0] = code
    err[1] = core
    err[2] = f
    err[3] = x
    err[4] = y
    err[5] = t
    err[6] = v


@nb.njit(nt.void(_I64A, _I, _I), **_JIT)
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
def _row_fast(
    S: Any, W: Any, sb: int, wb: int, n: int, F: int, thr: int, thrlo: int, keep: int, mask: Any, bit: int,
    low_safe: int,
) -> tuple[int, int, int, int]:  # fmt: skip
    """``n`` synapses with the default options: ``S[sb + j] += W[wb + j]``, then threshold and clamp.

    The range is the ``n / F`` taps of one kx fused into one range (module doc). Element j is feature
    ``j % F`` of segment ``j // F``; a firing one sets bit ``bit - j // F`` of ``mask[j % F]``. Returns
    (lowest and highest firing feature, or F and -1, min sum, max sum); the caller checks the sums for
    16-bit overflow. With ``low_safe`` (no sum of the core can fall below -32768:
    :data:`~deploy.sim.layout.LOWSAFE`) the min sum is not computed and 0 is returned for it.

    The first loop is branch-free, call-free and int32 (exact: the states stay within 16 bits plus one
    weight, far from the int32 limits), so it vectorises with the widest registers: it stores
    ``max(v, thrlo)`` and finds the largest sum. Only if that reaches the threshold does a second loop
    reset the firing neurons: with ``thrlo < thr`` (checked by the caller) a stored value reaches ``thr``
    exactly when its sum did (it was then stored unchanged), which gives the result of
    ``fire ? (v - thr)·keep : max(v, thrlo)``. That loop is branch-free too (selects, so it vectorises):
    whether a neuron fires is as unpredictable as the input.
    """
    lo: Any = np.int32(0)
    hi: Any = np.int32(0)
    t32 = np.int32(thr)
    lo32 = np.int32(thrlo)
    # Unsigned indices: numba then emits no negative-index wrap-around, so LLVM vectorises the loop
    # (slicing would do the same but costs reference-count updates on every row).
    usb = np.uint64(sb)
    uwb = np.uint64(wb)
    if low_safe:
        for j in range(n):
            uj = np.uint64(j)
            v = np.int32(S[usb + uj] + W[uwb + uj])
            hi = v if v > hi else hi
            S[usb + uj] = v if v > lo32 else lo32
    else:
        for j in range(n):
            uj = np.uint64(j)
            v = np.int32(S[usb + uj] + W[uwb + uj])
            lo = v if v < lo else lo
            hi = v if v > hi else hi
            S[usb + uj] = v if v > lo32 else lo32
    if hi < t32:
        return F, -1, lo, hi
    k32 = np.int32(keep)
    at: Any = usb
    uF = np.uint64(F)
    zero = np.uint64(0)
    fmin = F
    fmax = -1
    for seg in range(n // F):  # (no division per element)
        ubit = np.uint64(1) << np.uint64(bit - seg)
        for f in range(F):  # branch-free, so it vectorises
            uf = np.uint64(f)
            v = S[at + uf]
            fire = v >= t32
            S[at + uf] = (v - t32) * k32 if fire else v
            mask[uf] |= ubit if fire else zero
            fa = f if fire else F
            fb = f if fire else -1
            fmin = fa if fa < fmin else fmin
            fmax = fb if fb > fmax else fmax
        at += uF
    return fmin, fmax, lo, hi


@nb.njit(**_INLINE)
def _row_generic(
    S: Any, W: Any, sb: int, wb: int, F: int, thr: int, thrlo: int, mode: tuple[int, ...], fl: Any
) -> tuple[int, int, int]:  # fmt: skip
    """One (kx, ky) tap for all F features, every option honoured (§12 ``synop``); flags in ``fl``.

    ``mode`` is the core's options ``(rtz, clamp, skipzero, ovf, check_sum)``.
    """
    rtz, clamp, skipzero, ovf, check_sum = mode
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
def _taps(d: int, k: int, pad: int, stride: int, slog: int, size_out: int) -> tuple[int, int, int]:
    """The taps of one axis that input coordinate ``d`` reaches: (first k_i, its output coordinate o,
    count). They are ``k_i = first + i·stride`` with output ``o - i`` for i < count, k_i ascending: the
    k_i < k with ``d + pad - k_i`` a non-negative multiple of the stride whose quotient is < size_out.
    ``slog``: log2 of the stride, -1 if it is not a power of two (then it divides)."""
    top = d + pad  # d + pad - k_i for k_i = 0
    if top < 0:
        return 0, 0, 0
    # Conditional expressions, not min/max: numba compiles those builtins to calls here.
    lo = top - stride * size_out + 1
    lo = lo if lo > 0 else 0
    hi = top if top < k else k - 1
    if stride == 1:
        return lo, top - lo, hi - lo + 1 if hi >= lo else 0
    if slog >= 0:  # top >= lo >= 0: masks and shifts are the remainder and the quotient
        k0 = lo + ((top - lo) & (stride - 1))
        return (k0, (top - k0) >> slog, ((hi - k0) >> slog) + 1) if k0 <= hi else (0, 0, 0)
    k0 = lo + (top - lo) % stride
    if k0 > hi:
        return 0, 0, 0
    return k0, (top - k0) // stride, (hi - k0) // stride + 1


@nb.njit(**_INLINE)
def _tap(c: int, kx: int, ky: int, k: int, P: Any, L: int) -> int:
    """Row index of tap (c, kx, ky) in core L's weights, stored ``[c][k-1-kx][ky in storage order]``
    (module doc; ``P[L, POS + ky]`` is the position of ky)."""
    return (c * k + k - 1 - kx) * k + P[L, POS + ky]


@nb.njit(_I(_I, _I, _I, _I, _I, _I, _I, _I, _I, NET_TYPE, WORK_TYPE), **_JIT)
def _compute_event_generic(
    L: int, c: int, t: int, kx0: int, xo0: int, nkx: int, ky0: int, yo0: int, nky: int, net: Any, wk: Any
) -> int:
    """:func:`_compute_event` for every option (§12 ``synop``), one tap at a time (taps from :func:`_taps`).

    Firing neurons get the sort key ``f·nkx·nky + ix·nky + iy``; the keys are sorted before emission.
    """
    P = net.P
    opt = net.opt
    S = wk.S
    scratch = wk.scratch
    F = P[L, F_]
    k = P[L, K_]
    sx = P[L, SX]
    sy = P[L, SY]
    Hout = P[L, HOUT]
    thr = P[L, THR]
    thrlo = P[L, THRLO]
    rtz = P[L, RTZ]
    clamp = opt[O_CLAMP]
    skipzero = opt[O_SKIPZERO]
    ovf = opt[O_OVF]
    check_sum = opt[O_CHECK] == CHECK_SUM
    woff = P[L, WOFF]
    soff = P[L, SOFF]
    sc = P[L, SCOFF]
    nk2 = nkx * nky
    nsp = 0
    fl = wk.fl
    synops = 0
    mode = (rtz, clamp, skipzero, ovf, check_sum)
    for ix in range(nkx):
        xo = xo0 - ix
        for iy in range(nky):
            yo = yo0 - iy
            tap = _tap(c, kx0 + ix * sx, ky0 + iy * sy, k, P, L)
            wb = woff + tap * F
            sb = soff + (xo * Hout + yo) * F
            synops += net.NNZ[P[L, NOFF] + tap] if skipzero else F
            anyf, lo, hi = _row_generic(S, net.W, sb, wb, F, thr, thrlo, mode, fl)
            if ovf == OVF_ERROR and (lo < -32768 or hi > 32767):
                _set_error(wk.err, ERR_OVERFLOW, L, -1, xo, yo, t, hi if hi > 32767 else lo)
                return 0
            if anyf:
                base = ix * nky + iy
                for f in range(F):
                    if fl[f]:
                        scratch[sc + nsp] = ((f * nk2 + base) << 24) | (f << PACK_F) | (xo << PACK_X) | yo
                        nsp += 1
    wk.cnt[C_SYNOPS, L] += synops
    wk.cnt[C_GEN, L] += nsp
    if nsp > 1:
        _sort(scratch, sc, nsp)
    return nsp


@nb.njit(**_INLINE)
def _compute_event(L: int, c: int, x: int, y: int, t: int, net: Any, wk: Any) -> int:
    """Apply one input event to core L; write its firing neurons, in emission order, to L's scratch."""
    P = net.P
    S = wk.S
    W = net.W
    scratch = wk.scratch
    F = P[L, F_]
    k = P[L, K_]
    sx = P[L, SX]
    sy = P[L, SY]
    kx0, xo0, nkx = _taps(x, k, P[L, PX], sx, P[L, SXL], P[L, WOUT])
    ky0, yo0, nky = _taps(y, k, P[L, PY], sy, P[L, SYL], P[L, HOUT])
    wk.cnt[C_INPUTS, L] += 1
    nk2 = nkx * nky
    if P[L, FAST] == 0 or nk2 > MAX_MASK_TAPS or wk.err[REDO_TAPWISE] != 0:
        return _compute_event_generic(L, c, t, kx0, xo0, nkx, ky0, yo0, nky, net, wk)
    if nk2 == 0:
        return 0
    Hout = P[L, HOUT]
    thr = P[L, THR]
    thrlo = P[L, THRLO]
    woff = P[L, WOFF]
    soff = P[L, SOFF]
    sc = P[L, SCOFF]
    mask = wk.mask
    keep = 0 if P[L, RTZ] else 1
    lsafe = P[L, LOWSAFE]
    # One row per kx, in ascending memory order (x_out ascending; the kernel is stored flipped in x), so
    # LLVM's runtime checks let the row loop run vectorised. The nky taps of one kx touch consecutive y_out
    # and, thanks to the storage order of the kernel rows, consecutive weight rows: one fused row of nky·F
    # synapses. Each neuron is touched once per event, so the order of the rows changes no state; only an
    # overflow error depends on it (the reference stops at the first overflowing tap), so an overflow asks
    # the caller to redo the call in the reference's tap order (ERR_REDO; the generic path then runs and
    # stops at the same tap).
    n = nky * F
    ky_last = ky0 + (nky - 1) * sy  # the tap stored first: its output y is the lowest, yo0 - (nky - 1)
    ffrom = F  # features ffrom..fto have firing neurons
    fto = -1
    for ix in range(nkx - 1, -1, -1):
        sb = soff + ((xo0 - ix) * Hout + yo0 - nky + 1) * F
        wb = woff + _tap(c, kx0 + ix * sx, ky_last, k, P, L) * F
        fmin, fmax, lo, hi = _row_fast(S, W, sb, wb, n, F, thr, thrlo, keep, mask, ix * nky + nky - 1, lsafe)
        if lo < -32768 or hi > 32767:
            for f in range(F):
                mask[f] = 0
            wk.err[0] = ERR_REDO
            return 0
        ffrom = fmin if fmin < ffrom else ffrom
        fto = fmax if fmax > fto else fto
    wk.cnt[C_SYNOPS, L] += nk2 * F
    nsp = 0
    if fto >= 0:
        for f in range(ffrom, fto + 1):
            m = mask[f]
            if m == 0:
                continue
            mask[f] = 0
            fbits = f << PACK_F
            while m != 0:  # the set bits b = ix·nky + iy, ascending: kx, then ky, as the reference emits
                b = np.int64(trailing_zeros(m))  # type: ignore[call-arg]  # (a numba intrinsic)
                m &= m - np.uint64(1)
                ix = b // nky
                scratch[sc + nsp] = fbits | ((xo0 - ix) << PACK_X) | (yo0 - (b - ix * nky))
                nsp += 1
        wk.cnt[C_GEN, L] += nsp
    return nsp


@nb.njit(_I(_I, _I, NET_TYPE, WORK_TYPE), **_JIT)
def _compute_leak(L: int, t: int, net: Any, wk: Any) -> int:
    """Apply one slow-clock tick to core L; sorted firing keys ``f·W·H + x·H + y`` go to the leak scratch."""
    P = net.P
    opt = net.opt
    S = wk.S
    B = net.B
    lscratch = wk.lscratch
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
                        _set_error(wk.err, ERR_OVERFLOW, L, f, xo, yo, t, v)
                        return 0
                    v = _fit(v, ovf)
                fire = may_fire and v >= thr
                r = (0 if rtz else v - thr) if fire else max(v, thrlo)
                if not check_sum:
                    if ovf == OVF_ERROR and (r < -32768 or r > 32767):
                        _set_error(wk.err, ERR_OVERFLOW, L, f, xo, yo, t, r)
                        return 0
                    r = _fit(r, ovf)
                S[sb + f] = r
                if fire:
                    lscratch[sc + nsp] = (
                        (((f * Wout + xo) * Hout + yo) << 24) | (f << PACK_F) | (xo << PACK_X) | yo
                    )
                    nsp += 1
    wk.cnt[C_GEN, L] += nsp
    if nsp > 1:
        _sort(lscratch, sc, nsp)
    return nsp


@nb.njit(_I(_OUT, _I, _I, _I, _I, _I, _I, _I), **_JIT)
def _append(out: Any, n: int, t: int, layer: int, f: int, x: int, y: int, monitored: int) -> int:
    """Write output row ``n`` if it fits and return ``n + 1``; the caller re-runs with a larger buffer if
    the count exceeds the buffer."""
    if n < out.shape[0]:
        out[n, 0] = t
        out[n, 1] = layer
        out[n, 2] = f
        out[n, 3] = x
        out[n, 4] = y
        out[n, 5] = monitored
    return n + 1


@nb.njit(nt.void(_I, _array(np.int64, 1, True), _I64A), **_JIT)
def _readout(f: int, opt: Any, readout: Any) -> None:
    cls = f // 4 + 1 if opt[O_ERRATUM] != 0 else f
    if 0 <= cls < readout.shape[0]:
        readout[cls] += 1


@nb.njit(**_INLINE)
def _fits(D: int, f: int, x: int, y: int, P: Any) -> bool:
    """Whether event (f, x, y) fits core D's input."""
    return 0 <= f < P[D, C_] and 0 <= x < P[D, WIN] and 0 <= y < P[D, HIN]


@nb.njit(nt.void(_I, _I, _I, _I, _I, _I, _array(np.int64, 1, True), _I64A, _array(np.int64, 2)), **_JIT)
def _reject(src: int, D: int, f: int, x: int, y: int, t: int, opt: Any, err: Any, cnt: Any) -> None:
    """An event from ``src`` that does not fit core D: count a drop, or record an error (``out_of_range``)."""
    if opt[O_OOR] != 0:
        _set_error(err, ERR_RANGE, src, f, x, y, t, D)
    else:
        cnt[C_DROPPED, D] += 1


@nb.njit(**_INLINE)
def _push_frame(fr: Any, row: int, L: int, mode: int, nsp: int) -> None:
    """Frame ``row`` of the stack := core ``L``'s ``nsp`` new spikes (mode 0 event, 1 leak), none started."""
    fr[row, 0] = L
    fr[row, 1] = mode
    fr[row, 2] = nsp
    fr[row, 3] = 0
    fr[row, 4] = 0


@nb.njit(
    nt.UniTuple(_I, 3)(_OUT, _I64A, _I, NET_TYPE, WORK_TYPE, _OUT, _I, _I, _I),
    **_JIT,
)
def run_kernel(
    ev: Any, ticks: Any, more_ticks: int, net: Any, wk: Any, out: Any, e0: int, ti0: int, nout0: int
) -> tuple[int, int, int]:
    """Simulate root events ``ev`` (int64 rows t, layer, f, x, y) and slow-clock ``ticks``.

    Root layers: 0..8 core input, ``READOUT_LAYER`` readout input, ``DVS_LAYER`` DVS event already
    pre-processed (§5), -1 skipped. Starts at root event ``e0``, tick ``ti0``, output row ``nout0``. Output
    rows (t, layer, f, x, y, monitored) go to ``out``. Returns (rows so far, ticks applied, next root
    event): the kernel stops before a root event once ``out`` is half full, so the caller can grow it and
    resume, and, when ``more_ticks`` is set, once ``ticks`` is used up, so the caller can pass the next
    chunk of ticks (all later than these) and resume from that event with tick 0. It has finished when the
    next root event is ``len(ev) + 1``. If one event's cascade alone overflows ``out``, the row count
    exceeds its length (extra rows are not written) and the caller must redo the call from a copy of the
    state with a larger buffer. Errors stop the run and are reported in ``wk.err``.
    """
    nout = nout0
    ti = ti0
    e = e0
    nev = ev.shape[0]
    ntick = ticks.shape[0]
    P = net.P
    opt = net.opt
    dest = net.dest
    fr = wk.fr
    dec = wk.dec
    trace = opt[O_TRACE] != 0
    n_cores = P.shape[0]
    # One loop, one step per iteration. While the frame stack is not empty (sp > 0), the step advances the
    # depth-first cascade: the top frame's next spike (decimator, monitor), or its next destination slot.
    # Otherwise it takes the next root job: a core of the current tick (tick_core < n_cores), a target of
    # the current event (target < n_targets), or the next tick or event. A step that yields an input
    # computes it (leak of core L, or event (nf, nx, ny) into core L) and pushes a frame of its spikes.
    # Frame columns: 0 core, 1 mode (0 event spikes, 1 leak spikes), 2 spike count, 3 current spike
    # index, 4 phase (0 spike not started, 1 slot 0 next, 2 slot 1 next, 3 slots done), 5 f, 6 x, 7 y.
    sp = 0
    tick_core = n_cores
    t_tick = 0
    target = n_targets = 0
    started = False  # event e has been started (its targets are being or have been run)
    layer = f = x = y = t = 0
    while True:
        leak = False
        if sp > 0:
            i = sp - 1
            L = fr[i, 0]
            phase = fr[i, 4]
            if phase == 0:  # next pending spike of this frame: decimator, monitor
                if fr[i, 3] >= fr[i, 2]:
                    sp -= 1
                    continue
                if fr[i, 1] == 0:
                    packed = wk.scratch[P[L, SCOFF] + fr[i, 3]]
                else:
                    packed = wk.lscratch[P[L, LSCOFF] + fr[i, 3]]
                n = P[L, DECN]
                if n > 0:
                    c0 = dec[L]
                    dec[L] += 1
                    if c0 % n != P[L, DECPH]:
                        fr[i, 3] += 1
                        continue
                fr[i, 5] = (packed >> PACK_F) & 1023
                fr[i, 6] = (packed >> PACK_X) & 127
                fr[i, 7] = packed & 127
                wk.cnt[C_EMIT, L] += 1
                mon = P[L, MON]
                if mon != 0 or trace:
                    nout = _append(out, nout, t, L, fr[i, 5], fr[i, 6], fr[i, 7], mon)
                phase = 1
            while phase <= N_DESTINATIONS and dest[L, phase - 1, 0] == 0:
                phase += 1
            if phase > N_DESTINATIONS:  # no (further) enabled slot: the spike is done
                fr[i, 3] += 1
                fr[i, 4] = 0
                continue
            s = phase - 1
            sf = fr[i, 5]
            sx = fr[i, 6]
            sy = fr[i, 7]
            nxt = phase + 1
            while nxt <= N_DESTINATIONS and dest[L, nxt - 1, 0] == 0:
                nxt += 1
            if nxt <= N_DESTINATIONS:
                fr[i, 4] = nxt
            else:  # the spike's last enabled slot: the spike is done, and so is the frame after its last
                fr[i, 3] += 1
                fr[i, 4] = 0
                if fr[i, 3] >= fr[i, 2]:
                    sp -= 1  # (a frame pushed by this slot's event reuses the row)
            D = dest[L, s, 1]
            p = dest[L, s, 2]
            nf = sf + dest[L, s, 3]
            if p == 1:
                nx = sx
                ny = sy
            elif p == 2:
                nx = sx >> 1
                ny = sy >> 1
            elif p == 4:
                nx = sx >> 2
                ny = sy >> 2
            else:
                nx = sx // p
                ny = sy // p
            if D == READOUT_LAYER:
                _readout(nf, opt, wk.readout)
                continue
            if not _fits(D, nf, nx, ny, P):
                _reject(L, D, nf, nx, ny, t, opt, wk.err, wk.cnt)
                if wk.err[0] != ERR_NONE:
                    return nout, ti, e
                continue
            L = D
        elif tick_core < n_cores:
            L = tick_core
            tick_core += 1
            if P[L, USED] == 0 or P[L, LEAK] == 0:
                continue
            t = t_tick
            leak = True
            nf = nx = ny = 0
        elif target < n_targets:
            L = layer
            target += 1
            if layer == DVS_LAYER:
                L = net.dvs_dest[target - 1]
                if L < 0:
                    continue
                if not _fits(L, f, x, y, P):
                    _reject(DVS_LAYER, L, f, x, y, t, opt, wk.err, wk.cnt)
                    if wk.err[0] != ERR_NONE:
                        return nout, ti, e
                    continue
            nf = f
            nx = x
            ny = y
        else:
            if started:
                e += 1
                started = False
            if e > e0 and 2 * nout > out.shape[0]:
                return nout, ti, e
            if ti < ntick and (e == nev or ticks[ti] <= ev[e, 0]):
                t_tick = ticks[ti]
                ti += 1
                tick_core = 0
                continue
            if more_ticks != 0 and ti == ntick:
                return nout, ti, e  # the next chunk may hold ticks before event e
            if e == nev:
                return nout, ti, nev + 1
            started = True
            t = ev[e, 0]
            layer = ev[e, 1]
            f = ev[e, 2]
            x = ev[e, 3]
            y = ev[e, 4]
            target = 0
            n_targets = 0
            if layer == READOUT_LAYER:
                _readout(f, opt, wk.readout)
                continue
            if layer == DVS_LAYER:
                n_targets = N_DESTINATIONS
                if opt[O_DVSMON] != 0:
                    nout = _append(out, nout, t, DVS_LAYER, f, x, y, 1)
                continue
            if layer < 0:
                continue
            L = layer  # a core input: computed in this step (its only target)
            nf = f
            nx = x
            ny = y
        if leak:  # noqa: SIM108 - each inlined function keeps a single call site
            nsp = _compute_leak(L, t, net, wk)
        else:
            nsp = _compute_event(L, nf, nx, ny, t, net, wk)
        if wk.err[0] != ERR_NONE:
            return nout, ti, e
        if nsp > 0:
            _push_frame(fr, sp, L, 1 if leak else 0, nsp)
            sp += 1
