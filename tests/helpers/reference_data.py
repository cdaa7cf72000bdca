"""Where the tests' reference data lives (inside the repository), and a loud failure when a file is missing.

The sinabs 3.1.3 reference cases are committed under ``tests/data/sinabs_reference`` (see its README.md for
their provenance). Nothing here looks outside the repository, and a missing file fails the test that needs it
with the path and how to restore it: reference comparisons must never be skipped silently.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
"""``tests/data``: data files committed with the tests."""

SINABS_REFERENCE = DATA / "sinabs_reference"
"""The sinabs reference cases, one folder per case (``config.json``, ``model.pt``, ``result.json``, ...)."""

ACCEPTED_CASES = ("tiny_2layer", "mnist_avgpool", "bias_leak", "reset_zero")
"""Cases sinabs accepted (they have ``config.json``, ``input_raster.npy``, ``input_events.npy``...)."""

REJECTED_CASES = ("too_big_neurons", "unsupported_relu")
"""Cases sinabs rejected (``result.json`` holds its error)."""

SIM_OUTPUT_CASES = ("tiny_2layer", "reset_zero")
"""Cases with ``expected_sim_output.npz`` (an independent simulator's output)."""


def _missing(path: Path, what: str) -> None:
    pytest.fail(
        f"{what} {path} is missing: the reference data is committed with the repository "
        f"(tests/data/sinabs_reference, provenance in its README.md); restore it with "
        f"`git checkout -- {path.relative_to(REPO)}`",
        pytrace=False,
    )


def reference_case(case: str) -> Path:
    """The folder of one sinabs reference case; fails the calling test if it does not exist."""
    folder = SINABS_REFERENCE / case
    if not folder.is_dir():
        _missing(folder, "reference case folder")
    return folder


def reference_file(case: str, name: str) -> Path:
    """One file of a sinabs reference case, e.g. ``reference_file("tiny_2layer", "config.json")``; fails the
    calling test if it does not exist."""
    path = reference_case(case) / name
    if not path.is_file():
        _missing(path, "reference data file")
    return path
