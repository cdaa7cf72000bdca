"""``deploy-model devices``: which boards are connected, or why board access is unavailable.

Exit 0 with a table of the boards (possibly none, with a hint); exit 2 with samna's status and the command
that fixes it when samna is missing, the PyPI placeholder, or an unsupported version (raised as
:class:`~deploy.errors.SamnaUnavailableError`, which the CLI prints as one paragraph).
"""

from __future__ import annotations

import argparse
from typing import Any

from deploy.commands._common import add_device_argument, add_output_arguments
from deploy.commands._console import Reporter

HELP = "list connected Speck / DYNAP-CNN boards (and the --board value that selects each one)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_device_argument(parser, default=None, help_text="only boards carrying this chip")
    parser.add_argument(
        "--all",
        action="store_true",
        help="also list samna devices that carry no supported chip (cameras, ...)",
    )
    add_output_arguments(parser)


def run(args: argparse.Namespace, samna: Any = None) -> int:
    """List boards; ``samna`` is for tests (a double), the real one is imported safely otherwise."""
    from deploy.board import SUPPORTED_SAMNA_RANGE, list_boards, load_samna

    samna = load_samna(samna)
    console = Reporter.from_args(args)
    boards = list_boards(samna, args.device, include_other=args.all and args.device is None)
    version = getattr(samna, "__version__", "?")
    if console.json_mode:
        console.json(
            {
                "samna_version": version,
                "supported_samna": str(SUPPORTED_SAMNA_RANGE),
                "boards": [
                    {
                        "board": b.spec,
                        "serial": b.serial_number,
                        "usb_bus": b.usb_bus_number,
                        "usb_address": b.usb_device_address,
                        "chip": b.chip,
                    }
                    for b in boards
                ],
            }
        )
        return 0
    if not boards:
        what = f"{args.device.name} board" if args.device is not None else "supported board"
        console.line(
            f"no unopened {what} found (samna {version}). Check the USB 3 cable, the udev rules and that no "
            "other process holds the board (docs/hardware.md)."
        )
        return 0
    rows = [("--board", "serial", "usb bus:address", "chip")]
    for b in boards:
        rows.append(
            (b.spec, b.serial_number or "?", f"{b.usb_bus_number}:{b.usb_device_address}", b.chip or "-")
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    console.line(f"{len(boards)} board(s), samna {version} (supported {SUPPORTED_SAMNA_RANGE}):")
    for r in rows:
        console.line("  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    console.line("select one with --board TYPE:INDEX or --board serial=SERIAL")
    return 0
