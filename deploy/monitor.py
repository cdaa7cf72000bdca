"""Which cores send their spikes to the host: sinabs's ``monitor_layers`` forms (issue #12).

sinabs 3.1.3 ``DynapcnnNetwork._make_config`` resolves ``monitor_layers`` as follows, and
``ConfigBuilder.monitor_layers`` (``chips/dynapcnn.py``) sets ``monitor_enable`` on those cores:

- ``None`` → the exit layers (``get_exit_layers()``);
- ``"all"`` → every layer except the DVS layer;
- a list containing ``-1`` → the ``-1`` replaced by the exit layers;
- ``"dvs"`` in the list → ``dvs_layer.monitor_enable``; other entries are layer indices;
- ``[]`` → nothing is monitored.

We also accept a bare index or ``"dvs"`` (sinabs needs a list there), and report unknown entries instead
of raising ``KeyError``. sinabs warns when a monitored layer (or the DVS layer) pools on its way out —
"pooling will not be reflected in the monitored events" — and so do we, as :class:`CheckWarning` s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deploy.check import CheckWarning
from deploy.errors import DeployError
from deploy.graph import OUTPUT, LayerGraph
from deploy.options import MonitorSpec


@dataclass(frozen=True)
class MonitorPlan:
    """The resolved monitor choice.

    Attributes:
        layers: Layer indices (into ``LayerGraph.layers``) whose cores get ``monitor_enable``.
        dvs: Monitor the DVS layer (``dvs_layer.monitor_enable``; events come back as layer 13).
        warnings: Pooled layers being monitored (their events are pre-pooling, SPECK_SEMANTICS §4.2).
    """

    layers: tuple[int, ...]
    dvs: bool = False
    warnings: tuple[CheckWarning, ...] = ()


def _entries(spec: MonitorSpec) -> list[int | str]:
    if spec is None:
        return [-1]
    if isinstance(spec, (str, int)):
        return [spec]
    return list(spec)


def resolve_monitor(spec: MonitorSpec, graph: LayerGraph) -> MonitorPlan:
    """Resolve ``spec`` (see the module docstring) for ``graph``.

    Raises:
        DeployError: An entry is neither ``"all"``, ``"dvs"``, ``-1`` nor a layer index of the model, or
            ``"dvs"`` is asked for a model without a DVS layer.
    """
    n = len(graph.layers)
    layers: list[int] = []
    dvs = False
    bad: list[str] = []
    entries = _entries(spec)
    if isinstance(spec, str) and spec.strip().lower() == "all":
        entries = list(range(n))
    for entry in entries:
        if isinstance(entry, str) and entry.strip().lower() == "dvs":
            dvs = True
        elif isinstance(entry, str) and entry.strip().lower() == "all":
            layers += range(n)
        elif isinstance(entry, int) and not isinstance(entry, bool) and entry == -1:
            layers += graph.exit_layers
        elif isinstance(entry, int) and not isinstance(entry, bool) and 0 <= entry < n:
            layers.append(entry)
        else:
            bad.append(repr(entry))
    if bad:
        raise DeployError(
            f"monitor: {', '.join(bad)} not understood; use layer indices 0..{n - 1}, -1 (the exit layers), "
            "'dvs', 'all', or an empty list (sinabs's monitor_layers forms)"
        )
    if dvs and graph.dvs is None:
        raise DeployError(
            "monitor: 'dvs' asks for the DVS layer but the model has none; add dvs_input (--dvs-input) or "
            "drop 'dvs'"
        )
    chosen = tuple(sorted(set(layers)))
    return MonitorPlan(chosen, dvs, _pooled_warnings(chosen, dvs, graph))


def _pooled_warnings(layers: Sequence[int], dvs: bool, graph: LayerGraph) -> tuple[CheckWarning, ...]:
    found: list[CheckWarning] = []
    for i in layers:
        pools = sorted({e.pooling for e in graph.out_edges(i) if e.dst != OUTPUT and e.pooling != 1})
        if pools:
            found.append(_warning(graph.layers[i].name, f"sum pooling {pools[0]} on its way out"))
    if dvs and graph.dvs is not None and graph.dvs.pooling != (1, 1):
        found.append(_warning("dvs", f"DVS pooling {graph.dvs.pooling}"))
    return tuple(found)


def _warning(layer: str, what: str) -> CheckWarning:
    detail = f"is monitored and has {what}; the monitored events are before pooling (SPECK_SEMANTICS §4.2)"
    fix = "compare them with the layer's un-pooled output, or monitor the next layer"
    return CheckWarning(
        rule="monitor_pooling",
        layer=layer,
        measured=what,
        limit="pooling 1",
        fix=fix,
        message=f"[monitor_pooling] layer '{layer}': {detail}; fix: {fix}",
    )
