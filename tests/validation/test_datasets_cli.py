"""Data set layouts, sweep files and the ``deploy-model validate`` / ``sweep`` commands (exit codes 0/2/3)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deploy.cli import main
from deploy.datasets import is_tonic, load_dataset
from deploy.errors import DatasetError
from deploy.outdir import MARKER
from deploy.validation import validate
from deploy.validation.sweep import SweepError, load_sweep, run_sweep

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "digits_snn" / "model.pt"
ANN = REPO / "models" / "digits_ann2snn" / "model.pt"
N = 3


@pytest.fixture(scope="module")
def npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from models import digits_events, training

    path = tmp_path_factory.mktemp("data") / "digits.npz"
    _, test = digits_events.split_indices()
    digits_events.save_npz(path, training.balanced_subset(test, N))
    return path


def test_event_npz_layout(npz: Path) -> None:
    ds = load_dataset(npz)
    assert len(ds) == N and ds.duration_us == 300_000 and ds.input_shape == (2, 34, 34)
    events, label = ds[0]
    assert is_tonic(events) and isinstance(label, int)


def test_folder_and_raster_layouts(npz: Path, tmp_path: Path) -> None:
    ds = load_dataset(npz)
    for i in range(N):
        events, label = ds[i]
        (tmp_path / "folder" / str(label)).mkdir(parents=True, exist_ok=True)
        np.save(tmp_path / "folder" / str(label) / f"{i:05d}.npy", events)
    (tmp_path / "folder" / "dataset.json").write_text(json.dumps({"duration_us": 300_000}))
    folder = load_dataset(tmp_path / "folder")
    assert len(folder) == N and folder.duration_us == 300_000
    assert sorted(folder.labels.tolist()) == sorted(ds.labels.tolist())
    rasters = np.zeros((2, 4, 2, 34, 34), np.int64)
    np.savez(tmp_path / "r.npz", rasters=rasters, labels=np.array([1, 2]), dt_us=np.int64(5000))
    dense = load_dataset(tmp_path / "r.npz")
    assert dense.dt_us == 5000 and dense[1][0].shape == (4, 2, 34, 34) and dense[1][1] == 2


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ({"labels": np.array([0])}, r"expected 'sample_events' \+ 'offsets' \+ 'labels'"),
        ({"x": np.array([0])}, "has no 'labels' array"),
        ({"rasters": np.zeros((2, 1, 2, 3, 3)), "labels": np.array([0])}, r"must be \(N, T, C, H, W\)"),
        ({"labels": np.array([-1]), "rasters": np.zeros((1, 1, 1, 1, 1))}, "non-negative integers"),
    ],
)
def test_bad_npz_is_named(tmp_path: Path, content: dict, match: str) -> None:
    np.savez(tmp_path / "bad.npz", **content)
    with pytest.raises(DatasetError, match=match):
        load_dataset(tmp_path / "bad.npz")


def test_missing_dataset_and_bad_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"does not exist.*digits:test"):
        load_dataset(tmp_path / "nope.npz")
    (tmp_path / "cats").mkdir()
    with pytest.raises(DatasetError, match="one folder per class named by its integer label"):
        load_dataset(tmp_path)


def test_cli_gates_exit_0_and_3(npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["validate", str(MODEL), "--device", "speck", "--dataset", str(npz), "--workers", "1", "-q"]
    assert main([*base, "--min-accuracy", "0", "-o", str(tmp_path / "out")]) == 0
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "summary.json",
        "report.md",
        "report.html",
        MARKER,
    }
    html = (tmp_path / "out" / "report.html").read_text()
    assert 'id="fig-confusion"' in html and 'id="fig-drift"' in html and 'id="fig-accuracy"' in html
    assert main([*base, "--max-drop", "-101"]) == 3
    assert main([*base, "--json", "--samples", "1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["n_samples"] == 1 and doc["passed"] is True


def test_cli_bad_input_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", str(MODEL), "--dataset", str(tmp_path / "missing.npz"), "-q"])
    assert code == 2
    assert "missing.npz' does not exist" in capsys.readouterr().err


def test_sweep_runs_models_times_options_as_one_job(npz: Path, tmp_path: Path) -> None:
    sweep_file = tmp_path / "sweep.json"
    sweep_file.write_text(
        json.dumps(
            {
                "dataset": str(npz),
                "samples": 2,
                "models": [str(MODEL), str(ANN)],
                "options": [{"name": "sinabs"}],
                "gates": {"min_accuracy": 0},
            }
        )
    )
    sweep = load_sweep(sweep_file)
    assert [r.name for r in sweep.runs] == [f"{MODEL} [sinabs]", f"{ANN} [sinabs]"]
    results = run_sweep(sweep, workers=2, executor="thread")
    assert [res.n_samples for _, res in results] == [2, 2]
    # One job for both models gives what validating each alone gives.
    for (run, res), model in zip(results, (MODEL, ANN), strict=True):
        assert res.samples == validate(model, npz, samples=2).samples, run.name
    assert main(["sweep", str(sweep_file), "-q", "--workers", "1", "-o", str(tmp_path / "s")]) == 0
    assert (tmp_path / "s" / "run-1" / "report.html").is_file()


def test_sweep_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"models": ["m.pt"], "options": [{"quantisation": "sinabs"}], "dataset": "x"}))
    with pytest.raises(SweepError, match=r"options\[0\]: unknown keys \['quantisation'\]"):
        load_sweep(bad)
    bad.write_text(json.dumps({"models": []}))
    with pytest.raises(SweepError, match="'models' must be a non-empty list"):
        load_sweep(bad)
