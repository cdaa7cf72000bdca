"""Board support through samna: discovery, selection, open/close, configuration, streaming.

samna is imported only inside functions, after :func:`hwconfig.samna_env.detect_samna` has found the real
package in the supported range (:data:`SUPPORTED_SAMNA_RANGE`). Every public entry point also accepts a
``samna`` module object, which is how the tests drive it with a strict double.

Public API:

- :func:`run_on_board` — deploy a configuration, play events, return output events (what the CLI calls).
- :class:`BoardTarget` — the :class:`deploy.target.Target` for a dev kit (``load``/``run``/``reset``), plus
  ``set_slow_clock`` and ``read_neuron_state``.
- :func:`list_boards`, :func:`select_board`, :class:`BoardSelector`, :class:`BoardInfo` — discovery.
- :func:`require_board` — can a board be used (real samna, a board of the chip)? Fails before compiling.
- :func:`load_samna` — the safe samna import.
- :func:`export_flash_binary` — the flash image of a configuration (speck2e/2f).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deploy.board.discovery import BoardInfo, BoardSelector, list_boards, select_board
from deploy.board.events import neuron_address, split_output, to_samna_spikes
from deploy.board.probe import require_board
from deploy.board.samna_access import SUPPORTED_SAMNA_RANGE, load_samna
from deploy.board.target import BoardTarget, CollectPolicy, RunDiagnostics, run_on_board
from deploy.errors import SamnaUnavailableError
from hwconfig.config import ChipConfig
from hwconfig.errors import SamnaError
from hwconfig.spec import ChipSpec


def export_flash_binary(config: ChipConfig, chip: str | ChipSpec, path: str | Path, samna: Any = None) -> int:
    """Write samna's external-flash image of ``config`` to ``path``; return the number of bytes.

    Raises:
        SamnaUnavailableError: samna unusable, or no flash export for this chip (samna documents
            ``configuration_to_flash_binary`` for speck2e and speck2f only).
        ConfigError: samna rejected a value.
    """
    from hwconfig.samna_bridge import to_flash_binary

    try:
        data = to_flash_binary(config, chip, load_samna(samna))
    except SamnaError as exc:
        raise SamnaUnavailableError(str(exc)) from None
    Path(path).write_bytes(data)
    return len(data)


__all__ = [
    "SUPPORTED_SAMNA_RANGE",
    "BoardInfo",
    "BoardSelector",
    "BoardTarget",
    "CollectPolicy",
    "RunDiagnostics",
    "export_flash_binary",
    "list_boards",
    "load_samna",
    "neuron_address",
    "require_board",
    "run_on_board",
    "select_board",
    "split_output",
    "to_samna_spikes",
]
