"""The compiler's intermediate types: :class:`LayerGraph` (float) and :class:`QuantizedGraph` (integers).

A *chip layer* is what one core computes: a convolution, an integrate-and-fire neuron, and sum pooling on
each outgoing edge (SPECK_SEMANTICS §1, §4). Arrays use PyTorch's order here — weights ``(F, C, kH, kW)``,
states ``(F, H, W)``; only :mod:`deploy.emit` converts to samna's ``[f][c][x][y]`` order. Shapes are
``(C, H, W)`` and pairs are ``(y, x)`` = ``(H, W)`` in torch order, as in ``nn.Conv2d``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

Shape3 = tuple[int, int, int]
"""``(C, H, W)``."""

Pair = tuple[int, int]
"""``(y, x)``, i.e. ``(H, W)`` order, as torch's ``stride``/``padding``."""

ResetMode = Literal["subtract", "zero"]

OUTPUT = -1
"""Edge target meaning "network output" (no further chip layer)."""


@dataclass(frozen=True)
class Edge:
    """A connection from chip layer ``src`` to chip layer ``dst`` (or :data:`OUTPUT`).

    Attributes:
        src: Index of the sending layer in ``LayerGraph.layers``.
        dst: Index of the receiving layer, or ``OUTPUT`` (-1) for a network output.
        pooling: Square sum-pooling kernel (= stride) applied on the way; 1 for none.
        feature_shift: Offset added to the feature index at ``dst`` (concatenation); 0 for merge/sum.
        pool_modules: Torch module paths of the pooling layers folded into ``pooling``.
    """

    src: int
    dst: int
    pooling: int = 1
    feature_shift: int = 0
    pool_modules: tuple[str, ...] = ()


@dataclass(frozen=True)
class DvsInput:
    """The chip's DVS pre-processing layer, when the model starts with a DVS layer or a pooling layer.

    Attributes:
        input_shape: ``(C, H, W)`` of the raw sensor input (C = 2 polarities, or 1).
        pooling: ``(py, px)`` sum pooling, each in {1, 2, 4}.
        merge_polarities: Merge ON/OFF into one feature.
        crop: ``((y0, y1), (x0, x1))`` region of interest after pooling, end exclusive; None for all.
        flip_x, flip_y, swap_xy: Mirroring and diagonal swap.
        destinations: Indices of the layers fed by the DVS layer (at most 2).
        module_path: Torch module path of the DVS/pooling layer in the source model.
        pass_sensor_events: Feed the on-chip pixel array into the layer (sinabs's ``dvs_input=True``).
    """

    input_shape: Shape3
    pooling: Pair = (1, 1)
    merge_polarities: bool = False
    crop: tuple[Pair, Pair] | None = None
    flip_x: bool = False
    flip_y: bool = False
    swap_xy: bool = False
    destinations: tuple[int, ...] = ()
    module_path: str = ""
    pass_sensor_events: bool = False

    @property
    def event_shape(self) -> Shape3:
        """``(C, H, W)`` of a raster of sensor events: 2 polarity channels even when they are merged."""
        c, h, w = self.input_shape
        return (max(c, 2) if self.merge_polarities else c, h, w)

    @property
    def output_shape(self) -> Shape3:
        """``(C, H, W)`` after merge, pooling and crop: what the destination layers receive."""
        c = 1 if self.merge_polarities else self.input_shape[0]
        h = self.input_shape[1] // self.pooling[0]
        w = self.input_shape[2] // self.pooling[1]
        if self.crop is not None:
            (y0, y1), (x0, x1) = self.crop
            h, w = y1 - y0, x1 - x0
        if self.swap_xy:
            h, w = w, h
        return (c, h, w)


@dataclass(frozen=True, eq=False)
class ChipLayer:
    """One chip layer in floating point: conv → IAF (→ pooling on outgoing edges).

    Attributes:
        name: Torch module path of the convolution (or Linear), e.g. ``"features.3"``; used in messages.
        in_shape: ``(C, H, W)`` the convolution receives.
        weight: ``(F, C, k, k)`` float weights, BatchNorm folded, AvgPool rescaling applied.
        bias: ``(F,)`` float bias, or None.
        stride: ``(sy, sx)``.
        padding: ``(py, px)``.
        threshold: Spike threshold (float, model units).
        min_v_mem: Lower bound of the membrane state, or None for none.
        reset: ``"subtract"`` (MembraneSubtract) or ``"zero"`` (MembraneReset).
        initial_state: ``(F, H_out, W_out)`` float state to start from, or None for zeros.
        spike_fn: Name of the sinabs spike function (``"MultiSpike"``, ``"SingleSpike"``).
        modules: Torch module paths folded into this layer (conv, BatchNorm, IAF, ...).
        kind: ``"conv"`` or ``"linear"`` (a Linear turned into a conv over the whole incoming map).
    """

    name: str
    in_shape: Shape3
    weight: npt.NDArray[np.float32]
    bias: npt.NDArray[np.float32] | None
    stride: Pair
    padding: Pair
    threshold: float
    min_v_mem: float | None
    reset: ResetMode = "subtract"
    initial_state: npt.NDArray[np.float32] | None = None
    spike_fn: str = "MultiSpike"
    modules: tuple[str, ...] = ()
    kind: Literal["conv", "linear"] = "conv"

    @property
    def kernel_size(self) -> int:
        return int(self.weight.shape[-1])

    @property
    def out_features(self) -> int:
        return int(self.weight.shape[0])

    @property
    def in_features(self) -> int:
        return int(self.weight.shape[1])

    @property
    def out_shape(self) -> Shape3:
        """``(F, H_out, W_out)`` of the neuron array."""
        return conv_out_shape(self.in_shape, self.out_features, self.kernel_size, self.stride, self.padding)


def conv_out_shape(in_shape: Shape3, out_features: int, k: int, stride: Pair, padding: Pair) -> Shape3:
    """Output ``(F, H, W)`` of a square-kernel convolution (SPECK_SEMANTICS §3.2)."""
    h = (in_shape[1] - k + 2 * padding[0]) // stride[0] + 1
    w = (in_shape[2] - k + 2 * padding[1]) // stride[1] + 1
    return (out_features, h, w)


@dataclass(frozen=True, eq=False)
class LayerGraph:
    """A model normalised into chip layers: a DAG of :class:`ChipLayer` with pooling on the edges.

    Attributes:
        layers: Chip layers in topological order.
        edges: All connections, including edges to ``OUTPUT``.
        input_shape: ``(C, H, W)`` of the model input.
        entry_layers: Layers that receive the model input directly (when there is no DVS layer).
        dvs: The DVS pre-processing layer, or None.
        notes: Facts the user should see in the report (BatchNorm → bias → leak, pooling after the last
            spiking layer kept in the model's meaning but not on chip, ...).
        source: Where the model came from (file path or description).
    """

    layers: tuple[ChipLayer, ...]
    edges: tuple[Edge, ...]
    input_shape: Shape3
    entry_layers: tuple[int, ...]
    dvs: DvsInput | None = None
    notes: tuple[str, ...] = ()
    source: str = ""

    def out_edges(self, i: int) -> tuple[Edge, ...]:
        return tuple(e for e in self.edges if e.src == i)

    def in_edges(self, i: int) -> tuple[Edge, ...]:
        return tuple(e for e in self.edges if e.dst == i)

    @property
    def exit_layers(self) -> tuple[int, ...]:
        """Layers with an edge to ``OUTPUT`` (monitored on chip)."""
        return tuple(sorted({e.src for e in self.edges if e.dst == OUTPUT}))


@dataclass(frozen=True)
class LayerQuantStats:
    """Per-layer quantisation report (issue #3 §3).

    Attributes:
        scale: The common scale ``s`` (integer = round(float · s)).
        scale_weights, scale_bias, scale_thresholds, scale_state: The candidates s was the minimum of
            (``inf`` when the tensor was all zero or absent).
        weight_range, bias_range: ``(min, max)`` of the integers.
        threshold_high, threshold_low: The integer thresholds.
        zero_fraction: Fraction of non-zero float weights rounded to 0.
        saturated: Number of values clipped to the word range (the sum of the ``clipped_*`` counts).
        max_weight_over_threshold: ``max(W) / threshold_high`` (> 1 ⇒ spikes lost: one spike per event).
        overflow_margin: ``32767 − (threshold_high + max(W⁺))`` (negative ⇒ 16-bit overflow possible).
        rule: ``"sinabs"`` (vendor rule, bit for bit), ``"sinabs-plain"`` or ``"calibrated"``.
        clipped_weights, clipped_biases, clipped_states: Weights, biases and initial-state values that
            rounded outside the chip's weight / bias / state word and were clipped to it.
        clipped_thresholds: Thresholds (high, low: 0..2) that rounded outside their register range.
    """

    scale: float
    scale_weights: float
    scale_bias: float
    scale_thresholds: float
    scale_state: float
    weight_range: tuple[int, int]
    bias_range: tuple[int, int]
    threshold_high: int
    threshold_low: int
    zero_fraction: float
    saturated: int
    max_weight_over_threshold: float
    overflow_margin: int
    rule: str = "sinabs"
    clipped_weights: int = 0
    clipped_biases: int = 0
    clipped_states: int = 0
    clipped_thresholds: int = 0


@dataclass(frozen=True, eq=False)
class QuantizedLayer:
    """A :class:`ChipLayer` in chip integers (same torch array orders).

    Attributes:
        source: The float layer it came from.
        weight: ``(F, C, k, k)`` int64 holding int8 values.
        bias: ``(F,)`` int64 holding int16 values (zeros when the float layer had none).
        threshold_high: 0..32767.
        threshold_low: -32768..-1.
        initial_state: ``(F, H_out, W_out)`` int64 holding int16 values.
        stats: The quantisation report for this layer.
    """

    source: ChipLayer
    weight: npt.NDArray[np.int64]
    bias: npt.NDArray[np.int64]
    threshold_high: int
    threshold_low: int
    initial_state: npt.NDArray[np.int64]
    stats: LayerQuantStats

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def has_bias(self) -> bool:
        return bool(np.any(self.bias != 0))


@dataclass(frozen=True, eq=False)
class QuantizedGraph:
    """The :class:`LayerGraph` in integers; "already quantised?" is answered by this type."""

    graph: LayerGraph
    layers: tuple[QuantizedLayer, ...]

    @property
    def edges(self) -> tuple[Edge, ...]:
        return self.graph.edges


@dataclass(frozen=True)
class Placement:
    """Layer → core assignment.

    Attributes:
        core_of: ``core_of[i]`` is the core of ``layers[i]``.
        fit: ``fit[i][core]`` True when layer i fits core ``core`` (memories, §7.1).
        manual: True when given by the user (``--core-map``).
    """

    core_of: tuple[int, ...]
    fit: tuple[tuple[bool, ...], ...] = field(default=())
    manual: bool = False
