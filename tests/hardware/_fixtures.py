"""Fixtures of the hardware-in-the-loop tier (opt-in with ``pytest --board``; the root conftest skips the
``hardware`` marker otherwise). Imported by the test modules; deliberately not a ``conftest.py``: a second
module of that name would shadow the root one for anything importing ``conftest`` by name.

With ``--board`` these fixtures additionally skip, saying why, when the real samna is not installed
(:func:`hwconfig.samna_env.detect_samna` — the PyPI placeholder is never imported), when its version is
unsupported, or when no board of a supported chip is connected.

Environment:
    SPECK_DEPLOY_BOARD: board selector, e.g. ``Speck2fDevKit:0`` or ``serial=XYZ`` (default: first board).
    SPECK_DEPLOY_HIL_REPORTS: folder for divergence reports (default ``hil-reports`` in the working dir).
    SPECK_DEPLOY_HIL_DOUBLE: ``1`` runs the suite against the samna test double (tests/samna_double) with a
        fake clock: a dry run of the suite's own logic, not a hardware result.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from _support import using_double

from deploy.board import BoardSelector, BoardTarget, list_boards, load_samna, select_board
from deploy.errors import BoardError, SamnaUnavailableError
from hwconfig.samna_env import detect_samna

ENV_BOARD = "SPECK_DEPLOY_BOARD"


@pytest.fixture(scope="session", name="hil_samna")
def hil_samna_fixture() -> Any:
    if using_double():
        from samna_double import make_samna

        return make_samna(boards=[("Speck2fDevKit", "DOUBLE-0")])
    status = detect_samna()
    if not status.usable:
        pytest.skip(f"hardware tests need the real samna ({status.state}): {status.message}")
    try:
        return load_samna(status=status)
    except SamnaUnavailableError as exc:
        pytest.skip(f"hardware tests need a supported samna: {exc}")


@pytest.fixture(scope="session", name="hil_chip")
def hil_chip_fixture(hil_samna: Any) -> str:
    """The chip of the selected board."""
    selector = BoardSelector.parse(os.environ.get(ENV_BOARD))
    boards = list_boards(hil_samna)
    if not boards:
        pytest.skip(
            "no board of a supported chip is connected (see `deploy-model devices`, docs/hardware.md)"
        )
    chips = [b.chip for b in boards if b.chip is not None]
    if selector.serial is not None:
        chips = [b.chip for b in boards if b.serial_number == selector.serial and b.chip] or chips
    elif selector.device_type is not None:
        chips = [
            b.chip for b in boards if b.device_type_name.lower() == selector.device_type.lower() and b.chip
        ] or chips
    chip = chips[0]
    try:
        select_board(hil_samna, chip, selector)
    except BoardError as exc:
        pytest.skip(f"{ENV_BOARD}={os.environ.get(ENV_BOARD)!r}: {exc}")
    return chip


@pytest.fixture(scope="session", name="board")
def board_fixture(hil_samna: Any, hil_chip: str) -> Iterator[BoardTarget]:
    """The open board for the whole session (closed at the end, also after failures)."""
    kwargs: dict[str, Any] = {}
    if using_double():
        kwargs = {"clock": hil_samna.clock, "sleep": hil_samna.clock.sleep}
    with BoardTarget(
        hil_chip, os.environ.get(ENV_BOARD), samna=hil_samna, timeout_s=120.0, **kwargs
    ) as target:
        yield target
