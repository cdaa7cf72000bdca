"""Normalisation: a traced torch/sinabs model → :class:`deploy.graph.LayerGraph` of chip layers.

Follows how sinabs 3.1.3 prepares a network (SPECK_SEMANTICS §9.2–9.3): a chip layer is a weight layer
(Conv2d, or Linear turned into a conv over the whole incoming map) followed by ``IAFSqueeze``, with sum
pooling on each outgoing edge. ``nn.AvgPool2d(k)`` becomes sum pooling and the *next* layer's weights are
multiplied by 1/k²; BatchNorm is folded into the preceding weight layer; Flatten/Identity/Dropout vanish.
Every unsupported construct is collected and reported in one :class:`UnsupportedLayerError`.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.fx
from torch import nn

from deploy.errors import ModelLoadError, UnsupportedLayerError
from deploy.frontend.load import LoadedModel, load_model
from deploy.frontend.trace import trace_graph
from deploy.graph import OUTPUT, ChipLayer, DvsInput, Edge, LayerGraph, ResetMode, Shape3

INPUT = -2
"""Source index meaning "the model input" while building edges."""

_NON_SPIKING = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.Sigmoid, nn.Tanh, nn.Softmax, nn.SiLU,
    nn.Hardtanh, nn.PReLU,
)  # fmt: skip
_NON_SPIKING_FUNCS = {torch.relu, torch.sigmoid, torch.tanh, nn.functional.relu, nn.functional.sigmoid}
_PASS_MODULES = (nn.Identity, nn.Dropout, nn.Dropout2d, nn.Dropout1d, nn.AlphaDropout)
_ADD_FUNCS = {operator.add, operator.iadd, torch.add}
_FLATTEN_METHODS = {"flatten", "view", "reshape"}

CONVERT_HINT = (
    "convert the ANN with `sinabs.from_torch.from_model(model, input_shape=..., batch_size=...)"
    ".spiking_model`, or replace it with `sinabs.layers.IAFSqueeze`"
)


@dataclass(frozen=True)
class _Src:
    """One spike stream arriving somewhere: from a chip layer (or the input), pooled on the way."""

    layer: int
    pooling: tuple[int, int] = (1, 1)
    pool_modules: tuple[str, ...] = ()
    factor: float = 1.0
    feature_shift: int = 0


@dataclass
class _Spikes:
    """A value that is a sum of spike streams (one stream unless merged)."""

    srcs: tuple[_Src, ...]
    shape: tuple[int, ...]
    map_shape: Shape3


@dataclass
class _Pre:
    """A weight layer's output before its spiking layer."""

    name: str
    kind: str
    weight: torch.Tensor
    bias: torch.Tensor | None
    stride: tuple[int, int]
    padding: tuple[int, int]
    in_shape: Shape3
    srcs: tuple[_Src, ...]
    shape: tuple[int, ...]
    modules: list[str]
    consumed: bool = False
    desc: str = ""
    """How messages describe the weight layer, e.g. "Conv2d 2→4, k=3"."""
    bad: bool = False
    """True when the weight layer or its input has a reported problem (its consumers stay silent)."""


@dataclass
class _Bad:
    """A value downstream of a reported problem (consumers stay silent about it)."""


@dataclass
class _State:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    layers: list[ChipLayer] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    pres: list[_Pre] = field(default_factory=list)
    dvs: dict[str, Any] | None = None
    """Settings of a sinabs DVSLayer found at the model input (merge, crop, flips, module path)."""

    def problem(self, path: str, module: Any, text: str) -> _Bad:
        self.problems.append(f"'{path}' ({_describe(module)}): {text}")
        return _Bad()


def _describe(module: Any) -> str:
    if isinstance(module, nn.Conv2d):
        return f"Conv2d {module.in_channels}→{module.out_channels}, k={_pair_str(module.kernel_size)}"
    if isinstance(module, nn.Linear):
        return f"Linear {module.in_features}→{module.out_features}"
    if isinstance(module, nn.Module):
        return type(module).__name__
    return getattr(module, "__name__", str(module))


def _pair_str(p: Any) -> str:
    p = _pair(p)
    return str(p[0]) if p[0] == p[1] else f"{p[0]}×{p[1]}"


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        return (int(v[0]), int(v[1])) if len(v) == 2 else (int(v[0]), int(v[0]))
    return (int(v), int(v))


def normalize(
    loaded_or_module: LoadedModel | nn.Module,
    input_shape: tuple[int, int, int] | None = None,
) -> LayerGraph:
    """Turn a model into chip layers.

    Args:
        loaded_or_module: The result of :func:`deploy.frontend.load_model`, or an ``nn.Module``.
        input_shape: ``(C, H, W)`` of one input frame; defaults to the shape the loader found.

    Returns:
        The float :class:`LayerGraph` (layers in topological order, pooling on edges).

    Raises:
        ModelLoadError: The input shape is unknown.
        UnsupportedLayerError: Every construct the chip cannot run, all listed at once.
    """
    loaded = (
        loaded_or_module
        if isinstance(loaded_or_module, LoadedModel)
        else load_model(loaded_or_module, input_shape=input_shape)
    )
    module, source = loaded.module, loaded.source
    shape = input_shape or loaded.input_shape
    if module is None:
        raise ModelLoadError(f"'{source}' was loaded without a module; nothing to normalise")
    if shape is None:
        raise ModelLoadError(
            f"the input shape of {source} is unknown (it has no NIR input node or DVS layer to infer it "
            "from); pass `--input-shape C,H,W` (Python: `input_shape=(C, H, W)`), e.g. 2,34,34"
        )
    in_shape: Shape3 = (int(shape[0]), int(shape[1]), int(shape[2]))

    fx_graph = trace_graph(module)
    st = _State()
    st.notes.extend(getattr(module, "deploy_notes", ()))
    _check_reuse(fx_graph, module, st)
    values: dict[torch.fx.Node, Any] = {}
    outputs: list[Any] = []
    for node in fx_graph.nodes:
        if node.op == "placeholder":
            if values:
                values[node] = st.problem(node.name, "input", "models with several inputs are not supported")
            else:
                values[node] = _Spikes((_Src(INPUT),), in_shape, in_shape)
        elif node.op == "output":
            outputs = _flatten_args(node.args[0], values)
        elif node.op == "call_module":
            values[node] = _module_op(node, module.get_submodule(str(node.target)), values, st)
        elif node.op == "call_function":
            values[node] = _function_op(node, values, st)
        elif node.op == "call_method":
            values[node] = _method_op(node, values, st)
        else:  # get_attr: a parameter used directly in forward(); the operation using it is reported
            values[node] = _Meta()

    for out in outputs:
        _connect_output(out, st)
    for pre in st.pres:
        if not pre.consumed:
            st.problems.append(
                f"'{pre.name}' ({pre.desc or pre.kind}): has no spiking layer after it; every weight layer "
                "must be followed by sinabs.layers.IAFSqueeze (one chip layer = conv → IAF → pooling)"
            )
    if not st.layers:
        # With no chip layer at all, "input reaches the output" only repeats the real problem.
        st.problems = [p for p in st.problems if not p.startswith("'output': the model input reaches")]
        if not st.problems:
            st.problems.append(
                f"'{source}': contains no Conv2d/Linear followed by IAFSqueeze, so there is nothing to put "
                "on the chip"
            )
    dvs = _dvs_input(in_shape, st)
    if st.problems:
        raise UnsupportedLayerError(st.problems)

    entry = tuple(sorted({e.dst for e in st.edges if e.src == INPUT})) if dvs is None else ()
    edges = tuple(e for e in st.edges if e.src != INPUT)
    return LayerGraph(
        layers=tuple(st.layers),
        edges=edges,
        input_shape=in_shape,
        entry_layers=entry,
        dvs=dvs,
        notes=tuple(dict.fromkeys(st.notes)),
        source=source,
    )


def _check_reuse(fx_graph: torch.fx.Graph, module: nn.Module, st: _State) -> None:
    counts: dict[str, int] = {}
    for node in fx_graph.nodes:
        if node.op == "call_module":
            counts[str(node.target)] = counts.get(str(node.target), 0) + 1
    for target, n in counts.items():
        m = module.get_submodule(target)
        if n > 1 and (isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d)) or _is_neuron(m)):
            st.problem(
                target,
                m,
                f"is called {n} times in forward(); each call needs its own chip layer (core) with its "
                "own weights and neuron states, so shared or recurrent use is not supported: create one "
                "module per use",
            )


def _is_neuron(m: nn.Module) -> bool:
    import sinabs.layers as sl

    return isinstance(m, sl.StatefulLayer)


def _flatten_args(arg: Any, values: dict[torch.fx.Node, Any]) -> list[Any]:
    if isinstance(arg, (tuple, list)):
        return [v for a in arg for v in _flatten_args(a, values)]
    if isinstance(arg, dict):
        return [v for a in arg.values() for v in _flatten_args(a, values)]
    if isinstance(arg, torch.fx.Node):
        return [values[arg]]
    return []


def _input_value(node: torch.fx.Node, values: dict[torch.fx.Node, Any], index: int = 0) -> Any:
    args = [a for a in node.args if isinstance(a, torch.fx.Node)]
    if len(args) <= index:
        return _Bad()
    return values[args[index]]


# --- call_module ----------------------------------------------------------------------------------


def _module_op(node: torch.fx.Node, m: nn.Module, values: dict[torch.fx.Node, Any], st: _State) -> Any:
    import sinabs.layers as sl

    path = str(node.target)
    x = _input_value(node, values)
    if _is_dvs_layer(m):
        return _dvs_layer(path, m, x, st)
    if isinstance(m, sl.Merge):
        return _merge(path, m, x, _input_value(node, values, 1), st)
    if isinstance(m, _PASS_MODULES):
        return x
    if isinstance(m, (sl.FlattenTime, sl.UnflattenTime)):
        return x  # batch/time folding only; the chip sees one frame at a time
    if isinstance(m, nn.Flatten):
        return _flatten(path, m, x, st, start_dim=m.start_dim)
    if isinstance(m, nn.Conv2d) and not isinstance(m, nn.ConvTranspose2d):
        return _conv(path, m, x, st)
    if isinstance(m, nn.Linear):
        return _linear(path, m, x, st)
    if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
        return _batchnorm(path, m, x, st)
    if isinstance(m, (sl.SumPool2d, nn.AvgPool2d)):
        return _pool(path, m, x, st)
    if type(m) is sl.IAFSqueeze:
        return _spiking(path, m, x, st)
    return _unsupported_module(path, m, x, st)


def _unsupported_module(path: str, m: nn.Module, x: Any, st: _State) -> _Bad:
    import sinabs.layers as sl

    if isinstance(x, _Pre):
        x.consumed = True
    if isinstance(m, (sl.NeuromorphicReLU, *_NON_SPIKING)):
        return st.problem(path, m, f"non-spiking activation; the chip only has IAF neurons: {CONVERT_HINT}")
    if isinstance(m, (sl.IAFRecurrent, sl.LIFRecurrent, sl.ALIFRecurrent, nn.RNNBase)):
        return st.problem(
            path, m, "recurrent connections (loops) are not supported on chip; use a feed-forward IAFSqueeze"
        )
    if type(m) is sl.IAF:
        return st.problem(
            path,
            m,
            "plain sinabs IAF is not accepted by the chip flow (sinabs requires the squeezed layout); "
            "use `sinabs.layers.IAFSqueeze(batch_size=..., ...)` with the same threshold, min_v_mem "
            "and reset",
        )
    if isinstance(m, (sl.LIF, sl.ExpLeak)) or "LIF" in type(m).__name__:
        return st.problem(
            path,
            m,
            "leaky neurons are not supported: chip neurons integrate without decay (only a constant "
            "per-channel leak from the bias); use sinabs.layers.IAFSqueeze and retrain",
        )
    if _is_neuron(m):
        return st.problem(path, m, "this neuron type is not supported on chip; use sinabs.layers.IAFSqueeze")
    if isinstance(m, (nn.MaxPool2d, sl.SpikingMaxPooling2dLayer)):
        return st.problem(
            path,
            m,
            "max pooling is not available on chip (pooling is sum pooling); use sinabs.layers.SumPool2d "
            "or nn.AvgPool2d with stride = kernel size and retrain",
        )
    if isinstance(m, nn.ConvTranspose2d):
        return st.problem(
            path,
            m,
            "transposed convolution is not available on chip; use nn.Conv2d (upsampling is not possible)",
        )
    if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return st.problem(
            path, m, "adaptive pooling is not supported; use nn.AvgPool2d with a fixed kernel = stride"
        )
    return st.problem(
        path,
        m,
        "is not supported by the chip compiler (supported: Conv2d, Linear, sinabs IAFSqueeze, SumPool2d, "
        "AvgPool2d, BatchNorm2d after a conv, Flatten, Dropout, Identity, Merge/+); remove or replace it",
    )


def _not_spikes(path: str, m: Any, x: Any, st: _State, what: str) -> _Bad:
    """Report a module that needs spikes but receives a weight layer's raw output."""
    if isinstance(x, _Bad):
        return x
    if isinstance(x, _Pre):
        x.consumed = True
        if x.bad:
            return _Bad()
        return st.problem(
            path,
            m,
            f"receives the output of '{x.name}' without a spiking layer in between; {what} needs spikes: "
            "put sinabs.layers.IAFSqueeze after each Conv2d/Linear (one chip layer = conv → IAF → pooling)",
        )
    return st.problem(path, m, f"cannot be applied here ({what})")


def _merge(path: str, m: Any, a: Any, b: Any, st: _State) -> Any:
    if isinstance(a, _Bad) or isinstance(b, _Bad) or getattr(a, "bad", False) or getattr(b, "bad", False):
        for v in (a, b):
            if isinstance(v, _Pre):
                v.consumed = True
        return _Bad()
    if not isinstance(a, _Spikes) or not isinstance(b, _Spikes):
        for v in (a, b):
            if isinstance(v, _Pre):
                v.consumed = True
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
    return _Spikes(a.srcs + b.srcs, a.shape, a.map_shape)


def _flatten(path: str, m: Any, x: Any, st: _State, start_dim: int = 1) -> Any:
    if isinstance(x, _Bad):
        return x
    if isinstance(x, _Pre):
        # A flattened conv output is still a conv output; the spiking layer may follow the flatten.
        x.shape = (math.prod(x.shape),)
        return x
    if start_dim not in (1, -3, 0) and len(x.shape) == 3:
        return st.problem(
            path, m, f"flattens from dim {start_dim}; only flattening (C, H, W) to C·H·W is supported"
        )
    return _Spikes(x.srcs, (math.prod(x.shape),), x.map_shape)


def _bad_pre(path: str, kind: str, st: _State) -> _Pre:
    """Stand-in for a weight layer that could not be built, so "no spiking layer after it" still shows."""
    pre = _Pre(path, kind, torch.zeros(0), None, (1, 1), (0, 0), (0, 0, 0), (), (0,), [path], bad=True)
    st.pres.append(pre)
    return pre


def _conv(path: str, m: nn.Conv2d, x: Any, st: _State) -> _Pre:
    out = _conv_layer(path, m, x, st)
    pre = out if isinstance(out, _Pre) else _bad_pre(path, "conv", st)
    pre.desc = _describe(m)
    return pre


def _linear(path: str, m: nn.Linear, x: Any, st: _State) -> _Pre:
    out = _linear_layer(path, m, x, st)
    pre = out if isinstance(out, _Pre) else _bad_pre(path, "linear", st)
    pre.desc = _describe(m)
    return pre


def _conv_layer(path: str, m: nn.Conv2d, x: Any, st: _State) -> Any:
    problems_before = len(st.problems)
    kh, kw = _pair(m.kernel_size)
    if kh != kw:
        st.problem(
            path,
            m,
            f"kernel {kh}×{kw} is not square; chip kernels are k×k (1..16): use a square kernel and retrain",
        )
    if _pair(m.dilation) != (1, 1):
        st.problem(path, m, f"dilation {_pair(m.dilation)} is not available on chip; use dilation=1")
    if m.groups != 1:
        st.problem(
            path, m, f"groups={m.groups} (grouped/depthwise conv) is not available on chip; use groups=1"
        )
    if m.padding_mode != "zeros":
        st.problem(path, m, f"padding_mode='{m.padding_mode}' is not available on chip; use zero padding")
    padding: tuple[int, int] = (0, 0)
    if isinstance(m.padding, str):
        if m.padding == "same" and kh % 2 == 1 and kh == kw:
            padding = (kh // 2, kw // 2)
        elif m.padding != "valid":
            st.problem(
                path, m, "padding='same' needs an odd square kernel here; give explicit integer padding"
            )
    else:
        padding = _pair(m.padding)
    if isinstance(x, _Bad):
        return x
    if not isinstance(x, _Spikes):
        return _not_spikes(path, m, x, st, "a Conv2d")
    if len(x.shape) != 3:
        return st.problem(path, m, f"receives a flattened input {x.shape}; a Conv2d needs a (C, H, W) map")
    if x.shape[0] != m.in_channels:
        return st.problem(
            path, m, f"expects {m.in_channels} input channels but receives {x.shape[0]} ({x.shape})"
        )
    if len(st.problems) != problems_before:
        return _Bad()
    stride = _pair(m.stride)
    weight = m.weight.detach().to(torch.float32)
    bias = None if m.bias is None else m.bias.detach().to(torch.float32)
    c, h, w = x.shape
    oh = (h + 2 * padding[0] - kh) // stride[0] + 1
    ow = (w + 2 * padding[1] - kw) // stride[1] + 1
    if oh < 1 or ow < 1:
        return st.problem(path, m, f"kernel {kh} does not fit the {h}×{w} input with padding {padding}")
    pre = _Pre(
        path, "conv", weight, bias, stride, padding, (c, h, w), x.srcs, (m.out_channels, oh, ow), [path]
    )
    st.pres.append(pre)
    return pre


def _linear_layer(path: str, m: nn.Linear, x: Any, st: _State) -> Any:
    if isinstance(x, _Bad):
        return x
    if not isinstance(x, _Spikes):
        return _not_spikes(path, m, x, st, "a Linear")
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
    pre = _Pre(path, "linear", weight, bias, (1, 1), (0, 0), (c, h, w), x.srcs, (m.out_features,), [path])
    st.pres.append(pre)
    return pre


def _batchnorm(path: str, m: nn.BatchNorm2d | nn.BatchNorm1d, x: Any, st: _State) -> Any:
    if isinstance(x, _Bad) or (isinstance(x, _Pre) and x.bad):
        return x
    if not isinstance(x, _Pre):
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


def _pool(path: str, m: nn.Module, x: Any, st: _State) -> Any:
    import sinabs.layers as sl

    k = _pair(getattr(m, "kernel_size", 1))
    stride_attr = getattr(m, "stride", None)
    stride = k if stride_attr is None else _pair(stride_attr)
    bad = len(st.problems)
    if stride != k:
        st.problem(path, m, f"stride {stride} differs from the kernel {k}; chip pooling has stride = kernel")
    if isinstance(m, nn.AvgPool2d):
        if _pair(m.padding) != (0, 0):
            st.problem(path, m, "padding is not available for chip pooling; use padding=0")
        if m.ceil_mode:
            st.problem(path, m, "ceil_mode=True is not available (the chip floors); use ceil_mode=False")
        if m.divisor_override is not None:
            st.problem(path, m, "divisor_override is not supported; remove it")
    elif isinstance(m, sl.SumPool2d) and getattr(m, "ceil_mode", False):
        st.problem(path, m, "ceil_mode=True is not available (the chip floors); use ceil_mode=False")
    if isinstance(x, _Bad):
        return x
    if not isinstance(x, _Spikes):
        return _not_spikes(path, m, x, st, "pooling")
    if len(x.shape) != 3:
        return st.problem(path, m, f"pools a flattened value {x.shape}; pool before nn.Flatten")
    if len(st.problems) != bad:
        return _Bad()
    factor = 1.0 / (k[0] * k[1]) if isinstance(m, nn.AvgPool2d) else 1.0
    srcs = tuple(
        _Src(
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
    return _Spikes(srcs, shape, shape)


def _spiking(path: str, m: Any, x: Any, st: _State) -> Any:
    import sinabs.activation as sa

    bad = len(st.problems)
    thr_t = torch.as_tensor(m.spike_threshold).detach()
    if thr_t.numel() != 1:
        st.problem(path, m, "spike_threshold is not a scalar; the chip has one threshold per layer")
    elif float(thr_t) <= 0:
        st.problem(path, m, f"spike_threshold {float(thr_t)} must be > 0")
    min_v: float | None = None
    if m.min_v_mem is not None:
        mv = torch.as_tensor(m.min_v_mem).detach()
        if mv.numel() != 1:
            st.problem(path, m, "min_v_mem is not a scalar; the chip has one lower bound per layer")
        else:
            min_v = float(mv.to(torch.float32))
            if min_v >= 0:
                st.problem(path, m, f"min_v_mem {min_v} must be < 0 (threshold_low is in [-32768, -1])")
    if getattr(m, "tau_syn", None) is not None:
        st.problem(path, m, "synaptic current dynamics (tau_syn) are not available on chip; use tau_syn=None")
    reset: ResetMode = "subtract"
    if isinstance(m.reset_fn, sa.MembraneReset):
        reset = "zero"
        if float(m.reset_fn.reset_value) != 0.0:
            st.problem(path, m, "MembraneReset(reset_value≠0) is not available; the chip resets to 0")
    elif isinstance(m.reset_fn, sa.MembraneSubtract):
        sv = m.reset_fn.subtract_value
        if sv is not None and thr_t.numel() == 1 and float(sv) != float(thr_t):
            st.problem(
                path,
                m,
                "MembraneSubtract(subtract_value≠threshold) is not available; use subtract_value=None",
            )
    else:
        st.problem(
            path, m, f"reset_fn {m.reset_fn!r} is not available; use MembraneSubtract or MembraneReset"
        )
    spike_fn = getattr(m.spike_fn, "__name__", type(m.spike_fn).__name__)
    if spike_fn not in ("MultiSpike", "SingleSpike"):
        st.problem(
            path, m, f"spike_fn {spike_fn} is not supported; use sinabs.activation.MultiSpike (recommended)"
        )
    if isinstance(x, _Bad):
        return x
    if not isinstance(x, _Pre):
        return st.problem(
            path,
            m,
            "is not directly after a Conv2d/Linear (optionally with BatchNorm); the chip applies one "
            "spiking layer per weight layer: add a Conv2d/Linear before it or remove it",
        )
    if x.consumed:
        return st.problem(
            path, m, f"'{x.name}' already feeds another spiking layer; one IAF per weight layer"
        )
    x.consumed = True
    if len(st.problems) != bad or x.bad:
        return _Bad()

    factors = sorted({s.factor for s in x.srcs})
    if len(factors) > 1:
        return st.problem(
            path,
            m,
            f"the inputs of '{x.name}' come through different average poolings (weight factors "
            f"{factors}); one set of weights cannot undo both: use SumPool2d, or the same AvgPool on "
            "every branch",
        )
    weight = x.weight
    if factors[0] != 1.0:
        # sinabs DynapcnnLayer: `conv.weight * rescale_weights` in float32, before discretisation (§9.2).
        weight = weight * factors[0]
    index = len(st.layers)
    _, h, w = x.in_shape
    k = int(weight.shape[-1])
    f = int(weight.shape[0])
    oh = (h + 2 * x.padding[0] - k) // x.stride[0] + 1
    ow = (w + 2 * x.padding[1] - k) // x.stride[1] + 1
    initial = None
    if m.is_state_initialised() and m.v_mem.numel() > 0:
        v = m.v_mem.detach().to(torch.float32)
        if v.numel() % (f * oh * ow) != 0:
            return st.problem(
                path,
                m,
                f"its stored membrane state v_mem {tuple(v.shape)} does not fit the layer's neurons "
                f"({f}, {oh}, {ow}) for this input shape; call model.reset_states() before saving, or pass "
                "the input shape the model was run with",
            )
        # As sinabs: the first batch element of the stored state becomes neurons_initial_value.
        initial = v.reshape(-1, f * oh * ow)[0].reshape(f, oh, ow).numpy().copy()
        if np.any(initial != 0):
            st.notes.append(
                f"'{path}' starts from the membrane state stored in the model (v_mem of its last run), as "
                "sinabs does; call model.reset_states() before saving to start from zero"
            )
    layer = ChipLayer(
        name=x.name,
        in_shape=x.in_shape,
        weight=weight.numpy().astype(np.float32, copy=True),
        bias=None if x.bias is None else x.bias.numpy().astype(np.float32, copy=True),
        stride=x.stride,
        padding=x.padding,
        threshold=float(thr_t.to(torch.float32)),
        min_v_mem=min_v,
        reset=reset,
        initial_state=initial,
        spike_fn=spike_fn,
        modules=(*x.modules, path),
        kind="linear" if x.kind == "linear" else "conv",
    )
    st.layers.append(layer)
    for s in x.srcs:
        if s.layer == INPUT:
            st.edges.append(_input_edge(s, index))
        else:
            if s.pooling[0] != s.pooling[1]:
                st.problem(
                    "+".join(s.pool_modules),
                    "pooling",
                    f"non-square pooling {s.pooling} between '{st.layers[s.layer].name}' and '{x.name}'; "
                    "chip pooling on a layer's output is square: use equal kernel sizes",
                )
            st.edges.append(Edge(s.layer, index, s.pooling[0], s.feature_shift, s.pool_modules))
    return _Spikes((_Src(index),), x.shape, (f, oh, ow))


@dataclass(frozen=True)
class _InputEdge(Edge):
    """An edge from the model input, remembering the (py, px) pooling of a DVS layer."""

    pair: tuple[int, int] = (1, 1)


def _input_edge(s: _Src, dst: int) -> Edge:
    return _InputEdge(INPUT, dst, s.pooling[0], 0, s.pool_modules, pair=s.pooling)


# --- call_function / call_method ------------------------------------------------------------------


def _function_op(node: torch.fx.Node, values: dict[torch.fx.Node, Any], st: _State) -> Any:
    fn = node.target
    name = getattr(fn, "__name__", str(fn))
    x = _input_value(node, values)
    if fn in _ADD_FUNCS:
        return _merge(node.name, fn, x, _input_value(node, values, 1), st)
    if fn in (torch.cat, torch.concat):
        return _concat(node, values, st)
    if fn is torch.flatten:
        start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
        return _flatten(node.name, fn, x, st, start_dim=int(start) if isinstance(start, int) else 1)
    if fn in _NON_SPIKING_FUNCS:
        if isinstance(x, _Pre):
            x.consumed = True
        return st.problem(node.name, fn, f"non-spiking activation `{name}` in forward(); {CONVERT_HINT}")
    if fn is getattr and isinstance(x, (_Spikes, _Pre)):
        return _Meta()
    if isinstance(x, _Pre):
        x.consumed = True
    if isinstance(x, _Bad):
        return x
    return st.problem(
        node.name,
        fn,
        f"the operation `{name}` in forward() is not supported on chip (supported: modules, `+` of spike "
        "trains, flatten); express it with supported layers",
    )


def _concat(node: torch.fx.Node, values: dict[torch.fx.Node, Any], st: _State) -> Any:
    """``torch.cat([...], dim=1)`` of spike trains: each source lands at a feature offset (feature_shift)."""
    parts = node.args[0] if node.args else node.kwargs.get("tensors", ())
    dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
    inputs = (
        [values[p] for p in parts if isinstance(p, torch.fx.Node)] if isinstance(parts, (list, tuple)) else []
    )
    if any(isinstance(v, _Bad) or (isinstance(v, _Pre) and v.bad) for v in inputs):
        for v in inputs:
            if isinstance(v, _Pre):
                v.consumed = True
        return _Bad()
    bad = [v for v in inputs if not isinstance(v, _Spikes)]
    if bad or not inputs:
        for v in bad:
            if isinstance(v, _Pre):
                v.consumed = True
        return st.problem(
            node.name,
            torch.cat,
            "concatenates values that are not spike trains (a Conv2d/Linear output before its IAFSqueeze); "
            "put IAFSqueeze before the concatenation",
        )
    spikes: list[_Spikes] = inputs
    if dim not in (1, -3) or any(len(v.shape) != 3 for v in spikes):
        return st.problem(
            node.name,
            torch.cat,
            f"concatenation along dim {dim}; only channel concatenation (dim=1) is possible",
        )
    if len({v.shape[1:] for v in spikes}) != 1:
        return st.problem(
            node.name,
            torch.cat,
            f"concatenates maps of different sizes {[v.shape for v in spikes]}; make the H×W sizes equal",
        )
    srcs: list[_Src] = []
    offset = 0
    for v in spikes:
        for s in v.srcs:
            if s.layer == INPUT:
                return st.problem(
                    node.name,
                    torch.cat,
                    "concatenates the model input; only chip layer outputs can be shifted",
                )
            srcs.append(_Src(s.layer, s.pooling, s.pool_modules, s.factor, s.feature_shift + offset))
        offset += v.shape[0]
    shape = (offset, spikes[0].shape[1], spikes[0].shape[2])
    return _Spikes(tuple(srcs), shape, shape)


@dataclass
class _Meta:
    """A non-tensor value (``x.size(0)``, ``x.shape``) used only to compute a reshape."""


def _method_op(node: torch.fx.Node, values: dict[torch.fx.Node, Any], st: _State) -> Any:
    method = str(node.target)
    x = _input_value(node, values)
    if method in ("size", "dim"):
        return _Meta()
    if method in _FLATTEN_METHODS:
        return _flatten(node.name, f"Tensor.{method}", x, st)
    if method in ("add", "add_", "__add__"):
        return _merge(node.name, f"Tensor.{method}", x, _input_value(node, values, 1), st)
    if method in ("relu", "relu_", "sigmoid", "tanh"):
        if isinstance(x, _Pre):
            x.consumed = True
        return st.problem(
            node.name, f"Tensor.{method}", f"non-spiking activation in forward(); {CONVERT_HINT}"
        )
    if method in ("contiguous", "clone", "detach", "float"):
        return x
    if isinstance(x, _Pre):
        x.consumed = True
    if isinstance(x, _Bad):
        return x
    return st.problem(
        node.name, f"Tensor.{method}", "this tensor method in forward() is not supported on chip; remove it"
    )


# --- outputs and the DVS input ---------------------------------------------------------------------


def _connect_output(out: Any, st: _State) -> None:
    if isinstance(out, _Bad):
        return
    if isinstance(out, _Pre):
        return  # reported as "no spiking layer after it"
    if not isinstance(out, _Spikes):
        return
    for s in out.srcs:
        if s.layer == INPUT:
            st.problems.append(
                "'output': the model input reaches the output without passing a chip layer; remove that path"
            )
            continue
        src = st.layers[s.layer].name
        if s.pooling[0] != s.pooling[1]:
            st.problems.append(
                f"'{'+'.join(s.pool_modules)}' (pooling): non-square pooling {s.pooling} after '{src}'; "
                "use equal kernel sizes"
            )
            continue
        st.edges.append(Edge(s.layer, OUTPUT, s.pooling[0], s.feature_shift, s.pool_modules))
        if s.pooling != (1, 1):
            st.notes.append(
                f"pooling {'+'.join(s.pool_modules)} after the last spiking layer '{src}' is kept on the "
                f"output edge (pooling {s.pooling[0]}): the chip monitors '{src}' before pooling, so the "
                "compiler pools the read-out events in software (sinabs drops this pooling silently)"
            )
        if s.factor != 1.0:
            st.notes.append(
                f"average pooling {'+'.join(s.pool_modules)} at the output is computed as sum pooling: "
                f"output counts are {1 / s.factor:g}× the model's averages"
            )


def _is_dvs_layer(m: nn.Module) -> bool:
    """A sinabs ``DVSLayer`` (from ``sinabs.backend.dynapcnn``, which we never import: it needs samna)."""
    return type(m).__name__ == "DVSLayer" and all(
        hasattr(m, a) for a in ("pool_layer", "crop_layer", "flip_layer", "merge_polarities")
    )


def _dvs_layer(path: str, m: Any, x: Any, st: _State) -> Any:
    if isinstance(x, _Bad):
        return x
    if not (isinstance(x, _Spikes) and x.srcs == (_Src(INPUT),) and len(x.shape) == 3):
        return st.problem(path, m, "a DVS layer must be the first module, fed directly by the model input")
    c, h, w = x.shape
    declared = tuple(getattr(m, "input_shape", ()) or ())
    if len(declared) == 3 and tuple(declared[1:]) != (h, w):
        return st.problem(
            path,
            m,
            f"expects {declared[1]}×{declared[2]} input but the input shape is {x.shape}; make them agree",
        )
    py, px = _pair(m.pool_layer.kernel_size)
    merge = bool(m.merge_polarities)
    ph, pw = h // py, w // px
    crop_layer = m.crop_layer
    crop = (
        (int(crop_layer.top_crop), int(crop_layer.bottom_crop)),
        (int(crop_layer.left_crop), int(crop_layer.right_crop)),
    )
    crop_or_none = None if crop == ((0, ph), (0, pw)) else crop
    flip = m.flip_layer
    st.dvs = {
        "merge_polarities": merge,
        "crop": crop_or_none,
        "flip_x": bool(flip.flip_x),
        "flip_y": bool(flip.flip_y),
        "swap_xy": bool(flip.swap_xy),
        "module_path": path,
    }
    oc = 1 if merge else c
    oh, ow = (crop[0][1] - crop[0][0], crop[1][1] - crop[1][0]) if crop_or_none else (ph, pw)
    if flip.swap_xy:
        oh, ow = ow, oh
    shape = (oc, oh, ow)
    return _Spikes((_Src(INPUT, (py, px), (path,)),), shape, shape)


def _dvs_input(in_shape: Shape3, st: _State) -> DvsInput | None:
    input_edges = [e for e in st.edges if e.src == INPUT]
    pairs = {e.pair if isinstance(e, _InputEdge) else (e.pooling, e.pooling) for e in input_edges}
    if st.dvs is None and all(p == (1, 1) for p in pairs):
        return None
    if len(pairs) > 1:
        st.problems.append(
            f"'input': the input is pooled differently on its way to different layers "
            f"({sorted(pairs)}); the chip's DVS layer has one pooling for all destinations: use the "
            "same pooling on every branch"
        )
        return None
    if not pairs:
        return None
    (pair,) = pairs
    modules = tuple(dict.fromkeys(m for e in input_edges for m in e.pool_modules))
    settings = dict(st.dvs or {})
    if settings and settings.get("crop") is not None and len(modules) > 1:
        st.problems.append(
            f"'{'+'.join(modules[1:])}' (pooling): pooling after a cropping DVS layer cannot be folded into "
            "the DVS pooling (the chip pools before it crops); move the pooling into the DVSLayer (pool=...)"
        )
        return None
    settings["module_path"] = "+".join(modules)
    return DvsInput(
        input_shape=in_shape,
        pooling=pair,
        destinations=tuple(sorted({e.dst for e in input_edges})),
        **settings,
    )
