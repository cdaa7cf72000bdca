"""Argument helpers shared by the subcommands: model, ``--device``, ``--input-shape``, ``--arch``,
``--trust-model-file``, ``--quantization``, ``--calibration``, ``--calibration-dt-ms``,
``--allow-plain-min-v-mem-none``, ``--readout``, ``--core-map``, the sensor-input and monitor options
(``--dvs-input``, ``--dvs-*``, ``--monitor``, docs/dvs-input.md), the console flags ``--json``/``-q``/``-v``
(:func:`add_output_arguments`, on every subcommand); plus the text shown for a placement.

One grammar for every subcommand: ``--device`` is always parsed by :class:`DeviceAction` (chip names,
aliases and samna device types, case-insensitive, with an optional ``:INDEX`` that also selects the board);
``--json`` prints exactly one JSON document on stdout (logs and progress go to stderr, and an error becomes
``{"error": ..., "exit_code": 2}``); ``-q`` prints nothing but errors; ``-v`` adds details. ``-o`` is a
*file* for ``compile`` and ``export`` and a *directory* for ``run``, ``simulate`` and ``validate``; each
``--help`` says which.

Parsing errors are :class:`argparse.ArgumentTypeError` s, so argparse prints them with the usage line and
exits with code 2, like every other user error.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from deploy.errors import DeployError
from deploy.graph import Placement, QuantizedGraph, Shape3
from deploy.options import DEFAULT_CALIBRATION_DT_US, CompileOptions, DvsOptions, MonitorSpec
from hwconfig.chips import ALIASES, CHIPS, UnknownChipError, get_chip
from hwconfig.chips import parse_device as parse_device_string

EXIT_GATE_FAILED = 3
"""Exit code of a failed gate: ``run --fail-on-divergence`` when the views diverge (as ``validate``)."""


class DeviceAction(argparse.Action):
    """Store ``--device`` as the chip, and a board selector in ``device_board`` when it has ``:INDEX``
    (``speck2fdevkit:0`` selects that board unless ``--board`` is given)."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: Any = None
    ) -> None:
        try:
            spec, index = parse_device_string(values) if isinstance(values, str) else (values, None)
        except UnknownChipError as exc:
            raise argparse.ArgumentError(self, str(exc)) from None
        setattr(namespace, self.dest, spec)
        namespace.device_board = None if index is None else str(values).strip()


def parse_monitor(text: str) -> MonitorSpec:
    """``--monitor`` → sinabs's ``monitor_layers`` forms: ``all``, ``none`` (= ``[]``), or a comma list of
    layer indices, ``-1`` (exit layers) and ``dvs``."""
    value = text.strip().lower()
    if value == "all":
        return "all"
    if value in ("none", "[]", ""):
        return []
    items: list[int | str] = []
    for item in (i.strip() for i in value.split(",")):
        if item == "dvs":
            items.append("dvs")
            continue
        try:
            items.append(int(item))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"--monitor: {item!r} is not a layer index; use e.g. 0,2, -1 (exit layers), dvs, all or none"
            ) from None
    return items


def parse_pair(text: str) -> tuple[int, int]:
    """``"2"`` → (2, 2); ``"2,4"`` → (2, 4) as ``(y, x)``."""
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or NY,NX integers, got {text!r}") from None
    if len(values) == 1:
        return values[0], values[0]
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected N or NY,NX, got {text!r}")
    return values[0], values[1]


def parse_crop(text: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """``--dvs-crop TOP,BOTTOM,LEFT,RIGHT`` (pooled sensor pixels, end exclusive, as sinabs's ``crop``)."""
    try:
        top, bottom, left, right = (int(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--dvs-crop needs TOP,BOTTOM,LEFT,RIGHT (four integers, end exclusive), got {text!r}"
        ) from None
    return (top, bottom), (left, right)


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
    """``"0:2,1:3"`` or ``"features.0:2,features.3:5"`` → {layer name or position (as text): core}.

    Keys stay text: they are resolved by :func:`deploy.place.place` against the layer names the fit matrix
    and placement tables show (``0 features.0``: position 0, name ``features.0``): a key that is a layer's
    name means that layer, else a number means the layer at that position. So the names of a
    ``Sequential`` (``0``, ``3``, ``7``) work as shown.
    """
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
        key: int | str = layer.strip()
        if key in result:
            raise argparse.ArgumentTypeError(f"--core-map: layer {layer!r} given twice")
        result[key] = core_id
    if not result:
        raise argparse.ArgumentTypeError("--core-map is empty; give LAYER:CORE pairs, e.g. 0:2,1:3")
    return result


CALIBRATION_KEYS = ("raster", "events")
"""Arrays looked up in a ``--calibration`` ``.npz`` archive, in this order (else its only array)."""


def parse_calibration(text: str) -> npt.NDArray[Any]:
    """``--calibration FILE`` (``.npy``/``.npz``) → its array: a raster ``(T, C, H, W)`` or events.

    Which of the two it is, and whether it fits the model, is decided by
    :func:`deploy.quantize.calibration_raster` once the model's input shape is known.
    """
    path = Path(text)
    if path.suffix not in (".npy", ".npz"):
        raise argparse.ArgumentTypeError(
            f"--calibration {text}: expected a .npy or .npz file holding a raster (T, C, H, W) or events"
        )
    from deploy.limits import check_numpy_file

    try:
        check_numpy_file(path)
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, DeployError) as exc:
        raise argparse.ArgumentTypeError(f"--calibration {text}: cannot read it ({exc})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        return np.asarray(loaded)
    with loaded:
        files = list(loaded.files)
        key = next((k for k in CALIBRATION_KEYS if k in files), files[0] if len(files) == 1 else None)
        if key is None:
            raise argparse.ArgumentTypeError(
                f"--calibration {text}: the archive has arrays {files}; name the calibration data "
                f"{' or '.join(repr(k) for k in CALIBRATION_KEYS)}"
            )
        return np.asarray(loaded[key])


def _parse_max_memory(text: str) -> int:
    from deploy.limits import parse_size

    try:
        return parse_size(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--max-memory needs a size such as 4G or 512M, got {text!r}"
        ) from None


def add_output_arguments(parser: argparse.ArgumentParser, *, verbose_help: str | None = None) -> None:
    """``--json`` and ``-q``/``-v`` (mutually exclusive), the same on every subcommand."""
    parser.add_argument(
        "--json",
        action="store_true",
        help="print exactly one JSON document on stdout (progress and logs go to stderr)",
    )
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    verbosity.add_argument(
        "-v", "--verbose", action="store_true", help=verbose_help or "also print details and notes"
    )


def add_device_argument(
    parser: argparse.ArgumentParser, *, default: str | None = "speck2f", help_text: str | None = None
) -> None:
    """``--device CHIP`` parsed by :class:`DeviceAction` (default chip ``default``; None: no default)."""
    names = ", ".join([*sorted(CHIPS), *sorted(ALIASES)])
    parser.add_argument(
        "--device",
        action=DeviceAction,
        default=None if default is None else get_chip(default),
        metavar="CHIP",
        help=f"{help_text or 'target chip'} ({names}, samna device types; default {default or 'none'}); "
        "with :INDEX, e.g. speck2fdevkit:0, also the board to run on",
    )


def add_loading_arguments(parser: argparse.ArgumentParser) -> None:
    """MODEL, --input-shape, --arch and --trust-model-file: what loading a model needs."""
    parser.add_argument("model", metavar="MODEL", help="model file (.pt, .pth, .nir)")
    parser.add_argument(
        "--input-shape",
        type=parse_input_shape,
        default=None,
        metavar="C,H,W",
        help="shape of one input frame, e.g. 2,34,34; default: declared by the model's package "
        "(models/<name>), its DVS layer, its NIR input node or input_shape attribute, or its sample input "
        "(the console says which)",
    )
    parser.add_argument(
        "--arch",
        default=None,
        metavar="NAME|FILE.py:function",
        help="architecture for a state_dict file: a bundled model in models/, or path/to/file.py:function; "
        "this RUNS that Python code (package.module:function outside models/ also needs --trust-model-file)",
    )
    parser.add_argument(
        "--trust-model-file",
        action="store_true",
        help="unpickle classes outside the safe allowlist and let --arch import any module (runs code from "
        "the file or module: only for trusted files)",
    )
    parser.add_argument(
        "--max-memory",
        type=_parse_max_memory,
        default=None,
        metavar="SIZE",
        help="refuse input files that declare larger arrays or tensors than SIZE (e.g. 8G; default 4G, "
        "or $SPECK_DEPLOY_MAX_MEMORY)",
    )


def add_model_arguments(parser: argparse.ArgumentParser, *, device_default: str = "speck2f") -> None:
    """MODEL, --device, --input-shape, --arch, --trust-model-file and the quantisation/readout options."""
    add_loading_arguments(parser)
    add_device_argument(parser, default=device_default)
    q = parser.add_argument_group("quantisation and readout")
    q.add_argument(
        "--quantization",
        choices=("sinabs", "calibrated"),
        default="sinabs",
        help="sinabs: sinabs's per-layer rule, bit for bit (default); calibrated: scales from the membrane "
        "range seen on --calibration input",
    )
    q.add_argument(
        "--calibration",
        type=parse_calibration,
        default=None,
        metavar="FILE",
        help="typical input for --quantization calibrated (.npy/.npz): a raster T,C,H,W in the model's input "
        "shape, or events (chip events, tonic x,y,t,p, or N×5 rows); an .npz uses 'raster' or 'events'",
    )
    q.add_argument(
        "--calibration-dt-ms",
        type=float,
        default=None,
        metavar="MS",
        help="time bin for --calibration events (default 10 ms)",
    )
    q.add_argument(
        "--allow-plain-min-v-mem-none",
        action="store_true",
        help="accept spiking layers with min_v_mem=None although sinabs's rule then collapses their weights",
    )
    q.add_argument(
        "--readout",
        action="store_true",
        help="route the exit layer to the chip's readout layer (the readout class erratum is handled)",
    )
    add_io_arguments(parser)


def add_io_arguments(parser: argparse.ArgumentParser) -> None:
    """--dvs-input, the DVS layer options and --monitor (docs/dvs-input.md)."""
    g = parser.add_argument_group("sensor input and monitoring (docs/dvs-input.md)")
    g.add_argument(
        "--dvs-input",
        action="store_true",
        help="take input from the on-chip DVS sensor (sinabs's dvs_input=True): creates the DVS layer if the "
        "model has none and sets pass_sensor_events",
    )
    g.add_argument(
        "--dvs-pool", type=parse_pair, default=None, metavar="N|NY,NX", help="DVS sum pooling (1, 2 or 4)"
    )
    g.add_argument(
        "--dvs-crop",
        type=parse_crop,
        default=None,
        metavar="T,B,L,R",
        help="DVS region of interest in pooled sensor pixels, end exclusive (the model input's size)",
    )
    g.add_argument("--dvs-flip-x", action="store_true", help="mirror the DVS input along x")
    g.add_argument("--dvs-flip-y", action="store_true", help="mirror the DVS input along y")
    g.add_argument("--dvs-swap-xy", action="store_true", help="swap x and y of the DVS input")
    g.add_argument(
        "--dvs-merge-polarities",
        action="store_true",
        help="merge ON/OFF events into one channel (implied by a 1-channel model input)",
    )
    g.add_argument(
        "--monitor",
        type=parse_monitor,
        default=None,
        metavar="LAYERS",
        help="layers whose spikes go to the host: comma list of indices, -1 (exit layers), dvs; or all, none "
        "(default: the exit layers)",
    )


def dvs_options(args: argparse.Namespace) -> DvsOptions | None:
    """:class:`DvsOptions` from the ``--dvs-*`` flags, or None when none is given."""
    pool = getattr(args, "dvs_pool", None)
    crop = getattr(args, "dvs_crop", None)
    flags = [getattr(args, f"dvs_{n}", False) for n in ("flip_x", "flip_y", "swap_xy", "merge_polarities")]
    if pool is None and crop is None and not any(flags):
        return None
    return DvsOptions(
        merge_polarities=True if flags[3] else None,
        pooling=pool or (1, 1),
        crop=crop,
        flip_x=flags[0],
        flip_y=flags[1],
        swap_xy=flags[2],
    )


def add_core_map_argument(parser: argparse.ArgumentParser) -> None:
    """--core-map LAYER:CORE,..."""
    parser.add_argument(
        "--core-map",
        type=parse_core_map,
        default=None,
        metavar="LAYER:CORE,...",
        help="pin layers to cores by the names the fit matrix and placement tables show (e.g. "
        "features.0:2, or 3:5 for a Sequential's module '3'), or by position when no layer has that name "
        "(others are placed automatically)",
    )


def compile_options(args: argparse.Namespace) -> CompileOptions:
    """:class:`deploy.options.CompileOptions` from parsed arguments.

    Raises:
        DeployError: ``--calibration`` or ``--calibration-dt-ms`` without ``--quantization calibrated``
            (they would be ignored silently), or a non-positive ``--calibration-dt-ms``.
    """
    quantization = getattr(args, "quantization", "sinabs")
    calibration = getattr(args, "calibration", None)
    dt_ms = getattr(args, "calibration_dt_ms", None)
    if quantization != "calibrated" and (calibration is not None or dt_ms is not None):
        raise DeployError(
            "--calibration/--calibration-dt-ms are only used by the calibrated rule: add "
            "`--quantization calibrated` (or drop them to keep sinabs's rule)"
        )
    if dt_ms is not None and not dt_ms > 0:
        raise DeployError(f"--calibration-dt-ms must be > 0, got {dt_ms:g}")
    return CompileOptions(
        architecture=args.arch,
        trust_model_file=args.trust_model_file,
        core_map=getattr(args, "core_map", None),
        quantization=quantization,
        calibration=calibration,
        calibration_dt_us=DEFAULT_CALIBRATION_DT_US if dt_ms is None else round(dt_ms * 1000),
        allow_plain_min_v_mem_none=getattr(args, "allow_plain_min_v_mem_none", False),
        readout=getattr(args, "readout", False),
        dvs_input=getattr(args, "dvs_input", False),
        dvs=dvs_options(args),
        monitor=getattr(args, "monitor", None),
    )


def format_placement(qgraph: QuantizedGraph, placement: Placement) -> str:
    """``layer → core`` table, one line per layer."""
    width = max(len(q.name) for q in qgraph.layers)
    lines = [f"placement{' (manual)' if placement.manual else ''}:"]
    for i, (q, core) in enumerate(zip(qgraph.layers, placement.core_of, strict=True)):
        lines.append(f"  {i} {q.name:<{width}} → core {core}")
    return "\n".join(lines)


def input_shape_line(shape: tuple[int, ...], source: str) -> str:
    """``input shape 2×34×34 (declared by …)``: where the input shape came from, said by every command."""
    return f"input shape {'×'.join(map(str, shape))} ({source or 'from the model'})"


def import_compiler() -> float:
    """Import the compiler's heavy dependencies (torch, sinabs, the front end) now; seconds it took.

    So the compiler's stage timings that a command prints measure the stages, not the first import of
    torch and sinabs (several seconds on a cold start), which is shown apart. The cyclic garbage collector
    is off meanwhile and what was imported is frozen out of its view (:mod:`deploy.lazy_imports`).
    """
    import importlib
    import time

    from deploy.lazy_imports import gc_paused_for_imports, imports_done

    t0 = time.perf_counter()
    with gc_paused_for_imports():
        for name in ("deploy.frontend", "deploy.pipeline", "sinabs.layers"):
            importlib.import_module(name)
        imports_done()
    return time.perf_counter() - t0
