"""Imported by the fork server of the ``process`` executor (never by anything else): warm it up once.

Importing this module imports torch, numba and the simulator, and runs the simulator kernel once on an
empty configuration, which loads its compiled machine code from numba's cache (≈ 1 s). Worker processes
forked from the fork server afterwards start with all of it in memory, instead of each paying for it on its
first sample. Nothing here runs threads, so forking afterwards is safe.
"""

from __future__ import annotations

import deploy.timestep  # noqa: F401  (torch)
from deploy.sim.events import empty_events
from deploy.sim.simulator import simulate
from deploy.validation import task  # noqa: F401  (what the workers run)
from hwconfig.config import ChipConfig

simulate(ChipConfig(), empty_events())
