"""Conversion between the project's events (``deploy.sim.events.EVENT_DTYPE``) and samna event objects."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from deploy.errors import EventFormatError
from deploy.sim.events import DVS_LAYER, Events, as_events, make_events
from hwconfig.config import CnnLayerConfig
from hwconfig.spec import ceil_log2


def to_samna_spikes(events: Events, event_module: Any) -> list[Any]:
    """``EVENT_DTYPE`` rows → ``samna.<module>.event.Spike`` objects (input: ``layer`` = target core or 12).

    Attributes are set one by one, as sinabs does, with Python ints.

    Raises:
        EventFormatError: for DVS events (layer 13), which the board target does not stream (they would
            need samna ``DvsEvent`` s; not implemented).
    """
    ev = as_events(events)
    if len(ev) and (ev["layer"] == DVS_LAYER).any():
        i = int(np.nonzero(ev["layer"] == DVS_LAYER)[0][0])
        raise EventFormatError(
            f"event {i}: DVS input events (layer {DVS_LAYER}) cannot be streamed to a board yet; "
            "inject events into the first core instead"
        )
    spikes = []
    for t, layer, feature, x, y in ev.tolist():
        s = event_module.Spike()
        s.layer, s.feature, s.x, s.y, s.timestamp = int(layer), int(feature), int(x), int(y), int(t)
        spikes.append(s)
    return spikes


def split_output(objects: Iterable[Any], event_module: Any) -> tuple[Events, list[Any]]:
    """Separate samna output: ``Spike`` s → ``EVENT_DTYPE`` (arrival order), everything else as a list."""
    spikes: list[Any] = []
    other: list[Any] = []
    for obj in objects:
        (spikes if isinstance(obj, event_module.Spike) else other).append(obj)
    if not spikes:
        return make_events(np.zeros(0, np.int64), 0, 0, 0, 0), other
    rows = np.array([(s.timestamp, s.layer, s.feature, s.x, s.y) for s in spikes], dtype=np.int64)
    return make_events(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4]), other


def neuron_address(layer: CnnLayerConfig, feature: int, x: int, y: int) -> int:
    """Neuron SRAM address ``[y | x | feature]`` of one neuron, for ``ReadNeuronValue``/``WriteNeuronValue``.

    Field widths are ``ceil(log2 f)``, ``ceil(log2 f_x)`` (SPECK_SEMANTICS §2.5, DS-mem): y is shifted by
    the feature *and x* bits (sinabs' ``calculate_neuron_address`` uses the y bits instead, which is the
    same only when ceil(log2 W) = ceil(log2 H)).

    Raises:
        ValueError: for a neuron outside the layer's output shape.
    """
    f_count, size_x, size_y = layer.dimensions.neuron_states_array_dimensions()
    if not (0 <= feature < f_count and 0 <= x < size_x and 0 <= y < size_y):
        raise ValueError(
            f"neuron (f={feature}, x={x}, y={y}) outside the output shape {f_count}×{size_x}×{size_y}"
        )
    fb, xb = ceil_log2(f_count), ceil_log2(size_x)
    return (y << (fb + xb)) | (x << fb) | feature
