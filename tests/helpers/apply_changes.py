"""Apply a joint fix's :class:`deploy.fixes.LayerChange` s to a torch ``nn.Sequential`` (test helper).

Written independently of :mod:`deploy.fixes` (which changes the compiler's graph): here the torch model is
edited the way a user would edit it, and the edited model is then checked from scratch.

- ``stride``: the Conv2d's stride; ``padding``: its padding; ``kernel_size``: a new Conv2d with the centre of
  the old kernel.
- ``out_channels``: the first ``new`` filters of the Conv2d kept, and the next Conv2d/Linear keeps the inputs
  that read them.
- ``pooling``: a ``SumPool2d`` after the layer's spiking neuron (or the existing one changed).
- Afterwards every Linear whose input size no longer matches the flattened map is rebuilt for the new size.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Sequence

import sinabs.layers as sl
import torch
from torch import nn

from deploy.fixes import LayerChange


def _index(model: nn.Sequential, name: str) -> int:
    names = [n for n, _ in model.named_children()]
    return names.index(name)


def _next_weight_layer(model: nn.Sequential, i: int) -> int | None:
    for j in range(i + 1, len(model)):
        if isinstance(model[j], (nn.Conv2d, nn.Linear)):
            return j
    return None


def _keep_out_channels(model: nn.Sequential, i: int, f: int) -> None:
    conv = model[i]
    old = conv.out_channels
    new = nn.Conv2d(
        conv.in_channels, f, conv.kernel_size, conv.stride, conv.padding, bias=conv.bias is not None
    )
    with torch.no_grad():
        new.weight.copy_(conv.weight[:f])
        if conv.bias is not None:
            new.bias.copy_(conv.bias[:f])
    model[i] = new
    j = _next_weight_layer(model, i)
    if j is None:
        return
    nxt = model[j]
    with torch.no_grad():
        if isinstance(nxt, nn.Conv2d):
            repl = nn.Conv2d(
                f, nxt.out_channels, nxt.kernel_size, nxt.stride, nxt.padding, bias=nxt.bias is not None
            )
            repl.weight.copy_(nxt.weight[:, :f])
        else:  # Linear after Flatten: inputs are (C, H, W) row-major, so the first f·H·W read channels < f
            per_channel = nxt.in_features // old
            repl = nn.Linear(f * per_channel, nxt.out_features, bias=nxt.bias is not None)
            repl.weight.copy_(nxt.weight[:, : f * per_channel])
        if nxt.bias is not None:
            repl.bias.copy_(nxt.bias)
    model[j] = repl


def _set_kernel(model: nn.Sequential, i: int, k: int) -> None:
    conv = model[i]
    kh, kw = conv.kernel_size
    new = nn.Conv2d(
        conv.in_channels, conv.out_channels, k, conv.stride, conv.padding, bias=conv.bias is not None
    )
    y0, x0 = (kh - k) // 2, (kw - k) // 2
    with torch.no_grad():
        new.weight.copy_(conv.weight[:, :, y0 : y0 + k, x0 : x0 + k])
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    model[i] = new


def _set_pooling(model: nn.Sequential, i: int, p: int) -> nn.Sequential:
    j = i + 1
    while j < len(model) and not isinstance(model[j], sl.IAFSqueeze):
        j += 1
    if j + 1 < len(model) and isinstance(model[j + 1], (sl.SumPool2d, nn.AvgPool2d)):
        model[j + 1] = sl.SumPool2d(p)
        return model
    mods = list(model)
    mods.insert(j + 1, sl.SumPool2d(p))
    names = [n for n, _ in model.named_children()]
    # Keep the weight layers' names (the module paths the changes refer to); the new pool gets a fresh one.
    new_names = [*names[: j + 1], f"pool_after_{names[i]}", *names[j + 1 :]]
    return nn.Sequential(OrderedDict(zip(new_names, mods, strict=True)))


def _fit_linears(model: nn.Sequential, input_shape: tuple[int, int, int]) -> None:
    x = torch.zeros(1, *input_shape)
    for j, m in enumerate(model):
        if isinstance(m, nn.Linear) and m.in_features != x[0].numel():
            model[j] = m = nn.Linear(x[0].numel(), m.out_features, bias=m.bias is not None)
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Flatten, sl.SumPool2d, nn.AvgPool2d)):
            x = m(x)


def apply_changes_to_module(
    model: nn.Sequential, changes: Sequence[LayerChange], input_shape: tuple[int, int, int]
) -> nn.Sequential:
    """A copy of ``model`` with ``changes`` applied (module names as in ``LayerChange.layer_name``)."""
    out = copy.deepcopy(model)
    for c in changes:
        i = _index(out, c.layer_name)
        conv = out[i]
        if c.field == "stride":
            conv.stride = (c.new, c.new)
        elif c.field == "padding":
            conv.padding = (c.new, c.new)
        elif c.field == "kernel_size":
            _set_kernel(out, i, c.new)
        elif c.field == "out_channels":
            _keep_out_channels(out, i, c.new)
        elif c.field == "pooling":
            out = _set_pooling(out, i, c.new)
        else:
            raise AssertionError(f"unknown field {c.field}")
    _fit_linears(out, input_shape)
    return out
