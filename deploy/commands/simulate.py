"""``deploy-model simulate CONFIG.json --input EVENTS [-o DIR]``: run a saved configuration on the simulator.

The configuration is read with :func:`hwconfig.json_io.load_config` (validated against the chip named in the
file). Input events as for ``deploy-model run --input``: tonic-style events (``x, y, t, p``) go to the entry
core(s) the file records (``provenance.extra.routing``, :mod:`deploy.routing`); a file without that record
sends them to the DVS layer when it has destinations, else to the cores no other core sends to, and says
so. Chip events and N×5 rows keep their ``layer``. Prints the per-core counters; with ``-o DIR`` writes
``output_events.npy`` and ``simulation.json`` atomically (``--force`` replaces DIR).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from deploy.commands import _common

HELP = "run a saved chip configuration (config.json) on input events with the bit-accurate simulator"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", type=Path, metavar="CONFIG.json", help="configuration written by deploy-model")
    p.add_argument(
        "--input",
        type=Path,
        required=True,
        metavar="EVENTS",
        help="events file (.npy/.npz): tonic-style (x, y, t, p), chip events, or N×5 rows",
    )
    p.add_argument(
        "--slow-clock-hz",
        type=int,
        default=None,
        metavar="HZ",
        help="slow clock driving leak (bias); default none, so biases have no effect (SPECK_SEMANTICS §2.4)",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        metavar="DIR",
        help="write output_events.npy and simulation.json to this DIRECTORY (as `run -o`)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    _common.add_device_argument(
        p, default=None, help_text="the chip the configuration must be for (checked against the file)"
    )
    _common.add_output_arguments(p, verbose_help="also list the output events per core")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from deploy.errors import DeployError
    from deploy.inputs import is_tonic, read_event_file, tonic_to_chip
    from deploy.lazy_imports import import_simulator
    from deploy.options import RunOptions
    from deploy.outdir import atomic_output_dir, check_output_dir
    from deploy.routing import entry_targets_from
    from deploy.sim.events import as_events, save_events, validate_events
    from deploy.sim.simulator import simulate
    from hwconfig.chips import get_chip
    from hwconfig.json_io import config_hash, load_config

    import_simulator()  # numba, with the garbage collector paused
    options = RunOptions(slow_clock_hz=args.slow_clock_hz).sim_options()  # checks --slow-clock-hz
    if args.output is not None:
        check_output_dir(args.output.absolute(), args.force, protect=[args.config, args.input])
    loaded = load_config(args.config)
    chip = get_chip(loaded.chip)
    if args.device is not None and args.device.name != chip.name:
        raise DeployError(
            f"{args.config} is a configuration for {chip.name}, not {args.device.name} (--device); compile "
            f"the model again with --device {args.device.name}, or drop --device"
        )
    raw, _label = read_event_file(args.input)
    targets, note = entry_targets_from(loaded.config, loaded.provenance.extra, str(args.config))
    if is_tonic(raw):
        events = tonic_to_chip(raw, targets, f"input events file '{args.input}'")
    else:
        events = as_events(raw, source=f"input events file '{args.input}'")
    validate_events(events, loaded.config, dvs_size=chip.dvs_size)
    result = simulate(loaded.config, events, options, chip=chip)
    counters = {k: [int(v) for v in arr] for k, arr in result.counters().items()}
    doc: dict[str, Any] = {
        "config": str(args.config),
        "chip": chip.name,
        "config_hash": config_hash(loaded.config),
        "input": str(args.input),
        "entry_targets": targets,
        "notes": [note] if note is not None and is_tonic(raw) else [],
        "n_input_events": len(events),
        "n_output_events": len(result.events),
        "output_events_per_core": {
            str(c): int(n)
            for c, n in zip(*np.unique(result.events["layer"], return_counts=True), strict=True)
        },
        "cores": counters,
        "readout_counts": [int(v) for v in result.readout_counts],
    }
    if args.output is not None:
        with atomic_output_dir(args.output, force=args.force, protect=[args.config, args.input]) as tmp:
            save_events(tmp / "output_events.npy", result.events)
            (tmp / "simulation.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0
    out = Console(quiet=args.quiet, highlight=False)
    out.print(
        f"{args.config} ({chip.name}): {len(events):,} input events → {len(result.events):,} output events",
        markup=False,
    )
    for text in doc["notes"]:
        out.print(f"note: {text}", markup=False)
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("core", justify="right")
    for name in counters:
        table.add_column(name, justify="right")
    for core in loaded.config.used_cores():
        table.add_row(str(core), *(f"{counters[name][core]:,}" for name in counters))
    out.print(table)
    if args.verbose:
        for core, n in doc["output_events_per_core"].items():
            out.print(f"core {core}: {n:,} output events")
    if args.output is not None:
        out.print(f"wrote {args.output}/ (output_events.npy, simulation.json)", markup=False)
    return 0
