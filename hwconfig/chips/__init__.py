"""Registry of supported chips: a literal dict, plus aliases.

A device string names a chip by its name, an alias, or a samna device type (case-insensitive), optionally
followed by ``:INDEX`` as sinabs writes devices (``"speck2fdevkit:0"``, ``"speck2f:00"``,
``"Speck2fDevKit:0"``, SB-io ``device_types``): :func:`parse_device` returns the chip and the index,
:func:`get_chip` only the chip.
"""

from __future__ import annotations

from hwconfig.chips import dynapcnn, speck2e, speck2f
from hwconfig.spec import ChipSpec

CHIPS: dict[str, ChipSpec] = {
    "speck2f": speck2f.SPEC,
    "speck2e": speck2e.SPEC,
    "dynapcnn": dynapcnn.SPEC,
}

ALIASES: dict[str, str] = {
    "speck": "speck2f",
    "speck2fmodule": "speck2f",
    "speck2fdevkit": "speck2f",
    "speck2edevkit": "speck2e",
    "dynapcnndevkit": "dynapcnn",
}


class UnknownChipError(ValueError):
    """Raised for a chip name that is neither a chip nor an alias."""


def _chip_of_device_type(key: str) -> str | None:
    """The chip whose samna device types include ``key`` (lower case), e.g. ``"speck2fmoduledevkit"``."""
    for chip in CHIPS.values():
        if key in (t.lower() for t in chip.samna_device_types):
            return chip.name
    return None


def parse_device(name: str | ChipSpec) -> tuple[ChipSpec, int | None]:
    """Split a device string into its chip and board index (None when no ``:INDEX`` is given).

    Args:
        name: ``"speck2f"``, ``"speck2fdevkit:0"``, ``"Speck2fDevKit:0"``, ``"speck2f:00"``, ... or a
            ChipSpec (index None).

    Raises:
        UnknownChipError: for an unknown name, or an index that is not a non-negative integer.
    """
    if isinstance(name, ChipSpec):
        return name, None
    text = name.strip()
    base, sep, index_text = text.partition(":")
    index: int | None = None
    if sep:
        if not index_text.strip().isdigit():
            raise UnknownChipError(
                f"device {name!r}: the part after ':' must be a board index (a non-negative integer), "
                "e.g. 'speck2fdevkit:0'"
            )
        index = int(index_text)
    key = base.strip().lower()
    key = ALIASES.get(key, key)
    key = key if key in CHIPS else (_chip_of_device_type(key) or key)
    try:
        return CHIPS[key], index
    except KeyError:
        valid = (
            ", ".join(sorted(CHIPS))
            + "; aliases: "
            + ", ".join(f"{a} → {t}" for a, t in sorted(ALIASES.items()))
        )
        raise UnknownChipError(
            f"unknown chip {name!r}; valid chips: {valid}; samna device types (e.g. Speck2fDevKit) and a "
            "board index (e.g. speck2fdevkit:0) are accepted too"
        ) from None


def get_chip(name: str | ChipSpec) -> ChipSpec:
    """Return the ChipSpec for a device string (:func:`parse_device`; any ``:INDEX`` is ignored).

    A ChipSpec is returned unchanged.
    """
    return parse_device(name)[0]
