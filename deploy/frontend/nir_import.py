"""NIR graphs → a ``torch.fx.GraphModule`` of torch/sinabs modules, normalised like any other model.

Module paths are the NIR node names, so a model exported with ``sinabs.to_nir`` normalises to the same
:class:`deploy.graph.LayerGraph` as the original. Supported nodes: Input, Output, Conv2d, Affine, Linear,
IF, SumPool2d, AvgPool2d, Flatten; anything else raises :class:`UnsupportedLayerError` (nothing is
silently dropped). A node with several incoming edges sums its inputs (a merge).
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.fx
from torch import nn

from deploy.errors import ModelLoadError, UnsupportedLayerError
from deploy.graph import Shape3

NIR_MIN_V_MEM_NOTE = (  # carried by LoadedModel.notes (load_model) into the graph's notes
    "NIR IF nodes carry no lower membrane bound; like sinabs.from_nir, the compiler uses "
    "min_v_mem = -threshold for every IF node"
)


def read_nir(path: Path) -> Any:
    """Read a ``.nir`` file.

    Raises:
        ModelLoadError: The file is not a readable NIR (HDF5) file.
    """
    import nir

    try:
        return nir.read(str(path))
    except Exception as exc:
        raise ModelLoadError(
            f"'{path}' is not a readable NIR file ({type(exc).__name__}: {exc}); write it with "
            "`nir.write(path, graph)` (for sinabs models: `sinabs.to_nir(model, sample)`, then set "
            "the Conv2d nodes' input_shape and call graph.infer_types() before nir.write with nir 1.0.4)"
        ) from None


def _arr(v: Any) -> np.ndarray:
    if isinstance(v, torch.Tensor):
        return v.detach().cpu().numpy()
    return np.asarray(v)


def nir_input_shape(graph: Any) -> Shape3 | None:
    """``(C, H, W)`` from the graph's Input node, or None when it is not a 3-d shape."""
    import nir

    for node in graph.nodes.values():
        if isinstance(node, nir.Input):
            shape = node.input_type.get("input") if isinstance(node.input_type, dict) else None
            if shape is not None and np.asarray(shape).size == 3:
                s = [int(v) for v in np.asarray(shape).ravel()]
                return (s[0], s[1], s[2])
    return None


def _tensor(v: Any) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(_arr(v), dtype=np.float32))


def _bias_or_none(b: Any) -> torch.Tensor | None:
    """NIR has no "no bias": sinabs.to_nir writes zeros for a bias-free layer, so zeros mean none."""
    if b is None:
        return None
    arr = _arr(b)
    if arr.size == 0 or not np.any(arr):
        return None
    return _tensor(arr)


def _int_pair(v: Any) -> tuple[int, int]:
    a = np.broadcast_to(_arr(v), (2,))
    return (int(a[0]), int(a[1]))


def _node_module(name: str, node: Any, problems: list[str]) -> nn.Module | None:
    import nir
    import sinabs.layers as sl

    if isinstance(node, nir.Conv2d):
        w = _tensor(node.weight)
        b = _bias_or_none(node.bias)
        pad = node.padding
        conv = nn.Conv2d(
            int(w.shape[1]) * int(node.groups),
            int(w.shape[0]),
            kernel_size=(int(w.shape[2]), int(w.shape[3])),
            stride=tuple(int(s) for s in np.broadcast_to(_arr(node.stride), (2,))),  # type: ignore[arg-type]
            padding=pad if isinstance(pad, str) else tuple(int(p) for p in np.broadcast_to(_arr(pad), (2,))),  # type: ignore[arg-type]
            dilation=tuple(int(d) for d in np.broadcast_to(_arr(node.dilation), (2,))),  # type: ignore[arg-type]
            groups=int(node.groups),
            bias=b is not None,
        )
        conv.weight.data = w
        if b is not None and conv.bias is not None:
            conv.bias.data = b
        return conv
    if isinstance(node, (nir.Affine, nir.Linear)):
        w = _tensor(node.weight)
        b = _bias_or_none(getattr(node, "bias", None))
        lin = nn.Linear(int(w.shape[1]), int(w.shape[0]), bias=b is not None)
        lin.weight.data = w
        if b is not None and lin.bias is not None:
            lin.bias.data = b
        return lin
    if isinstance(node, nir.IF):
        r = _arr(node.r)
        thr = _arr(node.v_threshold)
        if not np.all(r == 1):
            problems.append(
                f"NIR node '{name}' (IF): r ≠ 1 (input scaling) is not supported; fold it into the weights"
            )
            return None
        if thr.size == 0 or not np.all(thr == thr.ravel()[0]):
            problems.append(
                f"NIR node '{name}' (IF): v_threshold differs between neurons; the chip has one threshold "
                "per layer: use a single value"
            )
            return None
        t = float(np.float32(thr.ravel()[0]))
        return sl.IAFSqueeze(spike_threshold=t, min_v_mem=-t, batch_size=1)
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        k = _int_pair(node.kernel_size)
        s = _int_pair(node.stride)
        p = _int_pair(node.padding)
        if p != (0, 0):
            problems.append(f"NIR node '{name}' ({type(node).__name__}): padding {p} is not available; use 0")
            return None
        if isinstance(node, nir.SumPool2d):
            return sl.SumPool2d(kernel_size=k, stride=s)
        return nn.AvgPool2d(kernel_size=k, stride=s)
    if isinstance(node, nir.Flatten):
        start = int(node.start_dim)
        end = int(node.end_dim)
        # NIR shapes have no batch axis; torch's have one in front.
        return nn.Flatten(start + 1 if start >= 0 else start, end + 1 if end >= 0 else end)
    kind = type(node).__name__
    fixes = {
        "LIF": "leaky neurons are not available; the chip has IF neurons only",
        "CubaLIF": "leaky neurons with synaptic current are not available; use IF",
        "LI": "leaky integrators are not available; use IF",
        "I": "pure integrators without spikes are not available; use IF",
        "Delay": "delays are not available on chip; remove them",
        "Scale": "fold the scaling into the preceding weights",
        "Threshold": "use an IF node (threshold with integration and reset)",
        "Conv1d": "only 2-d convolutions are available; use Conv2d",
    }
    problems.append(
        f"NIR node '{name}' ({kind}): not supported on chip; "
        + fixes.get(
            kind, "supported nodes: Input, Output, Conv2d, Affine, Linear, IF, SumPool2d, AvgPool2d, Flatten"
        )
    )
    return None


def nir_to_module(graph: Any) -> torch.fx.GraphModule:
    """Build a torch module computing the NIR graph (nodes in topological order).

    Raises:
        UnsupportedLayerError: Unsupported node types or parameters, cycles, several inputs; all listed.
    """
    import nir

    problems: list[str] = []
    nodes: dict[str, Any] = dict(graph.nodes)
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    succs: dict[str, list[str]] = {n: [] for n in nodes}
    for src, dst in graph.edges:
        if src not in nodes or dst not in nodes:
            problems.append(f"NIR edge ({src!r} → {dst!r}) names a node that does not exist; fix the graph")
            continue
        preds[dst].append(src)
        succs[src].append(dst)
    for name, node in nodes.items():
        if isinstance(node, nir.NIRGraph):
            problems.append(
                f"NIR node '{name}' (NIRGraph): nested subgraphs are not supported; flatten the graph"
            )

    # Kahn's algorithm in the graph's own node order, for determinism.
    indeg = {n: len(preds[n]) for n in nodes}
    order: list[str] = []
    ready = [n for n in nodes if indeg[n] == 0]
    while ready:
        n = ready.pop(0)
        order.append(n)
        for d in succs[n]:
            indeg[d] -= 1
            if indeg[d] == 0:
                ready.append(d)
    if len(order) != len(nodes):
        loop = [n for n in nodes if n not in order]
        problems.append(
            f"NIR nodes {loop} form a recurrent loop; recurrent connections are not supported on chip"
        )

    root = nn.Module()
    fx_graph = torch.fx.Graph()
    value: dict[str, torch.fx.Node] = {}
    inputs = [n for n in order if isinstance(nodes[n], nir.Input)]
    if len(inputs) != 1 and not problems:
        problems.append(f"the NIR graph has {len(inputs)} Input nodes; exactly one is supported")
    outputs: list[torch.fx.Node] = []
    for name in order:
        node = nodes[name]
        if isinstance(node, nir.Input):
            value[name] = fx_graph.placeholder("input")
            continue
        ins = [value[p] for p in preds[name] if p in value]
        if not ins:
            if not isinstance(node, nir.Input):
                problems.append(
                    f"NIR node '{name}' ({type(node).__name__}) has no input; connect or remove it"
                )
            continue
        x = ins[0]
        for other in ins[1:]:
            x = fx_graph.call_function(operator.add, (x, other))
        if isinstance(node, nir.Output):
            outputs.append(x)
            continue
        module = _node_module(name, node, problems)
        if module is None:
            value[name] = x  # already reported; pass through so successors are not reported again
            continue
        safe = name.replace(".", "_")
        root.add_module(safe, module)
        value[name] = fx_graph.call_module(safe, (x,))
    if problems:
        raise UnsupportedLayerError(problems)
    fx_graph.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
    return torch.fx.GraphModule(root, fx_graph, class_name="NIRModel")
