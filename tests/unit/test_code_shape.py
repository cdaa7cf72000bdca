"""Structural rules of issue #11 that a refactoring must not undo (checked on the source, not at run time)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MAX_PARAMETERS = 12


def _modules() -> list[Path]:
    return sorted(DEPLOY.rglob("*.py"))


def _parameter_count(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = fn.args
    names = [*a.posonlyargs, *a.args, *a.kwonlyargs]
    count = len(names) + (a.vararg is not None) + (a.kwarg is not None)
    return count - (1 if names and names[0].arg in ("self", "cls") else 0)


def test_no_function_in_deploy_takes_more_than_twelve_parameters() -> None:
    too_many = [
        f"{path.relative_to(DEPLOY.parent)}:{node.lineno} {node.name} ({_parameter_count(node)})"
        for path in _modules()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and _parameter_count(node) > MAX_PARAMETERS
    ]
    assert not too_many, f"pack these parameters into a dataclass or named tuple: {too_many}"


@pytest.mark.parametrize("path", [p for p in _modules() if "commands" not in p.relative_to(DEPLOY).parts])
def test_only_commands_import_commands(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module] + [
        alias.name for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names
    ]
    assert not [m for m in imported if m.startswith("deploy.commands")], path


def test_commands_do_not_import_each_others_private_names() -> None:
    offenders = []
    for path in sorted((DEPLOY / "commands").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("deploy.commands."):
                own = (node.module or "").rsplit(".", 1)[-1]
                if own.startswith("_"):
                    continue  # shared helper modules (_common, _console) are meant to be imported
                offenders += [f"{path.name}: {own}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert not offenders


def test_the_run_command_stays_a_thin_layer_over_the_library() -> None:
    lines = (DEPLOY / "commands" / "run.py").read_text(encoding="utf-8").count("\n")
    assert lines < 300, f"deploy/commands/run.py has {lines} lines: move logic into deploy/runner.py & co."
