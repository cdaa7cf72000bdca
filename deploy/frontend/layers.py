"""Handlers for the supported constructs other than spiking layers: weight layers, BatchNorm, pooling,
flatten, merge (``+``) and concatenation (``torch.cat``).

Each handler takes a :class:`~deploy.frontend.values.Call` and the :class:`~deploy.frontend.values.State`
and returns the node's :data:`~deploy.frontend.values.Value`; problems are reported on the state.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.fx
from torch import nn

from deploy.frontend.values import (
    INPUT,
    Bad,
    Call,
    Meta,
    Pre,
    Spikes,
    Src,
    State,
    Value,
    consume,
    describe,
    is_silent,
    pair,
)


def passthrough(call: Call, st: State) -> Value:
    """Identity, Dropout, FlattenTime, ``x.contiguous()``…: the value passes unchanged."""
    return call.arg()


def not_spikes(path: str, m: Any, x: Value, st: State, what: str) -> Bad:
    """Report a module that needs spikes but receives a weight layer's raw output (or something else)."""
    if isinstance(x, Bad):
        return x
    if isinstance(x, Pre):
        x.consumed = True
        if x.bad:
            return Bad()
        return st.problem(
            path,
            m,
            f"receives the output of '{x.name}' without a spiking layer in between; {what} needs spikes: "
            "put sinabs.layers.IAFSqueeze after each Conv2d/Linear (one chip layer = conv → IAF → pooling)",
        )
    return st.problem(path, m, f"cannot be applied here ({what})")


# --- merge, flatten, concatenation ------------------------------------------------------------------


def merge(call: Call, st: State) -> Value:
    """``sinabs.layers.Merge``, ``a + b``, ``torch.add``, ``a.add(b)``: a sum of two spike trains."""
    path, m, a, b = call.name, call.target, call.arg(0), call.arg(1)
    if is_silent(a) or is_silent(b):
        consume(a, b)
        return Bad()
    if not isinstance(a, Spikes) or not isinstance(b, Spikes):
        consume(a, b)
        return st.problem(
            path,
            m,
            "adds values that are not spike trains (a Conv2d/Linear output before its IAFSqueeze); the chip "
            "can only merge spikes of two layers into the next layer: put IAFSqueeze before the merge",
        )
    if a.shape != b.shape:
        return st.problem(
            path,
            m,
            f"merges inputs of different shapes {a.shape} and {b.shape}; on chip both sources must have "
            "the same (pooled) shape, which sinabs's zero padding cannot express: make both shapes equal",
        )
    return Spikes(a.srcs + b.srcs, a.shape, a.map_shape)


def flatten_value(path: str, m: Any, x: Value, st: State, start_dim: int = 1) -> Value:
    """Flatten ``x`` from ``start_dim`` (only (C, H, W) → C·H·W is possible)."""
    if isinstance(x, Bad):
        return x
    if isinstance(x, Pre):
        # A flattened conv output is still a conv output; the spiking layer may follow the flatten.
        x.shape = (math.prod(x.shape),)
        return x
    if isinstance(x, Meta):
        return st.problem(path, m, "cannot be applied here (flatten)")
    if start_dim not in (1, -3, 0) and len(x.shape) == 3:
        return st.problem(
            path, m, f"flattens from dim {start_dim}; only flattening (C, H, W) to C·H·W is supported"
        )
    return Spikes(x.srcs, (math.prod(x.shape),), x.map_shape)


def flatten_module(call: Call, st: State) -> Value:
    """``nn.Flatten``."""
    m: nn.Flatten = call.target
    return flatten_value(call.name, m, call.arg(), st, start_dim=m.start_dim)


def flatten_function(call: Call, st: State) -> Value:
    """``torch.flatten(x, start_dim)``."""
    node = call.node
    start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
    return flatten_value(
        call.name, call.target, call.arg(), st, start_dim=start if isinstance(start, int) else 1
    )


def flatten_method(call: Call, st: State) -> Value:
    """``x.flatten()``, ``x.view(...)``, ``x.reshape(...)``."""
    return flatten_value(call.name, call.target, call.arg(), st)


def concat(call: Call, st: State) -> Value:
    """``torch.cat([...], dim=1)`` of spike trains: each source lands at a feature offset (feature_shift)."""
    node = call.node
    parts = node.args[0] if node.args else node.kwargs.get("tensors", ())
    dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
    inputs = (
        [call.values[p] for p in parts if isinstance(p, torch.fx.Node)]
        if isinstance(parts, (list, tuple))
        else []
    )
    if any(is_silent(v) for v in inputs):
        consume(*inputs)
        return Bad()
    spikes = [v for v in inputs if isinstance(v, Spikes)]
    if len(spikes) != len(inputs) or not inputs:
        consume(*inputs)
        return st.problem(
            call.name,
            torch.cat,
            "concatenates values that are not spike trains (a Conv2d/Linear output before its IAFSqueeze); "
            "put IAFSqueeze before the concatenation",
        )
    if dim not in (1, -3) or any(len(v.shape) != 3 for v in spikes):
        return st.problem(
            call.name,
            torch.cat,
            f"concatenation along dim {dim}; only channel concatenation (dim=1) is possible",
        )
    if len({v.shape[1:] for v in spikes}) != 1:
        return st.problem(
            call.name,
            torch.cat,
            f"concatenates maps of different sizes {[v.shape for v in spikes]}; make the H×W sizes equal",
        )
    srcs: list[Src] = []
    offset = 0
    for v in spikes:
        for s in v.srcs:
            if s.layer == INPUT:
                return st.problem(
                    call.name,
                    torch.cat,
                    "concatenates the model input; only chip layer outputs can be shifted",
                )
            srcs.append(Src(s.layer, s.pooling, s.pool_modules, s.factor, s.feature_shift + offset))
        offset += v.shape[0]
    shape = (offset, spikes[0].shape[1], spikes[0].shape[2])
    return Spikes(tuple(srcs), shape, shape)


# --- weight layers, BatchNorm, pooling -------------------------------------------------------------


def _bad_pre(path: str, kind: str, st: State) -> Pre:
    """Stand-in for a weight layer that could not be built, so "no spiking layer after it" still shows."""
    pre = Pre(path, kind, torch.zeros(0), None, (1, 1), (0, 0), (0, 0, 0), (), (0,), [path], bad=True)
    st.pres.append(pre)
    return pre


def conv(call: Call, st: State) -> Pre:
    """``nn.Conv2d``: the weight part of a chip layer."""
    m: nn.Conv2d = call.target
    out = _conv_layer(call.name, m, call.arg(), st)
    pre = out if isinstance(out, Pre) else _bad_pre(call.name, "conv", st)
    pre.desc = describe(m)
    return pre


def linear(call: Call, st: State) -> Pre:
    """``nn.Linear``: a convolution whose kernel is the whole incoming map."""
    m: nn.Linear = call.target
    out = _linear_layer(call.name, m, call.arg(), st)
    pre = out if isinstance(out, Pre) else _bad_pre(call.name, "linear", st)
    pre.desc = describe(m)
    return pre


def _conv_padding(path: str, m: nn.Conv2d, st: State) -> tuple[int, int]:
    """Check the Conv2d's own settings (kernel, dilation, groups, padding); its zero padding."""
    kh, kw = pair(m.kernel_size)
    if kh != kw:
        st.problem(
            path,
            m,
            f"kernel {kh}×{kw} is not square; chip kernels are k×k (1..16): use a square kernel and retrain",
        )
    if pair(m.dilation) != (1, 1):
        st.problem(path, m, f"dilation {pair(m.dilation)} is not available on chip; use dilation=1")
    if m.groups != 1:
        st.problem(
            path, m, f"groups={m.groups} (grouped/depthwise conv) is not available on chip; use groups=1"
        )
    if m.padding_mode != "zeros":
        st.problem(path, m, f"padding_mode='{m.padding_mode}' is not available on chip; use zero padding")
    if not isinstance(m.padding, str):
        return pair(m.padding)
    if m.padding == "same" and kh % 2 == 1 and kh == kw:
        return (kh // 2, kw // 2)
    if m.padding != "valid":
        st.problem(path, m, "padding='same' needs an odd square kernel here; give explicit integer padding")
    return (0, 0)


def _conv_layer(path: str, m: nn.Conv2d, x: Value, st: State) -> Value:
    problems_before = len(st.problems)
    padding = _conv_padding(path, m, st)
    if isinstance(x, Bad):
        return x
    if not isinstance(x, Spikes):
        return not_spikes(path, m, x, st, "a Conv2d")
    if len(x.shape) != 3:
        return st.problem(path, m, f"receives a flattened input {x.shape}; a Conv2d needs a (C, H, W) map")
    if x.shape[0] != m.in_channels:
        return st.problem(
            path, m, f"expects {m.in_channels} input channels but receives {x.shape[0]} ({x.shape})"
        )
    if len(st.problems) != problems_before:
        return Bad()
    kh, kw = pair(m.kernel_size)
    stride = pair(m.stride)
    weight = m.weight.detach().to(torch.float32)
    bias = None if m.bias is None else m.bias.detach().to(torch.float32)
    c, h, w = x.shape
    oh = (h + 2 * padding[0] - kh) // stride[0] + 1
    ow = (w + 2 * padding[1] - kw) // stride[1] + 1
    if oh < 1 or ow < 1:
        return st.problem(path, m, f"kernel {kh} does not fit the {h}×{w} input with padding {padding}")
    pre = Pre(
        path, "conv", weight, bias, stride, padding, (c, h, w), x.srcs, (m.out_channels, oh, ow), [path]
    )
    st.pres.append(pre)
    return pre


def _linear_layer(path: str, m: nn.Linear, x: Value, st: State) -> Value:
    if isinstance(x, Bad):
        return x
    if not isinstance(x, Spikes):
        return not_spikes(path, m, x, st, "a Linear")
    if len(x.shape) != 1:
        if x.shape == (m.in_features, 1, 1) or (len(x.shape) == 3 and x.shape[1:] == (1, 1)):
            pass  # a (F, 1, 1) map is already flat
        else:
            return st.problem(
                path,
                m,
                f"receives an unflattened {x.shape} map (a Linear would act on the last axis only); add "
                "nn.Flatten() before it",
            )
    c, h, w = x.map_shape
    if c * h * w != m.in_features:
        return st.problem(
            path, m, f"expects {m.in_features} inputs but receives C·H·W = {c}·{h}·{w} = {c * h * w}"
        )
    if h != w:
        return st.problem(
            path,
            m,
            f"on chip a Linear becomes a convolution whose kernel is the whole incoming map, here "
            f"H×W = {h}×{w} (from {c}×{h}×{w}); chip kernels are square (k×k), so the map feeding this "
            "Linear must be square: pool or crop to a square map before it, or choose the previous conv's "
            "stride/padding (or input size) so its output is square",
        )
    # Same reshape as sinabs convert_linear_to_conv: torch flattens (C, H, W) row-major.
    weight = m.weight.detach().to(torch.float32).reshape(m.out_features, c, h, w)
    bias = None if m.bias is None else m.bias.detach().to(torch.float32)
    pre = Pre(path, "linear", weight, bias, (1, 1), (0, 0), (c, h, w), x.srcs, (m.out_features,), [path])
    st.pres.append(pre)
    return pre


def batchnorm(call: Call, st: State) -> Value:
    """``nn.BatchNorm2d``/``BatchNorm1d`` right after a weight layer: folded into its weights and bias."""
    path, x = call.name, call.arg()
    m: nn.BatchNorm2d | nn.BatchNorm1d = call.target
    if is_silent(x):
        return x
    if not isinstance(x, Pre):
        return st.problem(
            path,
            m,
            "BatchNorm can only be folded into the Conv2d/Linear right before it; here it follows spikes or "
            "pooling: move it directly after the weight layer",
        )
    if m.running_mean is None or m.running_var is None:
        x.consumed = True
        return st.problem(
            path, m, "has no running statistics (track_running_stats=False), so it cannot be folded"
        )
    # y = gamma (z - mean) / sqrt(var + eps) + beta, folded into the weight layer (eval-mode semantics).
    # sinabs's utils.merge_bn omits eps; we keep it, which is what the model computes in eval mode.
    factor = m.running_var.detach().to(torch.float32).add(m.eps).sqrt().reciprocal()
    beta: torch.Tensor | float = 0.0
    if m.affine and m.weight is not None and m.bias is not None:
        factor = m.weight.detach().to(torch.float32) * factor
        beta = m.bias.detach().to(torch.float32)
    mean = m.running_mean.detach().to(torch.float32)
    old_bias = x.bias if x.bias is not None else torch.zeros_like(mean)
    new_bias = beta + (old_bias - mean) * factor
    new_weight = x.weight * factor.reshape(-1, *([1] * (x.weight.ndim - 1)))
    st.notes.append(
        f"BatchNorm '{path}' was folded into '{x.name}': this gives the layer a bias, which on chip is a "
        "leak added once per slow-clock tick (not per time step as in sinabs), needs leak_enable and a "
        "running slow clock, and costs a sweep over all neurons (SPECK_SEMANTICS §2.4)"
    )
    x.weight, x.bias, x.modules = new_weight, new_bias, [*x.modules, path]
    return x


def _pool_settings(path: str, m: nn.Module, st: State) -> tuple[int, int]:
    """Check a pooling module's settings (stride = kernel, no padding/ceil mode); its kernel."""
    import sinabs.layers as sl

    k = pair(getattr(m, "kernel_size", 1))
    stride_attr = getattr(m, "stride", None)
    stride = k if stride_attr is None else pair(stride_attr)
    if stride != k:
        st.problem(path, m, f"stride {stride} differs from the kernel {k}; chip pooling has stride = kernel")
    if isinstance(m, nn.AvgPool2d):
        if pair(m.padding) != (0, 0):
            st.problem(path, m, "padding is not available for chip pooling; use padding=0")
        if m.ceil_mode:
            st.problem(path, m, "ceil_mode=True is not available (the chip floors); use ceil_mode=False")
        if m.divisor_override is not None:
            st.problem(path, m, "divisor_override is not supported; remove it")
    elif isinstance(m, sl.SumPool2d) and getattr(m, "ceil_mode", False):
        st.problem(path, m, "ceil_mode=True is not available (the chip floors); use ceil_mode=False")
    return k


def pool(call: Call, st: State) -> Value:
    """``sinabs.layers.SumPool2d`` or ``nn.AvgPool2d`` (sum pooling; 1/k² goes into the next weights)."""
    path, m, x = call.name, call.target, call.arg()
    bad = len(st.problems)
    k = _pool_settings(path, m, st)
    if isinstance(x, Bad):
        return x
    if not isinstance(x, Spikes):
        return not_spikes(path, m, x, st, "pooling")
    if len(x.shape) != 3:
        return st.problem(path, m, f"pools a flattened value {x.shape}; pool before nn.Flatten")
    if len(st.problems) != bad:
        return Bad()
    factor = 1.0 / (k[0] * k[1]) if isinstance(m, nn.AvgPool2d) else 1.0
    srcs = tuple(
        Src(
            s.layer,
            (s.pooling[0] * k[0], s.pooling[1] * k[1]),
            (*s.pool_modules, path),
            s.factor * factor,
            s.feature_shift,
        )
        for s in x.srcs
    )
    c, h, w = x.shape
    shape = (c, h // k[0], w // k[1])
    if shape[1] < 1 or shape[2] < 1:
        return st.problem(path, m, f"pooling {k} is larger than the {h}×{w} map")
    return Spikes(srcs, shape, shape)
