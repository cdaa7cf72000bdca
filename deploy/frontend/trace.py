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


def trace_graph(module: nn.Module) -> torch.fx.Graph:
    """Trace ``module`` with :class:`SinabsTracer` into a bare ``torch.fx.Graph``.

    Cheaper than :func:`trace`: no Python code is generated for a ``GraphModule`` (that took about half
    of the front end's time on the reference networks). ``call_module`` targets are paths into ``module``
    itself (``module.get_submodule(node.target)``).

    Args:
        module: The model; a ``torch.fx.GraphModule``'s own graph is returned.

    Raises:
        UnsupportedLayerError: The forward pass cannot be traced (data-dependent Python control flow).
    """
    if isinstance(module, torch.fx.GraphModule):
        return module.graph
    try:
        return SinabsTracer().trace(module)
    except Exception as exc:
        raise UnsupportedLayerError(
            [
                f"'{type(module).__name__}.forward' cannot be traced by torch.fx ({type(exc).__name__}: "
                f"{exc}); the compiler needs a static graph: remove Python control flow that depends on "
                "tensor values or shapes from forward(), or express the model as nn.Sequential / "
                "sinabs.layers.Merge blocks"
            ]
        ) from None


def trace(module: nn.Module) -> torch.fx.GraphModule:
    """Trace ``module`` with :class:`SinabsTracer` into a ``GraphModule``.

    Args:
        module: The model; a ``torch.fx.GraphModule`` is returned unchanged.

    Returns:
        A GraphModule whose ``call_module`` targets are the model's module paths.

    Raises:
        UnsupportedLayerError: The forward pass cannot be traced (data-dependent Python control flow).
    """
    if isinstance(module, torch.fx.GraphModule):
        return module
    return torch.fx.GraphModule(module, trace_graph(module), class_name=type(module).__name__)
