"""Bit-accurate, event-driven simulation of a Speck / DYNAP-CNN chip configuration.

- :mod:`deploy.sim.events`: the event dtype ``EVENT_DTYPE``, converters (tonic, rasters, N×5 rows, files)
  and :func:`validate_events`.
- :mod:`deploy.sim.options`: :class:`SimOptions`, every open semantic choice of SPECK_SEMANTICS as a field.
- :mod:`deploy.sim.reference`: the pure-Python reference simulator (§12, obviously right, slow).
- :mod:`deploy.sim.simulator`: the fast numba simulator (identical results), :func:`simulate`,
  :func:`simulate_batch` and the :class:`Simulator` target.
- :mod:`deploy.sim.timestepped`: a sinabs-style time-stepped evaluation in torch (for comparisons).
- :mod:`deploy.sim.kernel` (numba) with its data layout in :mod:`deploy.sim.layout`; slow-clock ticks in
  bounded chunks in :mod:`deploy.sim.ticks`; :mod:`deploy.sim.warmup` loads the kernels and announces the
  one-time compile (:func:`deploy.sim.warmup.set_compile_notifier`).

Importing this package, or :mod:`deploy.sim.simulator`, does not import numba or torch; the first
simulation loads the numba kernels.
"""

from deploy.errors import SimulationError, StateOverflowError
from deploy.sim.events import EVENT_DTYPE, load_events, save_events, validate_events
from deploy.sim.options import SimOptions
from deploy.sim.result import SimResult
from deploy.sim.warmup import COMPILE_MESSAGE, load_kernels, set_compile_notifier

__all__ = [
    "COMPILE_MESSAGE",
    "EVENT_DTYPE",
    "SimOptions",
    "SimResult",
    "SimulationError",
    "StateOverflowError",
    "load_events",
    "load_kernels",
    "save_events",
    "set_compile_notifier",
    "validate_events",
]
