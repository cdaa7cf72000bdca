"""hwconfig depends on numpy only: importing it must not import torch or samna (or deploy)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULES = ["hwconfig", "hwconfig.json_io", "hwconfig.validate", "hwconfig.samna_env", "hwconfig.config"]
FORBIDDEN = ("torch", "samna", "deploy", "numba", "sinabs")


def _imported_after(module: str, code: str = "") -> list[str]:
    script = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        f"{code}\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stdout)


@pytest.mark.parametrize("module", MODULES)
def test_import_pulls_in_no_heavy_dependency(module: str) -> None:
    loaded = _imported_after(module)
    assert module in loaded
    bad = [m for m in loaded if m.split(".")[0] in FORBIDDEN]
    assert bad == []


def test_using_hwconfig_pulls_in_no_heavy_dependency(tmp_path: Path) -> None:
    """Validation, a JSON round trip and samna detection also stay numpy-only."""
    code = (
        "from hwconfig import ChipConfig\n"
        "from hwconfig.json_io import save_config, load_config\n"
        "from hwconfig.samna_env import detect_samna\n"
        f"save_config({str(tmp_path / 'c.json')!r}, ChipConfig(), 'speck2f')\n"
        f"load_config({str(tmp_path / 'c.json')!r})\n"
        "detect_samna()\n"
    )
    loaded = _imported_after("hwconfig", code)
    assert [m for m in loaded if m.split(".")[0] in FORBIDDEN] == []


def test_the_check_sees_transitive_imports() -> None:
    """Guard against a vacuous test: hwconfig's own dependency shows up in the listing."""
    assert "numpy" in _imported_after("hwconfig")
    assert "numpy" not in _imported_after("json")
