"""The one error tree of :mod:`deploy` (DESIGN.md "Errors").

The CLI maps every :class:`DeployError` to a one-paragraph message on stderr and exit code 2; anything
else is a bug in the tool (exit code 1, traceback).
"""

from __future__ import annotations

from collections.abc import Sequence


class DeployError(Exception):
    """A problem with the user's model, input or environment (CLI exit code 2)."""


class ModelLoadError(DeployError):
    """A model file or object cannot be loaded (missing, corrupt, unsafe, wrong format)."""


class UnsupportedLayerError(DeployError):
    """The model contains constructs the chip cannot run; ``problems`` lists all of them."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            msg = f"the model cannot run on the chip: {self.problems[0]}"
        else:
            msg = f"the model cannot run on the chip ({len(self.problems)} problems):\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(msg)


class QuantizationError(DeployError):
    """The float model cannot be turned into chip integers as asked (e.g. the min_v_mem=None trap)."""


class ChipConstraintError(DeployError):
    """The model violates chip limits; ``violations`` lists every one (see :mod:`deploy.check`)."""

    def __init__(self, violations: Sequence[object], header: str = "the model does not fit the chip") -> None:
        self.violations = tuple(violations)
        lines = "\n".join(f"  - {v}" for v in self.violations)
        super().__init__(f"{header} ({len(self.violations)} violation(s)):\n{lines}")


class PlacementError(DeployError):
    """No assignment of layers to cores exists (or a manual core map is invalid)."""


class EventFormatError(DeployError):
    """Input or output events are malformed; the message names the first offending index."""


class SimulationError(DeployError):
    """The simulation cannot continue (cyclic routing, bad configuration arrays, out-of-range routing)."""


class StateOverflowError(SimulationError):
    """A 16-bit membrane state overflowed with ``SimOptions.overflow == "error"`` (SPECK_SEMANTICS §2.3)."""


class BoardError(DeployError):
    """A board could not be found, opened, configured or streamed to/from."""


class SamnaUnavailableError(BoardError):
    """samna is missing, or only the PyPI stub is installed, so no board can be used."""


class DatasetError(DeployError):
    """A validation data set cannot be read or has an unexpected layout (the message names file and field)."""
