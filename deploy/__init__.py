"""deploy: compile, check, place, emit, simulate and run sinabs models on Speck / DYNAP-CNN chips.

The public API (docs/architecture.md draws how the pieces fit)::

    import deploy

    result = deploy.compile_model("model.pt", "speck2f", (2, 34, 34), deploy.CompileOptions())
    deploy.save_config("config.json", result.config, result.chip)
    run = deploy.run_model("model.pt", "speck", run_options=deploy.RunOptions(dry_run=True))
    out = deploy.simulate(result.config, events)

Names are imported on first use (PEP 562 module ``__getattr__``), so ``import deploy`` is cheap: it loads
neither torch nor numba. Every :class:`DeployError` subclass is a problem with the user's model, input or
environment (the CLI exits with code 2); anything else is a bug.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # compiler
    "check_model": "deploy.pipeline",
    "compile_model": "deploy.pipeline",
    "CompileResult": "deploy.pipeline",
    "ModelCheck": "deploy.pipeline",
    "CompileOptions": "deploy.options",
    # run (what `deploy-model run` does)
    "run_model": "deploy.runner",
    "write_run_outputs": "deploy.runner",
    "RunResult": "deploy.runner",
    "RunOptions": "deploy.options",
    "resolve_input": "deploy.inputs",
    "analyse": "deploy.analysis",
    # simulator
    "simulate": "deploy.sim.simulator",
    "simulate_batch": "deploy.sim.simulator",
    "Simulator": "deploy.sim.simulator",
    "SimOptions": "deploy.sim.options",
    # chips and configurations
    "get_chip": "hwconfig.chips",
    "ChipSpec": "hwconfig.spec",
    "ChipConfig": "hwconfig.config",
    "load_config": "hwconfig.json_io",
    "save_config": "hwconfig.json_io",
    # errors
    "DeployError": "deploy.errors",
    "ModelLoadError": "deploy.errors",
    "UnsupportedLayerError": "deploy.errors",
    "QuantizationError": "deploy.errors",
    "ChipConstraintError": "deploy.errors",
    "PlacementError": "deploy.errors",
    "EventFormatError": "deploy.errors",
    "SimulationError": "deploy.errors",
    "StateOverflowError": "deploy.errors",
    "BoardError": "deploy.errors",
    "SamnaUnavailableError": "deploy.errors",
    "OutputExistsError": "deploy.outdir",
    "ConfigError": "hwconfig.errors",
}
"""Public name → module that defines it."""

__all__ = [
    "BoardError",
    "ChipConfig",
    "ChipConstraintError",
    "ChipSpec",
    "CompileOptions",
    "CompileResult",
    "ConfigError",
    "DeployError",
    "EventFormatError",
    "ModelCheck",
    "ModelLoadError",
    "OutputExistsError",
    "PlacementError",
    "QuantizationError",
    "RunOptions",
    "RunResult",
    "SamnaUnavailableError",
    "SimOptions",
    "SimulationError",
    "Simulator",
    "StateOverflowError",
    "UnsupportedLayerError",
    "analyse",
    "check_model",
    "compile_model",
    "get_chip",
    "load_config",
    "resolve_input",
    "run_model",
    "save_config",
    "simulate",
    "simulate_batch",
    "write_run_outputs",
]
"""The public API; every name is a key of :data:`_EXPORTS` (tests/unit/test_public_api.py checks)."""

if TYPE_CHECKING:
    from deploy.analysis import analyse
    from deploy.errors import (
        BoardError,
        ChipConstraintError,
        DeployError,
        EventFormatError,
        ModelLoadError,
        PlacementError,
        QuantizationError,
        SamnaUnavailableError,
        SimulationError,
        StateOverflowError,
        UnsupportedLayerError,
    )
    from deploy.inputs import resolve_input
    from deploy.options import CompileOptions, RunOptions
    from deploy.outdir import OutputExistsError
    from deploy.pipeline import CompileResult, ModelCheck, check_model, compile_model
    from deploy.runner import RunResult, run_model, write_run_outputs
    from deploy.sim.options import SimOptions
    from deploy.sim.simulator import Simulator, simulate, simulate_batch
    from hwconfig.chips import get_chip
    from hwconfig.config import ChipConfig
    from hwconfig.errors import ConfigError
    from hwconfig.json_io import load_config, save_config
    from hwconfig.spec import ChipSpec


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'deploy' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
