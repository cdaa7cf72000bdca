"""The target protocol shared by the simulator (:mod:`deploy.sim`) and the board (:mod:`deploy.board`).

Both take the same :class:`hwconfig.ChipConfig` and the same chip events (``deploy.sim.events.EVENT_DTYPE``),
so a hardware-in-the-loop test can assert ``board.run(ev) == simulator.run(ev)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from hwconfig.config import ChipConfig


@runtime_checkable
class Target(Protocol):
    """Something that runs a chip configuration on input events."""

    name: str

    def load(self, config: ChipConfig) -> None:
        """Apply a configuration (neuron states start from ``neurons_initial_value``)."""
        ...

    def run(self, events: npt.NDArray[np.void]) -> npt.NDArray[np.void]:
        """Feed input events (``EVENT_DTYPE``, timestamps in µs, non-decreasing); return the output events."""
        ...

    def reset(self) -> None:
        """Return every neuron to its configured initial state, keeping the configuration."""
        ...
