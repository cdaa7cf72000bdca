"""``deploy-model export MODEL -o model.nir``: write a model as a NIR file that reads back.

sinabs 3.1.3's ``to_nir`` + nir 1.0.4's ``write`` fail on their own; :func:`deploy.export_nir.export_nir`
applies the workaround (``docs/nir.md``) and proves the file by reading it back.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deploy.commands import _common
from deploy.commands._console import Reporter
from deploy.errors import DeployError
from deploy.options import CompileOptions

HELP = "export a model as a NIR graph (.nir) that sinabs 3.1.3 + nir 1.0.4 and deploy-model read back"


def add_arguments(p: argparse.ArgumentParser) -> None:
    _common.add_loading_arguments(p)
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="FILE.nir",
        help="NIR FILE to write (a file, as for `compile -o`)",
    )
    p.add_argument("--force", action="store_true", help="replace FILE.nir if it exists")
    _common.add_output_arguments(p)


def run(args: argparse.Namespace) -> int:
    from deploy.export_nir import export_nir

    out: Path = args.output
    if (out.exists() or out.is_symlink()) and not args.force:
        raise DeployError(f"{out} exists; pass --force to replace it, or choose another file with -o")
    if out.exists() and not out.is_file():
        raise DeployError(f"{out} exists and is not a regular file; choose another path with -o")
    options = CompileOptions(architecture=args.arch, trust_model_file=args.trust_model_file)
    result = export_nir(args.model, out, args.input_shape, options)
    console = Reporter.from_args(args)
    console.note(_common.input_shape_line(result.input_shape, result.input_shape_source))
    if console.json_mode:
        console.json(
            {
                "nir": str(result.path),
                "input_shape": list(result.input_shape),
                "input_shape_source": result.input_shape_source,
                "nodes": result.nodes,
                "layers": result.layers,
            }
        )
    else:
        console.line(
            f"wrote {result.path}: {result.nodes} NIR nodes, input {result.input_shape}; read back through "
            f"deploy-model's NIR front end: {result.layers} chip layers, identical to the model"
        )
    return 0
