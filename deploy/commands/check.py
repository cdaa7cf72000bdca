"""``deploy-model check MODEL --device speck``: does the model fit the chip?

Exit 0 when it fits (prints the fit matrix, the placement and any warnings); exit 2 with the fit matrix and
every violation (or the reason no placement exists) otherwise.
"""

from __future__ import annotations

import argparse
import sys

from deploy.commands._common import (
    add_core_map_argument,
    add_model_arguments,
    compile_options,
    format_placement,
)

HELP = "check a model against the chip's limits and show how it maps onto the cores"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    add_core_map_argument(parser)


def run(args: argparse.Namespace) -> int:
    from deploy.pipeline import check_model

    verdict = check_model(args.model, args.device, args.input_shape, compile_options(args))
    print(f"{verdict.loaded.source} on {verdict.chip.name}: memory per layer (words) and cores it fits (x)")
    print(verdict.check.fit_matrix.format())
    if verdict.placement is not None:
        print(format_placement(verdict.qgraph, verdict.placement))
    warnings = verdict.check.warnings + verdict.placement_warnings
    if warnings:
        print(f"{len(warnings)} warning(s):")
        for w in warnings:
            print(f"  - {w.message}")
    if verdict.fits:
        print(f"OK: the model fits {verdict.chip.name}")
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
