"""Registry of supported chips: a literal dict, plus aliases."""

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


def get_chip(name: str | ChipSpec) -> ChipSpec:
    """Return the ChipSpec for a name or alias (case-insensitive); a ChipSpec is returned unchanged."""
    if isinstance(name, ChipSpec):
        return name
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    try:
        return CHIPS[key]
    except KeyError:
        valid = (
            ", ".join(sorted(CHIPS))
            + "; aliases: "
            + ", ".join(f"{a} → {t}" for a, t in sorted(ALIASES.items()))
        )
        raise UnknownChipError(f"unknown chip {name!r}; valid chips: {valid}") from None
