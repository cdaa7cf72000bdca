"""deploy.run_model / write_run_outputs: the library form of ``deploy-model run`` (issue #11)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.snn_models import TINY_SHAPE, build_conv_pool_linear, seeded

from deploy.errors import DeployError
from deploy.inputs import poisson_events, tonic_to_chip
from deploy.options import RunOptions
from deploy.outdir import MARKER, OutputExistsError
from deploy.runner import OUTPUT_FILES, RunResult, run_model, write_run_outputs
from deploy.sim.events import save_events
from deploy.sim.simulator import simulate
from hwconfig.json_io import load_config

RUN = RunOptions(dry_run=True, poisson_rate_hz=300.0, duration_ms=60.0, seed=4)


def _model() -> torch.nn.Module:
    model = seeded(build_conv_pool_linear, seed=1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                m.weight.abs_()  # excitatory weights, so the output layer spikes
    return model


@pytest.fixture(scope="module")
def result() -> RunResult:
    return run_model(_model(), "speck", input_shape=TINY_SHAPE, run_options=RUN)


def test_run_model_feeds_seeded_poisson_input_and_returns_the_simulator_output(result: RunResult) -> None:
    xytp = poisson_events(TINY_SHAPE, 300.0, 60.0, seed=4)
    entry = [result.compiled.placement.core_of[i] for i in result.compiled.graph.entry_layers]
    np.testing.assert_array_equal(result.input.events, tonic_to_chip(xytp, sorted(set(entry)), "test"))
    expected = simulate(result.compiled.config, result.input.events, chip=result.compiled.chip).events
    np.testing.assert_array_equal(result.output_events, expected)
    assert result.target == "simulator" and len(result.output_events) > 0
    assert result.summary.n_output_events == len(result.output_events)
    assert result.summary.input.kind == "poisson" and "seed 4" in result.summary.input.description
    assert {"compile", "target_simulator", "timestep_float"} <= set(result.timings)


def test_summary_predicts_the_most_frequent_output_feature(result: RunResult) -> None:
    out_layer = result.analysis.agreement.output_layer
    core = result.compiled.placement.core_of[out_layer]
    ev = result.output_events[result.output_events["layer"] == core]
    counts = np.bincount(ev["feature"].astype(np.int64), minlength=10)
    assert result.summary.predicted_class == int(np.argmax(counts))


def test_run_model_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    run_model(_model(), "speck2f", input_shape=TINY_SHAPE, run_options=RUN)
    assert capsys.readouterr() == ("", "")


def test_events_file_input_is_used(tmp_path: Path, result: RunResult) -> None:
    path = tmp_path / "ev.npy"
    save_events(path, result.input.events)
    again = run_model(_model(), "speck", input=path, input_shape=TINY_SHAPE, run_options=RunOptions())
    assert again.summary.input.kind == "file" and str(path) in again.summary.input.description
    np.testing.assert_array_equal(again.output_events, result.output_events)


def test_write_run_outputs_is_atomic_and_refuses_to_overwrite(tmp_path: Path, result: RunResult) -> None:
    out = write_run_outputs(result, tmp_path / "out", command=["deploy-model", "x"])
    assert sorted(p.name for p in out.iterdir()) == sorted([*OUTPUT_FILES, MARKER])
    loaded = load_config(out / "config.json")
    assert loaded.config == result.compiled.config and loaded.chip == "speck2f"
    with pytest.raises(OutputExistsError):
        write_run_outputs(result, out)
    write_run_outputs(result, out, force=True)


@pytest.mark.parametrize(
    ("kwargs", "flag"), [({"dt_ms": 0.0}, "--dt-ms"), ({"slow_clock_hz": 0}, "--slow-clock-hz")]
)
def test_run_options_reject_bad_values_on_creation(kwargs: dict[str, float], flag: str) -> None:
    with pytest.raises(DeployError, match=flag):
        RunOptions(**kwargs)  # type: ignore[arg-type]


def test_dt_us_rounds_to_whole_microseconds() -> None:
    assert RunOptions(dt_ms=2.5).dt_us == 2500 and RunOptions(dt_ms=1e-6).dt_us == 1
