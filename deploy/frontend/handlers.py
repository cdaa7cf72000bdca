"""Dispatch tables: which handler normalises a traced module, function or tensor method.

Modules are looked up by class along the MRO, so a subclass of a torch or sinabs layer gets its base's
handler (the most specific entry wins). An entry marked ``exact`` applies to that class only (sinabs
``IAFSqueeze`` and ``IAF``: their subclasses change the neuron model). A sinabs ``DVSLayer`` is recognised
before the table (:func:`deploy.frontend.dvs.is_dvs_layer`; sinabs's dynapcnn backend needs samna, so its
class cannot be imported).

Only leaf modules reach the module table: torch.nn and sinabs classes (:mod:`deploy.frontend.trace`),
including sinabs's own subclasses of torch layers (``FlattenTime`` is an ``nn.Flatten``, ``SumPool2d`` an
``nn.LPPool2d``). A subclass defined in the user's code is traced through its own ``forward()``, so what it
computes is what gets normalised.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from deploy.frontend import layers, rejections
from deploy.frontend.dvs import dvs_layer, is_dvs_layer
from deploy.frontend.spiking import spiking
from deploy.frontend.values import Call, Handler, Meta, Pre, Spikes, State, Value

__all__ = ["Handler", "function_handler", "method_handler", "module_handler"]


@dataclass(frozen=True)
class Rule:
    """A module table entry: the handler, and whether it applies to subclasses too."""

    handler: Handler
    exact: bool = False


def _meta(call: Call, st: State) -> Value:
    """``x.size(0)``, ``x.dim()``: a number used to compute a reshape."""
    return Meta()


@functools.cache
def module_table() -> dict[type, Rule]:
    """Module class → rule (sinabs is imported on first use)."""
    import sinabs.layers as sl

    table: dict[type, Rule] = {cls: Rule(h) for cls, h in rejections.module_rejections().items()}
    table[sl.IAF] = Rule(rejections.reject(rejections.PLAIN_IAF), exact=True)
    passthrough = (nn.Identity, nn.Dropout, nn.Dropout2d, nn.Dropout1d, nn.AlphaDropout)
    # FlattenTime/UnflattenTime fold batch and time only; the chip sees one frame at a time.
    table.update(dict.fromkeys((*passthrough, sl.FlattenTime, sl.UnflattenTime), Rule(layers.passthrough)))
    table.update(
        {
            sl.Merge: Rule(layers.merge),
            nn.Flatten: Rule(layers.flatten_module),
            nn.Conv2d: Rule(layers.conv),
            nn.Linear: Rule(layers.linear),
            nn.BatchNorm2d: Rule(layers.batchnorm),
            nn.BatchNorm1d: Rule(layers.batchnorm),
            sl.SumPool2d: Rule(layers.pool),
            nn.AvgPool2d: Rule(layers.pool),
            sl.IAFSqueeze: Rule(spiking, exact=True),
        }
    )
    return table


def module_handler(m: nn.Module) -> Handler:
    """The handler for module ``m``: the DVS hook, then the table along ``type(m).__mro__``."""
    if is_dvs_layer(m):
        return dvs_layer
    table = module_table()
    for cls in type(m).__mro__:
        rule = table.get(cls)
        if rule is not None and (not rule.exact or cls is type(m)):
            return rule.handler
    return rejections.unsupported_module


def _getattr(call: Call, st: State) -> Value:
    """``getattr(x, "shape")`` on a tensor: metadata for a reshape."""
    if isinstance(call.arg(), (Spikes, Pre)):
        return Meta()
    return rejections.unsupported_function(call, st)


FUNCTION_TABLE: dict[Callable[..., Any], Handler] = {
    operator.add: layers.merge,
    operator.iadd: layers.merge,
    torch.add: layers.merge,
    torch.cat: layers.concat,
    torch.concat: layers.concat,
    torch.flatten: layers.flatten_function,
    **dict.fromkeys(
        (torch.relu, torch.sigmoid, torch.tanh, nn.functional.relu, nn.functional.sigmoid),
        rejections.non_spiking_function,
    ),
    getattr: _getattr,
}
"""Function in ``forward()`` → handler."""

METHOD_TABLE: dict[str, Handler] = {
    "size": _meta,
    "dim": _meta,
    **dict.fromkeys(("flatten", "view", "reshape"), layers.flatten_method),
    **dict.fromkeys(("add", "add_", "__add__"), layers.merge),
    **dict.fromkeys(("relu", "relu_", "sigmoid", "tanh"), rejections.non_spiking_method),
    **dict.fromkeys(("contiguous", "clone", "detach", "float"), layers.passthrough),
}
"""Tensor method name in ``forward()`` → handler."""


def function_handler(fn: Any) -> Handler:
    """The handler for a function called in ``forward()``."""
    try:
        return FUNCTION_TABLE.get(fn, rejections.unsupported_function)
    except TypeError:  # an unhashable callable
        return rejections.unsupported_function


def method_handler(method: str) -> Handler:
    """The handler for a tensor method called in ``forward()``."""
    return METHOD_TABLE.get(method, rejections.unsupported_method)
