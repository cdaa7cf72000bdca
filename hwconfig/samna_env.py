"""Find out which samna is installed, without importing it.

The ``samna`` distribution on PyPI is a placeholder: a tiny pure-Python wheel whose ``__init__.py`` runs
``pip install --force-reinstall samna==<version> --index-url=<SynSense index>`` at import time and then
reloads itself. Importing it therefore changes the environment (or fails without network access). The real
package, from SynSense's own package index, ships compiled extension modules (``.so`` / ``.pyd``).

:func:`detect_samna` tells the three cases apart by reading installed metadata and file listings only
(``importlib.metadata`` and :class:`importlib.machinery.PathFinder`, neither of which executes samna's
``__init__``), so it is safe to call anywhere, e.g. to decide whether hardware tests can run.
"""

from __future__ import annotations

import importlib.machinery
import importlib.metadata
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DISTRIBUTION = "samna"

# The index SynSense publishes the real samna on. Source: the PyPI placeholder's own ``samna/__init__.py``
# (``__gitlab_packages_index_url__``, samna 0.48.6 as installed with sinabs 3.1.3), which pip-installs
# from it; SynSense's samna install notes give the same command,
# ``pip install samna --index-url https://gitlab.com/api/v4/projects/27423070/packages/pypi/simple``.
# When a placeholder is installed, the URL it names is reported instead of this constant.
VENDOR_INDEX_URL = "https://gitlab.com/api/v4/projects/27423070/packages/pypi/simple"

# Compiled extension suffixes on Linux, macOS and Windows (the real wheel ships at least one of these).
_EXTENSION_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")
_STUB_MARKERS = ("PYPI_SAMNA", "install_real_samna", "__gitlab_packages_index_url__")
_URL_RE = re.compile(r"https://[^\s'\"]+/simple")


@dataclass(frozen=True)
class SamnaStatus:
    """What :func:`detect_samna` found.

    Attributes:
        state: ``"real"`` (the vendor binary package), ``"stub"`` (the PyPI placeholder, or another
            samna without compiled modules) or ``"missing"`` (nothing importable, or a broken install).
        version: Distribution version if a samna distribution is installed, else None.
        location: Directory of the samna package (or of its distribution metadata), else None.
        message: One paragraph saying what was found and what to do about it.
    """

    state: Literal["real", "stub", "missing"]
    version: str | None
    location: str | None
    message: str

    @property
    def usable(self) -> bool:
        """True only for the real samna: the only state in which board access can work."""
        return self.state == "real"


def detect_samna(paths: Sequence[str] | None = None) -> SamnaStatus:
    """Classify the samna installation visible on ``paths`` without importing samna.

    Args:
        paths: Directories to search, in import order; defaults to ``sys.path``.

    Returns:
        The state, version, location and an actionable message.
    """
    search = [str(p) for p in (sys.path if paths is None else paths)]
    dist = _find_distribution(search)
    spec = importlib.machinery.PathFinder.find_spec(DISTRIBUTION, search)  # locates, never executes
    package_dir = _package_dir(spec)
    if dist is not None:
        return _classify_distribution(dist, package_dir)
    if spec is None:
        return SamnaStatus("missing", None, None, _missing_message())
    return _classify_files(None, _describe(spec, package_dir), _files_on_disk(spec, package_dir), package_dir)


def _find_distribution(paths: list[str]) -> importlib.metadata.Distribution | None:
    """The first samna distribution on ``paths`` (names are normalised by importlib.metadata)."""
    return next(iter(importlib.metadata.distributions(name=DISTRIBUTION, path=paths)), None)


def _package_dir(spec: importlib.machinery.ModuleSpec | None) -> Path | None:
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _describe(spec: importlib.machinery.ModuleSpec, package_dir: Path | None) -> str:
    return str(package_dir if package_dir is not None else spec.origin)


def _files_on_disk(spec: importlib.machinery.ModuleSpec, package_dir: Path | None) -> list[Path]:
    if package_dir is not None:
        return [p for p in package_dir.rglob("*") if p.is_file()]
    return [Path(spec.origin)] if spec.origin else []


def _classify_distribution(dist: importlib.metadata.Distribution, package_dir: Path | None) -> SamnaStatus:
    version = dist.version
    record = dist.files
    if record is None:  # no RECORD: fall back to what is on disk
        files = [p for p in package_dir.rglob("*") if p.is_file()] if package_dir else []
    else:
        files = [Path(str(dist.locate_file(f))) for f in record]
    location = str(package_dir) if package_dir is not None else str(dist.locate_file(""))
    listed_extensions = [f for f in files if _is_extension(f)]
    if listed_extensions and not any(f.is_file() for f in listed_extensions):
        return SamnaStatus(
            "missing",
            version,
            location,
            f"samna {version} is registered at {location}, but the compiled modules its RECORD lists "
            f"(e.g. {listed_extensions[0].name}) are not on disk: the installation is broken. "
            + _install_hint(version, VENDOR_INDEX_URL),
        )
    return _classify_files(version, location, files, package_dir)


def _classify_files(
    version: str | None, location: str, files: Iterable[Path], package_dir: Path | None
) -> SamnaStatus:
    files = list(files)
    if any(_is_extension(f) and f.is_file() for f in files):
        return SamnaStatus(
            "real",
            version,
            location,
            f"the real samna{_v(version)} is installed at {location} (it ships compiled modules); "
            "board targets can use it.",
        )
    init = package_dir / "__init__.py" if package_dir is not None else None
    text = init.read_text(encoding="utf-8", errors="replace") if init is not None and init.is_file() else ""
    index_url = _URL_RE.search(text)
    url = index_url.group(0) if index_url else VENDOR_INDEX_URL
    if any(marker in text for marker in _STUB_MARKERS):
        what = (
            f"samna{_v(version)} at {location} is the PyPI placeholder, not the chip software: importing "
            f"it would run `pip install --force-reinstall samna=={version or '<version>'} "
            f"--index-url={url}` from inside Python, so speck-deploy never imports it. "
        )
    else:
        what = (
            f"samna{_v(version)} at {location} contains no compiled modules, so it cannot be SynSense's "
            "samna; speck-deploy does not import it. "
        )
    return SamnaStatus("stub", version, location, what + _install_hint(version, url))


def _is_extension(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(_EXTENSION_SUFFIXES) or ".so." in name


def _v(version: str | None) -> str:
    return f" {version}" if version else ""


def _install_hint(version: str | None, url: str) -> str:
    pin = f"=={version}" if version else ""
    return (
        "Board access needs the real samna from SynSense's package index; install it with "
        f"`python -m pip install --force-reinstall samna{pin} --index-url {url}` (needs network access to "
        "that index). Simulation-only use needs no samna."
    )


def _missing_message() -> str:
    return (
        "samna is not installed, so board targets are unavailable (simulation-only use needs no samna). "
        "Board access needs the real samna from SynSense's package index: "
        f"`python -m pip install samna --index-url {VENDOR_INDEX_URL}`. The `samna` package on PyPI is "
        "only a placeholder that runs that command when first imported."
    )
