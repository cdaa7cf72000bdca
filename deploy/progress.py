"""Progress reporting for long library calls, without printing from the library.

:func:`deploy.runner.run_model` and :mod:`deploy.analysis` announce each step through a :class:`Progress`
(the CLI passes its console reporter, ``deploy/commands/_console.py``; library callers pass nothing) and
record each step's duration under its key in a ``timings`` dict (``summary.json`` ``timings_s``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol, TypeVar

T = TypeVar("T")

STEP_LABELS = {
    "samples": "classify every shipped sample (float, quantised, simulated)",
    "imports": "import torch, sinabs and numba (first use in this process)",
    "compile": "compile (load, normalise, quantise, check, place, emit)",
    "target_simulator": "run on the simulator (the target; incl. loading the numba kernels on first use)",
    "target_board": "run on the board (the target)",
    "simulate_all_layers": "simulate with every layer monitored",
    "timestep_float": "time-stepped float model",
    "timestep_quantised": "time-stepped quantised model",
}
"""Step key (as in ``summary.json`` ``timings_s``) → progress label."""


class Progress(Protocol):
    """Receives progress of a run: a step around each long computation, and details."""

    def step(self, label: str) -> AbstractContextManager[None]:
        """Context manager around one step, labelled ``label``."""
        ...

    def info(self, text: str) -> None:
        """A detail (placement, input description); plain text, not markup."""
        ...


class Silent:
    """The :class:`Progress` that reports nothing (the default of the library calls)."""

    def step(self, label: str) -> AbstractContextManager[None]:
        """No-op context."""
        return nullcontext()

    def info(self, text: str) -> None:
        """Ignore ``text``."""


def timed(progress: Progress, key: str, timings: dict[str, float], fn: Callable[[], T]) -> T:
    """Run ``fn`` as the step ``key`` (label from :data:`STEP_LABELS`); record its duration in seconds."""
    t0 = time.perf_counter()
    with progress.step(STEP_LABELS[key]):
        value = fn()
    timings[key] = time.perf_counter() - t0
    return value
