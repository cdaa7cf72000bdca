"""Options of the compiler that check, compile, run and validate share (issue #11).

:class:`CompileOptions` is the one frozen value that carries every compiler choice from the command line (or a
Python caller) to :func:`deploy.pipeline.check_model` / :func:`deploy.pipeline.compile_model` and the stages
below them. The model and the target chip are not options: they are the arguments of every call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy.typing as npt

if TYPE_CHECKING:
    from torch import nn

    from hwconfig.config import ChipConfig, ReadoutConfig

DEFAULT_CALIBRATION_DT_US = 10_000
"""Time bin (µs) used to turn calibration events into a raster when none is given (10 ms)."""

QUANTIZATION_RULES = ("sinabs", "calibrated")
"""Names accepted by :attr:`CompileOptions.quantization`."""

MonitorSpec = str | int | Sequence[int | str] | None
"""Which layers send their spikes to the host, in sinabs's ``monitor_layers`` forms: None (the exit
layers), ``[]`` (none), ``"all"``, ``"dvs"``, a layer index, or a list of indices, ``-1`` (the exit layers)
and ``"dvs"`` (see :func:`deploy.monitor.resolve_monitor`)."""


@dataclass(frozen=True)
class DvsOptions:
    """The chip's DVS pre-processing layer for a model that has none, as sinabs's ``DVSLayer`` arguments.

    They describe a sinabs ``DVSLayer(input_shape, pool, crop, merge_polarities, flip_x, flip_y, swap_xy)``
    put in front of the model (SB-dvs); the model's input is what that layer outputs. Rules and sinabs
    references: ``docs/dvs-input.md``.

    Attributes:
        merge_polarities: Merge ON/OFF into one feature; None derives it from the model's input channels
            (1 → merged), as sinabs's ``_validate_dvs_setup`` does.
        pooling: ``(py, px)`` sum pooling of the sensor events, each in {1, 2, 4}.
        crop: ``((top, bottom), (left, right))`` region of interest in pooled sensor coordinates, end
            exclusive (sinabs's ``crop``); the chip writes ``origin`` = start and ``cut`` = end − 1. None:
            the model's input size from (0, 0).
        flip_x, flip_y: Mirror along x (width) / y (height) after cropping (samna ``mirror``).
        swap_xy: Swap x and y last (samna ``mirror_diagonal``).
    """

    merge_polarities: bool | None = None
    pooling: tuple[int, int] = (1, 1)
    crop: tuple[tuple[int, int], tuple[int, int]] | None = None
    flip_x: bool = False
    flip_y: bool = False
    swap_xy: bool = False

    @property
    def geometry_is_default(self) -> bool:
        """True when only ``merge_polarities`` may differ from the defaults."""
        return (self.pooling, self.crop, self.flip_x, self.flip_y, self.swap_xy) == (
            (1, 1),
            None,
            False,
            False,
            False,
        )


@dataclass(frozen=True)
class CompileOptions:
    """Every compiler choice besides the model and the chip; the defaults reproduce sinabs's flow.

    Attributes:
        architecture: For state_dict files: a model name in ``models/`` or ``"package.module:function"``
            (or the function itself).
        trust_model_file: Allow unpickling classes outside the safe allowlist (runs code from the file).
        core_map: Manual placement, layer index or torch module path → core; None places automatically.
        quantization: Quantisation rule: ``"sinabs"`` (sinabs's rule, bit for bit) or ``"calibrated"``.
        calibration: For ``quantization="calibrated"``: typical input, a raster ``(T, C, H, W)`` or events
            (:func:`deploy.quantize.calibration_raster`).
        calibration_dt_us: Time bin (µs) for calibration events.
        allow_plain_min_v_mem_none: Accept ``min_v_mem=None`` layers whose scale collapses under the
            sinabs rule (:func:`deploy.quantize.quantize`).
        readout: Route the exit layer to the readout layer (True, or a :class:`ReadoutConfig`); see
            :func:`deploy.emit.emit_config` (class erratum on 2e/2f) and the ``readout`` check rules.
        dvs_input: Take input from the on-chip sensor (sinabs's ``dvs_input=True``): a DVS layer is created
            if the model has none and ``pass_sensor_events`` is set (:mod:`deploy.dvs`).
        dvs: Settings of the DVS layer created for a model without one (:class:`DvsOptions`); giving it
            also creates the DVS layer when ``dvs_input`` is False (host events then enter at layer 13).
        monitor: Monitored layers (:data:`MonitorSpec`, sinabs's ``monitor_layers`` forms).
        config_modifier: Called on the emitted configuration, as sinabs's ``make_config(config_modifier=…)``;
            its result is validated against the chip and replaces the configuration.
    """

    architecture: str | Callable[[], nn.Module] | None = None
    trust_model_file: bool = False
    core_map: Mapping[int | str, int] | None = field(default=None, hash=False)
    quantization: str = "sinabs"
    calibration: npt.NDArray[Any] | None = field(default=None, compare=False, hash=False)
    calibration_dt_us: int = DEFAULT_CALIBRATION_DT_US
    allow_plain_min_v_mem_none: bool = False
    readout: bool | ReadoutConfig | None = None
    dvs_input: bool = False
    dvs: DvsOptions | None = None
    monitor: MonitorSpec = field(default=None, hash=False)
    config_modifier: Callable[[ChipConfig], ChipConfig] | None = field(default=None, compare=False)
