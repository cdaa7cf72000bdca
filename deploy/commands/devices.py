"""``deploy-model devices``: which boards are connected, or why board access is unavailable.

Exit 0 with a table of the boards (possibly none, with a hint); exit 2 with samna's status and the command
that fixes it when samna is missing, the PyPI placeholder, or an unsupported version (raised as
:class:`~deploy.errors.SamnaUnavailableError`, which the CLI prints as one paragraph).
"""

from __future__ import annotations

import argparse
from typing import Any

from deploy.commands._common import parse_device

HELP = "list connected Speck / DYNAP-CNN boards (and the --board value that selects each one)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        type=parse_device,
        default=None,
        help="only boards carrying this chip (speck2f, speck2e, dynapcnn or an alias); default: all chips",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="also list samna devices that carry no supported chip (cameras, ...)",
    )


def run(args: argparse.Namespace, samna: Any = None) -> int:
    """List boards; ``samna`` is for tests (a double), the real one is imported safely otherwise."""
    from deploy.board import SUPPORTED_SAMNA_RANGE, list_boards, load_samna

    samna = load_samna(samna)
    boards = list_boards(samna, args.device, include_other=args.all and args.device is None)
    version = getattr(samna, "__version__", "?")
    if not boards:
        what = f"{args.device.name} board" if args.device is not None else "supported board"
        print(
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
    print(f"{len(boards)} board(s), samna {version} (supported {SUPPORTED_SAMNA_RANGE}):")
    for r in rows:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    print("select one with --board TYPE:INDEX or --board serial=SERIAL")
    return 0
