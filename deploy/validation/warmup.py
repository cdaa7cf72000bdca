"""Imported once by every validation worker process (fork server, dask workers): warm it up.

Importing this module imports torch, numba and the simulator, and runs the simulator kernel once on an
empty configuration, which loads its compiled machine code from numba's cache (≈ 1 s). Worker processes
forked from the fork server afterwards start with all of it in memory, instead of each paying for it on its
first sample. Nothing here runs threads, so forking afterwards is safe.

It also undoes one setting of dask's nanny: it starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, and
setting that variable switches off glibc's dynamic mmap threshold, so every array above 128 KiB (the input
raster, the simulator's buffers) is mapped and unmapped again on each allocation. Measured here: 0.10–0.11 s
per digits sample with the variable against 0.07 s without; a fixed 32 MiB mmap threshold restores 0.07 s.
"""

from __future__ import annotations

import ctypes
import os

import deploy.timestep  # noqa: F401  (torch)
from deploy.sim.events import empty_events
from deploy.sim.simulator import simulate
from deploy.validation import task  # noqa: F401  (what the workers run)
from hwconfig.config import ChipConfig

M_MMAP_THRESHOLD = -3
"""glibc ``mallopt`` parameter number (malloc.h)."""


def restore_mmap_threshold() -> bool:
    """Keep allocations below 32 MiB on the heap when ``MALLOC_TRIM_THRESHOLD_`` is set (glibc only).

    Returns:
        True when the threshold was set.
    """
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return False
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024))
    except (OSError, AttributeError):  # not glibc
        return False


restore_mmap_threshold()
simulate(ChipConfig(), empty_events())
