"""``deploy-model compile MODEL --device speck2f -o config.json``: write the chip configuration.

Prints the input shape's source, the fit matrix, the placement and the warnings (or, with ``--json``, one
JSON summary object). ``-o`` is a *file* here (``run -o`` is a directory). The file is written atomically by
:func:`hwconfig.json_io.save_config`; an existing file is only replaced with ``--force``. The timings are the
compiler stages' own (``compile.<stage>`` in ``timings_s``), measured without the time spent importing
torch and sinabs (``imports``, shown apart).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from deploy.commands._common import (
    add_core_map_argument,
    add_model_arguments,
    add_output_arguments,
    compile_options,
    format_placement,
    import_compiler,
    input_shape_line,
)
from deploy.commands._console import Reporter

HELP = "compile a model into a chip configuration file (JSON)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    add_core_map_argument(parser)
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        metavar="FILE",
        help="configuration FILE to write (JSON; a file, whereas `run -o` names a directory)",
    )
    parser.add_argument("--force", action="store_true", help="replace an existing output file")
    add_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    imports_s = import_compiler()
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
    console = Reporter.from_args(args)
    console.note(input_shape_line(result.graph.input_shape, result.input_shape_source))
    digest = config_hash(result.config)
    if args.json:
        summary: dict[str, Any] = {
            "output": str(out),
            "chip": result.chip.name,
            "source": result.loaded.source,
            "config_hash": digest,
            "input_shape": list(result.graph.input_shape),
            "input_shape_source": result.input_shape_source,
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
            "timings_s": {"imports": imports_s, **{f"compile.{k}": v for k, v in result.timings.items()}},
        }
        console.json(summary)
        return 0
    console.line(
        f"{result.loaded.source} on {result.chip.name}: memory per layer (words) and cores it fits (x)"
    )
    console.line(result.check.fit_matrix.format())
    console.line(format_placement(result.qgraph, result.placement))
    for w in result.warnings:
        console.line(f"warning: {w.message}")
    stages = ", ".join(f"{k} {1000 * v:.1f}" for k, v in result.timings.items())
    console.line(f"compiler stages (ms, without imports): {stages}; imports {imports_s:.2f} s")
    console.line(f"wrote {out} (config hash {digest})")
    return 0
