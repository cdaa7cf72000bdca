"""Tracing sinabs models into a ``torch.fx`` graph.

``torch.fx.symbolic_trace`` fails inside sinabs layers (``IAFSqueeze`` and ``Merge`` branch on tensor
shapes in Python), so every module from the ``sinabs`` package is traced as a leaf, like torch.nn's own
layers (DESIGN.md, "Facts checked in this environment").
"""

from __future__ import annotations

import torch.fx
from torch import nn

from deploy.errors import UnsupportedLayerError


def is_sinabs_module(m: nn.Module) -> bool:
    """True for any module class defined in the ``sinabs`` package."""
    return type(m).__module__.split(".", 1)[0] == "sinabs"


class SinabsTracer(torch.fx.Tracer):
    """An fx tracer that keeps torch.nn and sinabs modules as leaves (``call_module`` nodes)."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        if is_sinabs_module(m):
            return True
        return super().is_leaf_module(m, module_qualified_name)


def trace(module: nn.Module) -> torch.fx.GraphModule:
    """Trace ``module`` with :class:`SinabsTracer`.

    Args:
        module: The model; a ``torch.fx.GraphModule`` is returned unchanged.

    Returns:
        A GraphModule whose ``call_module`` targets are the model's module paths.

    Raises:
        UnsupportedLayerError: The forward pass cannot be traced (data-dependent Python control flow).
    """
    if isinstance(module, torch.fx.GraphModule):
        return module
    try:
        graph = SinabsTracer().trace(module)
    except Exception as exc:
        raise UnsupportedLayerError(
            [
                f"'{type(module).__name__}.forward' cannot be traced by torch.fx ({type(exc).__name__}: "
                f"{exc}); the compiler needs a static graph: remove Python control flow that depends on "
                "tensor values or shapes from forward(), or express the model as nn.Sequential / "
                "sinabs.layers.Merge blocks"
            ]
        ) from None
    return torch.fx.GraphModule(module, graph, class_name=type(module).__name__)
