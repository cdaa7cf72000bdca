"""``deploy-model check MODEL --device speck``: does the model fit the chip?

Exit 0 when it fits (prints the fit matrix, the placement and any warnings); exit 2 with the fit matrix and
every violation (or the reason no placement exists) otherwise. With ``--json``: one document on stdout,
:func:`check_document`, in both cases.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from deploy.pipeline import ModelCheck

HELP = "check a model against the chip's limits and show how it maps onto the cores"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    add_core_map_argument(parser)
    add_output_arguments(parser)


def check_document(verdict: ModelCheck) -> dict[str, Any]:
    """The ``--json`` document of ``check``."""
    fit = verdict.check.fit_matrix
    placement = verdict.placement
    return {
        "model": verdict.loaded.source,
        "chip": verdict.chip.name,
        "fits": verdict.fits,
        "input_shape": list(verdict.graph.input_shape),
        "input_shape_source": verdict.input_shape_source,
        "fit_matrix": {
            "layers": list(fit.layer_names),
            "cores": list(fit.core_ids),
            "fits": [list(row) for row in fit.fits],
            "memory": [{"kernel": m.kernel, "neuron": m.neuron, "bias": m.bias} for m in fit.memory],
        },
        "placement": (
            None
            if placement is None
            else {q.name: core for q, core in zip(verdict.qgraph.layers, placement.core_of, strict=True)}
        ),
        "violations": [v.message for v in verdict.check.violations],
        "placement_error": None if verdict.placement_error is None else str(verdict.placement_error),
        "warnings": [w.message for w in verdict.check.warnings + verdict.placement_warnings],
    }


def run(args: argparse.Namespace) -> int:
    import_compiler()
    from deploy.pipeline import check_model

    console = Reporter.from_args(args)
    verdict = check_model(args.model, args.device, args.input_shape, compile_options(args))
    console.note(input_shape_line(verdict.graph.input_shape, verdict.input_shape_source))
    if args.json:
        console.json(check_document(verdict))
    else:
        _print_verdict(console, verdict)
    if verdict.fits:
        return 0
    from deploy.fixes import find_joint_fix, format_joint_fix

    fix = find_joint_fix(verdict.graph, verdict.chip, compile_options(args))
    print(format_joint_fix(fix, verdict.chip), flush=True)  # before the violations on stderr
    if verdict.check.violations:
        print(
            f"deploy-model: error: the model does not fit {verdict.chip.name} "
            f"({len(verdict.check.violations)} violation(s)):",
            file=sys.stderr,
        )
        for v in verdict.check.violations:
            print(f"  - {v.message}", file=sys.stderr)
    if verdict.placement_error is not None:
        print(f"deploy-model: error: {verdict.placement_error}", file=sys.stderr)
    return 2


def _print_verdict(console: Reporter, verdict: ModelCheck) -> None:
    console.line(
        f"{verdict.loaded.source} on {verdict.chip.name}: memory per layer (words) and cores it fits (x)"
    )
    console.line(verdict.check.fit_matrix.format())
    if verdict.placement is not None:
        console.line(format_placement(verdict.qgraph, verdict.placement))
    warnings = verdict.check.warnings + verdict.placement_warnings
    if warnings:
        console.line(f"{len(warnings)} warning(s):")
        for w in warnings:
            console.line(f"  - {w.message}")
    if verdict.fits:
        console.line(f"OK: the model fits {verdict.chip.name}")
