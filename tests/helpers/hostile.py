"""Helpers for the hostile-input regression tests and the fuzz suite: run the CLI in-process, build small
inputs, and snapshot a directory tree to prove nothing outside ``-o`` changed."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import sinabs.layers as sl
import torch
from torch import nn

from deploy.sim.events import TONIC_DTYPE

SHAPE = "2,16,16"


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def run_cli(argv: Sequence[str | Path], cwd: Path | None = None) -> tuple[int, str, str]:
    """``deploy-model ARGV`` in this process: ``(exit code, stdout, stderr)``.

    A traceback (any exception other than SystemExit escaping ``main``) propagates, so the test fails.
    """
    from deploy.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.ExitStack() as stack:
        if cwd is not None:
            stack.enter_context(working_directory(cwd))
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0) if not isinstance(exc.code, str) else 2
    return code, out.getvalue(), err.getvalue()


def tiny_model() -> nn.Module:
    torch.manual_seed(0)

    def iaf() -> sl.IAFSqueeze:
        return sl.IAFSqueeze(batch_size=1, spike_threshold=1.0, min_v_mem=-1.0)

    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False), iaf(), nn.Conv2d(4, 2, 3, 2, 1, bias=False), iaf()
    )


def save_tiny(directory: Path, name: str = "tiny.pt") -> Path:
    path = directory / name
    torch.save(tiny_model(), path)
    return path


def tonic_events(n: int = 50, seed: int = 0, size: int = 16) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype=TONIC_DTYPE)
    ev["t"] = np.sort(rng.integers(0, 20_000, n))
    ev["x"], ev["y"], ev["p"] = rng.integers(0, size, n), rng.integers(0, size, n), rng.integers(0, 2, n)
    return ev


def snapshot(root: Path, skip: Sequence[Path] = ()) -> dict[str, tuple[int, str]]:
    """``relative path → (mode, sha256 of content or link target)`` for everything under ``root``,
    except inside the ``skip`` paths."""
    skipped = [p.absolute() for p in skip]
    result: dict[str, tuple[int, str]] = {}
    for path in sorted(root.rglob("*")):
        a = path.absolute()
        if any(a == s or s in a.parents for s in skipped):
            continue
        st = path.lstat()
        if path.is_symlink():
            digest = os.readlink(path)
        elif path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            digest = ""
        result[str(path.relative_to(root))] = (st.st_mode, digest)
    return result


def one_paragraph_error(code: int, err: str) -> bool:
    """True for the CLI's user-error shape: exit 2 and a non-empty message without a traceback."""
    return code == 2 and bool(err.strip()) and "Traceback" not in err


FUZZ_ENV = "SPECK_DEPLOY_FUZZ"
"""``SPECK_DEPLOY_FUZZ=long`` (``scripts/fuzz.sh``) runs the fuzz suite with many more examples."""


def fuzz_examples(ci: int) -> int:
    """Examples per fuzz test: ``ci`` in the normal suite (bounded time); 50× that with
    ``SPECK_DEPLOY_FUZZ=long``, N× with ``SPECK_DEPLOY_FUZZ=N``."""
    mode = os.environ.get(FUZZ_ENV, "")
    factor = 50 if mode == "long" else int(mode) if mode.isdigit() else 1
    return ci * max(factor, 1)


def fuzz_is_random() -> bool:
    """CI runs are derandomized (the same examples every time); longer runs explore."""
    return bool(os.environ.get(FUZZ_ENV))


class Hang(Exception):
    """A CLI call ran longer than its time limit."""


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail with :class:`Hang` after ``seconds`` (SIGALRM; main thread)."""
    import signal

    def on_alarm(signum: int, frame: object) -> None:
        raise Hang(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
