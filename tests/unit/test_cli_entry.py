"""deploy-model's entry point: --help/--version, and MODEL without a subcommand meaning `run`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deploy import __version__
from deploy.cli import COMMANDS, _normalise_argv


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["model.pt", "--dry-run"], ["run", "model.pt", "--dry-run"]),
        (["--dry-run", "model.pt"], ["run", "--dry-run", "model.pt"]),
        (["check", "model.pt"], ["check", "model.pt"]),
        (["--version"], ["--version"]),
        (["-h"], ["-h"]),
        ([], []),
    ],
)
def test_default_subcommand_is_run(argv: list[str], expected: list[str]) -> None:
    assert _normalise_argv(argv) == expected


def test_every_registered_command_imports() -> None:
    import importlib

    for module in COMMANDS.values():
        mod = importlib.import_module(f"deploy.commands.{module}")
        assert mod.HELP and callable(mod.add_arguments) and callable(mod.run)


def test_version_and_help_in_a_subprocess() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "deploy.cli", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"deploy-model {__version__}"
    help_text = subprocess.run(
        [sys.executable, "-m", "deploy.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name in COMMANDS:
        assert name in help_text
