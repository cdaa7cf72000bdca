"""Argument helpers shared by the subcommands: model, ``--device``, ``--input-shape``, ``--arch``,
``--trust-model-file``, ``--core-map``; plus the text shown for a fit matrix and a placement.

Parsing errors are :class:`argparse.ArgumentTypeError` s, so argparse prints them with the usage line and
exits with code 2, like every other user error.
"""

from __future__ import annotations

import argparse
from typing import Any

from deploy.graph import Placement, QuantizedGraph, Shape3
from hwconfig.chips import ALIASES, CHIPS, UnknownChipError, get_chip
from hwconfig.spec import ChipSpec


def parse_device(text: str) -> ChipSpec:
    """``--device`` value → chip (names and aliases, case-insensitive)."""
    try:
        return get_chip(text)
    except UnknownChipError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_input_shape(text: str) -> Shape3:
    """``"C,H,W"`` (also ``CxHxW``, spaces allowed) → ``(C, H, W)`` of positive integers."""
    parts = [p.strip() for p in text.replace("x", ",").replace("×", ",").split(",")]
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(
            f"--input-shape needs three integers C,H,W (channels, height, width), e.g. 2,34,34; got {text!r}"
        )
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--input-shape needs three integers C,H,W, e.g. 2,34,34; {text!r} has a non-integer part"
        ) from None
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"--input-shape values must be ≥ 1, got {text!r}")
    c, h, w = values
    return (c, h, w)


def parse_core_map(text: str) -> dict[int | str, int]:
    """``"0:2,1:3"`` or ``"features.0:2,features.3:5"`` → {layer index or torch module path: core}."""
    result: dict[int | str, int] = {}
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        layer, sep, core = item.rpartition(":")
        if not sep or not layer:
            raise argparse.ArgumentTypeError(
                f"--core-map entries are LAYER:CORE (layer index or torch module path), e.g. 0:2,1:3; "
                f"got {item!r}"
            )
        try:
            core_id = int(core)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"--core-map: core {core!r} in {item!r} is not an integer"
            ) from None
        key: int | str = int(layer) if layer.isdigit() else layer
        if key in result:
            raise argparse.ArgumentTypeError(f"--core-map: layer {layer!r} given twice")
        result[key] = core_id
    if not result:
        raise argparse.ArgumentTypeError("--core-map is empty; give LAYER:CORE pairs, e.g. 0:2,1:3")
    return result


def add_model_arguments(parser: argparse.ArgumentParser, *, device_default: str = "speck2f") -> None:
    """MODEL, --device, --input-shape, --arch, --trust-model-file."""
    parser.add_argument("model", metavar="MODEL", help="model file (.pt, .pth, .nir)")
    names = ", ".join([*sorted(CHIPS), *sorted(ALIASES)])
    parser.add_argument(
        "--device",
        type=parse_device,
        default=get_chip(device_default),
        metavar="CHIP",
        help=f"target chip ({names}; default {device_default})",
    )
    parser.add_argument(
        "--input-shape",
        type=parse_input_shape,
        default=None,
        metavar="C,H,W",
        help="shape of one input frame, e.g. 2,34,34 (inferred from NIR graphs and DVS layers)",
    )
    parser.add_argument(
        "--arch",
        default=None,
        metavar="NAME|module:function",
        help="architecture for a state_dict file: a model in models/ or package.module:function",
    )
    parser.add_argument(
        "--trust-model-file",
        action="store_true",
        help="unpickle classes outside the safe allowlist (runs code from the file: only for trusted files)",
    )


def add_core_map_argument(parser: argparse.ArgumentParser) -> None:
    """--core-map LAYER:CORE,..."""
    parser.add_argument(
        "--core-map",
        type=parse_core_map,
        default=None,
        metavar="LAYER:CORE,...",
        help="pin layers to cores, e.g. 0:2,1:3 or features.0:2 (others are placed automatically)",
    )


def model_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of :func:`deploy.pipeline.compile_model` / ``check_model`` from parsed arguments."""
    return {
        "chip": args.device,
        "input_shape": args.input_shape,
        "architecture": args.arch,
        "trust_model_file": args.trust_model_file,
        "core_map": getattr(args, "core_map", None),
    }


def format_placement(qgraph: QuantizedGraph, placement: Placement) -> str:
    """``layer → core`` table, one line per layer."""
    width = max(len(q.name) for q in qgraph.layers)
    lines = [f"placement{' (manual)' if placement.manual else ''}:"]
    for i, (q, core) in enumerate(zip(qgraph.layers, placement.core_of, strict=True)):
        lines.append(f"  {i} {q.name:<{width}} → core {core}")
    return "\n".join(lines)
