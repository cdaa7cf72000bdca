"""The spiking layer (``sinabs.layers.IAFSqueeze``) that completes a weight layer into a chip layer.

One function per job: the neuron parameters (threshold, lower bound, reset, spike function), the weight
layer it completes, the weights (with average pooling folded in), the stored membrane state, and the
edges from the layer's sources.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from deploy.frontend.values import INPUT, Bad, Call, Pre, Spikes, Src, State, Value, as_array, input_edge
from deploy.graph import ChipLayer, Edge, ResetMode


def _threshold(path: str, m: Any, st: State) -> torch.Tensor:
    """The spike threshold as a tensor (reported unless a positive scalar)."""
    thr = torch.as_tensor(m.spike_threshold).detach()
    if thr.numel() != 1:
        st.problem(path, m, "spike_threshold is not a scalar; the chip has one threshold per layer")
    elif float(thr) <= 0:
        st.problem(path, m, f"spike_threshold {float(thr)} must be > 0")
    return thr


def _min_v_mem(path: str, m: Any, st: State) -> float | None:
    """The lower membrane bound (a negative scalar), or None for no bound."""
    if m.min_v_mem is None:
        return None
    mv = torch.as_tensor(m.min_v_mem).detach()
    if mv.numel() != 1:
        st.problem(path, m, "min_v_mem is not a scalar; the chip has one lower bound per layer")
        return None
    min_v = float(mv.to(torch.float32))
    if min_v >= 0:
        st.problem(path, m, f"min_v_mem {min_v} must be < 0 (threshold_low is in [-32768, -1])")
    return min_v


def _reset(path: str, m: Any, thr: torch.Tensor, st: State) -> ResetMode:
    """The reset mode: subtract the threshold, or reset to zero."""
    import sinabs.activation as sa

    if isinstance(m.reset_fn, sa.MembraneReset):
        if float(m.reset_fn.reset_value) != 0.0:
            st.problem(path, m, "MembraneReset(reset_value≠0) is not available; the chip resets to 0")
        return "zero"
    if isinstance(m.reset_fn, sa.MembraneSubtract):
        sv = m.reset_fn.subtract_value
        if sv is not None and thr.numel() == 1 and float(sv) != float(thr):
            st.problem(
                path,
                m,
                "MembraneSubtract(subtract_value≠threshold) is not available; use subtract_value=None",
            )
    else:
        st.problem(
            path, m, f"reset_fn {m.reset_fn!r} is not available; use MembraneSubtract or MembraneReset"
        )
    return "subtract"


def _spike_fn(path: str, m: Any, st: State) -> str:
    """The spike function's name (MultiSpike or SingleSpike)."""
    name: str = getattr(m.spike_fn, "__name__", type(m.spike_fn).__name__)
    if name not in ("MultiSpike", "SingleSpike"):
        st.problem(
            path, m, f"spike_fn {name} is not supported; use sinabs.activation.MultiSpike (recommended)"
        )
    return name


def _weight_layer(path: str, m: Any, x: Value, st: State) -> Pre | Bad:
    """The weight layer this spiking layer completes (marked consumed), or Bad after a report."""
    if isinstance(x, Bad):
        return x
    if not isinstance(x, Pre):
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
    return x


def _weights(path: str, m: Any, pre: Pre, st: State) -> torch.Tensor | Bad:
    """The weights with the inputs' average pooling folded in (all inputs must share one factor)."""
    factors = sorted({s.factor for s in pre.srcs})
    if len(factors) > 1:
        return st.problem(
            path,
            m,
            f"the inputs of '{pre.name}' come through different average poolings (weight factors "
            f"{factors}); one set of weights cannot undo both: use SumPool2d, or the same AvgPool on "
            "every branch",
        )
    if factors[0] != 1.0:
        # sinabs DynapcnnLayer: `conv.weight * rescale_weights` in float32, before discretisation (§9.2).
        return pre.weight * factors[0]
    return pre.weight


def _initial_state(path: str, m: Any, out_shape: tuple[int, int, int], st: State) -> np.ndarray | Bad | None:
    """The membrane state stored in the model (first batch element, as sinabs), or None."""
    if not (m.is_state_initialised() and m.v_mem.numel() > 0):
        return None
    f, oh, ow = out_shape
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
    initial: np.ndarray = v.reshape(-1, f * oh * ow)[0].reshape(f, oh, ow).numpy().copy()
    if np.any(initial != 0):
        st.notes.append(
            f"'{path}' starts from the membrane state stored in the model (v_mem of its last run), as "
            "sinabs does; call model.reset_states() before saving to start from zero"
        )
    return initial


def _connect_sources(pre: Pre, index: int, st: State) -> None:
    """Edges from the weight layer's sources (chip layers or the input) to chip layer ``index``."""
    for s in pre.srcs:
        if s.layer == INPUT:
            st.edges.append(input_edge(s, index))
            continue
        if s.pooling[0] != s.pooling[1]:
            st.problem(
                "+".join(s.pool_modules),
                "pooling",
                f"non-square pooling {s.pooling} between '{st.layers[s.layer].name}' and '{pre.name}'; "
                "chip pooling on a layer's output is square: use equal kernel sizes",
            )
        st.edges.append(Edge(s.layer, index, s.pooling[0], s.feature_shift, s.pool_modules))


def spiking(call: Call, st: State) -> Value:
    """``sinabs.layers.IAFSqueeze`` after a weight layer: emits one :class:`ChipLayer`."""
    path, m = call.name, call.target
    problems_before = len(st.problems)
    thr = _threshold(path, m, st)
    min_v = _min_v_mem(path, m, st)
    if getattr(m, "tau_syn", None) is not None:
        st.problem(path, m, "synaptic current dynamics (tau_syn) are not available on chip; use tau_syn=None")
    reset = _reset(path, m, thr, st)
    spike_fn = _spike_fn(path, m, st)
    pre = _weight_layer(path, m, call.arg(), st)
    if isinstance(pre, Bad):
        return pre
    if len(st.problems) != problems_before or pre.bad:
        return Bad()
    weight = _weights(path, m, pre, st)
    if isinstance(weight, Bad):
        return weight
    _, h, w = pre.in_shape
    k = int(weight.shape[-1])
    f = int(weight.shape[0])
    out_shape = (
        f,
        (h + 2 * pre.padding[0] - k) // pre.stride[0] + 1,
        (w + 2 * pre.padding[1] - k) // pre.stride[1] + 1,
    )
    initial = _initial_state(path, m, out_shape, st)
    if isinstance(initial, Bad):
        return initial
    index = len(st.layers)
    st.layers.append(
        ChipLayer(
            name=pre.name,
            in_shape=pre.in_shape,
            weight=as_array(weight),
            bias=None if pre.bias is None else as_array(pre.bias),
            stride=pre.stride,
            padding=pre.padding,
            threshold=float(thr.to(torch.float32)),
            min_v_mem=min_v,
            reset=reset,
            initial_state=initial,
            spike_fn=spike_fn,
            modules=(*pre.modules, path),
            kind="linear" if pre.kind == "linear" else "conv",
        )
    )
    _connect_sources(pre, index, st)
    return Spikes((Src(index),), pre.shape, out_shape)


def is_neuron(m: nn.Module) -> bool:
    """True for any sinabs neuron layer (a ``StatefulLayer``)."""
    import sinabs.layers as sl

    return isinstance(m, sl.StatefulLayer)
