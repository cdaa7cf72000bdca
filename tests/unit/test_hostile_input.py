"""Regression tests for issue 16: every hostile or careless input it lists exits 2 naming the culprit (or
works), and nothing outside the output directory is touched."""

from __future__ import annotations

import io
import json
import os
import pickle
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nir
import numpy as np
import pytest
import sinabs.layers as sl
import torch
from helpers.hostile import (
    SHAPE,
    one_paragraph_error,
    run_cli,
    save_tiny,
    snapshot,
    tiny_model,
    tonic_events,
)
from torch import nn

from deploy.errors import EventFormatError, ModelLoadError
from deploy.frontend.load import load_model
from deploy.limits import ResourceLimitError, check_numpy_file, set_max_memory
from deploy.outdir import MARKER, OutputExistsError, atomic_output_dir, check_output_dir
from deploy.sim.events import as_events
from hwconfig.errors import ConfigError
from hwconfig.json_io import load_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's project: a model, events, a compiled config and files of their own."""
    d = tmp_path_factory.mktemp("project")
    save_tiny(d)
    np.save(d / "ev.npy", tonic_events())
    (d / "src").mkdir()
    (d / "src" / "code.py").write_text("print('mine')\n")
    (d / "notes.txt").write_text("my notes\n")
    code, _, err = run_cli(["compile", d / "tiny.pt", "--input-shape", SHAPE, "-o", d / "config.json"])
    assert code == 0, err
    return d


# --- 1. output safety ------------------------------------------------------------------------------


def test_force_never_deletes_the_current_directory(project: Path) -> None:
    before = snapshot(project)
    code, _, err = run_cli(
        ["simulate", "config.json", "--input", "ev.npy", "-o", ".", "--force", "-q"], cwd=project
    )
    assert one_paragraph_error(code, err) and "current directory" in err
    assert snapshot(project) == before


def test_force_never_deletes_a_parent_of_the_current_directory(project: Path) -> None:
    before = snapshot(project)
    code, _, err = run_cli(
        ["simulate", "../config.json", "--input", "../ev.npy", "-o", "..", "--force", "-q"],
        cwd=project / "src",
    )
    assert one_paragraph_error(code, err) and "parent of the current directory" in err
    assert snapshot(project) == before


def test_force_never_deletes_the_home_directory(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("x")
    monkeypatch.setenv("HOME", str(home))
    code, _, err = run_cli(
        ["simulate", project / "config.json", "--input", project / "ev.npy", "-o", home, "--force", "-q"]
    )
    assert one_paragraph_error(code, err) and "home directory" in err
    assert (home / ".bashrc").read_text() == "x"


def test_force_never_deletes_the_model_folder(tmp_path: Path) -> None:
    folder = tmp_path / "mymodel"
    folder.mkdir()
    model = save_tiny(folder)
    (folder / MARKER).write_text(json.dumps({"tool": "speck-deploy"}))  # even if it looks like ours
    code, _, err = run_cli([model, "--input-shape", SHAPE, "--dry-run", "-o", folder, "--force", "-q"])
    assert one_paragraph_error(code, err) and "model" in err and str(folder) in err
    assert model.is_file()


def test_force_never_replaces_a_directory_the_tool_did_not_write(project: Path, tmp_path: Path) -> None:
    mine = tmp_path / "results"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    code, _, err = run_cli(
        ["simulate", project / "config.json", "--input", project / "ev.npy", "-o", mine, "--force", "-q"]
    )
    assert one_paragraph_error(code, err) and "not written by deploy-model" in err
    assert (mine / "thesis.tex").read_text() == "years of work"


def test_force_replaces_its_own_output(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "sim"
    argv = ["simulate", project / "config.json", "--input", project / "ev.npy", "-o", out, "-q"]
    assert run_cli(argv)[0] == 0
    assert (out / MARKER).is_file()
    code, _, err = run_cli([*argv, "--force"])
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "output_events.npy", "simulation.json"]


def test_compile_force_never_replaces_a_device_node(project: Path) -> None:
    devnull = Path("/dev/null")
    mode = devnull.lstat().st_mode
    code, _, err = run_cli(["compile", project / "tiny.pt", "--input-shape", SHAPE, "-o", devnull, "--force"])
    assert one_paragraph_error(code, err) and "not a regular file" in err
    assert devnull.lstat().st_mode == mode


def test_compile_force_replaces_only_its_own_config(project: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "data.json"
    foreign.write_text('{"my": "data"}')
    argv = ["compile", project / "tiny.pt", "--input-shape", SHAPE, "--force", "-o"]
    code, _, err = run_cli([*argv, foreign])
    assert one_paragraph_error(code, err) and "not a configuration file written by deploy-model" in err
    assert foreign.read_text() == '{"my": "data"}'
    ours = tmp_path / "config.json"
    ours.write_text((project / "config.json").read_text())
    code, _, err = run_cli([*argv, ours])
    assert code == 0, err


def test_compile_onto_an_existing_directory_and_a_symlink(project: Path, tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    argv = ["compile", project / "tiny.pt", "--input-shape", SHAPE, "--force", "-o"]
    code, _, err = run_cli([*argv, tmp_path / "adir"])
    assert one_paragraph_error(code, err) and "is a directory" in err
    link = tmp_path / "link.json"
    link.symlink_to(project / "config.json")
    code, _, err = run_cli([*argv, link])
    assert one_paragraph_error(code, err) and "symbolic link" in err


def test_output_below_an_existing_file(project: Path, tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    code, _, err = run_cli(
        ["simulate", project / "config.json", "--input", project / "ev.npy", "-o", afile / "out", "-q"]
    )
    assert one_paragraph_error(code, err) and "is a file, not a directory" in err
    code, _, err = run_cli(["compile", project / "tiny.pt", "--input-shape", SHAPE, "-o", afile / "c.json"])
    assert one_paragraph_error(code, err) and str(afile) in err
    assert afile.read_text() == "x"


def test_rename_failure_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out"
    real_replace = os.replace

    def failing(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst) == target:
            raise IsADirectoryError(21, "Is a directory", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with (
        pytest.raises(OutputExistsError, match=r"cannot move the output into .*out.*Is a directory"),
        atomic_output_dir(target) as tmp,
    ):
        (tmp / "f.txt").write_text("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_symlinked_output_directory_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(OutputExistsError, match="symbolic link"):
        check_output_dir(tmp_path / "link", force=True)


_SLOW_WRITER = """
import sys, time
from deploy.outdir import atomic_output_dir
with atomic_output_dir(sys.argv[1]) as tmp:
    (tmp / "partial.txt").write_text("x")
    print("ready", flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_removes_the_staging_directory(tmp_path: Path, sig: signal.Signals) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_WRITER, str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    assert any(p.name.startswith(".out.tmp-") for p in tmp_path.iterdir())
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    assert list(tmp_path.iterdir()) == []


# --- 2. resource limits -----------------------------------------------------------------------------


class _ConstructorCall:
    """Pickles as a direct call ``Linear(100000, 60000)`` (24 GB) instead of torch.save's NEWOBJ+BUILD."""

    def __reduce__(self) -> tuple[object, tuple[int, int]]:
        return (nn.Linear, (100_000, 60_000))


def _replace_data_pkl(tmp_path: Path, payload: bytes, name: str = "bomb.pt") -> Path:
    buf = io.BytesIO()
    torch.save({"a": torch.zeros(1)}, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as z:
        for n in src.namelist():
            z.writestr(n, payload if n.endswith("data.pkl") else src.read(n))
    return path


def test_allowlisted_constructor_call_is_refused_before_allocation(tmp_path: Path) -> None:
    path = _replace_data_pkl(tmp_path, pickle.dumps(_ConstructorCall(), protocol=2))
    assert path.stat().st_size < 2000
    with pytest.raises(ModelLoadError, match=r"bomb\.pt.*layer constructor.*Linear"):
        load_model(path)


def test_declared_storage_size_is_checked_before_allocation(tmp_path: Path) -> None:
    """A legacy-format file allocates every storage at its declared size before reading it."""
    path = tmp_path / "legacy.pt"
    torch.save({"w": torch.zeros(10)}, path, _use_new_zipfile_serialization=False)
    set_max_memory(64)  # 10 float32 = 40 bytes, declared as 10 elements → 80 bytes at the 8-byte bound
    try:
        with pytest.raises(ResourceLimitError, match=r"legacy\.pt.*tensor storage.*memory cap of 64"):
            load_model(path)
    finally:
        set_max_memory(None)


def test_huge_tensor_view_over_a_tiny_storage_is_refused(tmp_path: Path) -> None:
    t = torch.zeros(1).expand(100_000, 100_000)  # stride-0 view: 10^10 elements over one float
    path = tmp_path / "view.pt"
    torch.save({"w": t}, path)
    with pytest.raises(ResourceLimitError, match=r"view\.pt.*a tensor \(shape \(100000, 100000\)\)"):
        load_model(path)


def test_npy_header_claiming_billions_of_elements(tmp_path: Path) -> None:
    path = tmp_path / "huge.npy"
    with path.open("wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<i8", "fortran_order": False, "shape": (5_000_000_000,)}
        )
    with pytest.raises(ResourceLimitError, match=r"huge\.npy.*40,000,000,000 bytes"):
        check_numpy_file(path)


def test_cli_npy_bomb_and_corrupt_npz_exit_2(project: Path, tmp_path: Path) -> None:
    bomb = tmp_path / "huge.npy"
    with bomb.open("wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<i8", "fortran_order": False, "shape": (10**10,)})
    corrupt = tmp_path / "bad.npz"
    corrupt.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    for events, culprit in ((bomb, "huge.npy"), (corrupt, "bad.npz")):
        code, _, err = run_cli(["simulate", project / "config.json", "--input", events, "-q"])
        assert one_paragraph_error(code, err) and culprit in err


def test_absurd_input_shape_is_refused_before_tracing(project: Path) -> None:
    code, _, err = run_cli(["check", project / "tiny.pt", "--input-shape", "100000,100000,100"])
    assert one_paragraph_error(code, err) and "far beyond any chip" in err


# --- 3. value checks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "value", "culprit"),
    [
        ("weight", float("inf"), "0.weight"),
        ("weight", float("nan"), "0.weight"),
        ("bias", float("nan"), "0.bias"),
        ("threshold", float("nan"), "1.spike_threshold"),
        ("min_v_mem", float("-inf"), "1.min_v_mem"),
    ],
)
def test_non_finite_parameters_are_refused(tmp_path: Path, where: str, value: float, culprit: str) -> None:
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        sl.IAFSqueeze(batch_size=1, spike_threshold=1.0, min_v_mem=-1.0),
    )
    with torch.no_grad():
        if where == "weight":
            model[0].weight[0, 0, 0, 0] = value
        elif where == "bias":
            model[0].bias[1] = value
        elif where == "threshold":
            model[1].spike_threshold.fill_(value)
        else:
            model[1].min_v_mem.fill_(value)
    path = tmp_path / "m.pt"
    torch.save(model, path)
    code, _, err = run_cli(["compile", path, "--input-shape", SHAPE, "-o", tmp_path / "c.json"])
    assert one_paragraph_error(code, err) and culprit in err and "NaN or infinite" in err
    assert not (tmp_path / "c.json").exists()


def test_event_columns_are_range_checked_before_narrowing() -> None:
    ev = np.zeros(2, dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])
    ev["x"] = [1, 65541]  # would wrap to 5 in int16
    with pytest.raises(EventFormatError, match=r"event 1: x = 65541 does not fit"):
        as_events(ev, source="f.npy")
    ev["x"] = [1, 40000]
    with pytest.raises(EventFormatError, match=r"x = 40000"):
        as_events(ev)


def test_event_coordinate_errors_report_the_original_value(project: Path, tmp_path: Path) -> None:
    ev = np.zeros(1, dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])
    ev["x"] = 40000
    np.save(tmp_path / "ev.npy", ev)
    code, _, err = run_cli(["simulate", project / "config.json", "--input", tmp_path / "ev.npy", "-q"])
    assert one_paragraph_error(code, err) and "40000" in err and "-25536" not in err


def test_string_timestamps_exit_2(project: Path, tmp_path: Path) -> None:
    ev = np.zeros(2, dtype=[("x", "<i2"), ("y", "<i2"), ("t", "<U8"), ("p", "<i2")])
    ev["t"] = ["10", "later"]
    np.save(tmp_path / "ev.npy", ev)
    code, _, err = run_cli(["simulate", project / "config.json", "--input", tmp_path / "ev.npy", "-q"])
    assert one_paragraph_error(code, err) and "ev.npy" in err and "integer" in err


def test_deeply_nested_config_json(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ConfigError, match=r"deep\.json.*nested too deeply"):
        load_config(path)


def test_oversized_config_json_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hwconfig.json_io as json_io

    path = tmp_path / "huge.json"
    path.write_text(" " * 2048 + "{}")
    monkeypatch.setattr(json_io, "MAX_CONFIG_BYTES", 1024)
    monkeypatch.setattr(Path, "read_text", lambda *a, **k: pytest.fail("the file was read"))
    with pytest.raises(ConfigError, match=r"huge\.json.*2,050 bytes is larger than any chip configuration"):
        load_config(path)


def test_state_dict_with_non_string_keys(tmp_path: Path) -> None:
    path = tmp_path / "sd.pt"
    torch.save({0: torch.zeros(2), "a": torch.zeros(1)}, path)
    with pytest.raises(ModelLoadError, match=r"sd\.pt.*key that is not a string: 0 \(int\)"):
        load_model(path, architecture="digits_snn")


def test_legacy_format_files_are_recognised(tmp_path: Path) -> None:
    model = tiny_model()
    sd = tmp_path / "legacy_sd.pt"
    torch.save(model, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(ModelLoadError, match=r"legacy\.pt' is a legacy-format PyTorch file") as err:
        load_model(tmp_path / "legacy.pt")
    assert "truncated or corrupt" not in str(err.value)
    torch.save(model.state_dict(), sd, _use_new_zipfile_serialization=False)
    with pytest.raises(
        ModelLoadError, match="is a state_dict"
    ):  # read fine; only the architecture is missing
        load_model(sd)


def _nir_graph(name: str = "conv", groups: int = 1) -> nir.NIRGraph:
    nodes = {
        "input": nir.Input(input_type={"input": np.array([2, 8, 8])}),
        name: nir.Conv2d(
            input_shape=(8, 8),
            weight=np.ones((4, 2, 3, 3), np.float32),
            stride=1,
            padding=0,
            dilation=1,
            groups=groups,
            bias=np.zeros(4, np.float32),
        ),
        "spk": nir.IF(r=np.ones((4, 6, 6), np.float32), v_threshold=np.ones((4, 6, 6), np.float32)),
        "output": nir.Output(output_type={"output": np.array([4, 6, 6])}),
    }
    return nir.NIRGraph(nodes=nodes, edges=[("input", name), (name, "spk"), ("spk", "output")])


@pytest.mark.parametrize("name", ["def", "class", "__init__", "training", "forward"])
def test_nir_odd_node_names(tmp_path: Path, name: str) -> None:
    path = tmp_path / "g.nir"
    nir.write(str(path), _nir_graph(name))
    code, _, err = run_cli(["check", path])
    assert one_paragraph_error(code, err) and f"node name '{name}'" in err


@pytest.mark.parametrize("groups", [0, -1, 3])
def test_nir_bad_groups(tmp_path: Path, groups: int) -> None:
    path = tmp_path / "g.nir"
    nir.write(str(path), _nir_graph(groups=groups))
    code, _, err = run_cli(["check", path])
    assert one_paragraph_error(code, err) and f"groups = {groups}" in err and "'conv'" in err


# --- 4. --arch --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def state_dict_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sd") / "sd.pt"
    torch.save(tiny_model().state_dict(), path)
    return path


@pytest.mark.parametrize("arch", ["os:system", "os:abort", ":build_model", ".foo:bar", "subprocess:run"])
def test_arch_outside_models_needs_trust(state_dict_file: Path, arch: str) -> None:
    code, _, err = run_cli(["check", state_dict_file, "--input-shape", SHAPE, "--arch", arch])
    assert one_paragraph_error(code, err) and f"'{arch}'" in err and "--trust-model-file" in err


@pytest.mark.parametrize("arch", [":build_model", ".foo:bar", "os:getcwd"])
def test_arch_with_trust_still_exits_2(state_dict_file: Path, arch: str) -> None:
    code, _, err = run_cli(
        ["check", state_dict_file, "--input-shape", SHAPE, "--arch", arch, "--trust-model-file"]
    )
    assert one_paragraph_error(code, err) and "architecture" in err and f"'{arch}'" in err


def test_arch_from_a_file_path(state_dict_file: Path, tmp_path: Path) -> None:
    arch = tmp_path / "net.py"
    arch.write_text(
        "import sinabs.layers as sl\nfrom torch import nn\n\n"
        "def build():\n"
        "    iaf = lambda: sl.IAFSqueeze(batch_size=1, spike_threshold=1.0, min_v_mem=-1.0)\n"
        "    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), iaf(),\n"
        "                         nn.Conv2d(4, 2, 3, 2, 1, bias=False), iaf())\n\n"
        "from os import system\n"
    )
    code, _, err = run_cli(["check", state_dict_file, "--input-shape", SHAPE, "--arch", f"{arch}:build"])
    assert code == 0, err
    code, _, err = run_cli(["check", state_dict_file, "--input-shape", SHAPE, "--arch", f"{arch}:system"])
    assert one_paragraph_error(code, err) and "not a function defined in" in err


def test_unknown_arch_lists_the_bundled_models(state_dict_file: Path) -> None:
    code, _, err = run_cli(["check", state_dict_file, "--input-shape", SHAPE, "--arch", "resnet"])
    assert one_paragraph_error(code, err) and "bundled models: digits_ann2snn, digits_snn" in err


def test_help_says_arch_runs_code() -> None:
    code, out, _ = run_cli(["compile", "--help"])
    assert code == 0 and "RUNS that Python code" in " ".join(out.split())


def test_sigterm_cli_run_exits_without_staging(project: Path, tmp_path: Path) -> None:
    """A whole CLI run killed with SIGTERM while writing leaves no staging directory behind."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time, deploy.outdir as o, sys\n"
            "orig = o.write_marker\n"
            "def slow(d, command=''):\n"
            "    print('writing', flush=True); time.sleep(60)\n"
            "o.write_marker = slow\n"
            "from deploy.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n",
            "simulate",
            str(project / "config.json"),
            "--input",
            str(project / "ev.npy"),
            "-o",
            str(tmp_path / "out"),
            "-q",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("attr", "value", "message"),
    [
        ("padding", (100_000, 100_000), r"padding = \(100000, 100000\)"),  # tracing would allocate 596 GiB
        ("stride", (0, 0), r"stride = \(0, 0\)"),  # ZeroDivisionError before
        ("kernel_size", (5, 5), r"kernel_size \(5, 5\) but a weight of shape \(4, 2, 3, 3\)"),
    ],
)
def test_hostile_layer_geometry_is_refused_at_load(
    tmp_path: Path, attr: str, value: object, message: str
) -> None:
    model = tiny_model()
    setattr(model[0], attr, value)  # what a pickle's BUILD state can set without calling the constructor
    path = tmp_path / "m.pt"
    torch.save(model, path)
    with pytest.raises(ModelLoadError, match=rf"m\.pt.*layer '0' \(Conv2d\) has {message}"):
        load_model(path, input_shape=(2, 16, 16))
