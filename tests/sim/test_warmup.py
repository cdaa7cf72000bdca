"""The one-time kernel compile is announced through the registered notifier, and only when it is expected."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.sim import warmup


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    """A process where the kernels are not imported yet and numba's cache is empty; returns the notices."""
    import deploy.sim.kernel  # noqa: F401 - the import below must find it in sys.modules

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(warmup, "kernels_loaded", lambda: False)
    notices: list[str] = []
    warmup.set_compile_notifier(notices.append)
    yield notices
    warmup.set_compile_notifier(None)


def test_compile_is_announced_once(fresh: list[str]) -> None:
    assert not warmup.kernels_cached()
    module = warmup.load_kernels()
    assert module is sys.modules["deploy.sim.kernel"]
    assert fresh == [warmup.COMPILE_MESSAGE]
    assert "once" in warmup.COMPILE_MESSAGE
    assert warmup.kernels_cached()
    warmup.load_kernels()
    assert fresh == [warmup.COMPILE_MESSAGE]  # the second load finds the stamp: no notice


def test_changed_kernel_source_is_announced_again(fresh: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    warmup.load_kernels()
    monkeypatch.setattr(warmup, "_stamp_text", lambda: "another kernel source")
    assert not warmup.kernels_cached()
    warmup.load_kernels()
    assert len(fresh) == 2
