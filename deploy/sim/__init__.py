"""Bit-accurate, event-driven simulation of a Speck / DYNAP-CNN chip configuration.

- :mod:`deploy.sim.events`: the event dtype ``EVENT_DTYPE``, converters (tonic, rasters, N×5 rows, files)
  and :func:`validate_events`.
- :mod:`deploy.sim.options`: :class:`SimOptions`, every open semantic choice of SPECK_SEMANTICS as a field.
- :mod:`deploy.sim.reference`: the pure-Python reference simulator (§12, obviously right, slow).
- :mod:`deploy.sim.simulator`: the fast numba simulator (identical results), :func:`simulate`,
  :func:`simulate_batch` and the :class:`Simulator` target.
- :mod:`deploy.sim.timestepped`: a sinabs-style time-stepped evaluation in torch (for comparisons).

Importing this package does not import numba or torch; :mod:`deploy.sim.simulator` imports numba.
"""

from deploy.errors import SimulationError, StateOverflowError
from deploy.sim.events import EVENT_DTYPE, load_events, save_events, validate_events
from deploy.sim.options import SimOptions
from deploy.sim.result import SimResult

__all__ = [
    "EVENT_DTYPE",
    "SimOptions",
    "SimResult",
    "SimulationError",
    "StateOverflowError",
    "load_events",
    "save_events",
    "validate_events",
]
