"""`deploy-model check` prints one joint fix before the per-layer hints; applied, it makes check exit 0.

Issue #13 "Done when": the too-big model in the tests gets a joint fix that, applied, makes `check` exit 0.
The fix is applied to the torch model by tests/helpers/apply_changes.py (independent of deploy.fixes) and
the edited model is checked by the CLI from scratch.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import torch
from helpers.apply_changes import apply_changes_to_module
from helpers.reference_data import reference_file
from torch import nn

from deploy.fixes import LayerChange

REPO = Path(__file__).resolve().parents[2]
CHANGE = re.compile(r"^  layer '(?P<layer>[^']+)': (?P<field>[a-z_ ]+) (?P<old>\d+) → (?P<new>\d+)", re.M)
FIELDS = {"stride": "stride", "kernel_size": "kernel_size", "out_channels": "out_channels",
          "padding": "padding", "sum pooling after it": "pooling"}  # fmt: skip


def check(model: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`deploy-model check` with stdout and stderr in one stream, in the order they were written."""
    return subprocess.run(
        [sys.executable, "-m", "deploy.cli", "check", str(model), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        timeout=300,
    )


def printed_changes(output: str) -> list[LayerChange]:
    """The joint fix as the user reads it on the terminal."""
    return [
        LayerChange(m["layer"], FIELDS[m["field"]], int(m["old"]), int(m["new"]))  # type: ignore[arg-type]
        for m in CHANGE.finditer(output)
    ]


def test_too_big_model_joint_fix_applied_makes_check_pass(tmp_path: Path) -> None:
    path = reference_file("too_big_neurons", "model.pt")
    r = check(path, "--input-shape", "2,128,128")
    assert r.returncode == 2, r.stdout
    out = r.stdout
    head = "one change makes the whole model fit speck2f (checked: every rule passes and the layers place"
    assert head in out
    # The joint fix comes first, the per-layer violations and their hints below it.
    assert out.index(head) < out.index("deploy-model: error: the model does not fit speck2f")
    assert out.index(head) < out.index("[memory_fit] layer '0'")
    changes = printed_changes(out)
    assert changes == [LayerChange("0", "stride", 1, 2)]

    model = torch.load(path, weights_only=False)
    assert isinstance(model, nn.Sequential)
    fixed = tmp_path / "fixed.pt"
    torch.save(apply_changes_to_module(model, changes, (2, 128, 128)), fixed)
    r = check(fixed, "--input-shape", "2,128,128")
    assert r.returncode == 0, r.stdout
    assert "OK: the model fits speck2f" in r.stdout and "joint fix" not in r.stdout


def test_check_says_when_no_joint_fix_exists(tmp_path: Path) -> None:
    import sinabs.layers as sl

    def iaf() -> sl.IAFSqueeze:
        return sl.IAFSqueeze(batch_size=1, spike_threshold=1.0, min_v_mem=-1.0)

    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, bias=False), iaf(), nn.Flatten(), nn.Linear(144, 2000, bias=False), iaf()
    )
    path = tmp_path / "classes.pt"
    torch.save(net, path)
    r = check(path, "--input-shape", "2,8,8")
    assert r.returncode == 2
    assert "no joint fix: the exit layer '3' has 2000 classes" in r.stdout
    assert "[features] layer '3'" in r.stdout  # the per-layer findings are still listed
