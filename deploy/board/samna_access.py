"""Get the samna module for board access: safely, in a supported version, or a clear error.

samna is never imported at module level anywhere in :mod:`deploy`; :func:`load_samna` imports it only after
:func:`hwconfig.samna_env.detect_samna` has found the real package (not the PyPI placeholder, whose import
runs ``pip``) in the supported version range.
"""

from __future__ import annotations

from typing import Any

from deploy.errors import SamnaUnavailableError
from hwconfig.errors import SamnaError
from hwconfig.samna_bridge import SUPPORTED_SAMNA_RANGE, check_samna_version, import_samna
from hwconfig.samna_env import SamnaStatus

__all__ = ["SUPPORTED_SAMNA_RANGE", "load_samna"]


def load_samna(samna: Any = None, status: SamnaStatus | None = None) -> Any:
    """Return a usable samna module.

    Args:
        samna: A samna module (or test double) to use instead of importing; its ``__version__`` is still
            checked against :data:`SUPPORTED_SAMNA_RANGE`.
        status: A detection result to use instead of :func:`hwconfig.samna_env.detect_samna`.

    Raises:
        SamnaUnavailableError: samna is missing, is the PyPI placeholder, or its version is unsupported;
            the message says what was found and the command that fixes it.
    """
    try:
        if samna is not None:
            check_samna_version(getattr(samna, "__version__", None))
            return samna
        return import_samna(status)
    except SamnaError as exc:
        raise SamnaUnavailableError(str(exc)) from None
