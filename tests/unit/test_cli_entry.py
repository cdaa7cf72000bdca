"""deploy-model's entry point: --help/--version, and MODEL without a subcommand meaning `run`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from deploy import __version__
from deploy.cli import COMMANDS, UsageError, _normalise_argv, main


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


@pytest.mark.parametrize(
    ("typo", "suggestion"), [("chek", "check"), ("simulat", "simulate"), ("docter", "doctor")]
)
def test_a_subcommand_typo_is_an_unknown_command_with_a_suggestion(
    typo: str, suggestion: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(UsageError, match=rf"unknown command '{typo}' \(did you mean {suggestion}\?\)"):
        _normalise_argv([typo, "model.pt"])
    assert main([typo]) == 2
    err = capsys.readouterr().err
    assert f"unknown command '{typo}'" in err and "samna" not in err


def test_a_bare_word_that_is_an_existing_file_is_a_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mymodel").write_bytes(b"")
    assert _normalise_argv(["mymodel", "--dry-run"]) == ["run", "mymodel", "--dry-run"]


@pytest.mark.parametrize(
    "argv", [["nosuch.pt", "--dry-run"], ["check", "nosuch.pt"], ["compile", "nosuch.pt", "-o", "c.json"]]
)
def test_a_missing_model_file_is_named_before_anything_else(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "model file 'nosuch.pt' does not exist" in err and "samna" not in err


def test_a_missing_configuration_file_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "nosuch.json", "--input", "x.npy"]) == 2
    assert "configuration file 'nosuch.json' does not exist" in capsys.readouterr().err


def test_a_model_directory_is_refused_with_the_file_to_give(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
