"""`deploy-model compile` / `deploy-model check` end to end, in a subprocess (exit codes, stdout, stderr)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sinabs.layers as sl
import torch
from torch import nn

from hwconfig.json_io import load_config

REPO = Path(__file__).resolve().parents[2]


def iaf() -> sl.IAFSqueeze:
    return sl.IAFSqueeze(batch_size=1, spike_threshold=1.0, min_v_mem=-1.0)


def save(tmp_path: Path, name: str, model: nn.Module) -> Path:
    torch.manual_seed(0)
    path = tmp_path / f"{name}.pt"
    torch.save(model, path)
    return path


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )


def in_process(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """`deploy-model ARGS` in this process (for the cheap cases): (exit code, stdout, stderr)."""
    from deploy.cli import main

    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def tiny() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False), iaf(), nn.Conv2d(4, 2, 3, 2, 1, bias=False), iaf()
    )


def test_check_ok_prints_fit_matrix_and_placement(tmp_path: Path) -> None:
    model = save(tmp_path, "tiny", tiny())
    r = cli("check", model, "--device", "speck", "--input-shape", "2,16,16")
    assert r.returncode == 0, r.stderr
    assert "capacity kernel" in r.stdout and "Conv2d 2→4, k=3" in r.stdout
    assert "0 0 → core 0" in r.stdout and "OK: the model fits speck2f" in r.stdout
    assert r.stderr == "input shape 2×16×16 (given with --input-shape)\n"  # where the shape came from


def test_compile_writes_config_refuses_overwrite_and_prints_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = save(tmp_path, "tiny", tiny())
    out = tmp_path / "config.json"
    code, stdout, stderr = in_process(
        capsys,
        "compile",
        model,
        "--device",
        "speck2f",
        "--input-shape",
        "2,16,16",
        "--core-map",
        "0:3",
        "-o",
        out,
    )
    assert code == 0, stderr
    assert "placement (manual):" in stdout and "→ core 3" in stdout and f"wrote {out}" in stdout
    loaded = load_config(out)
    assert loaded.chip == "speck2f"
    assert loaded.config.cnn_layers[3].destinations[0].layer == 0  # layer 1 → lowest free core 0
    assert loaded.config.monitored_cores() == (0,)

    code, _, stderr = in_process(capsys, "compile", model, "--input-shape", "2,16,16", "-o", out)
    assert code == 2 and "exists; pass --force to replace it" in stderr

    code, stdout, stderr = in_process(
        capsys, "compile", model, "--input-shape", "2,16,16", "-o", out, "--force", "--json"
    )
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["placement"] == {"0": 0, "2": 1} and summary["chip"] == "speck2f"
    assert summary["layers"][0]["kernel_memory"] == 128 and len(summary["config_hash"]) == 64


@pytest.mark.parametrize(
    ("core_map", "message"),
    [("0:9", "core 9 does not exist"), ("0:2,1:2", "core 2 is given to 2 layers"), ("0-2", "LAYER:CORE")],
)
def test_bad_core_map(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], core_map: str, message: str
) -> None:
    model = save(tmp_path, "tiny", tiny())
    code, _, stderr = in_process(capsys, "check", model, "--input-shape", "2,16,16", "--core-map", core_map)
    assert code == 2 and message in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--input-shape", "2,16"), "three integers C,H,W"),
        (("--input-shape", "2,a,16"), "non-integer part"),
        (("--input-shape", "0,16,16"), "must be ≥ 1"),
        (("--input-shape", "2,16,16", "--device", "speck9"), "unknown chip 'speck9'"),
    ],
)
def test_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, _, stderr = in_process(capsys, "check", save(tmp_path, "tiny", tiny()), *args)
    assert code == 2 and message in stderr


def test_too_many_neurons(tmp_path: Path) -> None:
    # The too_big_neurons reference shape; the first layer is not the exit, so fewer channels is a fix.
    net = nn.Sequential(
        nn.Conv2d(2, 16, 3, padding=1, bias=False), iaf(), nn.Conv2d(16, 4, 3, 2, 1, bias=False), iaf()
    )
    model = save(tmp_path, "big", net)
    r = cli("check", model, "--input-shape", "2,128,128")
    assert r.returncode == 2
    assert "layer '0'" in r.stderr and "neuron memory 262144 words > 65536" in r.stderr
    assert "reduce out_channels from 16 to ≤ 4" in r.stderr
    assert "capacity neuron" in r.stdout  # the fit matrix is shown


def test_too_much_kernel_memory(tmp_path: Path) -> None:
    net = nn.Sequential(
        nn.Conv2d(2, 64, 1, bias=False),
        iaf(),
        nn.Conv2d(64, 128, 5, padding=2, bias=False),
        iaf(),
        nn.Conv2d(128, 10, 1, bias=False),  # exit layer: '2' may shrink its channels
        iaf(),
    )
    r = cli("compile", save(tmp_path, "wide", net), "--input-shape", "2,8,8", "-o", tmp_path / "c.json")
    assert r.returncode == 2
    assert "layer '2'" in r.stderr and "kernel memory 262144 words > 65536" in r.stderr
    assert "reduce out_channels from 128 to ≤ 32 (fits core 5)" in r.stderr
    assert not (tmp_path / "c.json").exists()


def test_ten_spiking_layers(tmp_path: Path) -> None:
    layers: list[nn.Module] = []
    for _ in range(10):
        layers += [nn.Conv2d(2, 2, 1, bias=False), iaf()]
    r = cli("check", save(tmp_path, "deep", nn.Sequential(*layers)), "--input-shape", "2,4,4")
    assert r.returncode == 2
    assert "[layer_count]" in r.stderr and "10 spiking layers" in r.stderr and "9 cores" in r.stderr
    assert "'18'" in r.stderr  # the 10th layer's module path


def test_unsupported_layer(tmp_path: Path) -> None:
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.ReLU(), nn.Conv2d(4, 2, 3, bias=False), iaf()
    )
    r = cli("check", save(tmp_path, "relu", net), "--input-shape", "2,16,16", "--trust-model-file")
    assert r.returncode == 2
    assert "'1' (ReLU)" in r.stderr and "IAFSqueeze" in r.stderr


def test_non_square_kernel(tmp_path: Path) -> None:
    net = nn.Sequential(nn.Conv2d(2, 4, (3, 5), bias=False), iaf())
    r = cli("check", save(tmp_path, "rect", net), "--input-shape", "2,16,16")
    assert r.returncode == 2
    assert "'0'" in r.stderr and ("3×5" in r.stderr or "(3, 5)" in r.stderr)


def test_state_dict_with_arch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from helpers.snn_models import build_tiny

    torch.manual_seed(0)
    path = tmp_path / "weights.pt"
    torch.save(build_tiny().state_dict(), path)
    code, stdout, stderr = in_process(
        capsys, "check", path, "--input-shape", "2,16,16", "--arch", "nope:nothing"
    )
    assert code == 2 and "nope" in stderr
    code, stdout, stderr = in_process(
        capsys,
        "check",
        path,
        "--input-shape",
        "2,16,16",
        "--arch",
        "helpers.snn_models:build_tiny",
        "--trust-model-file",
    )
    assert code == 0, stderr
    assert "OK: the model fits speck2f" in stdout


def test_compile_into_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = save(tmp_path, "tiny", tiny())
    out = tmp_path / "nope" / "c.json"
    code, _, stderr = in_process(capsys, "compile", model, "--input-shape", "2,16,16", "-o", out)
    assert code == 2 and f"directory {out.parent} does not exist" in stderr


# --- quantisation and readout options -----------------------------------------------------------------


def classifier() -> nn.Module:
    """2×16×16 → conv → pool → Linear 3: one exit layer with 1×1 output, which the readout can read."""
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False),
        iaf(),
        sl.SumPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 3, bias=False),
        iaf(),
    )


def compile_json(capsys: pytest.CaptureFixture[str], model: Path, out: Path, *args: str | Path) -> dict:
    code, stdout, stderr = in_process(
        capsys, "compile", model, "--input-shape", "2,16,16", "-o", out, "--force", "--json", *args
    )
    assert code == 0, stderr
    return json.loads(stdout)


def test_calibrated_quantization_from_a_raster_or_the_same_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from deploy.sim.events import events_to_raster, make_events

    model = save(tmp_path, "clf", classifier())
    rng = np.random.default_rng(0)
    n = 50_000  # ~100 events per pixel in one 10 ms bin: the membrane range, not the weights, sets the scale
    events = make_events(
        np.sort(rng.integers(0, 10_000, n)),
        0,
        rng.integers(0, 2, n),
        rng.integers(0, 16, n),
        rng.integers(0, 16, n),
    )
    np.savez(tmp_path / "cal_events.npz", events=events, labels=np.arange(3))
    np.save(tmp_path / "cal_raster.npy", events_to_raster(events, 10_000, (2, 16, 16)))

    sinabs_rule = compile_json(capsys, model, tmp_path / "a.json")
    from_raster = compile_json(
        capsys,
        model,
        tmp_path / "b.json",
        "--quantization",
        "calibrated",
        "--calibration",
        tmp_path / "cal_raster.npy",
    )
    from_events = compile_json(
        capsys,
        model,
        tmp_path / "c.json",
        "--quantization",
        "calibrated",
        "--calibration",
        tmp_path / "cal_events.npz",
    )
    assert from_raster["config_hash"] == from_events["config_hash"]
    assert from_raster["config_hash"] != sinabs_rule["config_hash"]
    # 5 ms bins halve the input per step: a smaller membrane range, so a larger scale.
    finer = compile_json(
        capsys,
        model,
        tmp_path / "d.json",
        "--quantization",
        "calibrated",
        "--calibration",
        tmp_path / "cal_events.npz",
        "--calibration-dt-ms",
        "5",
    )
    assert finer["layers"][0]["threshold_high"] > from_events["layers"][0]["threshold_high"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--quantization", "calibrated"), "--quantization calibrated --calibration FILE"),
        (("--calibration", "{raster}"), "add `--quantization calibrated`"),
        (
            ("--quantization", "calibrated", "--calibration", "{bad_raster}"),
            "calibration raster has shape (4, 2, 8, 8)",
        ),
        (
            ("--quantization", "calibrated", "--calibration", "{two}"),
            "name the calibration data 'raster' or 'events'",
        ),
        (("--quantization", "calibrated", "--calibration", "{txt}"), "expected a .npy or .npz file"),
        (("--quantization", "calibrated", "--calibration", "{missing}"), "cannot read it"),
        (
            ("--quantization", "calibrated", "--calibration", "{raster}", "--calibration-dt-ms", "0"),
            "must be > 0",
        ),
        (("--quantization", "fancy"), "invalid choice: 'fancy'"),
    ],
)
def test_calibration_argument_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    files = {
        "raster": tmp_path / "r.npy",
        "bad_raster": tmp_path / "bad.npy",
        "two": tmp_path / "two.npz",
        "txt": tmp_path / "cal.txt",
        "missing": tmp_path / "missing.npy",
    }
    np.save(files["raster"], np.ones((4, 2, 16, 16)))
    np.save(files["bad_raster"], np.ones((4, 2, 8, 8)))
    np.savez(files["two"], a=np.ones(3), b=np.ones(3))
    files["txt"].write_text("1 2 3")
    model = save(tmp_path, "tiny", tiny())
    argv = [a.format(**files) for a in args]
    code, _, stderr = in_process(capsys, "check", model, "--input-shape", "2,16,16", *argv)
    assert code == 2 and message in stderr, stderr


def test_min_v_mem_none_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = sl.IAFSqueeze(batch_size=1, spike_threshold=1.0, min_v_mem=None)
    torch.manual_seed(0)
    model = save(tmp_path, "plain", nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), plain))
    code, _, stderr = in_process(capsys, "check", model, "--input-shape", "2,16,16")
    assert code == 2 and "min_v_mem is None" in stderr
    assert "--allow-plain-min-v-mem-none" in stderr and "allow_plain_min_v_mem_none=True" in stderr
    code, stdout, stderr = in_process(
        capsys, "check", model, "--input-shape", "2,16,16", "--allow-plain-min-v-mem-none"
    )
    assert code == 0, stderr
    assert "OK: the model fits speck2f" in stdout


def test_readout_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = save(tmp_path, "clf", classifier())
    out = tmp_path / "c.json"
    summary = compile_json(capsys, model, out, "--readout")
    assert load_config(out).config.readout.enable
    assert any(w["rule"] == "readout" for w in summary["warnings"])
    compile_json(capsys, model, out)
    assert not load_config(out).config.readout.enable
