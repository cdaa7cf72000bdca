"""Options of the compiler that check, compile, run and validate share (issue #11).

:class:`CompileOptions` is the one frozen value that carries every compiler choice from the command line (or a
Python caller) to :func:`deploy.pipeline.check_model` / :func:`deploy.pipeline.compile_model` and the stages
below them. The model and the target chip are not options: they are the arguments of every call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy.typing as npt

if TYPE_CHECKING:
    from torch import nn

    from hwconfig.config import ReadoutConfig

DEFAULT_CALIBRATION_DT_US = 10_000
"""Time bin (µs) used to turn calibration events into a raster when none is given (10 ms)."""

QUANTIZATION_RULES = ("sinabs", "calibrated")
"""Names accepted by :attr:`CompileOptions.quantization`."""


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
    """

    architecture: str | Callable[[], nn.Module] | None = None
    trust_model_file: bool = False
    core_map: Mapping[int | str, int] | None = field(default=None, hash=False)
    quantization: str = "sinabs"
    calibration: npt.NDArray[Any] | None = field(default=None, compare=False, hash=False)
    calibration_dt_us: int = DEFAULT_CALIBRATION_DT_US
    allow_plain_min_v_mem_none: bool = False
    readout: bool | ReadoutConfig | None = None
