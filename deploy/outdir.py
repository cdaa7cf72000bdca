"""Safe outputs: all files of a run appear together, or none do, and ``--force`` never destroys user data.

:func:`atomic_output_dir` hands out a temporary directory *beside* the destination (same file system, so the
final ``rename`` is atomic), lets the caller write every file into it, and only on success renames it to the
destination. On any exception — including SIGINT and SIGTERM, which :func:`signals_as_exceptions` turns into
exceptions while the block runs — the temporary directory and any parent directories it had to create are
removed, so a failed run leaves no partial output.

An existing destination is replaced only with ``force=True`` and only when the tool wrote it: an output
directory carries the marker file :data:`MARKER` (a small JSON object), a single-file output (``compile``'s
``config.json``) is recognised by its schema header. ``--force`` never replaces the current directory, one
of its parents, the home directory, a protected directory (the model's folder), or anything that is not a
regular file or a directory (device nodes, sockets, symlinks). Each refusal is an
:class:`OutputExistsError` (CLI exit code 2) saying why.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import FrameType

from deploy.errors import DeployError

MARKER = ".speck-deploy-output"
"""File written into every output directory; ``--force`` replaces only directories that contain it."""

_MARKER_TOOL = "speck-deploy"


class OutputExistsError(DeployError):
    """The output path exists and may not be replaced (no ``--force``, or not written by this tool)."""


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def _is_tool_directory(path: Path) -> bool:
    """True when ``path`` holds a readable marker file written by this tool."""
    marker = path / MARKER
    try:
        if not stat.S_ISREG(marker.lstat().st_mode) or marker.lstat().st_size > 4096:
            return False
        doc = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(doc, dict) and doc.get("tool") == _MARKER_TOOL


def _is_tool_file(path: Path) -> bool:
    """True when ``path`` is a configuration JSON written by this tool (its schema header)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return False
    text = head.decode("utf-8", errors="replace").lstrip()
    return text.startswith('{\n  "schema_version":') and '"tool": "speck-deploy"' in text


def write_marker(directory: Path, command: str = "") -> None:
    """Write :data:`MARKER` into ``directory`` (done by :func:`atomic_output_dir` itself)."""
    (directory / MARKER).write_text(
        json.dumps({"tool": _MARKER_TOOL, "command": command}) + "\n", encoding="utf-8"
    )


def _protected_reason(target: Path, protect: Iterable[Path]) -> str | None:
    """Why ``target`` may never be replaced, or None."""
    real = _resolved(target)
    cwd = _resolved(Path.cwd())
    if real == cwd:
        return "it is the current directory"
    if real in cwd.parents:
        return "it is a parent of the current directory"
    home = os.environ.get("HOME")
    if home and real == _resolved(Path(home)):
        return "it is the home directory"
    if real == Path(real.anchor):
        return "it is the file-system root"
    for p in protect:
        folder = _resolved(p)
        if real == folder or real in folder.parents:
            return f"it contains the model file '{p}'" if p.is_file() else f"it is the model's folder '{p}'"
        if folder.is_file() and real == folder.parent:
            return f"it is the folder of the model file '{p}'"
    return None


def _refuse(target: Path, why: str) -> OutputExistsError:
    return OutputExistsError(
        f"refusing to replace '{target}' with --force: {why}; choose a new directory with -o DIR "
        "(nothing was written or deleted)"
    )


def _check_parents(target: Path) -> None:
    """An ancestor of ``target`` that exists but is not a directory makes the path unusable."""
    for parent in target.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise OutputExistsError(
                    f"cannot write '{target}': '{parent}' is a file, not a directory; choose another "
                    "path with -o"
                )
            return


def check_output_dir(target: Path, force: bool, protect: Iterable[Path] = ()) -> None:
    """Fail early when the output directory ``target`` cannot be written or may not be replaced.

    Args:
        target: The output directory.
        force: ``--force`` was given.
        protect: Paths that must never be replaced or contain the output (the model file; its folder is
            protected too).

    Raises:
        OutputExistsError: ``target`` exists without ``force``; or it is a symlink, not a directory, the
            current directory, a parent of it, the home directory, a protected folder, or a directory this
            tool did not write; or an ancestor is a file.
    """
    protect = list(protect)
    _check_parents(target)
    if not (target.exists() or target.is_symlink()):
        return
    if target.is_symlink():
        raise _refuse(target, "it is a symbolic link")
    if not target.is_dir():
        kind = "a regular file" if target.is_file() else "not a regular file or directory (a device?)"
        raise OutputExistsError(
            f"output path '{target}' exists and is {kind}, not an output directory; choose another path "
            "with -o DIR (nothing was written)"
        )
    reason = _protected_reason(target, protect)
    if reason is not None:
        raise _refuse(target, reason)
    if not force:
        raise OutputExistsError(
            f"output directory '{target}' already exists; pass --force to replace it, or choose another "
            "directory with -o DIR (nothing was written)"
        )
    if not _is_tool_directory(target):
        raise _refuse(
            target,
            f"it was not written by deploy-model (it has no {MARKER} marker file), so it may hold your own "
            "files",
        )


def check_output_file(target: Path, force: bool, protect: Iterable[Path] = ()) -> None:
    """Fail early when the single output file ``target`` (e.g. ``compile -o config.json``) is unusable.

    Raises:
        OutputExistsError: ``target`` exists without ``force``, is not a regular file (directory, device,
            symlink), is not a configuration written by this tool, is a protected file, or its folder does
            not exist.
    """
    _check_parents(target)
    if not target.parent.is_dir():
        raise OutputExistsError(f"cannot write {target}: directory {target.parent} does not exist")
    if not (target.exists() or target.is_symlink()):
        return
    if target.is_symlink():
        raise _refuse(target, "it is a symbolic link")
    if target.is_dir():
        raise OutputExistsError(f"output path '{target}' is a directory; name a file with -o FILE")
    if not target.is_file():
        raise _refuse(target, "it is not a regular file (a device, socket or pipe)")
    if not force:
        raise OutputExistsError(f"{target} exists; pass --force to replace it")
    for p in protect:
        if _resolved(p) == _resolved(target):
            raise _refuse(target, "it is the model file")
    if not _is_tool_file(target):
        raise _refuse(target, "it is not a configuration file written by deploy-model")


def _missing_parents(path: Path) -> list[Path]:
    """Ancestors of ``path`` that do not exist yet, deepest first."""
    missing: list[Path] = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        if parent.parent == parent:
            break
        parent = parent.parent
    return missing


def _apply_umask(root: Path) -> None:
    """Give the directory tree the permissions a plain ``mkdir``/``open`` would have (mkdtemp uses 0700)."""
    umask = os.umask(0)
    os.umask(umask)
    root.chmod(0o777 & ~umask)
    for path in root.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """Turn SIGTERM (and SIGINT) into :class:`KeyboardInterrupt` while the block runs (main thread only),
    so ``finally``/``except`` clean-up runs; the previous handlers are restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError, OSError):
            previous[sig] = signal.signal(sig, _raise_keyboard_interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, handler)


@contextlib.contextmanager
def atomic_output_dir(
    target: str | os.PathLike[str], force: bool = False, protect: Iterable[Path] = ()
) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``target`` when the ``with`` block succeeds.

    Args:
        target: The final output directory.
        force: Replace an existing ``target`` written by this tool (checked before and again at the end).
        protect: Paths that must never be replaced (see :func:`check_output_dir`).

    Yields:
        An empty directory on the same file system as ``target``; write every output file into it.

    Raises:
        OutputExistsError: see :func:`check_output_dir`.
    """
    target = Path(target).absolute()
    protect = list(protect)
    check_output_dir(target, force, protect)
    with signals_as_exceptions():
        created_parents = _missing_parents(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputExistsError(f"cannot create the output directory '{target}': {exc}") from None
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        try:
            yield tmp
            write_marker(tmp)
            _apply_umask(tmp)
            check_output_dir(target, force, protect)  # someone may have created it meanwhile
            old: Path | None = None
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
                os.rmdir(old)
                os.replace(target, old)
            try:
                os.replace(tmp, target)
            except OSError as exc:
                if old is not None:  # put the previous output back
                    os.replace(old, target)
                raise OutputExistsError(f"cannot move the output into '{target}': {exc}") from None
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            for parent in created_parents:  # deepest first; only remove what we created and left empty
                with contextlib.suppress(OSError):
                    parent.rmdir()
            raise
