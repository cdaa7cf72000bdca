"""Loading the simulator's numba kernels, with a notice when they must be compiled (once per install).

The kernels (:mod:`deploy.sim.kernel`) are compiled when that module is first imported on a fresh numba
cache — a few seconds — and loaded from the cache afterwards. :func:`load_kernels` imports them and, when a
compile is expected, first calls the registered notifier with :data:`COMPILE_MESSAGE` so a console can say
what is happening. Register one with :func:`set_compile_notifier` (the CLI passes a printer); without one the
notice goes to the ``deploy.sim`` logger at INFO level.

``python -m deploy.sim.warmup`` compiles (or loads) the kernels and prints how long it took;
``scripts/install.sh`` runs it so that a user's first simulation is already warm.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

COMPILE_MESSAGE = (
    "compiling the simulator kernels (numba, a few seconds; this happens once, "
    "later runs load them from the cache)"
)

_log = logging.getLogger("deploy.sim")
_notifier: Callable[[str], None] | None = None
_KERNEL_FILE = Path(__file__).with_name("kernel.py")


def set_compile_notifier(notify: Callable[[str], None] | None) -> None:
    """Call ``notify(message)`` just before the kernels are compiled (``None``: log at INFO instead)."""
    global _notifier
    _notifier = notify


def kernels_loaded() -> bool:
    """True once the kernels are imported in this process (no compile or cache load is pending)."""
    return "deploy.sim.kernel" in sys.modules


def kernels_cached() -> bool:
    """Best guess whether importing the kernels loads them from numba's cache rather than compiling them.

    A stamp (hash of ``kernel.py``, the numba and Python versions) is written next to the cache after every
    import; if the cache was deleted since, the guess is wrong and the compile goes unannounced.
    """
    stamp = _stamp_path()
    return stamp is not None and stamp.is_file() and stamp.read_text() == _stamp_text()


def load_kernels() -> ModuleType:
    """Import :mod:`deploy.sim.kernel`, announcing a compile (see :func:`set_compile_notifier`)."""
    if kernels_loaded():
        return sys.modules["deploy.sim.kernel"]
    if not kernels_cached():
        (_notifier or _log.info)(COMPILE_MESSAGE)
    module = importlib.import_module("deploy.sim.kernel")
    stamp = _stamp_path()
    if stamp is not None:
        try:
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.write_text(_stamp_text())
        except OSError:
            pass  # a read-only install: the notice is shown on every cold start, which stays correct
    return module


def _stamp_text() -> str:
    import numba

    digest = hashlib.sha256(_KERNEL_FILE.read_bytes()).hexdigest()
    return f"{digest} numba {numba.__version__} python {sys.version_info[:2]}"


def _stamp_path() -> Path | None:
    """Where the stamp lives: ``$NUMBA_CACHE_DIR`` if set, else numba's in-tree cache directory."""
    cache_dir = os.environ.get("NUMBA_CACHE_DIR")
    if cache_dir:
        return Path(cache_dir) / "speck-deploy-kernels.stamp"
    pycache = _KERNEL_FILE.parent / "__pycache__"
    if os.access(_KERNEL_FILE.parent, os.W_OK):
        return pycache / "speck-deploy-kernels.stamp"
    return None


def main() -> int:
    """Compile (or load) the kernels and say how long it took."""
    t0 = time.perf_counter()
    set_compile_notifier(print)
    load_kernels()
    print(f"simulator kernels ready in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
