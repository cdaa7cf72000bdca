"""``deploy-model doctor``: what is installed, and whether a board can be used.

Reports the versions of Python and the packages the tool needs, classifies samna without importing it
(real / PyPI placeholder / missing, :func:`hwconfig.samna_env.detect_samna`) with the fix, and lists boards
only when the real samna is installed. Exit code 0 whenever the report could be made: a missing samna is
not an error for simulation-only use.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
import sys
from dataclasses import asdict, dataclass
from typing import Any

HELP = "report Python, torch, sinabs and numba versions, whether samna is real, a stub or missing, and boards"

PACKAGES = ("torch", "sinabs", "numba", "numpy", "nir", "matplotlib", "rich")
"""Distributions reported (all needed by speck-deploy; samna is reported separately)."""


@dataclass(frozen=True)
class Check:
    """One line of the report.

    Attributes:
        name: Component.
        status: ``"ok"``, ``"warning"`` or ``"missing"``.
        version: Version found, or None.
        detail: What was found and, when something is wrong, the fix.
    """

    name: str
    status: str
    version: str | None
    detail: str


def add_arguments(p: argparse.ArgumentParser) -> None:
    from deploy.commands._common import add_device_argument, add_output_arguments

    add_device_argument(p, default=None, help_text="only list boards carrying this chip")
    add_output_arguments(p, verbose_help="also print the details of the checks that passed")


def package_checks() -> list[Check]:
    """Python and the required packages, from installed metadata (nothing is imported)."""
    checks = [Check("python", "ok", platform.python_version(), sys.executable)]
    for name in PACKAGES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            checks.append(
                Check(name, "missing", None, "not installed; reinstall speck-deploy (`pip install -e .`)")
            )
            continue
        checks.append(Check(name, "ok", version, ""))
    return checks


def samna_checks(samna: Any = None, chip: Any = None) -> list[Check]:
    """samna's state and, only for the real samna, the connected boards.

    Args:
        samna: A samna module or test double to list boards with (instead of importing the real one).
        chip: Only list boards carrying this chip (a :class:`hwconfig.spec.ChipSpec`); None for all.
    """
    from hwconfig.samna_env import detect_samna

    status = detect_samna()
    if samna is None and status.state != "real":
        state = "warning" if status.state == "stub" else "missing"
        what = "PyPI placeholder (stub)" if status.state == "stub" else "missing"
        return [
            Check("samna", state, status.version, f"{what}: {status.message}"),
            Check("boards", "warning", None, "not listed: board access needs the real samna"),
        ]
    checks = [Check("samna", "ok", status.version, status.message)]
    try:
        from deploy.board import list_boards, load_samna

        module = load_samna(samna, status=status)
        boards = list_boards(module, chip, include_other=chip is None)
    except Exception as exc:  # report any failure of the vendor library, never crash the doctor
        checks.append(Check("boards", "warning", None, f"could not list boards: {exc}"))
        return checks
    if not boards:
        checks.append(
            Check("boards", "warning", None, "no unopened board found (is it plugged in and free?)")
        )
    for b in boards:
        chip = b.chip or "no supported chip"
        checks.append(Check("board", "ok", None, f"{b.spec} (serial {b.serial_number or '—'}, {chip})"))
    return checks


def run(args: argparse.Namespace) -> int:
    from deploy.commands._console import Reporter

    console = Reporter.from_args(args)
    checks = package_checks() + samna_checks(chip=getattr(args, "device", None))
    if console.json_mode:
        console.json([asdict(c) for c in checks])
        return 0
    from rich.table import Table

    colour = {"ok": "green", "warning": "yellow", "missing": "red"}
    out = console.out
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    for col in ("component", "status", "version"):
        table.add_column(col)
    for c in checks:
        table.add_row(c.name, f"[{colour[c.status]}]{c.status}[/]", c.version or "—")
    out.print(table)
    for c in checks:
        if c.detail and (c.status != "ok" or c.name in ("samna", "board") or console.verbose):
            out.print()
            out.print(f"[bold]{c.name}[/]: ", end="")
            out.print(c.detail, markup=False)
    return 0
