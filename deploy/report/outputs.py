"""What a run's outputs say, beyond the agreement check: board vs simulator, and every exit layer (issue #12).

- :func:`compare_targets`: a board run's monitored events against the simulator's on the same
  configuration and input — events per core and the first event that differs. Events are compared by
  ``(layer, feature, x, y)`` in order; timestamps are not compared (the board stamps the time an event left
  the chip, the simulator the time of the input that caused it, SPECK_SEMANTICS §3.3).
- :func:`exit_outputs`: the output spikes per class of each exit layer, and which exit names the class
  (:func:`resolve_class_exit`, ``--class-exit``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from deploy.errors import DeployError
from deploy.graph import LayerGraph, Placement

EventTuple = tuple[int, int, int, int, int]
"""``(timestamp_us, layer, feature, x, y)``."""


@dataclass(frozen=True)
class CoreCounts:
    """Monitored events of one core on the board and in the simulator."""

    core: int
    board: int
    simulator: int


@dataclass(frozen=True)
class TargetComparison:
    """Board vs simulator on the same configuration and input.

    Attributes:
        cores: Events per monitored core (every core that appears in either output).
        n_board, n_simulator: Total events.
        first_difference: Index of the first event whose ``(layer, feature, x, y)`` differs (or where one
            output ends), or None when both are identical.
        board_event, simulator_event: The two events at that index (None past the end of one output).
    """

    cores: tuple[CoreCounts, ...]
    n_board: int
    n_simulator: int
    first_difference: int | None
    board_event: EventTuple | None = None
    simulator_event: EventTuple | None = None

    @property
    def identical(self) -> bool:
        """Same events in the same order (timestamps aside)."""
        return self.first_difference is None

    @property
    def same_counts(self) -> bool:
        """Same number of events on every core."""
        return all(c.board == c.simulator for c in self.cores)

    def verdict(self) -> str:
        """One line for the report."""
        if self.identical:
            return f"identical: {self.n_board:,} events, event for event (timestamps not compared)"
        where = f"first difference at event {self.first_difference}: board {self._fmt(self.board_event)}"
        where += f", simulator {self._fmt(self.simulator_event)}"
        counts = "same counts per core" if self.same_counts else "counts per core differ"
        return f"differ ({counts}); {where}"

    @staticmethod
    def _fmt(e: EventTuple | None) -> str:
        if e is None:
            return "(no more events)"
        t, layer, f, x, y = e
        return f"core {layer} feature {f} x {x} y {y} at {t} µs"

    def to_dict(self) -> dict[str, Any]:
        return {
            "identical": self.identical,
            "same_counts": self.same_counts,
            "n_board": self.n_board,
            "n_simulator": self.n_simulator,
            "cores": [{"core": c.core, "board": c.board, "simulator": c.simulator} for c in self.cores],
            "first_difference": self.first_difference,
            "board_event": None if self.board_event is None else list(self.board_event),
            "simulator_event": None if self.simulator_event is None else list(self.simulator_event),
        }


def _event(events: npt.NDArray[Any], i: int) -> EventTuple | None:
    if i >= len(events):
        return None
    e = events[i]
    return (int(e["timestamp"]), int(e["layer"]), int(e["feature"]), int(e["x"]), int(e["y"]))


def _count(events: npt.NDArray[Any], core: int) -> int:
    return int(np.count_nonzero(events["layer"] == core))


def compare_targets(board: npt.NDArray[Any], simulator: npt.NDArray[Any]) -> TargetComparison:
    """Compare a board run's output events with the simulator's (both ``EVENT_DTYPE``)."""
    cores = sorted(set(np.unique(board["layer"]).tolist()) | set(np.unique(simulator["layer"]).tolist()))
    counts = tuple(
        CoreCounts(
            int(c), int(np.count_nonzero(board["layer"] == c)), int(np.count_nonzero(simulator["layer"] == c))
        )
        for c in cores
    )
    fields = ["layer", "feature", "x", "y"]
    n = min(len(board), len(simulator))
    a = np.stack([board[f][:n].astype(np.int64) for f in fields], axis=1) if n else np.zeros((0, 4))
    b = np.stack([simulator[f][:n].astype(np.int64) for f in fields], axis=1) if n else np.zeros((0, 4))
    differs = np.nonzero((a != b).any(axis=1))[0]
    if len(differs):
        first: int | None = int(differs[0])
    elif len(board) != len(simulator):
        first = n
    else:
        first = None
    return TargetComparison(
        cores=counts,
        n_board=len(board),
        n_simulator=len(simulator),
        first_difference=first,
        board_event=None if first is None else _event(board, first),
        simulator_event=None if first is None else _event(simulator, first),
    )


@dataclass(frozen=True)
class ExitOutput:
    """The output of one exit layer.

    Attributes:
        index: Layer index in the graph.
        name: Torch module path.
        core: Core it runs on.
        counts: Monitored output spikes per feature (class).
        predicted_class: Argmax of ``counts`` (lowest index on a tie), None without spikes.
        is_class_exit: This exit names the class of the run.
    """

    index: int
    name: str
    core: int
    counts: tuple[int, ...]
    predicted_class: int | None
    is_class_exit: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "core": self.core,
            "counts": list(self.counts),
            "predicted_class": self.predicted_class,
            "class_exit": self.is_class_exit,
        }


def resolve_class_exit(graph: LayerGraph, spec: str | int | None) -> int:
    """The layer index of the exit that names the class: ``spec`` as an exit's index or torch module path;
    None → the last exit (the previous behaviour).

    Raises:
        DeployError: ``spec`` names no exit layer (the message lists them).
    """
    exits = graph.exit_layers
    if not exits:
        raise DeployError("the model has no exit layer to take the class from")
    if spec is None:
        return exits[-1]
    for i in exits:
        if str(spec) in (str(i), graph.layers[i].name):
            return i
    listed = ", ".join(f"{i} ('{graph.layers[i].name}')" for i in exits)
    raise DeployError(f"--class-exit {spec!r} is not an exit layer of the model; its exits are {listed}")


def exit_outputs(
    graph: LayerGraph,
    placement: Placement,
    events: npt.NDArray[Any],
    class_exit: int,
    out_features: Sequence[int] | None = None,
) -> tuple[ExitOutput, ...]:
    """Spikes per class of every exit layer, from the target's monitored events.

    Args:
        graph: The model.
        placement: Layer → core.
        events: Output events (``EVENT_DTYPE``).
        class_exit: Layer index of the class exit (:func:`resolve_class_exit`).
        out_features: Features counted per exit (default: each exit layer's output features).
    """
    out: list[ExitOutput] = []
    for k, i in enumerate(graph.exit_layers):
        core = placement.core_of[i]
        n = graph.layers[i].out_features if out_features is None else out_features[k]
        mine = events[events["layer"] == core]
        counts = (
            np.bincount(np.asarray(mine["feature"], np.int64), minlength=n)[:n]
            if len(mine)
            else np.zeros(n, np.int64)
        )
        predicted = int(np.argmax(counts)) if counts.sum() else None
        out.append(
            ExitOutput(
                i, graph.layers[i].name, core, tuple(int(c) for c in counts), predicted, i == class_exit
            )
        )
    return tuple(out)
