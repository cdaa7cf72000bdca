"""Finding and choosing a board: ``--board Speck2fDevKit:0``, ``--board serial=XYZ`` or the first one.

Boards are listed with ``samna.device.get_unopened_devices()`` (boards already opened by another process
cannot be opened again, SAM-dev) and filtered by the chip's device types (``ChipSpec.samna_device_types``),
so unrelated boards on the same machine (cameras, DYNAP-SE2, a speck2e kit when deploying to a speck2f)
never change which board is chosen. The index in ``Type:index`` counts boards of that type ordered by USB
bus number and device address (as sinabs does); the board is then opened by its ``DeviceInfo``, so the
index means the same thing here and in ``deploy-model devices``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from deploy.errors import BoardError
from hwconfig.chips import CHIPS, UnknownChipError, get_chip, parse_device
from hwconfig.spec import ChipSpec


@dataclass(frozen=True)
class BoardInfo:
    """One connected board, as listed by samna.

    Attributes:
        device_type_name: samna device type, e.g. ``"Speck2fDevKit"``.
        serial_number: Serial number (may be empty on some kits).
        usb_bus_number: USB bus.
        usb_device_address: USB device address on the bus.
        index: Position among boards of the same type, ordered by (bus, address).
        chip: Name of the chip this board carries, or None for a device no supported chip uses.
        device_info: samna's ``DeviceInfo`` (used to open the board).
    """

    device_type_name: str
    serial_number: str
    usb_bus_number: int
    usb_device_address: int
    index: int
    chip: str | None
    device_info: Any = field(default=None, compare=False, repr=False)

    @property
    def spec(self) -> str:
        """The ``--board`` value that selects this board by type and index, e.g. ``Speck2fDevKit:0``."""
        return f"{self.device_type_name}:{self.index}"


@dataclass(frozen=True)
class BoardSelector:
    """Which board to use: any board of the chip, a type (and index), or a serial number."""

    device_type: str | None = None
    index: int | None = None
    serial: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> BoardSelector:
        """Parse ``None``/``""`` (first board of the chip), ``"Type"``, ``"Type:N"`` or ``"serial=XYZ"``.

        Raises:
            BoardError: for any other form.
        """
        if text is None or not text.strip():
            return cls()
        text = text.strip()
        if re.match(r"serial\s*=", text, re.IGNORECASE):
            serial = text.split("=", 1)[1].strip()
            if not serial:
                raise BoardError(f"board selector {text!r}: empty serial number; use serial=<serial number>")
            return cls(serial=serial)
        m = re.fullmatch(r"([A-Za-z][\w\- ]*?)(?::(\d+))?", text)
        if m is None:
            raise BoardError(
                f"board selector {text!r} not understood; use a device type and index such as "
                "'Speck2fDevKit:0', a device type alone, or 'serial=<serial number>' "
                "(`deploy-model devices` lists them)"
            )
        return cls(device_type=m.group(1), index=None if m.group(2) is None else int(m.group(2)))

    def __str__(self) -> str:
        if self.serial is not None:
            return f"serial={self.serial}"
        if self.device_type is None:
            return "the first board"
        return self.device_type if self.index is None else f"{self.device_type}:{self.index}"


def _chip_of(device_type: str) -> str | None:
    for chip in CHIPS.values():
        if device_type in chip.samna_device_types:
            return chip.name
    return None


def list_boards(
    samna: Any, chip: str | ChipSpec | None = None, *, include_other: bool = False
) -> list[BoardInfo]:
    """Boards that can be opened now, ordered by type, then (bus, address).

    Args:
        samna: The samna module (or double).
        chip: Only boards carrying this chip; None = boards of every supported chip.
        include_other: Also list devices no supported chip uses (``chip`` must be None).
    """
    infos = list(samna.device.get_unopened_devices())
    wanted = set(get_chip(chip).samna_device_types) if chip is not None else None
    by_type: dict[str, list[Any]] = {}
    for info in infos:
        by_type.setdefault(str(info.device_type_name), []).append(info)
    boards: list[BoardInfo] = []
    for type_name in sorted(by_type):
        chip_name = _chip_of(type_name)
        if wanted is not None and type_name not in wanted:
            continue
        if chip_name is None and not include_other:
            continue
        ordered = sorted(by_type[type_name], key=lambda i: (int(i.usb_bus_number), int(i.usb_device_address)))
        boards += [
            BoardInfo(
                device_type_name=type_name,
                serial_number=str(info.serial_number),
                usb_bus_number=int(info.usb_bus_number),
                usb_device_address=int(info.usb_device_address),
                index=k,
                chip=chip_name,
                device_info=info,
            )
            for k, info in enumerate(ordered)
        ]
    return boards


def _describe(boards: Sequence[BoardInfo]) -> str:
    if not boards:
        return "none"
    return ", ".join(f"{b.spec} (serial {b.serial_number or '?'})" for b in boards)


SINABS_DEVICE_TYPES: dict[str, str] = {
    "speck2fmodule": "Speck2fModuleDevKit",
    "speck2fdevkit": "Speck2fDevKit",
    "speck2edevkit": "Speck2eDevKit",
}
"""sinabs device names → samna device types (SB-io ``device_types``); chip names (``speck2f``) select any
board of the chip instead (sinabs's ``speck2e`` → ``Speck2eTestBoard`` is the one name read differently)."""


def _names_chip(text: str, spec: ChipSpec) -> bool:
    """True when ``text`` is a name or alias of ``spec`` (as accepted by :func:`hwconfig.parse_device`)."""
    try:
        return parse_device(text)[0] is spec
    except UnknownChipError:
        return False


def select_board(samna: Any, chip: str | ChipSpec, selector: BoardSelector | str | None = None) -> BoardInfo:
    """Choose the board for ``chip`` that ``selector`` names.

    Raises:
        BoardError: no matching board, or the selector names a board type that does not carry ``chip``;
            the message lists the boards of the chip that are available.
    """
    spec = get_chip(chip)
    sel = selector if isinstance(selector, BoardSelector) else BoardSelector.parse(selector)
    candidates = list_boards(samna, spec)
    available = f"available {spec.name} boards: {_describe(candidates)}"
    if sel.serial is not None:
        for board in candidates:
            if board.serial_number == sel.serial:
                return board
        others = [b for b in list_boards(samna, include_other=True) if b.serial_number == sel.serial]
        if others:
            raise BoardError(
                f"board serial={sel.serial} is a {others[0].device_type_name}, which does not carry chip "
                f"{spec.name!r} (its boards are {', '.join(spec.samna_device_types)}); {available}"
            )
        raise BoardError(f"no unopened board with serial number {sel.serial!r}; {available}")
    if sel.device_type is not None:
        wanted = SINABS_DEVICE_TYPES.get(sel.device_type.lower(), sel.device_type).lower()
        match = [t for t in spec.samna_device_types if t.lower() == wanted]
        if not match and _names_chip(sel.device_type, spec):
            # A chip name or alias (``speck2f:0``, sinabs's ``speck2fdevkit:0`` form): any board of the chip.
            match = list(spec.samna_device_types)
        if not match:
            raise BoardError(
                f"board type {sel.device_type!r} does not carry chip {spec.name!r}; its board types are "
                f"{', '.join(spec.samna_device_types)}; {available}"
            )
        candidates = [b for b in candidates if b.device_type_name in match]
    index = sel.index or 0
    if index < len(candidates):
        return candidates[index]
    if not candidates:
        raise BoardError(
            f"no {spec.name} board found for {sel} (boards opened by another process are not listed); "
            f"{available}. Check the USB cable and the udev rules (docs/hardware.md)."
        )
    raise BoardError(f"no board {sel}: only {len(candidates)} found; {available}")
