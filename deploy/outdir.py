"""Atomic output directories: all files of a run appear together, or none do.

:func:`atomic_output_dir` hands out a temporary directory *beside* the destination (same file system, so the
final ``rename`` is atomic), lets the caller write every file into it, and only on success renames it to the
destination. On any exception the temporary directory — and any parent directories it had to create — are
removed, so a failed run leaves no partial output. An existing destination is replaced only with
``force=True``; it is first moved aside, then deleted after the new directory is in place.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from deploy.errors import DeployError


class OutputExistsError(DeployError):
    """The output directory exists and ``--force`` was not given."""


def check_output_dir(target: Path, force: bool) -> None:
    """Fail early when ``target`` cannot be written (exists without ``force``, or is a file).

    Raises:
        OutputExistsError: ``target`` exists and ``force`` is False, or ``target`` is not a directory.
    """
    if target.exists() or target.is_symlink():
        if not target.is_dir():
            raise OutputExistsError(
                f"output path '{target}' exists and is not a directory; choose another path with -o DIR"
            )
        if not force:
            raise OutputExistsError(
                f"output directory '{target}' already exists; pass --force to replace it, or choose another "
                "directory with -o DIR (nothing was written)"
            )


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


@contextlib.contextmanager
def atomic_output_dir(target: str | os.PathLike[str], force: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``target`` when the ``with`` block succeeds.

    Args:
        target: The final output directory.
        force: Replace an existing ``target`` (checked before and again at the end).

    Yields:
        An empty directory on the same file system as ``target``; write every output file into it.

    Raises:
        OutputExistsError: ``target`` exists and ``force`` is False.
    """
    target = Path(target).absolute()
    check_output_dir(target, force)
    created_parents = _missing_parents(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        _apply_umask(tmp)
        check_output_dir(target, force)  # someone may have created it meanwhile
        old: Path | None = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.rmdir(old)
            os.replace(target, old)
        try:
            os.replace(tmp, target)
        except OSError:
            if old is not None:  # put the previous output back
                os.replace(old, target)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for parent in created_parents:  # deepest first; only remove what we created and left empty
            with contextlib.suppress(OSError):
                parent.rmdir()
        raise
