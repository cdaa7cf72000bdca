"""detect_samna: classify fake samna installations without ever executing them."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from hwconfig.samna_env import VENDOR_INDEX_URL, SamnaStatus, detect_samna

STUB_INDEX = "https://example.invalid/api/v4/projects/1/packages/pypi/simple"


def _init_source(marker: Path, *, stub_marks: bool) -> str:
    """A samna ``__init__`` that leaves a marker file behind if anything ever executes it."""
    lines = [f"open({str(marker)!r}, 'w').close()"]
    if stub_marks:
        lines += ["PYPI_SAMNA = True", f"__gitlab_packages_index_url__ = {STUB_INDEX!r}"]
    return "\n".join(lines) + "\n"


def _record_line(root: Path, rel: str) -> str:
    data = (root / rel).read_bytes()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{rel},sha256={digest},{len(data)}"


def _install(
    root: Path,
    version: str,
    files: dict[str, str],
    *,
    record: bool = True,
    missing_on_disk: tuple[str, ...] = (),
) -> None:
    """Write a samna distribution (package files + dist-info) into ``root``."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    info = root / f"samna-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: samna\nVersion: {version}\n")
    (info / "top_level.txt").write_text("samna\n")
    if record:
        lines = [_record_line(root, rel) for rel in files]
        lines.append(f"samna-{version}.dist-info/RECORD,,")
        (info / "RECORD").write_text("\n".join(lines) + "\n")
    for rel in missing_on_disk:
        (root / rel).unlink()


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "EXECUTED"


def test_stub_detected_without_execution(tmp_path: Path, marker: Path) -> None:
    site = tmp_path / "site"
    _install(site, "0.48.6", {"samna/__init__.py": _init_source(marker, stub_marks=True)})
    status = detect_samna([str(site)])
    assert status.state == "stub"
    assert not status.usable
    assert status.version == "0.48.6"
    assert status.location == str(site / "samna")
    assert "PyPI placeholder" in status.message
    # The index URL is the one the placeholder names, with the version pinned.
    assert f"samna==0.48.6 --index-url {STUB_INDEX}" in status.message
    assert not marker.exists()


def test_real_detected_by_compiled_module(tmp_path: Path, marker: Path) -> None:
    site = tmp_path / "site"
    files = {
        "samna/__init__.py": _init_source(marker, stub_marks=False),
        "samna/samna.cpython-311-x86_64-linux-gnu.so": "not really ELF",
    }
    _install(site, "0.48.5", files)
    status = detect_samna([str(site)])
    assert status == SamnaStatus("real", "0.48.5", str(site / "samna"), status.message)
    assert status.usable
    assert "real samna 0.48.5" in status.message
    assert not marker.exists()


def test_real_windows_pyd_without_record(tmp_path: Path, marker: Path) -> None:
    site = tmp_path / "site"
    files = {"samna/__init__.py": _init_source(marker, stub_marks=False), "samna/_core.pyd": "x"}
    _install(site, "0.40.0", files, record=False)
    assert detect_samna([str(site)]).state == "real"
    assert not marker.exists()


def test_record_lists_binary_that_is_gone(tmp_path: Path, marker: Path) -> None:
    site = tmp_path / "site"
    files = {"samna/__init__.py": _init_source(marker, stub_marks=False), "samna/samna.so": "x"}
    _install(site, "0.48.5", files, missing_on_disk=("samna/samna.so",))
    status = detect_samna([str(site)])
    assert status.state == "missing"
    assert status.version == "0.48.5"
    assert "installation is broken" in status.message
    assert VENDOR_INDEX_URL in status.message
    assert not marker.exists()


def test_pure_python_samna_without_stub_marks_is_not_real(tmp_path: Path, marker: Path) -> None:
    site = tmp_path / "site"
    _install(site, "9.9.9", {"samna/__init__.py": _init_source(marker, stub_marks=False)})
    status = detect_samna([str(site)])
    assert status.state == "stub"
    assert "contains no compiled modules" in status.message
    assert not marker.exists()


def test_package_without_distribution_metadata(tmp_path: Path, marker: Path) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "samna").mkdir(parents=True)
    (checkout / "samna" / "__init__.py").write_text(_init_source(marker, stub_marks=True))
    status = detect_samna([str(checkout)])
    assert status.state == "stub"
    assert status.version is None
    assert "samna==<version>" in status.message
    (checkout / "samna" / "lib.so").write_text("x")
    assert detect_samna([str(checkout)]).state == "real"
    assert not marker.exists()


def test_missing(tmp_path: Path) -> None:
    status = detect_samna([str(tmp_path)])
    assert status == SamnaStatus("missing", None, None, status.message)
    assert not status.usable
    assert f"pip install samna --index-url {VENDOR_INDEX_URL}" in status.message


def test_default_paths_never_import_samna() -> None:
    import sys

    before = sys.modules.get("samna")
    status = detect_samna()
    assert status.state in ("real", "stub", "missing")
    assert sys.modules.get("samna") is before  # nothing was imported (or replaced) by the detection
