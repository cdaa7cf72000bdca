"""``deploy-model``: argument parsing and exit codes only.

Exit codes: 0 success; 2 a problem with the user's model, input or environment (any
:class:`~deploy.errors.DeployError` or :class:`hwconfig.ConfigError`), printed as one paragraph on stderr;
1 a bug in the tool (traceback); 3 ``validate``/``sweep``: a CI gate failed.

Subcommands live in :mod:`deploy.commands`, one module each, exposing ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``; they are listed in :data:`COMMANDS`. ``deploy-model MODEL ...`` without a
subcommand name means ``deploy-model run MODEL ...``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from deploy import __version__

# Subcommand name → module in deploy.commands (a literal dict: no plugin discovery).
COMMANDS: dict[str, str] = {
    "compile": "compile",
    "check": "check",
    "devices": "devices",
    "run": "run",
    "simulate": "simulate",
    "doctor": "doctor",
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


def _normalise_argv(argv: list[str]) -> list[str]:
    """Prepend the default subcommand unless a subcommand (or a top-level option) comes first.

    So ``deploy-model MODEL --dry-run`` and ``deploy-model --dry-run MODEL`` both mean ``run``.
    """
    if argv and argv[0] not in COMMANDS and argv[0] not in _TOP_LEVEL_OPTIONS:
        return [DEFAULT_COMMAND, *argv]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    from deploy.errors import DeployError
    from hwconfig.errors import ConfigError

    args_list = _normalise_argv(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    args = parser.parse_args(args_list)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args._run(args))
    except (DeployError, ConfigError) as exc:
        print(f"deploy-model: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("deploy-model: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
