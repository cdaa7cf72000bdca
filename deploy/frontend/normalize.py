"""Normalisation: a traced torch/sinabs model → :class:`deploy.graph.LayerGraph` of chip layers.

Follows how sinabs 3.1.3 prepares a network (SPECK_SEMANTICS §9.2–9.3): a chip layer is a weight layer
(Conv2d, or Linear turned into a conv over the whole incoming map) followed by ``IAFSqueeze``, with sum
pooling on each outgoing edge. ``nn.AvgPool2d(k)`` becomes sum pooling and the *next* layer's weights are
multiplied by 1/k²; BatchNorm is folded into the preceding weight layer; Flatten/Identity/Dropout vanish.
Every unsupported construct is collected and reported in one :class:`UnsupportedLayerError`.

The walk over the traced graph is here; what each operation does is in the tables of
:mod:`deploy.frontend.handlers`, the values it produces in :mod:`deploy.frontend.values`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.fx
from torch import nn

from deploy.errors import ModelLoadError, UnsupportedLayerError
from deploy.frontend.dvs import dvs_input
from deploy.frontend.handlers import function_handler, method_handler, module_handler
from deploy.frontend.load import LoadedModel, load_model
from deploy.frontend.spiking import is_neuron
from deploy.frontend.trace import trace_graph
from deploy.frontend.values import INPUT, Bad, Call, Meta, Pre, Spikes, Src, State, Value
from deploy.graph import OUTPUT, Edge, LayerGraph, Shape3

__all__ = ["normalize"]


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
    st = State(notes=list(loaded.notes))
    _check_reuse(fx_graph, module, st)
    outputs = _evaluate(fx_graph, module, in_shape, st)
    for out in outputs:
        _connect_output(out, st)
    for pre in st.pres:
        if not pre.consumed:
            st.add_problem(
                "no_spiking_layer",
                f"'{pre.name}' ({pre.desc or pre.kind}): has no spiking layer after it; every weight layer "
                "must be followed by sinabs.layers.IAFSqueeze (one chip layer = conv → IAF → pooling)",
            )
    if not st.layers:
        # With no chip layer at all, "input reaches the output" only repeats the real problem.
        st.problems = [p for p in st.problems if p.kind != "input_reaches_output"]
        if not st.problems:
            st.add_problem(
                "empty_model",
                f"'{source}': contains no Conv2d/Linear followed by IAFSqueeze, so there is nothing to put "
                "on the chip",
            )
    dvs = dvs_input(in_shape, st)
    if st.problems:
        raise UnsupportedLayerError([p.text for p in st.problems])

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


def _evaluate(fx_graph: torch.fx.Graph, module: nn.Module, in_shape: Shape3, st: State) -> list[Value]:
    """Give every node its value (in graph order); the values the model outputs."""
    values: dict[torch.fx.Node, Value] = {}
    outputs: list[Value] = []
    for node in fx_graph.nodes:
        if node.op == "placeholder":
            if values:
                values[node] = st.problem(node.name, "input", "models with several inputs are not supported")
            else:
                values[node] = Spikes((Src(INPUT),), in_shape, in_shape)
        elif node.op == "output":
            outputs = _output_values(node.args[0], values)
        elif node.op == "call_module":
            m = module.get_submodule(str(node.target))
            values[node] = module_handler(m)(Call(str(node.target), m, node, values), st)
        elif node.op == "call_function":
            values[node] = function_handler(node.target)(Call(node.name, node.target, node, values), st)
        elif node.op == "call_method":
            target = f"Tensor.{node.target}"
            values[node] = method_handler(str(node.target))(Call(node.name, target, node, values), st)
        else:  # get_attr: a parameter used directly in forward(); the operation using it is reported
            values[node] = Meta()
    return outputs


def _check_reuse(fx_graph: torch.fx.Graph, module: nn.Module, st: State) -> None:
    """Report weight, BatchNorm and neuron modules called more than once (each call needs its own core)."""
    counts: dict[str, int] = {}
    for node in fx_graph.nodes:
        if node.op == "call_module":
            counts[str(node.target)] = counts.get(str(node.target), 0) + 1
    for target, n in counts.items():
        m = module.get_submodule(target)
        if n > 1 and (isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d)) or is_neuron(m)):
            st.problem(
                target,
                m,
                f"is called {n} times in forward(); each call needs its own chip layer (core) with its "
                "own weights and neuron states, so shared or recurrent use is not supported: create one "
                "module per use",
            )


def _output_values(arg: Any, values: dict[torch.fx.Node, Value]) -> list[Value]:
    """The values in the output node's (possibly nested) argument."""
    if isinstance(arg, (tuple, list)):
        return [v for a in arg for v in _output_values(a, values)]
    if isinstance(arg, dict):
        return [v for a in arg.values() for v in _output_values(a, values)]
    if isinstance(arg, torch.fx.Node):
        return [values[arg]]
    return []


def _connect_output(out: Value, st: State) -> None:
    """Edges from the output's source layers to OUTPUT (pooling after the last layer stays on the edge)."""
    if isinstance(out, (Bad, Pre, Meta)):
        return  # Pre is reported as "no spiking layer after it"
    for s in out.srcs:
        if s.layer == INPUT:
            st.add_problem(
                "input_reaches_output",
                "'output': the model input reaches the output without passing a chip layer; remove that path",
            )
            continue
        src = st.layers[s.layer].name
        if s.pooling[0] != s.pooling[1]:
            st.add_problem(
                "pooling",
                f"'{'+'.join(s.pool_modules)}' (pooling): non-square pooling {s.pooling} after '{src}'; "
                "use equal kernel sizes",
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
