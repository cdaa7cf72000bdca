"""The chip configuration model: a samna-free mirror of samna's ``SpeckConfiguration`` tree.

Field names, nesting, defaults and array orders follow samna's speck2f configuration
(SPECK_SEMANTICS §8.1), so the object converts one to one to the vendor object
(:mod:`hwconfig.samna_bridge`) and to the JSON format of :mod:`hwconfig.json_io`.

Conventions (samna's, kept identical):

- ``x`` is the horizontal axis (PyTorch's last dimension, width), ``y`` the vertical one.
- ``weights`` is ``[feature][channel][x][y]`` (torch's ``[out][in][ky][kx]`` transposed in the last two
  axes), ``neurons_initial_value`` is ``[feature][x][y]``, ``biases`` is ``[feature]``.

All classes are frozen dataclasses; arrays are numpy integer arrays made read-only on construction.
Build variants with :func:`dataclasses.replace`. Arrays whose values fit the samna word are stored in that
dtype (int8 weights, int16 biases and states); values that do not fit are kept (as int64) so that
:meth:`ChipConfig.validate` can report them with their path instead of wrapping them silently.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from hwconfig.errors import ConfigError

if TYPE_CHECKING:
    from hwconfig.spec import ChipSpec

N_CNN_LAYERS = 9
N_DESTINATIONS = 2
READOUT_LAYER = 12  # layer id of the readout (post-processing) layer (SPECK_SEMANTICS §6)
DVS_LAYER = 13  # layer id of the DVS input layer in events and monitor output (§5)


class _Node:
    """Value equality for dataclasses that hold numpy arrays (``==`` compares contents and dtypes' values)."""

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
                    return False
                if a.shape != b.shape or not np.array_equal(a, b):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]


def _int_array(value: Any, dtype: type[np.integer[Any]], ndim: int, owner: str) -> npt.NDArray[Any]:
    """Convert ``value`` to a read-only integer array of ``ndim`` dimensions.

    The samna dtype is used when every value fits it; otherwise int64 is kept for validation to report.
    """
    arr = np.asarray(value)
    if arr.size == 0 and arr.dtype.kind == "f":
        arr = arr.astype(np.int64)
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise ConfigError(f"{owner}: expected an integer array, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ConfigError(f"{owner}: expected a {ndim}-dimensional array, got shape {arr.shape}")
    info = np.iinfo(dtype)
    fits = arr.size == 0 or (int(arr.min()) >= info.min and int(arr.max()) <= info.max)
    out = np.array(arr, dtype=dtype if fits else np.int64, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class Vec2:
    """samna ``Vec2``: an (x, y) pair of integers."""

    x: int = 0
    y: int = 0


@dataclass(frozen=True)
class BoolVec2:
    """samna ``Vec2<bool>`` (used by ``dvs_layer.mirror``)."""

    x: bool = False
    y: bool = False


@dataclass(frozen=True)
class IOShape:
    """samna ``IOShape``: map size (x = width, y = height) and number of features."""

    size: Vec2 = field(default_factory=lambda: Vec2(1, 1))
    feature_count: int = 1


@dataclass(frozen=True)
class CnnLayerDimensions:
    """samna ``CnnLayerDimensions`` (SPECK_SEMANTICS §8.1, limits §7.2).

    Attributes:
        input_shape: Input map size and input feature count (1..1024, map ≤ 128×128).
        output_shape: Output map size (≤ 64×64, must equal ``floor((in − k + 2p)/s) + 1``) and features.
        padding: Zero padding per axis, 0..7.
        stride: Stride per axis, in {1, 2, 4, 8}.
        kernel_size: Square kernel size, 1..16.
    """

    input_shape: IOShape = field(default_factory=IOShape)
    output_shape: IOShape = field(default_factory=IOShape)
    padding: Vec2 = field(default_factory=lambda: Vec2(0, 0))
    stride: Vec2 = field(default_factory=lambda: Vec2(1, 1))
    kernel_size: int = 1

    def weights_array_dimensions(self) -> tuple[int, int, int, int]:
        """samna ``get_weights_array_dimensions``: ``[f, c, x, y]``."""
        k = self.kernel_size
        return (self.output_shape.feature_count, self.input_shape.feature_count, k, k)

    def neuron_states_array_dimensions(self) -> tuple[int, int, int]:
        """samna ``get_neuron_states_array_dimensions``: ``[f, x, y]``."""
        o = self.output_shape
        return (o.feature_count, o.size.x, o.size.y)

    def biases_array_dimensions(self) -> tuple[int]:
        """samna ``get_biases_array_dimensions``: ``[f]``."""
        return (self.output_shape.feature_count,)


@dataclass(frozen=True)
class CnnLayerDestination:
    """samna ``CnnLayerDestination`` (§4.3): where a core's spikes go.

    Attributes:
        enable: Whether this destination slot is used.
        layer: Target core 0..8, or 12 for the readout layer.
        pooling: Sum pooling applied on the way, in {1, 2, 4}: (f, x, y) → (f + shift, x//p, y//p).
        feature_shift: Added to the feature index at the destination.
    """

    enable: bool = False
    layer: int = 0
    pooling: int = 1
    feature_shift: int = 0


def _default_destinations() -> tuple[CnnLayerDestination, ...]:
    return tuple(CnnLayerDestination() for _ in range(N_DESTINATIONS))


@dataclass(frozen=True, eq=False)
class CnnLayerConfig(_Node):
    """samna ``CnnLayerConfig``: one convolutional core (SPECK_SEMANTICS §2–§4, §8.1).

    Attributes:
        dimensions: Shapes, padding, stride and kernel size.
        weights: ``[f][c][x][y]`` int8 kernel, range [-128, 127].
        biases: ``[f]`` int16 leak values added per slow-clock tick when ``leak_enable``.
        neurons_initial_value: ``[f][x][y]`` int16 membrane states written when the configuration is applied.
        threshold_high: Firing threshold, 0..32767; fire when ``v >= threshold_high``.
        threshold_low: Floor of the state, -32768..-1.
        return_to_zero: Reset to 0 on a spike (True) or subtract ``threshold_high`` (False).
        leak_enable: Add ``biases`` once per slow-clock period.
        leak_internal_slow_clk_enable: Use the internal (DVS-event-count) slow clock for leak.
        monitor_enable: Send every spike of this core to the host (pre-pooling coordinates).
        input_congestion_balancer_enable: Drop input spikes while busy (timing dependent).
        output_decimator_enable: Let only 1 of N spikes leave the core.
        output_decimator_interval: Code 0..7 selecting N (§4.1).
        destinations: Exactly two destination slots.
    """

    dimensions: CnnLayerDimensions = field(default_factory=CnnLayerDimensions)
    weights: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros((1, 1, 1, 1), np.int8))
    biases: npt.NDArray[np.int16] = field(default_factory=lambda: np.zeros((1,), np.int16))
    neurons_initial_value: npt.NDArray[np.int16] = field(
        default_factory=lambda: np.zeros((1, 1, 1), np.int16)
    )
    threshold_high: int = 0
    threshold_low: int = -1
    return_to_zero: bool = False
    leak_enable: bool = False
    leak_internal_slow_clk_enable: bool = False
    monitor_enable: bool = False
    input_congestion_balancer_enable: bool = False
    output_decimator_enable: bool = False
    output_decimator_interval: int = 0
    destinations: tuple[CnnLayerDestination, ...] = field(default_factory=_default_destinations)

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", _int_array(self.weights, np.int8, 4, "weights"))
        object.__setattr__(self, "biases", _int_array(self.biases, np.int16, 1, "biases"))
        object.__setattr__(
            self,
            "neurons_initial_value",
            _int_array(self.neurons_initial_value, np.int16, 3, "neurons_initial_value"),
        )
        object.__setattr__(self, "destinations", tuple(self.destinations))

    @property
    def enabled_destinations(self) -> tuple[CnnLayerDestination, ...]:
        return tuple(d for d in self.destinations if d.enable)


@dataclass(frozen=True)
class DvsDestination:
    """samna ``DvsLayerDestination``: a DVS-layer destination has no pooling or feature shift (§5)."""

    enable: bool = False
    layer: int = 0


@dataclass(frozen=True)
class DvsLayerConfig:
    """samna ``DvsLayerConfig``: the DVS pre-processing layer (SPECK_SEMANTICS §5).

    Attributes:
        merge: Merge ON and OFF polarities into feature 0.
        on_channel, off_channel: Pass ON / OFF events.
        pooling: Sum pooling per axis, each in {1, 2, 4}.
        origin: Top-left corner of the region of interest (pooled coordinates).
        cut: Bottom-right corner of the region of interest, inclusive (pooled coordinates).
        mirror: Mirror along x / y.
        mirror_diagonal: Swap x and y.
        monitor_enable: Send pre-processed events to the host as ``Spike(layer=13)``.
        raw_monitor_enable: Send raw ``DvsEvent`` s to the host.
        pass_sensor_events: Feed the on-chip pixel array into the layer.
        destinations: Two destination slots (cores 0..8).
    """

    merge: bool = False
    on_channel: bool = True
    off_channel: bool = True
    pooling: Vec2 = field(default_factory=lambda: Vec2(1, 1))
    origin: Vec2 = field(default_factory=lambda: Vec2(0, 0))
    cut: Vec2 = field(default_factory=lambda: Vec2(127, 127))
    mirror: BoolVec2 = field(default_factory=BoolVec2)
    mirror_diagonal: bool = False
    monitor_enable: bool = False
    raw_monitor_enable: bool = False
    pass_sensor_events: bool = False
    destinations: tuple[DvsDestination, ...] = field(
        default_factory=lambda: tuple(DvsDestination() for _ in range(N_DESTINATIONS))
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "destinations", tuple(self.destinations))


@dataclass(frozen=True)
class DvsFilterConfig:
    """samna ``DvsFilterConfig``: slow-clock driven noise filters (§5); the simulator models it disabled."""

    enable: bool = False
    filter_size: Vec2 = field(default_factory=lambda: Vec2(3, 3))
    threshold: int = 5
    hot_pixel_filter_enable: bool = True
    low_pass_mode_enable: bool = False
    internal_slow_clk: bool = False


@dataclass(frozen=True)
class ReadoutConfig:
    """samna ``ReadoutConfig``: the readout (post-processing) layer, id 12 (SPECK_SEMANTICS §6).

    Attributes:
        enable: Enable the readout layer.
        internal_slow_clk: Use the internal slow clock.
        low_pass_filter_disable: Average over 1 period instead of 16/32.
        low_pass_filter32_not16: Average over 32 periods instead of 16.
        monitor_enable: Send readout values to the host (suppresses all CNN/DVS spike output).
        output_mode_sel: 0 clock-gated, 1 threshold-compare vector, 2 average, 3 max average.
        output_neuron_num: Class whose average is reported in mode 2.
        override_threshold_max: Report the maximum class even below ``threshold``.
        readout_configuration_sel: Address mode 0..3
            (0 = 2x·2y·4f, 1 = 2x·4y·2f, 2 = 4x·4y·1f, 3 = 1x·1y·16f).
        readout_pin_monitor_enable: Emit ``ReadoutPinValue`` events.
        threshold: Class average must be strictly greater to be reported, 0..65535.
    """

    enable: bool = False
    internal_slow_clk: bool = False
    low_pass_filter_disable: bool = False
    low_pass_filter32_not16: bool = False
    monitor_enable: bool = False
    output_mode_sel: int = 0
    output_neuron_num: int = 0
    override_threshold_max: bool = False
    readout_configuration_sel: int = 0
    readout_pin_monitor_enable: bool = False
    threshold: int = 0


@dataclass(frozen=True)
class FactoryConfig:
    """samna ``FactoryConfig``: internal slow-clock divider 2^N with N in 14..17 (default 17, §2.4)."""

    internal_slow_clk_divider: int = 17
    monitor_dual_channel: bool = False


def _default_cnn_layers() -> tuple[CnnLayerConfig, ...]:
    return tuple(CnnLayerConfig() for _ in range(N_CNN_LAYERS))


@dataclass(frozen=True, eq=False)
class ChipConfig(_Node):
    """samna ``SpeckConfiguration``: the whole chip, the single input to the simulator and board targets.

    ``debug_config`` of the samna tree holds undocumented test registers and is not modelled.
    """

    cnn_layers: tuple[CnnLayerConfig, ...] = field(default_factory=_default_cnn_layers)
    dvs_layer: DvsLayerConfig = field(default_factory=DvsLayerConfig)
    dvs_filter: DvsFilterConfig = field(default_factory=DvsFilterConfig)
    readout: ReadoutConfig = field(default_factory=ReadoutConfig)
    factory_config: FactoryConfig = field(default_factory=FactoryConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cnn_layers", tuple(self.cnn_layers))

    def validate(self, chip: str | ChipSpec) -> None:
        """Check every field range and every configuration rule of SPECK_SEMANTICS §7.

        Raises:
            ConfigError: listing every problem found, each with its field path.
        """
        from hwconfig.validate import validate_config

        validate_config(self, chip)

    def with_layer(self, core: int, layer: CnnLayerConfig) -> ChipConfig:
        """A copy with ``cnn_layers[core]`` replaced."""
        layers = list(self.cnn_layers)
        layers[core] = layer
        return dataclasses.replace(self, cnn_layers=tuple(layers))

    def monitored_cores(self) -> tuple[int, ...]:
        return tuple(i for i, layer in enumerate(self.cnn_layers) if layer.monitor_enable)

    def used_cores(self) -> tuple[int, ...]:
        """Cores that take part in the network: monitored, sending, or receiving from a core or the DVS."""
        used: set[int] = set()
        for i, layer in enumerate(self.cnn_layers):
            if layer.monitor_enable or layer.enabled_destinations:
                used.add(i)
            used.update(d.layer for d in layer.enabled_destinations if 0 <= d.layer < N_CNN_LAYERS)
        used.update(d.layer for d in self.dvs_layer.destinations if d.enable and 0 <= d.layer < N_CNN_LAYERS)
        return tuple(sorted(used))
