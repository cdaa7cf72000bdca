"""Each training script runs in quick mode (a few steps on 64 samples) and its loss decreases."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("script", ["train_digits_snn.py", "train_digits_ann2snn.py"])
def test_quick_training_decreases_loss(script: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / script), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    steps = [float(v) for v in re.findall(r"^step +\d+ +loss ([0-9.]+)$", proc.stdout, re.M)]
    assert len(steps) == 12
    assert sum(steps[-3:]) < sum(steps[:3]), steps
    # Quick mode with --out writes a complete, loadable checkpoint set.
    for name in ("model.pt", "state_dict.pt", "sample_input.npz", "train_log.json"):
        assert (tmp_path / name).is_file(), name
    from models import training

    model = training.load_module(tmp_path / "model.pt")
    assert sum(p.numel() for p in model.parameters()) > 10_000
