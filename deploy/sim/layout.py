"""Data layout shared by the simulator and its numba kernel: indices, :class:`Net` and :class:`Work`.

This module imports neither numba nor torch, so the simulator can lay out a configuration before the kernels
are loaded (see :mod:`deploy.sim.warmup`). The layouts are described in :mod:`deploy.sim.kernel`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from hwconfig.config import N_CNN_LAYERS

# Columns of the per-core parameter table P[9, N_PARAM].
F_, C_, K_, SX, SY, PX, PY, WOUT, HOUT, WIN, HIN = range(11)
THR, THRLO, RTZ, LEAK, MON, DECN, DECPH, WOFF, SOFF, NOFF, BOFF, SCOFF, LSCOFF, USED = range(11, 25)
SXL, SYL = 25, 26  # log2 of the strides (chip strides are powers of two), -1 otherwise
FAST = 27  # 1: the core's events take the kernel's fast path (default options, threshold_low < high)
# 1: no sum state + weight of the core can fall below -32768, so the fast path skips that check. States
# start at the configured initial values and later stay >= min(threshold_low, 0) (clamped, or reset from a
# sum >= threshold_high to >= 0), so this holds when min(threshold_low, 0, initial states) + the core's
# smallest weight >= -32768.
LOWSAFE = 28
# POS + ky: where kernel row ky is stored among the core's k rows of one (c, kx) (see ``ky_storage_order``).
POS = 29
MAX_KERNEL = 16  # the largest kernel_size the simulator lays out (the chip's limit, §7.2)
N_PARAM = POS + MAX_KERNEL

# Option flags opt[N_OPT].
O_CLAMP, O_SKIPZERO, O_LEAKSPK, O_OVF, O_CHECK, O_OOR, O_ERRATUM, O_TRACE, O_DVSMON = range(9)
N_OPT = 9
OVF_ERROR, OVF_WRAP, OVF_SAT = 0, 1, 2
CHECK_SUM, CHECK_RESULT = 0, 1

# Pending spikes are stored as ``order_key << 24 | f << 14 | x << 7 | y`` (f < 1024, x, y < 128): sorting
# the packed values sorts by the emission-order key (generic path only), and decoding needs no division.
PACK_F, PACK_X = 14, 7
MAX_MASK_TAPS = 64  # taps per event that fit the uint64 firing masks of the fast path

# Error codes in err[0].
ERR_NONE, ERR_OVERFLOW, ERR_RANGE = 0, 1, 2
# err[0] = ERR_REDO: a 16-bit overflow on the fast path; the caller restores the call's snapshot, sets
# err[REDO_TAPWISE] = 1 (generic path: taps one at a time in the reference's order) and repeats the call.
ERR_REDO = 3
REDO_TAPWISE = 7

# Counter rows.
C_SYNOPS, C_GEN, C_EMIT, C_INPUTS, C_DROPPED = range(5)
N_COUNTERS = 5

# Frame stack rows (one per core on the depth-first stack, plus the root) and columns.
N_FRAMES = N_CNN_LAYERS + 2
N_FRAME_COLS = 8


def ky_storage_order(k: int, stride: int) -> list[int]:
    """The order in which a core stores its kernel rows ky = 0..k-1 (for each input feature and kx).

    The rows are grouped by ``ky mod stride`` and stored in descending ky within a group. An input event
    reaches the rows ``ky0, ky0 + stride, ...`` of one group, whose outputs ``y0, y0 - 1, ...`` are
    consecutive neurons; stored this way, those rows are one contiguous range in the same (ascending) memory
    order as the states they update, so the kernel updates them as one fused row. With stride 1 this is the
    kernel flipped in y.
    """
    return [ky for r in range(stride) for ky in range(k - 1, -1, -1) if ky % stride == r]


class Net(NamedTuple):
    """The compiled configuration, read-only (see the module docstring for the layouts)."""

    P: Any  # int64[9, N_PARAM]
    opt: Any  # int64[N_OPT]
    W: Any  # int8, per core [c][k-1-kx][ky in ky_storage_order][f]
    B: Any  # int32, per core [f]
    NNZ: Any  # int32, per core [c][k-1-kx][ky in ky_storage_order]: non-zero weights of the tap
    dest: Any  # int64[9, 2, 4]: enable, layer, pooling, feature_shift
    dvs_dest: Any  # int64[2]: the DVS layer's destination cores, -1 if none


class Work(NamedTuple):
    """Everything the kernel writes; one per run (see :func:`new_work`)."""

    S: Any  # int32 states, per core [x][y][f]
    dec: Any  # int64[9] decimator counters
    readout: Any  # int64[N_READOUT_CLASSES]
    cnt: Any  # int64[N_COUNTERS, 9]
    err: Any  # int64[8]: code, core, f, x, y, t, value; [REDO_TAPWISE]: no fused rows
    scratch: Any  # int64: per core, its pending event spikes
    lscratch: Any  # int64: per core, its pending leak spikes
    mask: Any  # uint64[max F]: firing taps per feature of the event being computed (fast path)
    fl: Any  # bool[max F]: firing flags of one row (generic path)
    fr: Any  # int64[N_FRAMES, N_FRAME_COLS]: the depth-first frame stack


def new_work(
    S: Any, dec: Any, readout: Any, cnt: Any, max_features: int, scratch_size: int, lscratch_size: int
) -> Work:
    """A :class:`Work` around the run's states ``S``, decimators ``dec``, ``readout`` and counters ``cnt``,
    with zeroed error record and scratch buffers sized for the configuration."""
    f = max(1, max_features)
    return Work(
        S=S,
        dec=dec,
        readout=readout,
        cnt=cnt,
        err=np.zeros(8, np.int64),
        scratch=np.zeros(max(1, scratch_size), np.int64),
        lscratch=np.zeros(max(1, lscratch_size), np.int64),
        mask=np.zeros(f, np.uint64),
        fl=np.zeros(f, np.bool_),
        fr=np.zeros((N_FRAMES, N_FRAME_COLS), np.int64),
    )
