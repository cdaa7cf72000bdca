"""``deploy-model run`` / ``simulate`` / ``doctor`` through a subprocess: outputs, exit codes, error paths.

Every bad input must give exit code 2, a one-paragraph message on stderr that names the culprit, and no
output directory (not even a partial one).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sinabs.layers as sl
import torch
from torch import nn

from deploy.sim.events import EVENT_DTYPE, TONIC_DTYPE
from hwconfig.samna_env import detect_samna

REPO = Path(__file__).resolve().parents[2]
SHAPE = "2,16,16"
OUTPUT_FILES = {
    "config.json",
    "input_events.npy",
    "output_events.npy",
    "summary.json",
    "report.md",
    "report.html",
    ".speck-deploy-output",  # marks the directory as the tool's own, so --force may replace it
}
FIGURE_IDS = {
    "fig-memory",
    "fig-throughput",
    "fig-spike-counts",
    "fig-output-classes",
    "fig-spike-time",
    "fig-output-raster",
    "fig-raster",
}


def iaf() -> sl.IAFSqueeze:
    return sl.IAFSqueeze(batch_size=1, spike_threshold=1.0, min_v_mem=-1.0)


def tiny_model(seed: int = 0) -> nn.Module:
    """conv 2→4 → IAF → conv 4→3 (stride 2) → IAF on (2, 16, 16), positive-leaning weights so it spikes."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False),
        iaf(),
        nn.Conv2d(4, 3, 3, stride=2, padding=1, bias=False),
        iaf(),
    )
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Conv2d):
                m.weight.uniform_(-0.1, 0.4)
    return model


def cli(*args: str | Path, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "deploy.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or REPO,
        env=env,
        check=False,
    )


def assert_user_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 2, one paragraph on stderr (``deploy-model: error: ...``) naming each needle; no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    error_lines = [i for i, line in enumerate(lines) if line.startswith("deploy-model: error:")]
    assert error_lines, err
    message = "\n".join(lines[error_lines[0] :])
    for needle in needles:
        assert needle in message, (needle, message)
    return message


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    torch.save(tiny_model(), d / "tiny.pt")
    return d


@pytest.fixture(scope="module")
def dry_run(workdir: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = workdir / "out"
    proc = cli(workdir / "tiny.pt", "--device", "speck", "--input-shape", SHAPE, "--dry-run", "-o", out)
    return proc, out


# ------------------------------------------------------------------------------------------ success


def test_dry_run_writes_every_output(dry_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    proc, out = dry_run
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in out.iterdir()} == OUTPUT_FILES
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".out.")]  # temp dirs gone
    assert "predicted class" in proc.stdout and "tiny.pt" in proc.stdout


def test_brackets_in_paths_are_printed_literally(workdir: Path) -> None:
    """Rich markup must not eat ``[bold]`` in a path nor crash on ``[/x]`` (a closing tag with no opening)."""
    model = workdir / "net[" / "x].pt"
    model.parent.mkdir(exist_ok=True)
    model.write_bytes((workdir / "tiny.pt").read_bytes())
    out = workdir / "out[bold]"
    proc = cli(model, "--device", "speck", "--input-shape", SHAPE, "--dry-run", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "net[/x].pt" in proc.stdout and "out[bold]/" in proc.stdout


def test_dry_run_summary_json(dry_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, out = dry_run
    s = json.loads((out / "summary.json").read_text())
    assert s["chip"] == "speck2f" and s["target"] == "simulator"
    assert s["fit_matrix"]["layers"] == ["0", "2"] and len(s["fit_matrix"]["fits"][0]) == 9
    assert len(s["placement"]) == 2 and len(s["core_memory"]) == 9
    assert len(s["quantisation"]) == 2 and s["quantisation"][0]["rule"] == "sinabs"
    assert {c["core"] for c in s["cores"]} == {p["core"] for p in s["placement"]}
    assert all(c["synops"] > 0 for c in s["cores"])
    assert s["energy"]["energy_per_synop_is_assumption"] is True and s["energy"]["total_j"] > 0
    assert s["input"]["kind"] == "poisson"
    agreement = s["agreement"]
    assert set(agreement["output_classes"]) == {"float", "quantised", "simulated"}
    assert [la["name"] for la in agreement["layers"]] == ["0", "2"]
    assert all(layer["totals"]["simulated"] > 0 for layer in agreement["layers"])
    # The output events are the exit core's spikes, and their count is in the summary.
    ev = np.load(out / "output_events.npy")
    assert ev.dtype == EVENT_DTYPE and len(ev) == s["n_output_events"] > 0
    assert set(np.unique(ev["layer"])) == {s["placement"][-1]["core"]}


def test_config_json_round_trips_and_simulate_reproduces_the_output(
    dry_run: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path
) -> None:
    from hwconfig.json_io import config_hash, load_config

    _, out = dry_run
    loaded = load_config(out / "config.json")
    assert config_hash(loaded.config) == json.loads((out / "summary.json").read_text())["config_hash"]
    proc = cli(
        "simulate", out / "config.json", "--input", out / "input_events.npy", "-o", tmp_path / "sim", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["n_output_events"] == len(np.load(out / "output_events.npy"))
    np.testing.assert_array_equal(
        np.load(tmp_path / "sim" / "output_events.npy"), np.load(out / "output_events.npy")
    )


def test_json_flag_prints_only_summary(workdir: Path) -> None:
    proc = cli(workdir / "tiny.pt", "--input-shape", SHAPE, "--dry-run", "-o", workdir / "json", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # the whole of stdout is one JSON document
    assert doc == json.loads((workdir / "json" / "summary.json").read_text())


def test_quiet_prints_nothing(workdir: Path) -> None:
    proc = cli(workdir / "tiny.pt", "--input-shape", SHAPE, "--dry-run", "-o", workdir / "quiet", "-q")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
    assert (workdir / "quiet" / "report.html").is_file()


def test_existing_output_needs_force(workdir: Path) -> None:
    out = workdir / "existing"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    proc = cli(workdir / "tiny.pt", "--input-shape", SHAPE, "--dry-run", "-o", out)
    assert_user_error(proc, str(out), "--force")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    # A directory the tool did not write is never replaced, even with --force (issue 16).
    proc = cli(workdir / "tiny.pt", "--input-shape", SHAPE, "--dry-run", "-o", out, "--force", "-q")
    assert_user_error(proc, str(out), "not written by deploy-model")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    fresh = workdir / "fresh"
    proc = cli(workdir / "tiny.pt", "--input-shape", SHAPE, "--dry-run", "-o", fresh, "-q")
    assert proc.returncode == 0, proc.stderr
    proc = cli(workdir / "tiny.pt", "--input-shape", SHAPE, "--dry-run", "-o", fresh, "--force", "-q")
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in fresh.iterdir()} == OUTPUT_FILES


def test_input_file_tonic_events_and_label(workdir: Path, rng: np.random.Generator) -> None:
    ev = np.zeros(400, dtype=TONIC_DTYPE)
    ev["t"] = np.sort(rng.integers(0, 50_000, 400))
    ev["x"], ev["y"], ev["p"] = rng.integers(0, 16, 400), rng.integers(0, 16, 400), rng.integers(0, 2, 400)
    path = workdir / "events.npz"
    np.savez(path, events=ev, label=np.int64(2))
    proc = cli(
        workdir / "tiny.pt",
        "--input-shape",
        SHAPE,
        "--dry-run",
        "-o",
        workdir / "tonic",
        "--input",
        path,
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    s = json.loads(proc.stdout)
    assert s["input"]["kind"] == "file" and s["input"]["n_events"] == 400 and s["input"]["label"] == 2
    assert (
        np.load(workdir / "tonic" / "input_events.npy")["layer"].tolist() == [s["placement"][0]["core"]] * 400
    )
    # `simulate` sends tonic-style events to the configuration's entry core too, and reproduces the run.
    sim = cli("simulate", workdir / "tonic" / "config.json", "--input", path, "--json")
    assert sim.returncode == 0, sim.stderr
    assert json.loads(sim.stdout)["n_output_events"] == s["n_output_events"]


def test_sample_next_to_the_model_is_the_default_input(workdir: Path, rng: np.random.Generator) -> None:
    d = workdir / "with_sample"
    d.mkdir()
    shutil.copy(workdir / "tiny.pt", d / "model.pt")
    ev = np.zeros(50, dtype=TONIC_DTYPE)
    ev["t"] = np.arange(50) * 100
    ev["x"], ev["y"] = rng.integers(0, 16, 50), rng.integers(0, 16, 50)
    # As models/training.py writes it: sample 0 as `events`, all samples concatenated, offsets and labels.
    np.savez(
        d / "sample_input.npz",
        events=ev,
        sample_events=np.concatenate([ev, ev[:20]]),
        offsets=np.array([0, 50, 70]),
        labels=np.array([2, 0]),
    )
    proc = cli(d / "model.pt", "--input-shape", SHAPE, "--dry-run", "--json", cwd=d)
    assert proc.returncode == 0, proc.stderr
    s = json.loads(proc.stdout)
    assert s["input"]["kind"] == "sample" and s["input"]["n_events"] == 50 and s["input"]["label"] == 2
    assert s["samples"]["n_samples"] == 2 and s["samples"]["labels"] == [2, 0]
    # Sample 0 is the `events` array, so its classes are the single-sample check's.
    assert {k: v[0] for k, v in s["samples"]["predictions"].items()} == s["agreement"]["output_classes"]
    assert (d / "deploy-out" / "with_sample" / "summary.json").is_file()  # default -o: deploy-out/<folder>
    # An explicit Poisson rate wins over the sample.
    proc = cli(
        d / "model.pt",
        "--input-shape",
        SHAPE,
        "--dry-run",
        "--json",
        "--force",
        "--poisson-rate",
        "20",
        cwd=d,
    )
    assert json.loads(proc.stdout)["input"]["kind"] == "poisson"


def test_poisson_events_are_seeded_sorted_and_at_the_rate() -> None:
    from deploy.inputs import poisson_events

    a = poisson_events((2, 16, 16), 200.0, 500.0, seed=1)
    b = poisson_events((2, 16, 16), 200.0, 500.0, seed=1)
    c = poisson_events((2, 16, 16), 200.0, 500.0, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == TONIC_DTYPE and np.all(np.diff(a["t"]) >= 0)
    assert a["t"].min() >= 0 and a["t"].max() < 500_000
    assert set(np.unique(a["p"])) == {0, 1} and a["x"].max() == 15 and a["y"].max() == 15
    expected = 2 * 16 * 16 * 200.0 * 0.5  # 51,200 events
    assert abs(len(a) - expected) < 5 * np.sqrt(expected)


def test_time_bins_follow_the_recording_not_time_zero() -> None:
    from deploy.errors import DeployError
    from deploy.inputs import input_raster, time_bins
    from deploy.sim.events import make_events

    late = make_events([1_600_000_123_456, 1_600_000_150_000], 0, 0, 0, 0)
    t0, n = time_bins(late, 10_000)
    assert t0 == 1_600_000_120_000 and n == 4  # bins aligned to multiples of dt, first to last event
    assert time_bins(make_events([], 0, 0, 0, 0), 10_000) == (0, 1)
    raster = input_raster(late, (1, 1, 1), 10_000, t0, n)
    assert raster[:, 0, 0, 0].tolist() == [1, 0, 0, 1]
    with pytest.raises(DeployError, match="--dt-ms"):
        input_raster(late, (2, 128, 128), 1, 0, 10**6)


# ------------------------------------------------------------------------------------------ exit codes


def test_no_board_exits_2_and_says_why(workdir: Path) -> None:
    status = detect_samna()
    why = {
        "missing": "samna is not installed",
        "stub": "only the PyPI placeholder of samna",
        "real": "the real samna is installed but",
    }[status.state]
    out = workdir / "noboard"
    proc = cli(workdir / "tiny.pt", "--input-shape", SHAPE, "-o", out)
    assert_user_error(proc, why, "--dry-run")
    assert not out.exists()


@pytest.mark.parametrize("boards", [[], [("DYNAP-SE2 DevBoard", "X")]])
def test_real_samna_without_a_board_is_a_board_error(
    boards: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from samna_double import make_samna

    import deploy.board.samna_access as access
    import hwconfig.samna_env as env
    from deploy.board import require_board
    from deploy.errors import BoardError, SamnaUnavailableError
    from hwconfig.chips import get_chip

    double = make_samna(boards=boards)
    monkeypatch.setattr(env, "detect_samna", lambda: env.SamnaStatus("real", "0.48.5", "/x", "real samna"))
    monkeypatch.setattr(access, "load_samna", lambda samna=None, status=None: double)
    with pytest.raises(BoardError, match=r"the real samna is installed but .*speck2f.*--dry-run") as info:
        require_board(get_chip("speck"), None)
    assert not isinstance(info.value, SamnaUnavailableError)


def test_real_samna_with_a_board_returns_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from samna_double import make_samna

    import deploy.board.samna_access as access
    import hwconfig.samna_env as env
    from deploy.board import require_board
    from hwconfig.chips import get_chip

    double = make_samna(boards=[("Speck2fDevKit", "SN-A")])
    monkeypatch.setattr(env, "detect_samna", lambda: env.SamnaStatus("real", "0.48.5", "/x", "real samna"))
    monkeypatch.setattr(access, "load_samna", lambda samna=None, status=None: double)
    assert require_board(get_chip("speck"), None) == "Speck2fDevKit:0"


def test_bug_exits_1_with_traceback(workdir: Path) -> None:
    code = (
        "import sys, deploy.commands.run as r\n"
        "def boom(args):\n    raise RuntimeError('deliberate bug')\n"
        "r.run = boom\n"
        "from deploy.cli import main\n"
        f"sys.exit(main([{str(workdir / 'tiny.pt')!r}, '--dry-run']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "deliberate bug" in proc.stderr


def test_unknown_device_exits_2(workdir: Path) -> None:
    proc = cli(workdir / "tiny.pt", "--device", "loihi", "--dry-run", "-o", workdir / "dev")
    assert proc.returncode == 2 and "loihi" in proc.stderr
    assert not (workdir / "dev").exists()


# ------------------------------------------------------------------------------------------ bad inputs


def _bad_model_files(d: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    corrupt = d / "corrupt.pt"
    torch.save(tiny_model(), corrupt)
    corrupt.write_bytes(corrupt.read_bytes()[:200])  # truncated, as by an interrupted copy
    wrong_ext = d / "model.txt"
    wrong_ext.write_text("hello")
    relu = d / "relu.pt"
    torch.manual_seed(0)
    torch.save(nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 3), iaf()), relu)
    big = d / "big.pt"
    torch.save(nn.Sequential(nn.Conv2d(2, 16, 3, padding=1, bias=False), iaf()), big)
    return {
        "missing": (d / "nope.pt", ("nope.pt",)),
        "corrupt": (corrupt, ("corrupt.pt",)),
        "wrong_extension": (wrong_ext, ("model.txt",)),
        "unsupported_layer": (relu, ("ReLU",)),
        "does_not_fit": (big, ("neuron memory",)),
    }


@pytest.mark.parametrize(
    "case", ["missing", "corrupt", "wrong_extension", "unsupported_layer", "does_not_fit"]
)
def test_bad_model_exits_2_without_output(case: str, workdir: Path) -> None:
    d = workdir / f"bad_{case}"
    d.mkdir()
    path, needles = _bad_model_files(d)[case]
    shape = "2,128,128" if case == "does_not_fit" else SHAPE
    out = d / "out" / "nested"
    proc = cli(path, "--input-shape", shape, "--dry-run", "-o", out)
    assert_user_error(proc, *needles)
    assert not (d / "out").exists()  # not even the parent it would have created


def _bad_event_files(d: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    wrong_ext = d / "events.csv"
    wrong_ext.write_text("0,0,0,0,0\n")
    corrupt = d / "corrupt.npy"
    corrupt.write_bytes(b"\x93NUMPY garbage" * 4)
    out_of_range = d / "far.npy"
    ev = np.zeros(3, dtype=TONIC_DTYPE)
    ev["t"] = [0, 10, 20]
    ev["x"] = [1, 40, 2]  # x = 40 is outside the 16-pixel-wide input
    np.save(out_of_range, ev)
    unordered = d / "unordered.npy"
    ev2 = np.zeros(2, dtype=TONIC_DTYPE)
    ev2["t"] = [50, 10]
    np.save(unordered, ev2)
    wrong_core = d / "wrong_core.npy"
    chip_ev = np.zeros(2, dtype=EVENT_DTYPE)
    chip_ev["layer"] = 7  # the tiny model's input enters at its first layer's core, not core 7
    np.save(wrong_core, chip_ev)
    pickled = d / "objects.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return {
        "missing": (d / "none.npy", ("none.npy", "does not exist")),
        "wrong_extension": (wrong_ext, ("events.csv", ".npy or .npz")),
        "corrupt": (corrupt, ("corrupt.npy",)),
        "out_of_range": (out_of_range, ("event 1", "x = 40")),
        "unordered": (unordered, ("event 1", "timestamp")),
        "object_array": (pickled, ("objects.npy",)),
        "wrong_core": (wrong_core, ("wrong_core.npy", "event 0", "layer 7", "--core-map")),
    }


@pytest.mark.parametrize(
    "case",
    ["missing", "wrong_extension", "corrupt", "out_of_range", "unordered", "object_array", "wrong_core"],
)
def test_bad_event_file_exits_2_without_output(case: str, workdir: Path) -> None:
    d = workdir / f"ev_{case}"
    d.mkdir()
    path, needles = _bad_event_files(d)[case]
    out = d / "out"
    proc = cli(workdir / "tiny.pt", "--input-shape", SHAPE, "--dry-run", "-o", out, "--input", path)
    assert_user_error(proc, *needles)
    assert not out.exists()
    assert not [p for p in d.iterdir() if p.name.startswith(".out.")]


def test_bias_needs_a_slow_clock(workdir: Path) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), iaf(), nn.Conv2d(4, 3, 3, stride=2, padding=1), iaf()
    )
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Conv2d):
                m.weight.uniform_(-0.1, 0.4)
                m.bias.fill_(0.05)
    torch.save(model, workdir / "bias.pt")
    runs = {}
    for name, extra in (("noclock", []), ("clock", ["--slow-clock-hz", "100"])):
        proc = cli(
            workdir / "bias.pt", "--input-shape", SHAPE, "--dry-run", "-o", workdir / name, "--json", *extra
        )
        assert proc.returncode == 0, proc.stderr
        runs[name] = json.loads(proc.stdout)
    assert any("no slow clock was given" in n for n in runs["noclock"]["notes"])
    assert any("at 100 Hz" in n for n in runs["clock"]["notes"])
    assert any("[leak]" in w for w in runs["noclock"]["warnings"]["checker"])
    # With a clock the positive leak adds spikes in the simulation; the time-stepped views do not change.
    sim = {k: sum(la["totals"]["simulated"] for la in r["agreement"]["layers"]) for k, r in runs.items()}
    flt = {k: sum(la["totals"]["float"] for la in r["agreement"]["layers"]) for k, r in runs.items()}
    assert sim["clock"] > sim["noclock"] and flt["clock"] == flt["noclock"]


def test_bad_poisson_arguments_exit_2(workdir: Path) -> None:
    out = workdir / "poisson_bad"
    proc = cli(workdir / "tiny.pt", "--input-shape", SHAPE, "--dry-run", "-o", out, "--poisson-rate", "-5")
    assert_user_error(proc, "--poisson-rate")
    assert not out.exists()
    proc = cli(workdir / "tiny.pt", "--input-shape", SHAPE, "--dry-run", "-o", out, "--slow-clock-hz", "0")
    assert_user_error(proc, "--slow-clock-hz")
    assert not out.exists()


def test_simulate_bad_config_exits_2(workdir: Path) -> None:
    bad = workdir / "bad_config.json"
    bad.write_text("{not json")
    ev = workdir / "ev_for_sim.npy"
    np.save(ev, np.zeros(0, dtype=EVENT_DTYPE))
    proc = cli("simulate", bad, "--input", ev, "-o", workdir / "simout")
    assert_user_error(proc, "bad_config.json")
    assert not (workdir / "simout").exists()


# ------------------------------------------------------------------------------------------ doctor


def test_doctor_reports_versions_and_samna_state() -> None:
    proc = cli("doctor", "--json")
    assert proc.returncode == 0, proc.stderr
    checks = {c["name"]: c for c in json.loads(proc.stdout)}
    assert checks["torch"]["version"] == torch.__version__
    assert checks["sinabs"]["status"] == "ok" and checks["numba"]["status"] == "ok"
    state = detect_samna().state
    assert checks["samna"]["status"] == {"real": "ok", "stub": "warning", "missing": "missing"}[state]
    if state != "real":
        assert "pip install" in checks["samna"]["detail"]  # the fix is part of the report
        assert "real samna" in checks["boards"]["detail"]
    text = cli("doctor")
    assert text.returncode == 0 and "samna" in text.stdout and "numba" in text.stdout


# ------------------------------------------------------------------------------------------ the HTML report


def test_report_opens_in_headless_chromium(
    dry_run: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path
) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium); the HTML report was not rendered")
    _, out = dry_run
    report = tmp_path / "report.html"
    shutil.copy(out / "report.html", report)
    harness = tmp_path / "harness.html"
    harness.write_text(
        "<!DOCTYPE html><html><body><pre id='result'>pending</pre>"
        "<iframe id='f' src='report.html' style='width:1200px;height:900px'></iframe><script>"
        "window.addEventListener('load', () => {"
        "  const d = document.getElementById('f').contentDocument;"
        "  const imgs = [...d.querySelectorAll('figure img')];"
        "  const r = {figures: [...d.querySelectorAll('figure')].map(f => f.id),"
        "    decoded: imgs.filter(i => i.complete && i.naturalWidth > 0).length, images: imgs.length,"
        "    title: d.title, tables: d.querySelectorAll('table').length};"
        "  document.getElementById('result').textContent = 'RESULT:' + JSON.stringify(r);"
        "});</script></body></html>"
    )
    proc = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--allow-file-access-from-files",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            harness.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    marker = proc.stdout.split("RESULT:", 1)
    assert len(marker) == 2, proc.stdout[-2000:]
    result = json.loads(marker[1].split("</pre>", 1)[0].replace("&quot;", '"'))
    assert set(result["figures"]) == FIGURE_IDS
    assert result["decoded"] == result["images"] == len(FIGURE_IDS)
    assert result["tables"] >= 8 and "tiny.pt" in result["title"]
    console_errors = [
        line for line in proc.stderr.splitlines() if "Uncaught" in line or "Failed to load resource" in line
    ]
    assert not console_errors, console_errors


# ------------------------------------------------------------------------------------------ bundled model


def test_bundled_models_declare_their_input_shape() -> None:
    from deploy.inputs import bundled_input_shape

    pkg = REPO / "models" / "digits_ann2snn"
    assert bundled_input_shape(pkg / "model.pt") == (2, 34, 34)  # the package's INPUT_SHAPE
    assert bundled_input_shape(REPO / "tests" / "model.pt") is None  # not a bundled model's folder
    assert bundled_input_shape(REPO / "models" / "model.pt") is None


@pytest.mark.slow
@pytest.mark.parametrize("name", ["digits_snn", "digits_ann2snn"])
def test_bundled_model_dry_run(name: str, tmp_path: Path) -> None:
    """What scripts/run_default.sh does (no --input-shape: the bundled package declares it)."""
    model = REPO / "models" / name / "model.pt"
    assert model.is_file(), f"the bundled model {model.relative_to(REPO)} is missing (it is committed)"
    proc = cli(model, "--device", "speck", "--dry-run", "-o", tmp_path / "out", "--json")
    assert proc.returncode == 0, proc.stderr
    s = json.loads(proc.stdout)
    assert s["input"]["kind"] == "sample" and s["input"]["label"] is not None
    assert s["predicted_class"] is not None
    assert s["agreement"]["output_classes"]["simulated"] == s["predicted_class"]
    samples = s["samples"]
    assert samples["n_samples"] >= 2 and samples["predictions"]["simulated"][0] == s["predicted_class"]
    assert samples["accuracy"]["float"] >= 0.5  # trained models: most shipped samples are classified right
