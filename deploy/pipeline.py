"""The compiler pipeline: the one place that knows the stage order (DESIGN.md "Pipeline").

``load → normalize → quantize → check (raise on violations) → place → post-placement checks → emit``

Every stage is a pure function; this module only calls them in order and times them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploy.check import CheckResult, CheckWarning, check, check_placement, raise_on_violations
from deploy.emit import emit_config
from deploy.graph import LayerGraph, Placement, QuantizedGraph, Shape3
from deploy.place import CoreMap, place
from hwconfig.chips import get_chip
from hwconfig.config import ChipConfig
from hwconfig.spec import ChipSpec

if TYPE_CHECKING:
    from torch import nn

    from deploy.frontend.load import LoadedModel

STAGES = ("load", "normalize", "quantize", "check", "place", "post_check", "emit")
"""Stage names, in order, as keys of :attr:`CompileResult.timings`."""


@dataclass(frozen=True, eq=False)
class CompileResult:
    """Everything :func:`compile_model` produced, stage by stage.

    Attributes:
        loaded: The loaded model.
        graph: The model normalised into chip layers (float).
        qgraph: The quantised graph.
        check: Violations (none, or compilation would have raised), warnings and the fit matrix.
        placement: Layer → core.
        config: The chip configuration (validated).
        chip: The target chip.
        timings: Seconds per stage, keyed by :data:`STAGES`.
        placement_warnings: Warnings that depend on the placement (leak on cores 0/1).
    """

    loaded: LoadedModel
    graph: LayerGraph
    qgraph: QuantizedGraph
    check: CheckResult
    placement: Placement
    config: ChipConfig
    chip: ChipSpec
    timings: Mapping[str, float]
    placement_warnings: tuple[CheckWarning, ...] = ()

    @property
    def warnings(self) -> tuple[CheckWarning, ...]:
        """Every warning: pre-placement then post-placement."""
        return self.check.warnings + self.placement_warnings


def compile_model(
    model: str | Path | nn.Module | Any,
    chip: str | ChipSpec = "speck2f",
    input_shape: Shape3 | None = None,
    *,
    architecture: str | Callable[[], nn.Module] | None = None,
    trust_model_file: bool = False,
    core_map: CoreMap | None = None,
    quantization: str = "sinabs",
    calibration: Any = None,
) -> CompileResult:
    """Compile a sinabs model into a chip configuration.

    Args:
        model: A model file (``.pt``/``.pth``/``.nir``), an ``nn.Module`` or a ``nir.NIRGraph``.
        chip: Chip name or alias (``"speck2f"``, ``"speck"``, ...) or a :class:`ChipSpec`.
        input_shape: ``(C, H, W)`` of one input frame; None to infer it from the model.
        architecture: For state_dict files: a model name in ``models/`` or ``"package.module:function"``.
        trust_model_file: Allow unpickling classes outside the safe allowlist (runs code from the file).
        core_map: Manual placement, layer index or torch module path → core.
        quantization: Quantisation rule (``"sinabs"`` reproduces sinabs bit for bit).
        calibration: Calibration data for rules that need it.

    Returns:
        Every intermediate result, the configuration and per-stage timings.

    Raises:
        ModelLoadError, UnsupportedLayerError, QuantizationError: from the front end.
        ChipConstraintError: listing every violated chip rule.
        PlacementError: if no layer → core assignment exists (with a Hall witness) or the core map is bad.
        hwconfig.ConfigError: if the emitted configuration is invalid (a bug).
    """
    from deploy.frontend import load_model, normalize
    from deploy.quantize import quantize

    spec = get_chip(chip)
    timings: dict[str, float] = {}

    def timed(stage: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        out = fn()
        timings[stage] = time.perf_counter() - t0
        return out

    loaded = timed(
        "load",
        lambda: load_model(
            model, architecture=architecture, input_shape=input_shape, trust_model_file=trust_model_file
        ),
    )
    graph: LayerGraph = timed("normalize", lambda: normalize(loaded, input_shape))
    qgraph: QuantizedGraph = timed(
        "quantize",
        lambda: quantize(graph, rule=quantization, calibration=calibration),  # type: ignore[arg-type]
    )
    result: CheckResult = timed("check", lambda: check(qgraph, spec))
    raise_on_violations(result)
    placement: Placement = timed("place", lambda: place(result.fit_matrix, spec, core_map))
    post = timed("post_check", lambda: check_placement(qgraph, placement, spec))
    config: ChipConfig = timed("emit", lambda: emit_config(qgraph, placement, spec))
    return CompileResult(
        loaded=loaded,
        graph=graph,
        qgraph=qgraph,
        check=result,
        placement=placement,
        config=config,
        chip=spec,
        timings=timings,
        placement_warnings=post,
    )
