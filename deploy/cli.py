"""``deploy-model``: argument parsing and exit codes only.

Exit codes: 0 success; 2 a problem with the user's model, input or environment (any
:class:`~deploy.errors.DeployError` or :class:`hwconfig.ConfigError`), printed as one paragraph on stderr;
1 a bug in the tool (traceback); 3 a gate failed (``validate``/``sweep`` gates, ``run --fail-on-divergence``
when the views diverge; :data:`deploy.commands._common.EXIT_GATE_FAILED`).

Every subcommand takes ``--json`` (exactly one JSON document on stdout; with an error it is
``{"error": MESSAGE, "exit_code": 2}``), ``-q``/``-v`` and, where a chip is chosen, the same ``--device``
vocabulary (:mod:`deploy.commands._common`).

Subcommands live in :mod:`deploy.commands`, one module each, exposing ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``; they are listed in :data:`COMMANDS`. ``deploy-model MODEL ...`` without a
subcommand name means ``deploy-model run MODEL ...``.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from deploy import __version__

# Subcommand name → module in deploy.commands (a literal dict: no plugin discovery).
COMMANDS: dict[str, str] = {
    "compile": "compile",
    "check": "check",
    "devices": "devices",
    "run": "run",
    "simulate": "simulate",
    "doctor": "doctor",
    "export": "export",
    "validate": "validate",
    "sweep": "sweep",
}

DEFAULT_COMMAND = "run"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deploy-model",
        description=(
            "Compile a sinabs spiking network for SynSense Speck / DYNAP-CNN chips, check it against the "
            "chip's limits, map it onto cores, write the chip configuration, and run it on a board or on a "
            "bit-accurate simulation of the chip. `deploy-model MODEL --device speck --dry-run` is short for "
            "`deploy-model run MODEL ...`."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"deploy.commands.{module_name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


_TOP_LEVEL_OPTIONS = frozenset({"-h", "--help", "--version"})


class UsageError(Exception):
    """A command line that names no known subcommand and no existing file (exit 2)."""


def _looks_like_command(word: str) -> bool:
    """True for a bare word (no path separator, no suffix) that is not an existing file: a subcommand typo."""
    return not word.startswith("-") and "/" not in word and "." not in word and not Path(word).exists()


def _normalise_argv(argv: list[str]) -> list[str]:
    """Prepend the default subcommand unless a subcommand (or a top-level option) comes first.

    So ``deploy-model MODEL --dry-run`` and ``deploy-model --dry-run MODEL`` both mean ``run``.

    Raises:
        UsageError: the first word is neither a subcommand nor a model path (``deploy-model chek``), so it is
            reported as an unknown command instead of being read as a missing model file.
    """
    if not argv or argv[0] in COMMANDS or argv[0] in _TOP_LEVEL_OPTIONS:
        return argv
    if _looks_like_command(argv[0]):
        close = difflib.get_close_matches(argv[0], list(COMMANDS), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UsageError(
            f"unknown command '{argv[0]}'{hint}; commands: {', '.join(COMMANDS)}. To run a model, give the "
            f"path of its file (no file '{argv[0]}' exists here); see deploy-model --help"
        )
    return [DEFAULT_COMMAND, *argv]


def _require_input_files(args: argparse.Namespace) -> None:
    """Name a missing MODEL or CONFIG file before anything else (loading, samna probing) is tried.

    Raises:
        DeployError: the file does not exist or is a directory.
    """
    from deploy.errors import DeployError

    for attr, what in (("model", "model file"), ("config", "configuration file")):
        value = getattr(args, attr, None)
        if not isinstance(value, str | Path):
            continue
        path = Path(value)
        if not path.exists():
            raise DeployError(f"{what} '{path}' does not exist; check the path (relative to {Path.cwd()})")
        if path.is_dir():
            raise DeployError(
                f"{what} '{path}' is a directory; give the file inside it (e.g. {path}/model.pt)"
            )


def main(argv: Sequence[str] | None = None) -> int:
    from deploy.errors import DeployError
    from hwconfig.errors import ConfigError

    try:
        args_list = _normalise_argv(list(sys.argv[1:] if argv is None else argv))
    except UsageError as exc:
        print(f"deploy-model: error: {exc}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(args_list)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 0
    from deploy.limits import set_max_memory

    set_max_memory(getattr(args, "max_memory", None))
    if not getattr(args, "quiet", False):
        from deploy.sim.warmup import set_compile_notifier

        # The first simulation after an install without scripts/install.sh compiles the kernels: say so.
        set_compile_notifier(lambda message: print(f"deploy-model: {message}", file=sys.stderr, flush=True))
    from deploy.lazy_imports import defer_pylab

    defer_pylab()  # sinabs imports pylab (matplotlib, pyplot: ≈ 1.2 s) for a method no command uses
    try:
        _require_input_files(args)
        return int(args._run(args))
    except (DeployError, ConfigError) as exc:
        print(f"deploy-model: error: {exc}", file=sys.stderr)
        if getattr(args, "json", False):
            import json

            sys.stdout.write(json.dumps({"error": str(exc), "exit_code": 2}) + "\n")
        return 2
    except KeyboardInterrupt:
        print("deploy-model: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
