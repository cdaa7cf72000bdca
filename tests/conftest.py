"""Shared pytest options: the hardware tier is opt-in with ``--board``."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--board",
        action="store_true",
        default=False,
        help="run the hardware-in-the-loop tests in tests/hardware (needs the real samna and a board)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--board"):
        return
    skip = pytest.mark.skip(
        reason="hardware-in-the-loop test: opt in with `pytest --board` on a machine with a board"
    )
    for item in items:
        if "hardware" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(20261128)
