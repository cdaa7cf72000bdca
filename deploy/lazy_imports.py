"""Import costs of the command line: what a command imports, when, and how the console accounts for it.

Measured on the 2-core development machine (``python -X importtime``): torch ≈ 2.9 s, numba ≈ 0.4 s plus
≈ 0.4 s when the first kernel is loaded from numba's cache, matplotlib with pyplot ≈ 1.2 s. Commands import
what they need inside their ``run`` functions, so ``deploy-model simulate`` of a saved configuration imports
numpy and numba only (``tests/unit/test_lazy_imports.py`` checks it in a subprocess).

Three things are done here:

- :func:`defer_pylab`: ``import sinabs`` (any sinabs submodule) runs ``sinabs/__init__.py``, which imports
  ``sinabs.network``, whose first lines are ``import pylab`` — matplotlib and pyplot (≈ 1.2 s) — for one
  plotting method, ``Network.plot_comparison``. No command calls it. The CLI (only the CLI: the library leaves
  a user's process alone) therefore puts a placeholder module in ``sys.modules["pylab"]`` that imports the
  real ``pylab`` on the first access to any of its names, then becomes a copy of it and hands
  ``sys.modules["pylab"]`` back to the real module. sinabs is not modified and behaves the same: its
  ``pylab.scatter`` is the real ``matplotlib.pyplot.scatter``, imported 1.2 s later if ever. Setting
  ``MPLBACKEND=Agg`` before the import was measured too and does not make it cheaper (pyplot resolves its
  backend lazily already).
- :func:`import_run_dependencies`: ``deploy-model run`` imports torch, sinabs and numba as one timed step
  of its own, so that the console's "compile" and "run on the simulator" lines time the work they name.
- :func:`gc_paused_for_imports`: importing torch and sinabs leaves ≈ 250,000 objects that live as long as
  the process (≈ 370,000 with numba, ≈ 150,000 numba alone). Python's cyclic garbage collector walks all of
  them in every full collection: four during the imports, more while matplotlib draws the report's figures,
  one at exit — ≈ 0.6 s of a warm ``run`` (measured with ``gc.callbacks``), ≈ 0.3 s of ``check`` and
  ``compile``, ≈ 0.15 s of ``simulate``. These commands (only the CLI: :func:`gc.freeze` would keep garbage
  of a user's process alive) therefore switch the collector off until their imports are done
  (:func:`import_run_dependencies`, :func:`deploy.commands._common.import_compiler`,
  :func:`import_simulator`), then move every object so far into the collector's permanent generation
  (:func:`gc.freeze`) and switch it back on: later collections walk only what the command allocates.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_RUN_MODULES = ("sinabs", "deploy.pipeline", "deploy.frontend.load", "deploy.timestep")
"""What ``deploy-model run`` imports up front (torch comes with sinabs); then the simulator kernel (numba)."""

_gc_paused = False
"""True while :func:`gc_paused_for_imports` holds the collector off and the imports are still to come."""


class _DeferredModule(types.ModuleType):
    """A stand-in for a module that imports the real one on the first access to one of its names.

    It carries the real module's ``__spec__`` and ``__file__`` (found without executing it), so tools that
    walk ``sys.modules`` asking for dunder attributes (``inspect.getmodule`` in torch's op registration)
    do not trigger the import; any other missing attribute does.
    """

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__") and name != "__all__":
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        real = _import_real(self)
        return getattr(real, name)


def _import_real(stub: _DeferredModule) -> types.ModuleType:
    """Import the module ``stub`` stands for, copy its namespace into ``stub`` and return it."""
    if sys.modules.get(stub.__name__) is stub:
        del sys.modules[stub.__name__]
    real = importlib.import_module(stub.__name__)
    stub.__dict__.update(real.__dict__)
    return real


def defer_pylab() -> bool:
    """Defer ``import pylab`` (run by ``import sinabs``) until a pylab name is used; see the module docstring.

    Does nothing when pylab or sinabs is already imported, or matplotlib is not installed.

    Returns:
        True when the placeholder was installed.
    """
    if "pylab" in sys.modules or "sinabs" in sys.modules:
        return False
    spec = importlib.util.find_spec("pylab")
    if spec is None:
        return False
    stub = _DeferredModule("pylab")
    stub.__spec__ = spec
    stub.__file__ = spec.origin
    sys.modules["pylab"] = stub
    return True


def import_run_dependencies() -> None:
    """Import torch, sinabs, the compiler and the simulator kernel (numba): the first-use cost of a run."""
    from deploy.sim.warmup import load_kernels

    try:
        for name in _RUN_MODULES:
            importlib.import_module(name)
        load_kernels()  # through the loader, so a compile on a fresh cache is announced
    finally:
        imports_done()


def import_simulator() -> None:
    """Load the simulator's numba kernels with the collector paused, then frozen (``deploy-model simulate``;
    see the module docstring)."""
    from deploy.sim.warmup import load_kernels

    with gc_paused_for_imports():
        load_kernels()
        imports_done()


@contextmanager
def gc_paused_for_imports() -> Iterator[None]:
    """CLI only: no cyclic garbage collection until the command's heavy imports are done; see the module
    docstring.

    Inside the block the collector is off; :func:`imports_done` (called by :func:`import_run_dependencies`,
    :func:`import_simulator` and :func:`deploy.commands._common.import_compiler`) freezes the objects
    created so far (:func:`gc.freeze`) and switches it back on. Leaving the block without that call (an
    error before the imports) switches it back on without freezing. Does nothing when the collector is
    already off.
    """
    global _gc_paused
    if not gc.isenabled():
        yield
        return
    gc.disable()
    _gc_paused = True
    try:
        yield
    finally:
        _resume_gc(freeze=False)


def imports_done() -> None:
    """The command's heavy imports are done: if :func:`gc_paused_for_imports` switched the collector off,
    freeze the objects created so far and switch it back on (else nothing)."""
    _resume_gc(freeze=True)


def _resume_gc(*, freeze: bool) -> None:
    """Switch the collector back on if :func:`gc_paused_for_imports` switched it off (first freezing the
    objects created so far when ``freeze``)."""
    global _gc_paused
    if not _gc_paused:
        return
    _gc_paused = False
    if freeze:
        gc.freeze()
    gc.enable()
