"""CLI wiring of issue #12: --dvs-input and the DVS flags, --monitor, --class-exit, device strings with an
index, and the board-vs-simulator section of a board run (on the samna double)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from helpers.snn_models import iaf
from torch import nn


def save_model(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    m = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False), iaf(), nn.Conv2d(4, 2, 3, 2, 1, bias=False), iaf()
    )
    with torch.no_grad():
        for conv in (m[0], m[2]):
            conv.weight.abs_()
    path = tmp_path / "tiny.pt"
    torch.save(m, path)
    return path


def main(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    from deploy.cli import main as cli_main

    try:
        code = cli_main([str(a) for a in args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def test_compile_with_dvs_input_monitor_and_an_indexed_device(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "c.json"
    code, err = main(
        capsys, "compile", save_model(tmp_path), "--device", "speck2fdevkit:0", "--input-shape", "2,16,16",
        "--dvs-input", "--dvs-flip-y", "--monitor", "all", "-o", out,
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out.read_text())
    dvs = doc["config"]["dvs_layer"]
    assert doc["chip"] == "speck2f"
    assert (dvs["pass_sensor_events"], dvs["cut"], dvs["mirror"]) == (
        True,
        {"x": 15, "y": 15},
        {"x": False, "y": True},
    )
    assert sum(layer["monitor_enable"] for layer in doc["config"]["cnn_layers"]) == 2
    assert doc["provenance"]["extra"]["routing"] == {"entry_targets": [13], "input_shape": [2, 16, 16]}


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--monitor", "conv", "--monitor: 'conv' is not a layer index"),
        ("--dvs-crop", "1,2,3", "--dvs-crop needs TOP,BOTTOM,LEFT,RIGHT"),
        ("--dvs-pool", "2,x", "expected N or NY,NX integers"),
        ("--device", "speck2f:x", "must be a board index"),
    ],
)
def test_bad_io_flags_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str
) -> None:
    code, err = main(
        capsys,
        "compile",
        save_model(tmp_path),
        "--input-shape",
        "2,16,16",
        flag,
        value,
        "-o",
        tmp_path / "x.json",
    )
    assert code == 2 and message in err


def test_board_run_reports_board_vs_simulator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from samna_double import make_samna

    import deploy.board as board_pkg
    import deploy.board.samna_access as access
    import hwconfig.samna_env as env
    from deploy.board import run_on_board

    double = make_samna(boards=[("Speck2fDevKit", "A"), ("Speck2fDevKit", "B")])
    monkeypatch.setattr(env, "detect_samna", lambda: env.SamnaStatus("real", "0.48.5", "/x", "real samna"))
    monkeypatch.setattr(access, "load_samna", lambda samna=None, status=None: double)
    chosen: list[str] = []

    def board_run(config: Any, chip: Any, events: Any, board: str, slow_clock_hz: int | None = None) -> Any:
        chosen.append(board)
        return run_on_board(
            config, chip, events, board, samna=double, clock=double.clock, sleep=double.clock.sleep
        )

    monkeypatch.setattr(board_pkg, "run_on_board", board_run)  # what deploy.runner calls
    out = tmp_path / "out"
    code, err = main(
        capsys, save_model(tmp_path), "--device", "speck2fdevkit:1", "--input-shape", "2,16,16",
        "--poisson-rate", "20", "--duration-ms", "30", "-o", out, "-q",
    )  # fmt: skip
    assert code == 0, err
    assert chosen == ["Speck2fDevKit:1"]  # the index of --device selects the board
    summary = json.loads((out / "summary.json").read_text())
    cmp = summary["board_vs_simulator"]
    assert cmp["identical"] is True and cmp["n_board"] == summary["n_output_events"] > 0
    assert "## Board vs simulator" in (out / "report.md").read_text()
    assert "id='board'" in (out / "report.html").read_text()


def test_dry_run_has_no_board_section_and_class_exit_is_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = save_model(tmp_path)
    code, err = main(
        capsys, model, "--input-shape", "2,16,16", "--dry-run", "--class-exit", "0", "-o", tmp_path / "a"
    )
    assert code == 2 and "--class-exit '0' is not an exit layer of the model; its exits are 1 ('2')" in err
    code, err = main(
        capsys, model, "--input-shape", "2,16,16", "--dry-run", "--class-exit", "1", "-o", tmp_path / "b"
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["board_vs_simulator"] is None
    assert [e["class_exit"] for e in summary["exits"]] == [True]
    assert np.load(tmp_path / "b" / "output_events.npy").size == summary["n_output_events"]
