"""Can a board be used? Checked before compiling, so ``deploy-model run`` without ``--dry-run`` fails fast."""

from __future__ import annotations

from deploy.errors import BoardError, SamnaUnavailableError
from hwconfig.spec import ChipSpec


def require_board(chip: ChipSpec, board: str | None) -> str:
    """Check that a board can be used before compiling; return the chosen board's ``TYPE:INDEX``.

    Raises:
        SamnaUnavailableError: samna is missing or only the PyPI placeholder is installed.
        BoardError: the real samna is installed but no board of the chip is connected.
    """
    from hwconfig.samna_env import detect_samna

    status = detect_samna()
    hint = "To run on the bit-accurate simulator instead, add --dry-run."
    if status.state == "missing":
        raise SamnaUnavailableError(f"cannot run on a board: samna is not installed. {status.message} {hint}")
    if status.state == "stub":
        raise SamnaUnavailableError(
            f"cannot run on a board: only the PyPI placeholder of samna is installed, not SynSense's samna. "
            f"{status.message} {hint}"
        )
    from deploy.board.discovery import select_board
    from deploy.board.samna_access import load_samna

    samna = load_samna(status=status)
    try:
        return select_board(samna, chip, board).spec
    except BoardError as exc:
        raise BoardError(f"cannot run on a board: the real samna is installed but {exc}. {hint}") from None
