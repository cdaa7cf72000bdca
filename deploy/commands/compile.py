"""``deploy-model compile MODEL --device speck2f -o config.json``: write the chip configuration.

Prints the fit matrix, the placement and the warnings (or, with ``--json``, one JSON summary object). The
file is written atomically by :func:`hwconfig.json_io.save_config`; an existing file is only replaced with
``--force``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from deploy.commands._common import (
    add_core_map_argument,
    add_model_arguments,
    compile_options,
    format_placement,
)

HELP = "compile a model into a chip configuration file (JSON)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    add_core_map_argument(parser)
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="FILE", help="configuration file")
    parser.add_argument("--force", action="store_true", help="replace an existing output file")
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead of tables")


def run(args: argparse.Namespace) -> int:
    from deploy import __version__
    from deploy.outdir import check_output_file
    from deploy.pipeline import compile_model
    from deploy.routing import entry_targets, routing_extra
    from hwconfig.json_io import Provenance, config_hash, save_config

    out: Path = args.output
    check_output_file(out, args.force, protect=[Path(args.model)])
    result = compile_model(args.model, args.device, args.input_shape, compile_options(args))
    placement = {q.name: core for q, core in zip(result.qgraph.layers, result.placement.core_of, strict=True)}
    provenance = Provenance(
        tool_version=__version__,
        source_model_sha256=result.loaded.sha256,
        extra={
            "source": result.loaded.source,
            "placement": placement,
            "command": "compile",
            **routing_extra(entry_targets(result.graph, result.placement), result.graph.input_shape),
        },
    )
    check_output_file(out, args.force, protect=[Path(args.model)])  # again: time has passed
    save_config(out, result.config, result.chip, provenance)
    if args.json:
        summary: dict[str, Any] = {
            "output": str(out),
            "chip": result.chip.name,
            "source": result.loaded.source,
            "config_hash": config_hash(result.config),
            "placement": placement,
            "layers": [
                {
                    "name": q.name,
                    "core": core,
                    "kernel_memory": m.kernel,
                    "neuron_memory": m.neuron,
                    "bias_memory": m.bias,
                    "threshold_high": q.threshold_high,
                    "threshold_low": q.threshold_low,
                }
                for q, core, m in zip(
                    result.qgraph.layers,
                    result.placement.core_of,
                    result.check.fit_matrix.memory,
                    strict=True,
                )
            ],
            "warnings": [{"rule": w.rule, "layer": w.layer, "message": w.message} for w in result.warnings],
            "timings_s": dict(result.timings),
        }
        json.dump(summary, sys.stdout, indent=2)
        print()
        return 0
    print(f"{result.loaded.source} on {result.chip.name}: memory per layer (words) and cores it fits (x)")
    print(result.check.fit_matrix.format())
    print(format_placement(result.qgraph, result.placement))
    for w in result.warnings:
        print(f"warning: {w.message}")
    print(f"wrote {out} (config hash {config_hash(result.config)[:16]})")
    return 0
