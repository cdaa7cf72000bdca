"""The accuracy table on a class-balanced subset of the test split, with the committed checkpoints.

Floors (on 30 samples, 3 per class): the simulated (bit-accurate, event-driven) accuracy of each model stays
above 80 %, the float and quantised columns above 80 %, and the simulated class agrees with the float class
on at least 85 % of the samples. The full-split figures are in models/README.md.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _accuracy_table():
    spec = importlib.util.spec_from_file_location("accuracy_table", REPO / "scripts" / "accuracy_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["accuracy_table"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("name", ["digits_snn", "digits_ann2snn"])
def test_accuracy_on_subset_above_floor(name: str) -> None:
    table = _accuracy_table()
    (row,) = table.run([name], subset=30, workers=1, log=lambda _: None)
    assert row.n == 30
    assert row.float_acc >= 0.8
    assert row.quant_acc >= 0.8
    assert row.sim_acc >= 0.8
    assert row.sim_vs_float_agree >= 0.85
    assert row.synops > row.input_events  # every input event causes at least one synaptic update
    md = table.markdown([row], "speck2f")
    assert f"| {name} | 30 |" in md


def test_readme_markers_are_replaced(tmp_path: Path) -> None:
    table = _accuracy_table()
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{table.MARK_START}\nold\n{table.MARK_END}\nafter\n")
    table.write_readme("| new |\n", readme)
    assert readme.read_text() == f"before\n{table.MARK_START}\n| new |\n{table.MARK_END}\nafter\n"
    readme.write_text("no markers\n")
    with pytest.raises(SystemExit, match="markers"):
        table.write_readme("| new |\n", readme)
