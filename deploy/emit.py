"""Configuration emission: a placed :class:`QuantizedGraph` → :class:`hwconfig.ChipConfig`.

This is where torch's conventions become samna's (SPECK_SEMANTICS §3.1, §8.1):

- ``x`` is the horizontal axis = torch's *last* dimension (width). So ``padding.x = padding[1]``,
  ``stride.x = stride[1]`` and ``input_shape.size = {x: W, y: H}`` (sinabs fixed exactly this swap in commit
  d9110e6).
- samna arrays are ``weights[f][c][x][y]`` and ``neurons_initial_value[f][x][y]``: torch's
  ``[f][c][ky][kx]`` / ``[f][y][x]`` with the last two axes swapped.

Everything else follows what sinabs's ``get_dynapcnn_layer_config_dict`` writes, plus the monitor of the exit
layers (sinabs leaves ``monitor_enable`` false in ``make_config``; a deployment must see the output).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from deploy.errors import PlacementError
from deploy.graph import OUTPUT, DvsInput, Placement, QuantizedGraph, QuantizedLayer
from deploy.memory import fits, layer_memory
from hwconfig.config import (
    BoolVec2,
    ChipConfig,
    CnnLayerConfig,
    CnnLayerDestination,
    CnnLayerDimensions,
    DvsDestination,
    DvsLayerConfig,
    IOShape,
    ReadoutConfig,
    Vec2,
)
from hwconfig.spec import READOUT_ERRATUM_CHANNEL_STRIDE, ChipSpec

READOUT_1X1Y16F = 3
"""``readout_configuration_sel`` for one class per feature of a 1×1 map (§6, DS-ro/DK table)."""


def _io_shape(shape: tuple[int, int, int]) -> IOShape:
    c, h, w = shape
    return IOShape(size=Vec2(x=w, y=h), feature_count=c)


def _to_samna_xy(arr: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
    # samna indexes maps as [x][y] with x = width; torch stores [y][x] (rows first). Need this to match the
    # samna convention, exactly as sinabs's `weights.transpose(2, 3)` / `v_mem.transpose(2, 3)`.
    return np.ascontiguousarray(np.swapaxes(arr, -1, -2))


def _expand_for_readout_erratum(
    q: QuantizedLayer, chip: ChipSpec
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Weights, biases and initial states of the exit layer with class i moved to channel 4·i (§6)."""
    n = q.source.out_features
    f = chip.readout_features(n)
    idx = np.arange(n) * READOUT_ERRATUM_CHANNEL_STRIDE
    w = np.zeros((f, *q.weight.shape[1:]), dtype=np.int64)
    w[idx] = q.weight
    b = np.zeros((f,), dtype=np.int64)
    b[idx] = q.bias
    s = np.zeros((f, *q.initial_state.shape[1:]), dtype=np.int64)
    s[idx] = q.initial_state
    return w, b, s, f


def emit_layer(
    q: QuantizedLayer,
    destinations: Sequence[CnnLayerDestination],
    *,
    monitor: bool,
    chip: ChipSpec,
    readout_expand: bool = False,
) -> CnnLayerConfig:
    """The core configuration of one layer.

    Args:
        q: The quantised layer.
        destinations: Enabled destination slots (≤ ``chip.max_destinations``); padded with disabled ones.
        monitor: Send this core's spikes to the host.
        chip: The target chip.
        readout_expand: Apply the readout erratum expansion (class i at channel 4·i).
    """
    layer = q.source
    weight, bias, state = q.weight, q.bias, q.initial_state
    f_out = layer.out_features
    if readout_expand:
        weight, bias, state, f_out = _expand_for_readout_erratum(q, chip)
    _, h_out, w_out = layer.out_shape
    dims = CnnLayerDimensions(
        input_shape=_io_shape(layer.in_shape),
        output_shape=_io_shape((f_out, h_out, w_out)),
        padding=Vec2(x=layer.padding[1], y=layer.padding[0]),
        stride=Vec2(x=layer.stride[1], y=layer.stride[0]),
        kernel_size=layer.kernel_size,
    )
    slots = list(destinations) + [
        CnnLayerDestination() for _ in range(chip.max_destinations - len(destinations))
    ]
    return CnnLayerConfig(
        dimensions=dims,
        weights=_to_samna_xy(weight),
        biases=np.asarray(bias, dtype=np.int64),
        neurons_initial_value=_to_samna_xy(state),
        threshold_high=int(q.threshold_high),
        threshold_low=int(q.threshold_low),
        return_to_zero=layer.reset == "zero",
        leak_enable=bool(np.any(bias != 0)),
        monitor_enable=monitor,
        destinations=tuple(slots),
    )


def emit_dvs(dvs: DvsInput, core_of: Sequence[int], max_destinations: int = 2) -> DvsLayerConfig:
    """The DVS pre-processing layer (§5), as sinabs's ``DVSLayer.get_config_dict`` writes it.

    The region of interest is in pooled coordinates: ``origin`` = crop start, ``cut = crop_end − 1``
    (inclusive); without a crop it spans the whole pooled input.

    Args:
        dvs: The DVS input of the graph.
        core_of: Core per layer.
        max_destinations: Destination slots of the DVS layer (``chip.max_destinations``).
    """
    _, h, w = dvs.input_shape
    py, px = dvs.pooling
    if dvs.crop is None:
        (y0, y1), (x0, x1) = (0, h // py), (0, w // px)
    else:
        (y0, y1), (x0, x1) = dvs.crop
    dests = [DvsDestination(enable=True, layer=core_of[d]) for d in dvs.destinations]
    dests += [DvsDestination() for _ in range(max_destinations - len(dests))]
    # A 1-channel input means merged polarities: sinabs's DVSLayer.from_layers sets
    # merge_polarities = (channels == 1), so the destination sees one feature.
    merge = dvs.merge_polarities or dvs.input_shape[0] == 1
    return DvsLayerConfig(
        merge=merge,
        pooling=Vec2(x=px, y=py),
        origin=Vec2(x=x0, y=y0),
        cut=Vec2(x=x1 - 1, y=y1 - 1),
        mirror=BoolVec2(x=dvs.flip_x, y=dvs.flip_y),
        mirror_diagonal=dvs.swap_xy,
        pass_sensor_events=dvs.pass_sensor_events,
        destinations=tuple(dests),
    )


def _readout_config(readout: bool | ReadoutConfig) -> ReadoutConfig:
    base = (
        readout
        if isinstance(readout, ReadoutConfig)
        else ReadoutConfig(readout_configuration_sel=READOUT_1X1Y16F)
    )
    return dataclasses.replace(base, enable=True)


def _assert_readout_checked(qgraph: QuantizedGraph, placement: Placement, chip: ChipSpec) -> int:
    """The readout's exit layer; asserts what :func:`deploy.check.rule_readout` and the fit matrix ensure.

    Emit does not re-decide chip rules: a model that reaches it with the readout passed ``check(...,
    readout=True)`` (one exit layer, < 15 classes, 1×1 map, a free destination slot) and was placed with
    that fit matrix (the expanded exit layer fits its core). A failure here is a bug upstream.
    """
    exits = qgraph.graph.exit_layers
    assert chip.has_readout and len(exits) == 1, "readout on an unchecked graph (deploy.check.rule_readout)"
    i = exits[0]
    q = qgraph.layers[i]
    assert q.source.out_features < chip.readout_max_classes and q.source.out_shape[1:] == (1, 1), (
        f"readout on unchecked layer '{q.name}' (deploy.check.rule_readout)"
    )
    if chip.readout_class_erratum:
        mem = layer_memory(q.source, chip.readout_features(q.source.out_features))
        core = placement.core_of[i]
        assert fits(mem, chip.core(core)), (
            f"readout-expanded layer '{q.name}' placed on core {core} where it does not fit "
            "(place with deploy.memory.fit_matrix(..., readout=True))"
        )
    return i


def emit_config(
    qgraph: QuantizedGraph,
    placement: Placement,
    chip: ChipSpec,
    *,
    monitor: Sequence[int] | None = None,
    readout: bool | ReadoutConfig | None = None,
) -> ChipConfig:
    """Build the chip configuration of a placed, checked network.

    Args:
        qgraph: The quantised network (already checked with :func:`deploy.check.check`).
        placement: ``placement.core_of[i]`` is the core of layer i.
        chip: The target chip.
        monitor: Layer indices whose spikes go to the host; None means the exit layers.
        readout: Route the (single) exit layer to the readout layer (id 12) and enable it; a
            :class:`ReadoutConfig` gives its settings (``enable`` is forced on). On chips with the class
            erratum the exit layer is expanded so that class i sits at channel 4·i (§6).

    Returns:
        The configuration; it passes :meth:`ChipConfig.validate` for ``chip``.

    Raises:
        PlacementError: If the placement does not match the graph.
        AssertionError: If the graph did not pass :func:`deploy.check.check` (with the same ``readout``) or
            the placement did not come from its fit matrix: emit re-decides no chip rule.
        hwconfig.ConfigError: If the emitted configuration fails validation (a bug upstream).
    """
    n = len(qgraph.layers)
    core_of = placement.core_of
    if len(core_of) != n:
        raise PlacementError(f"placement has {len(core_of)} cores for {n} layers")
    monitored = set(qgraph.graph.exit_layers if monitor is None else monitor)
    readout_layer: int | None = None
    expand = False
    if readout:
        readout_layer = _assert_readout_checked(qgraph, placement, chip)
        expand = chip.readout_class_erratum

    config = ChipConfig()
    for i, q in enumerate(qgraph.layers):
        dests = [
            CnnLayerDestination(
                enable=True, layer=core_of[e.dst], pooling=e.pooling, feature_shift=e.feature_shift
            )
            for e in qgraph.edges
            if e.src == i and e.dst != OUTPUT
        ]
        if i == readout_layer:
            dests.append(CnnLayerDestination(enable=True, layer=chip.readout_layer_id))
        assert len(dests) <= chip.max_destinations, (
            f"layer '{q.name}' has {len(dests)} destinations (deploy.check rules destinations/readout)"
        )
        layer_cfg = emit_layer(
            q, dests, monitor=i in monitored, chip=chip, readout_expand=expand and i == readout_layer
        )
        config = config.with_layer(core_of[i], layer_cfg)
    if qgraph.graph.dvs is not None:
        config = dataclasses.replace(
            config, dvs_layer=emit_dvs(qgraph.graph.dvs, core_of, chip.max_destinations)
        )
    if readout:
        config = dataclasses.replace(config, readout=_readout_config(readout))
    config.validate(chip)
    return config
