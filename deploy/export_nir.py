"""Export a sinabs model to a NIR file that reads back (``deploy-model export``).

``sinabs.to_nir(model, sample)`` followed by ``nir.write`` fails with sinabs 3.1.3 and nir 1.0.4 (the versions
this toolkit pins): sinabs leaves every ``nir.Conv2d`` node's ``input_shape`` at None, which ``nir.write``
cannot serialise ("One of data, shape or dtype must be specified"), and the ``Flatten`` node's
``input_type`` empty. The workaround, documented in ``docs/nir.md``: set the first convolution's input
shape from the model's input, let ``NIRGraph.infer_types()`` propagate the types (it fills the later
convolutions and the Flatten node), then write. :func:`export_nir` does that, writes atomically, and proves
the file by reading it back through this toolkit's own NIR front end and comparing every layer with the
original model's.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deploy.errors import DeployError, ModelLoadError
from deploy.graph import LayerGraph, Shape3
from deploy.options import CompileOptions

if TYPE_CHECKING:
    from torch import nn


class NirExportError(DeployError):
    """The model could not be written as a NIR file that reads back identically."""


@dataclass(frozen=True)
class NirExport:
    """What :func:`export_nir` wrote.

    Attributes:
        path: The ``.nir`` file.
        input_shape: ``(C, H, W)`` used for the sample input and the first convolution.
        nodes: Number of NIR nodes (input and output included).
        layers: Number of chip layers in the file, equal to the original model's (checked).
        input_shape_source: Where the input shape came from (:func:`deploy.inputs.find_input_shape`).
    """

    path: Path
    input_shape: Shape3
    nodes: int
    layers: int
    input_shape_source: str = ""


def _sample_batch(module: nn.Module) -> int:
    """Leading size of a sample input: sinabs's ``*Squeeze`` layers fold time into the batch dimension."""
    for sub in module.modules():
        for attr in ("num_timesteps", "batch_size"):
            value = getattr(sub, attr, None)
            if isinstance(value, int) and value > 0:
                return value
    return 1


def _avgpool_as_sumpool(module: nn.Module) -> tuple[nn.Module, int]:
    """A copy of a sequential ``module`` with each ``nn.AvgPool2d`` as ``SumPool2d`` (NIR has no AvgPool).

    The next Conv2d/Linear's weights are multiplied by 1/k², which is what the chip does too (and what
    :func:`deploy.frontend.normalize` does), so the exported graph computes the same function.

    Returns:
        The module (a deep copy when anything changed) and how many pools were replaced.

    Raises:
        NirExportError: an AvgPool2d that is not square, overlapping or padded, is not followed by a weighted
            layer, or sits in a non-sequential model.
    """
    import copy

    import sinabs.layers as sl
    import torch
    from torch import nn

    if not any(isinstance(m, nn.AvgPool2d) for m in module.modules()):
        return module, 0
    if not isinstance(module, nn.Sequential) or any(isinstance(m, nn.Sequential) for m in module.children()):
        raise NirExportError(
            "NIR export: nn.AvgPool2d (which NIR lacks) can only be rewritten in a flat nn.Sequential; "
            "replace it by sinabs.layers.SumPool2d and divide the next layer's weights by k²"
        )
    out = copy.deepcopy(module)
    layers = list(out)
    replaced = 0
    for i, layer in enumerate(layers):
        if not isinstance(layer, nn.AvgPool2d):
            continue
        k = layer.kernel_size
        stride = layer.stride if layer.stride is not None else k
        if not isinstance(k, int) or stride != k or layer.padding not in (0, (0, 0)):
            raise NirExportError(
                f"NIR export: layer '{i}' ({layer}) is not a square, non-overlapping, unpadded pool; "
                "the chip pools k×k with stride k"
            )
        following = next((m for m in layers[i + 1 :] if isinstance(m, nn.Conv2d | nn.Linear)), None)
        if following is None:
            raise NirExportError(f"NIR export: layer '{i}' ({layer}) is not followed by a Conv2d or Linear")
        with torch.no_grad():
            following.weight.mul_(1.0 / (k * k))
        layers[i] = sl.SumPool2d(kernel_size=k, stride=k)
        replaced += 1
    return nn.Sequential(*layers), replaced


def _fill_conv_shapes(graph: Any, input_shape: Shape3) -> None:
    """The workaround for nir 1.0.4: give the convolutions fed by the input node their (H, W), infer the rest.

    Raises:
        NirExportError: a convolution still has no input shape after type inference.
    """
    import nir

    fed_by_input = {dst for src, dst in graph.edges if isinstance(graph.nodes[src], nir.Input)}
    for name in fed_by_input:
        node = graph.nodes[name]
        if isinstance(node, nir.Conv2d) and node.input_shape is None:
            node.input_shape = np.array(input_shape[1:])
    # infer_types prints its progress ("[warning] ... undefined, set to ...") on stdout: keep stdout for the
    # command's own output (one JSON document with --json).
    with contextlib.redirect_stdout(io.StringIO()):
        graph.infer_types()
    missing = [
        n for n, node in graph.nodes.items() if isinstance(node, nir.Conv2d) and node.input_shape is None
    ]
    if missing:
        raise NirExportError(
            f"NIR export: the input shape of convolution node(s) {missing} could not be inferred; give the "
            "model's input with --input-shape C,H,W"
        )


@contextlib.contextmanager
def _staged_file(path: Path) -> Iterator[Path]:
    """A temporary ``.nir`` beside ``path``, renamed over ``path`` only if the ``with`` block succeeds."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp.nir", dir=path.parent)
    os.close(fd)
    staged = Path(tmp)
    try:
        yield staged
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)


def _same_layers(original: LayerGraph, reread: LayerGraph) -> str | None:
    """None when both graphs have the same chip layers and edges, else what differs first."""
    if len(original.layers) != len(reread.layers):
        return f"{len(original.layers)} layers in the model, {len(reread.layers)} in the file"
    for i, (a, b) in enumerate(zip(original.layers, reread.layers, strict=True)):
        same = (
            a.in_shape == b.in_shape
            and a.stride == b.stride
            and a.padding == b.padding
            and a.weight.shape == b.weight.shape
            and np.array_equal(a.weight, b.weight)
            and (a.bias is None) == (b.bias is None)
            and (a.bias is None or b.bias is None or np.array_equal(a.bias, b.bias))
            and a.threshold == b.threshold
            and a.min_v_mem == b.min_v_mem
            and a.reset == b.reset
        )
        if not same:
            return f"layer {i} ('{a.name}' in the model, '{b.name}' in the file) differs"
    if [(e.src, e.dst, e.pooling, e.feature_shift) for e in original.edges] != [
        (e.src, e.dst, e.pooling, e.feature_shift) for e in reread.edges
    ]:
        return "the connections between layers differ"
    return None


def export_nir(
    model: str | Path | nn.Module,
    path: str | os.PathLike[str],
    input_shape: Shape3 | None = None,
    options: CompileOptions | None = None,
) -> NirExport:
    """Write ``model`` as a NIR file that sinabs 3.1.3 + nir 1.0.4 and this toolkit read back.

    Args:
        model: A model file (loaded safely, as :func:`deploy.pipeline.compile_model` does) or an
            ``nn.Module``.
        path: The ``.nir`` file to write; replaced atomically if it exists (the caller decides whether it
            may be).
        input_shape: ``(C, H, W)`` of one input frame; None to take the one the model declares.
        options: Loading options (``architecture``, ``trust_model_file``); the rest is unused.

    Returns:
        What was written.

    Raises:
        ModelLoadError: the model cannot be loaded or its input shape is unknown.
        NirExportError: sinabs cannot convert the model, or the file does not read back identically.
    """
    import nir
    import sinabs
    import torch

    from deploy.frontend import load_model, normalize

    opts = options or CompileOptions()
    target = Path(path)
    if target.suffix != ".nir":
        raise NirExportError(f"NIR export: '{target}' must end in .nir")
    if not target.parent.is_dir():
        raise NirExportError(f"NIR export: directory '{target.parent}' does not exist; create it first")
    loaded = load_model(
        model, architecture=opts.architecture, input_shape=input_shape, trust_model_file=opts.trust_model_file
    )
    if loaded.module is None or loaded.nir_graph is not None:
        raise NirExportError(f"NIR export: {loaded.source} is already a NIR graph; copy the file instead")
    from deploy.inputs import find_input_shape

    model_path = Path(model) if isinstance(model, (str, Path)) else None
    shape, shape_source = find_input_shape(model_path, loaded, input_shape)
    if shape is None:
        raise ModelLoadError(
            f"NIR export: the input shape of {loaded.source} is unknown; pass --input-shape C,H,W"
        )
    module, _ = _avgpool_as_sumpool(loaded.module)
    sample = torch.zeros(_sample_batch(module), *shape)
    try:
        # sinabs 3.1.3 calls nirtorch's deprecated extract_nir_graph: not the user's concern.
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            graph = sinabs.to_nir(module, sample)
    except Exception as exc:  # sinabs raises plain exceptions for unsupported modules
        raise NirExportError(
            f"NIR export: sinabs.to_nir cannot convert {loaded.source} ({type(exc).__name__}: {exc}); "
            "NIR supports Conv2d, Linear, IAF/IAFSqueeze, SumPool2d and Flatten (replace nn.AvgPool2d by "
            "sinabs.layers.SumPool2d with the next layer's weights divided by k²)"
        ) from None
    _fill_conv_shapes(graph, shape)
    original = normalize(loaded, shape)
    with _staged_file(target) as staged:
        nir.write(str(staged), graph)
        difference = _same_layers(original, normalize(load_model(staged, input_shape=shape), shape))
        if difference is not None:
            raise NirExportError(
                f"NIR export: the file sinabs wrote does not read back as the model ({difference}); nothing "
                "was written. Please report this with the model."
            )
    return NirExport(
        path=target,
        input_shape=shape,
        nodes=len(graph.nodes),
        layers=len(original.layers),
        input_shape_source=shape_source,
    )
