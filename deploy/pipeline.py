"""The compiler pipeline: the one place that knows the stage order (DESIGN.md "Pipeline").

``load → normalize → quantize → check (raise on violations) → place → post-placement checks → emit``

Every stage is a pure function; this module only calls them in order and times them. :func:`check_model`
runs the stages up to placement and records violations instead of raising (for ``deploy-model check``);
:func:`compile_model` raises on them and emits the configuration.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploy.check import CheckResult, CheckWarning, check, check_placement, raise_on_violations
from deploy.dvs import apply_dvs_options
from deploy.emit import emit_config
from deploy.errors import DeployError, ModelLoadError, PlacementError
from deploy.graph import LayerGraph, Placement, QuantizedGraph, Shape3
from deploy.monitor import MonitorPlan, resolve_monitor
from deploy.options import CompileOptions
from deploy.place import place
from hwconfig.chips import get_chip
from hwconfig.config import ChipConfig
from hwconfig.errors import ConfigError
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
        input_shape_source: Where the input shape came from (:func:`deploy.inputs.find_input_shape`).
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
    input_shape_source: str = ""

    @property
    def warnings(self) -> tuple[CheckWarning, ...]:
        """Every warning: pre-placement then post-placement."""
        return self.check.warnings + self.placement_warnings


@dataclass(frozen=True, eq=False)
class ModelCheck:
    """The verdict of :func:`check_model`: every stage up to placement, without raising on the chip's limits.

    Attributes:
        loaded, graph, qgraph: The front-end results.
        check: Violations, warnings and the fit matrix.
        placement: The placement, or None when there were violations or no placement exists.
        placement_error: Why placement failed (a Hall witness), or None.
        placement_warnings: Warnings that depend on the placement.
        chip: The target chip.
        timings: Seconds per stage that ran.
        input_shape_source: Where the input shape came from (:func:`deploy.inputs.find_input_shape`).
    """

    loaded: LoadedModel
    graph: LayerGraph
    qgraph: QuantizedGraph
    check: CheckResult
    placement: Placement | None
    placement_error: PlacementError | None
    placement_warnings: tuple[CheckWarning, ...]
    chip: ChipSpec
    timings: Mapping[str, float]
    input_shape_source: str = ""

    @property
    def fits(self) -> bool:
        """True when there are no violations and a placement exists."""
        return self.check.ok and self.placement is not None


def _timer(timings: dict[str, float]) -> Callable[[str, Callable[[], Any]], Any]:
    def timed(stage: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        out = fn()
        timings[stage] = time.perf_counter() - t0
        return out

    return timed


def check_model(
    model: str | Path | nn.Module | Any,
    chip: str | ChipSpec = "speck2f",
    input_shape: Shape3 | None = None,
    options: CompileOptions | None = None,
) -> ModelCheck:
    """Run ``load → normalize → quantize → check → place → post-placement checks`` and report.

    Arguments are those of :func:`compile_model`. Violations and a failed placement are recorded in the
    result instead of raised; placement is only attempted when there are no violations.

    Raises:
        ModelLoadError: from the front end, or the input shape is unknown.
        UnsupportedLayerError, QuantizationError: from the front end.
    """
    from deploy.frontend import load_model, normalize
    from deploy.inputs import find_input_shape
    from deploy.quantize import quantize

    opts = options or CompileOptions()
    spec = get_chip(chip)
    timings: dict[str, float] = {}
    timed = _timer(timings)
    loaded = timed(
        "load",
        lambda: load_model(
            model,
            architecture=opts.architecture,
            input_shape=input_shape,
            trust_model_file=opts.trust_model_file,
        ),
    )
    model_path = Path(model) if isinstance(model, (str, Path)) else None
    shape, shape_source = find_input_shape(model_path, loaded, input_shape)
    if shape is None:
        raise ModelLoadError(
            f"the input shape of {loaded.source} is unknown: the model declares none (no INPUT_SHAPE in its "
            "package, DVS layer, NIR input node, input_shape attribute or sample_input.npz with an "
            "'input_shape' array); pass `--input-shape C,H,W` (Python: `input_shape=(C, H, W)`), e.g. 2,34,34"
        )
    graph: LayerGraph = timed(
        "normalize",
        lambda: apply_dvs_options(normalize(loaded, shape), opts.dvs_input, opts.dvs, spec),
    )
    qgraph: QuantizedGraph = timed("quantize", lambda: quantize(graph, spec, opts))
    result: CheckResult = timed("check", lambda: check(qgraph, spec, readout=bool(opts.readout)))
    placement: Placement | None = None
    error: PlacementError | None = None
    post: tuple[CheckWarning, ...] = ()
    if result.ok:
        try:
            placement = timed("place", lambda: place(result.fit_matrix, spec, opts.core_map))
        except PlacementError as exc:
            error = exc
        if placement is not None:
            post = timed("post_check", lambda: check_placement(qgraph, placement, spec))
    return ModelCheck(
        loaded=loaded,
        graph=graph,
        qgraph=qgraph,
        check=result,
        placement=placement,
        placement_error=error,
        placement_warnings=post,
        chip=spec,
        timings=timings,
        input_shape_source=shape_source,
    )


def compile_model(
    model: str | Path | nn.Module | Any,
    chip: str | ChipSpec = "speck2f",
    input_shape: Shape3 | None = None,
    options: CompileOptions | None = None,
) -> CompileResult:
    """Compile a sinabs model into a chip configuration.

    Args:
        model: A model file (``.pt``/``.pth``/``.nir``), an ``nn.Module`` or a ``nir.NIRGraph``.
        chip: Chip name or alias (``"speck2f"``, ``"speck"``, ...) or a :class:`ChipSpec`.
        input_shape: ``(C, H, W)`` of one input frame; None to find it as every command does
            (:func:`deploy.inputs.find_input_shape`: the model's package, DVS layer, NIR input node, stored
            ``input_shape``, or sample input).
        options: Every other compiler choice (:class:`deploy.options.CompileOptions`); None for the
            defaults, which reproduce sinabs's flow.

    Returns:
        Every intermediate result, the configuration and per-stage timings.

    Raises:
        ModelLoadError, UnsupportedLayerError, QuantizationError: from the front end.
        ChipConstraintError: listing every violated chip rule.
        PlacementError: if no layer → core assignment exists (with a Hall witness) or the core map is bad.
        hwconfig.ConfigError: if the emitted configuration is invalid (a bug).
    """
    opts = options or CompileOptions()
    verdict = check_model(model, chip, input_shape, opts)
    raise_on_violations(verdict.check)
    if verdict.placement_error is not None:
        raise verdict.placement_error
    placement = verdict.placement
    assert placement is not None  # no violations and no placement error
    timings = dict(verdict.timings)
    plan = resolve_monitor(opts.monitor, verdict.graph)
    config: ChipConfig = _timer(timings)(
        "emit",
        lambda: finish_config(
            emit_config(verdict.qgraph, placement, verdict.chip, monitor=plan.layers, readout=opts.readout),
            plan,
            opts.config_modifier,
            verdict.chip,
        ),
    )
    return CompileResult(
        loaded=verdict.loaded,
        graph=verdict.graph,
        qgraph=verdict.qgraph,
        check=verdict.check,
        placement=placement,
        config=config,
        chip=verdict.chip,
        timings=timings,
        placement_warnings=verdict.placement_warnings + plan.warnings,
        input_shape_source=verdict.input_shape_source,
    )


def finish_config(
    config: ChipConfig,
    plan: MonitorPlan,
    config_modifier: Callable[[ChipConfig], ChipConfig] | None,
    chip: ChipSpec,
) -> ChipConfig:
    """The emitted configuration with the DVS monitor of ``plan`` and the user's ``config_modifier``.

    The modifier runs last, as in sinabs's ``_make_config``; its result is validated against ``chip``.

    Raises:
        DeployError: The modifier did not return a :class:`ChipConfig`.
        hwconfig.ConfigError: The modified configuration is invalid (every problem with its field path).
    """
    if plan.dvs:
        config = dataclasses.replace(
            config, dvs_layer=dataclasses.replace(config.dvs_layer, monitor_enable=True)
        )
    if config_modifier is None:
        return config
    modified = config_modifier(config)
    if not isinstance(modified, ChipConfig):
        raise DeployError(
            f"config_modifier returned {type(modified).__name__}, not a ChipConfig; return the (modified) "
            "configuration, e.g. dataclasses.replace(config, ...)"
        )
    try:
        modified.validate(chip)
    except ConfigError as exc:
        raise ConfigError([f"after config_modifier: {p}" for p in exc.problems], source=exc.source) from exc
    return modified
