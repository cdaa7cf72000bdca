"""Imported once by every validation worker process (fork server, dask workers): warm it up.

Importing this module imports torch, numba, the simulator and every module a sample needs, and runs the
simulator kernel once on an empty configuration, which loads its compiled machine code from numba's cache
(≈ 1 s). Worker processes forked from the fork server afterwards start with all of it in memory, instead of
each paying for it on its first sample.

These processes only run validation tasks, one per core, so torch is set to one intra-op thread here (the
tasks run with one anyway, :func:`deploy.validation.task.single_torch_thread`) and a small convolution and
pooling run once, which initialises torch's CPU kernels without starting a thread pool: nothing here runs
threads, so forking afterwards is safe.

It also fixes glibc's mmap threshold at 32 MiB in these processes, so the arrays above 128 KiB every sample
allocates (the input raster, the simulator's buffers) stay on the heap instead of being mapped and unmapped
again. This matters most on dask workers: the nanny starts them with ``MALLOC_TRIM_THRESHOLD_=65536``, which
switches off glibc's dynamic threshold; measured here 0.10–0.11 s per digits sample with that variable
against 0.07 s with the fixed threshold. Fixing one threshold switches off glibc's dynamic adjustment of
both, so the trim threshold is raised too (256 MiB): left at 128 KiB, every sample's freed buffers were
handed back to the kernel and faulted in again by the next one, ≈ 2 s of kernel time per worker pair over
the 359 digits samples (the workers used 9 CPU-seconds where one process in the parent used 7).
"""

from __future__ import annotations

import ctypes

import torch

import deploy.agreement  # what evaluate_sample imports
import deploy.sim.events
import deploy.timestep  # noqa: F401
import hwconfig.chips  # noqa: F401
from deploy.sim.events import empty_events
from deploy.sim.simulator import simulate
from deploy.validation import task  # noqa: F401  (what the workers run)
from hwconfig.config import ChipConfig

M_MMAP_THRESHOLD = -3
M_TRIM_THRESHOLD = -1
"""glibc ``mallopt`` parameter numbers (malloc.h)."""


def fix_mmap_threshold() -> bool:
    """Keep allocations below 32 MiB on the heap and freed heap memory below 256 MiB in the process (glibc
    only; elsewhere nothing happens).

    Returns:
        True when both thresholds were set.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        mmap_set = bool(libc.mallopt(M_MMAP_THRESHOLD, 32 << 20))
        return mmap_set and bool(libc.mallopt(M_TRIM_THRESHOLD, 256 << 20))
    except (OSError, AttributeError):  # not glibc
        return False


def warm_torch() -> None:
    """One torch thread in this process, and the views' operations (convolution, pooling) run once."""
    torch.set_num_threads(1)
    with torch.no_grad():
        for dtype in (torch.float32, torch.float64):
            x, w = torch.zeros((1, 2, 8, 8), dtype=dtype), torch.zeros((2, 2, 3, 3), dtype=dtype)
            y = torch.nn.functional.conv2d(x, w, torch.zeros(2, dtype=dtype))
            torch.nn.functional.avg_pool2d(torch.relu(y), 2)


fix_mmap_threshold()
warm_torch()
simulate(ChipConfig(), empty_events())
