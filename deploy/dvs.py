"""Sensor input: the chip's DVS pre-processing layer for ``dvs_input=True`` and :class:`DvsOptions`.

A model reaches the chip's DVS layer (layer 13, SPECK_SEMANTICS §5) in one of three ways:

1. it contains a sinabs ``DVSLayer`` or starts with sum pooling: :func:`deploy.frontend.normalize` already
   builds the :class:`~deploy.graph.DvsInput`; ``dvs_input=True`` only turns ``pass_sensor_events`` on
   (sinabs ``NIRtoDynapcnnNetworkGraph._handle_dvs_input``: ``disable_pixel_array = not dvs_input``);
2. it has no DVS layer and ``dvs_input=True`` (or :class:`DvsOptions` are given): a DVS layer is created in
   front of the entry layers exactly as sinabs's ``_add_dvs_node`` does — ``DVSLayer(input_shape=(H, W),
   merge_polarities=(C == 1))`` whose destinations are every entry layer, which then receive from it only;
3. neither: the host feeds the entry cores directly (no DVS layer).

:func:`apply_dvs_options` is the stage (a pure ``LayerGraph → LayerGraph`` function) the pipeline calls
right after normalisation; :func:`deploy.emit.emit_dvs` then writes the fields as sinabs's
``DVSLayer.get_config_dict`` does. The rules and where we differ from sinabs: ``docs/dvs-input.md``.
"""

from __future__ import annotations

import dataclasses

from deploy.errors import UnsupportedLayerError
from deploy.graph import DvsInput, LayerGraph, Shape3
from deploy.options import DvsOptions
from hwconfig.spec import ChipSpec

DVS_NAME = "dvs_input"
"""``module_path`` of a DVS layer created here (it has no torch module); used in messages."""


def apply_dvs_options(
    graph: LayerGraph, dvs_input: bool, options: DvsOptions | None, chip: ChipSpec
) -> LayerGraph:
    """The graph with the DVS layer ``dvs_input`` / ``options`` ask for.

    Args:
        graph: The normalised model.
        dvs_input: Take input from the on-chip sensor (``pass_sensor_events``).
        options: Settings of a DVS layer to create in front of a model that has none.
        chip: The target chip (sensor size for a crop).

    Returns:
        ``graph`` unchanged when neither is asked for; else a graph whose ``dvs`` is set, whose
        ``input_shape`` is the DVS layer's input (sensor space) and which has no direct entry layers.

    Raises:
        UnsupportedLayerError: The options contradict the model's own DVS layer, or cannot describe its
            input (more than 2 channels, merged polarities on a 2-channel input, a crop of the wrong size).
    """
    if graph.dvs is not None:
        _check_against_model_dvs(graph.dvs, options)
        if dvs_input and not graph.dvs.pass_sensor_events:
            return dataclasses.replace(graph, dvs=dataclasses.replace(graph.dvs, pass_sensor_events=True))
        return graph
    if not dvs_input and options is None:
        return graph
    dvs = build_dvs_input(graph.input_shape, graph.entry_layers, options or DvsOptions(), chip, dvs_input)
    note = (
        f"a DVS layer (layer 13) was put in front of the model for "
        f"{'sensor input (dvs_input)' if dvs_input else 'the DVS options'}: input "
        f"{'×'.join(map(str, dvs.input_shape))} → {'×'.join(map(str, dvs.output_shape))}, as sinabs's "
        "DynapcnnNetwork(dvs_input=True) creates it"
    )
    return dataclasses.replace(
        graph, input_shape=dvs.input_shape, entry_layers=(), dvs=dvs, notes=(*graph.notes, note)
    )


def build_dvs_input(
    model_input: Shape3,
    entry_layers: tuple[int, ...],
    options: DvsOptions,
    chip: ChipSpec,
    pass_sensor_events: bool,
) -> DvsInput:
    """The DVS layer sinabs would put in front of a model whose input is ``model_input``.

    The DVS layer's *output* is the model input. Its input (sensor space) is the model input before the
    diagonal swap, times the pooling; with a crop it is the whole sensor (``chip.dvs_size``), since the
    crop places the model's window in it.

    Raises:
        UnsupportedLayerError: as :func:`apply_dvs_options`.
    """
    c, h, w = model_input
    problems: list[str] = []
    if c > 2:
        # sinabs _add_dvs_node: "A DVSLayer istance can have a max feature dimension of 2".
        problems.append(
            f"'{DVS_NAME}': the model input has {c} channels; sensor input has 2 polarities (or 1 merged): "
            "use a 1- or 2-channel input, or drop dvs_input"
        )
    merge = c == 1 if options.merge_polarities is None else options.merge_polarities or c == 1
    if merge and c == 2:
        # sinabs _validate_dvs_setup: merge_polarities needs 1 input feature.
        problems.append(
            f"'{DVS_NAME}': merge_polarities gives the model one input channel but its input has 2; use a "
            "1-channel model input (polarities summed) or drop merge_polarities"
        )
    pre_h, pre_w = (w, h) if options.swap_xy else (h, w)
    py, px = options.pooling
    if py < 1 or px < 1:
        problems.append(f"'{DVS_NAME}': pooling {options.pooling} must be positive (chip: 1, 2 or 4)")
    raw_h, raw_w = pre_h * max(py, 1), pre_w * max(px, 1)
    if options.crop is not None:
        (y0, y1), (x0, x1) = options.crop
        sensor_w, sensor_h = chip.dvs_size
        raw_h, raw_w = sensor_h, sensor_w
        if (y1 - y0, x1 - x0) != (pre_h, pre_w):
            problems.append(
                f"'{DVS_NAME}': crop {options.crop} is {y1 - y0}×{x1 - x0} (H×W) but the model input needs "
                f"{pre_h}×{pre_w}{' before the x/y swap' if options.swap_xy else ''}; make the crop that size"
            )
        if min(y0, x0) < 0 or y1 > raw_h // max(py, 1) or x1 > raw_w // max(px, 1):
            problems.append(
                f"'{DVS_NAME}': crop {options.crop} leaves the pooled sensor "
                f"{raw_h // max(py, 1)}×{raw_w // max(px, 1)} (H×W); keep it inside"
            )
    if problems:
        raise UnsupportedLayerError(problems)
    return DvsInput(
        input_shape=(1 if merge else c, raw_h, raw_w),
        pooling=(py, px),
        merge_polarities=merge,
        crop=options.crop,
        flip_x=options.flip_x,
        flip_y=options.flip_y,
        swap_xy=options.swap_xy,
        destinations=tuple(sorted(entry_layers)),
        module_path=DVS_NAME,
        pass_sensor_events=pass_sensor_events,
    )


def _check_against_model_dvs(dvs: DvsInput, options: DvsOptions | None) -> None:
    if options is None:
        return
    where = dvs.module_path or "the input pooling"
    problems = []
    if not options.geometry_is_default:
        problems.append(
            f"'{where}': the model already has a DVS layer (or input pooling); DVS options (pooling, crop, "
            "flip, swap) only describe a DVS layer for a model without one: set them on the model's "
            "DVSLayer instead"
        )
    if options.merge_polarities is not None and options.merge_polarities != dvs.merge_polarities:
        problems.append(
            f"'{where}': merge_polarities={options.merge_polarities} but the model's DVS layer has "
            f"merge_polarities={dvs.merge_polarities}; drop the option or change the model"
        )
    if problems:
        raise UnsupportedLayerError(problems)


def raster_shape(graph: LayerGraph) -> Shape3:
    """``(C, H, W)`` of the input raster the time-stepped views take from sensor-format events.

    Polarity events (p ∈ {0, 1}) of a merged DVS input are binned into 2 channels; the evaluator
    (:func:`deploy.timestep.evaluate`) sums them as the chip merges them.
    """
    return graph.dvs.event_shape if graph.dvs is not None else graph.input_shape
