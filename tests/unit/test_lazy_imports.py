"""What each command imports (in a fresh subprocess), the deferred pylab, and the torch thread count."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from helpers.snn_models import TINY_SHAPE, build_tiny, seeded

from deploy.errors import DeployError
from deploy.options import RunOptions
from deploy.pipeline import compile_model
from deploy.sim.events import TONIC_DTYPE
from deploy.timestep import evaluate, torch_threads
from hwconfig.json_io import save_config

REPO = Path(__file__).resolve().parents[2]
PLOTTING = ("matplotlib.pyplot", "matplotlib.figure", "matplotlib.pylab")


def _run_cli(argv: list[str]) -> dict[str, Any]:
    """Run ``deploy.cli.main(argv)`` in a fresh interpreter: its exit code (``rc``), the modules it imported
    (``modules``), whether the cyclic garbage collector is on (``gc_on``) and how many objects are frozen
    out of its view (``frozen``) afterwards."""
    script = (
        "import gc, json, sys\n"
        "from deploy.cli import main\n"
        f"rc = main({argv!r})\n"
        "print('\\n' + json.dumps({'rc': rc, 'modules': sorted(sys.modules), 'gc_on': gc.isenabled(),\n"
        "    'frozen': gc.get_freeze_count()}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True
    )
    doc: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return doc


def _run_cli_and_list_modules(argv: list[str]) -> tuple[int, set[str]]:
    """Run ``deploy.cli.main(argv)`` in a fresh interpreter; its exit code and the modules it imported."""
    doc = _run_cli(argv)
    return doc["rc"], set(doc["modules"])


def _top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A whole-module ``.pt`` of the tiny model, its saved configuration and tonic-style input events."""
    d = tmp_path_factory.mktemp("lazy")
    model = seeded(build_tiny, 3)
    torch.save(model, d / "tiny.pt")
    result = compile_model(model, "speck2f", TINY_SHAPE)
    save_config(d / "config.json", result.config, result.chip)
    rng = np.random.default_rng(7)
    n = 300
    events = np.zeros(n, TONIC_DTYPE)
    events["x"], events["y"] = rng.integers(0, 16, n), rng.integers(0, 16, n)
    events["t"], events["p"] = np.sort(rng.integers(0, 20_000, n)), rng.integers(0, 2, n)
    np.save(d / "events.npy", events)
    return d / "tiny.pt", d / "config.json", d / "events.npy"


def test_simulate_of_a_saved_config_imports_no_torch_sinabs_or_matplotlib(
    saved: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, config, events = saved
    out = _run_cli(["simulate", str(config), "--input", str(events), "-o", str(tmp_path / "sim")])
    modules = set(out["modules"])
    assert out["rc"] == 0 and (tmp_path / "sim" / "output_events.npy").exists()
    assert "numba" in _top_level(modules)  # the harness sees what the command imported
    assert _top_level(modules) & {"torch", "sinabs", "matplotlib", "nir"} == set()
    assert out["gc_on"] is True and out["frozen"] > 50_000  # numba's objects frozen out of the collector


@pytest.mark.parametrize("command", ["check", "compile"])
def test_check_and_compile_of_a_model_file_import_no_plotting(
    command: str, saved: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    model = saved[0]
    extra = ["-o", str(tmp_path / "c.json")] if command == "compile" else []
    out = _run_cli([command, str(model), "--device", "speck", "--input-shape", "2,16,16", *extra])
    modules = set(out["modules"])
    assert out["rc"] == 0
    assert {"torch", "sinabs"} <= _top_level(modules)  # loading the model file needs both
    assert modules & set(PLOTTING) == set()
    assert out["gc_on"] is True and out["frozen"] > 100_000  # torch's objects frozen out of the collector


def _in_subprocess(code: str) -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_deferred_pylab_is_the_real_pylab_on_first_use() -> None:
    """sinabs imports without pyplot; its ``pylab`` names are matplotlib's own once used."""
    out = _in_subprocess(
        "import json, sys\n"
        "from deploy.lazy_imports import defer_pylab\n"
        "installed = defer_pylab()\n"
        "import sinabs, sinabs.network\n"
        "before = 'matplotlib.pyplot' in sys.modules\n"
        "scatter = sinabs.network.pylab.scatter\n"
        "import matplotlib.pyplot as plt\n"
        "import pylab\n"
        "ns = {}\n"
        "exec('from pylab import *', ns)\n"
        "print(json.dumps({'installed': installed, 'before': before, 'same': scatter is plt.scatter,\n"
        "    'real_in_sys_modules': type(sys.modules['pylab']).__name__ == 'module',\n"
        "    'star': ns.get('xlabel') is plt.xlabel, 'again': defer_pylab()}))\n"
    )
    assert out == {
        "installed": True,
        "before": False,
        "same": True,
        "real_in_sys_modules": True,
        "star": True,
        "again": False,
    }


def test_defer_pylab_leaves_a_process_with_sinabs_alone() -> None:
    from deploy.lazy_imports import defer_pylab

    assert "sinabs" in sys.modules  # imported by this test module's helpers
    before = sys.modules.get("pylab")
    assert defer_pylab() is False
    assert sys.modules.get("pylab") is before


def test_torch_threads_sets_and_restores() -> None:
    start = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == start
    with torch_threads(None):
        assert torch.get_num_threads() == start
    with pytest.raises(RuntimeError), torch_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == start


def test_views_do_not_depend_on_the_thread_count(rng: np.random.Generator) -> None:
    graph = compile_model(seeded(build_tiny, 5), "speck2f", TINY_SHAPE).graph
    raster = rng.poisson(0.3, size=(20, *TINY_SHAPE)).astype(np.float32)
    with torch_threads(1):
        one = evaluate(graph, raster)
    with torch_threads(2):
        two = evaluate(graph, raster)
    assert all(np.array_equal(a, b) for a, b in zip(one.spikes, two.spikes, strict=True))
    assert sum(float(s.sum()) for s in one.spikes) > 0


@pytest.mark.parametrize("bad", [0, -2])
def test_run_options_reject_a_bad_thread_count(bad: int) -> None:
    with pytest.raises(DeployError, match=r"torch_threads \(--torch-threads\) must be at least 1"):
        RunOptions(torch_threads=bad)


@pytest.mark.parametrize(
    ("flag", "expected"), [([], 1), (["--torch-threads", "2"], 2), (["--torch-threads", "0"], None)]
)
def test_torch_threads_flag(flag: list[str], expected: int | None) -> None:
    from deploy.commands import run

    parser = argparse.ArgumentParser()
    run.add_arguments(parser)
    args = parser.parse_args(["model.pt", "--device", "speck", *flag])
    assert run.run_options(args).torch_threads == expected


def test_dry_run_draws_figures_without_pyplot_validation_or_cyclic_gc_left_off(
    saved: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    model = saved[0]
    argv = [str(model), "--device", "speck", "--input-shape", "2,16,16", "--dry-run"]
    argv += ["-o", str(tmp_path / "r")]
    out = _run_cli(argv)
    modules = set(out["modules"])
    assert out["rc"] == 0 and (tmp_path / "r" / "report.html").exists()
    assert "matplotlib.figure" in modules  # the report's figures were drawn
    assert modules & {"matplotlib.pyplot", "matplotlib.pylab", "deploy.validation"} == set()
    assert out["gc_on"] is True  # switched back on after the imports ...
    assert out["frozen"] > 100_000  # ... with torch's objects frozen


def test_gc_paused_for_imports_freezes_once_the_imports_are_done(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    import deploy.sim.warmup
    from deploy import lazy_imports

    monkeypatch.setattr(lazy_imports, "_RUN_MODULES", ("json",))
    monkeypatch.setattr(deploy.sim.warmup, "load_kernels", lambda: None)
    gc.unfreeze()  # an in-process CLI call of an earlier test may have frozen objects
    assert gc.isenabled() and gc.get_freeze_count() == 0
    try:
        with lazy_imports.gc_paused_for_imports():
            assert not gc.isenabled()
            lazy_imports.import_run_dependencies()
            assert gc.isenabled() and gc.get_freeze_count() > 0
            frozen = gc.get_freeze_count()
            lazy_imports.import_run_dependencies()  # a second run in the same process freezes nothing more
            assert gc.get_freeze_count() == frozen
        assert gc.isenabled()
    finally:
        gc.unfreeze()


def test_gc_paused_for_imports_switches_back_on_after_an_early_error() -> None:
    import gc

    from deploy import lazy_imports

    gc.unfreeze()  # an in-process CLI call of an earlier test may have frozen objects
    with pytest.raises(DeployError), lazy_imports.gc_paused_for_imports():
        assert not gc.isenabled()
        raise DeployError("no board")  # before the imports: nothing is frozen
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        with lazy_imports.gc_paused_for_imports():  # a caller that turned it off keeps it off
            lazy_imports._resume_gc(freeze=True)
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()
