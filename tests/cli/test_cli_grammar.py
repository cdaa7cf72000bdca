"""One CLI grammar (issue #13): ``--json``/``-q``/``-v`` on every subcommand, the input shape found the same
way by every command, ``--core-map`` by the names the tables show, inputs as users have them (dense rasters,
polarity conventions, sensor-sized events), the terminal verdict of the report and ``--fail-on-divergence``.

In process (``deploy.cli.main`` + ``capsys``): a subprocess per case is too slow on a loaded machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.snn_models import iaf
from torch import nn

from deploy.cli import COMMANDS, build_parser, main
from deploy.errors import EventFormatError
from deploy.sim.events import TONIC_DTYPE, events_to_raster, raster_to_events

REPO = Path(__file__).resolve().parents[2]
BUNDLED = ("digits_snn", "digits_ann2snn")
SHAPE = "2,16,16"


def tiny(bias: float | None = None) -> nn.Module:
    """conv 2→4 → IAF → conv 4→2 (stride 2) → IAF on (2, 16, 16); modules named '0' and '2'."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=bias is not None),
        iaf(),
        nn.Conv2d(4, 2, 3, 2, 1, bias=False),
        iaf(),
    )
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Conv2d):
                m.weight.uniform_(-0.1, 0.4)
        if bias is not None:
            model[0].bias.fill_(bias)
    return model


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("grammar")
    torch.save(tiny(), d / "tiny.pt")
    torch.save(tiny(bias=1.0), d / "biased.pt")
    rng = np.random.default_rng(0)
    ev = np.zeros(300, dtype=TONIC_DTYPE)
    ev["x"], ev["y"] = rng.integers(0, 16, 300), rng.integers(0, 16, 300)
    ev["t"], ev["p"] = np.sort(rng.integers(0, 50_000, 300)), rng.integers(0, 2, 300)
    np.save(d / "events.npy", ev)
    return d


def cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """``deploy-model ARGS`` in this process: (exit code, stdout, stderr)."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def one_json_document(stdout: str) -> dict | list:
    """Exactly one JSON document (``json.loads`` refuses trailing data)."""
    return json.loads(stdout)


# ------------------------------------------------------------------------------------------ the grammar


SUBCOMMANDS = ("run", "check", "compile", "simulate", "devices", "doctor", "export")
"""The subcommands of issue #13's grammar (every one in COMMANDS is expected to follow it)."""


def test_every_subcommand_has_json_quiet_verbose_and_the_device_vocabulary() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(SUBCOMMANDS) <= set(COMMANDS)
    for name in SUBCOMMANDS:
        p = sub.choices[name]  # type: ignore[index]
        flags = {s for a in p._actions for s in a.option_strings}
        assert {"--json", "-q", "--quiet", "-v", "--verbose"} <= flags, name
        if "--device" not in flags:
            continue
        positional = (
            ["x.json"] if name == "simulate" else (["m.pt"] if name in ("run", "check", "compile") else [])
        )
        required = (
            ["-o", "c.json"] if name == "compile" else (["--input", "e.npy"] if name == "simulate" else [])
        )
        args = p.parse_args([*positional, *required, "--device", "Speck"])
        assert args.device.name == "speck2f", name  # the same aliases, case-insensitive, everywhere
        with pytest.raises(SystemExit):
            p.parse_args([*positional, *required, "--device", "speck9"])


def test_each_subcommand_prints_one_json_document(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = workdir / "tiny.pt"
    code, out, _ = cli(capsys, "check", model, "--input-shape", SHAPE, "--json")
    assert code == 0 and one_json_document(out)["fits"] is True
    config = workdir / "config.json"
    code, out, _ = cli(capsys, "compile", model, "--input-shape", SHAPE, "-o", config, "--force", "--json")
    doc = one_json_document(out)
    assert code == 0 and len(doc["config_hash"]) == 64 and "imports" in doc["timings_s"]
    code, out, _ = cli(capsys, "simulate", config, "--input", workdir / "events.npy", "--json")
    assert code == 0 and one_json_document(out)["n_input_events"] == 300
    code, out, _ = cli(
        capsys, "run", model, "--dry-run", "--input-shape", SHAPE, "-o", workdir / "run", "--force", "--json"
    )
    assert code == 0 and len(one_json_document(out)["config_hash"]) == 64
    nir = workdir / "digits.nir"
    code, out, _ = cli(capsys, "export", REPO / "models/digits_snn/model.pt", "-o", nir, "--force", "--json")
    assert code == 0 and one_json_document(out)["input_shape"] == [2, 34, 34]
    code, out, _ = cli(capsys, "doctor", "--json")
    assert code == 0 and isinstance(one_json_document(out), list)
    code, out, _ = cli(capsys, "devices", "--json")  # no real samna here: one error document, exit 2
    doc = one_json_document(out)
    assert (code, sorted(doc)) in (
        (0, ["boards", "samna_version", "supported_samna"]),
        (2, ["error", "exit_code"]),
    )


def test_quiet_prints_nothing_on_stdout(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "check", workdir / "tiny.pt", "--input-shape", SHAPE, "-q")
    assert (code, out, err) == (0, "", "")


def test_an_error_with_json_is_one_error_document(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = cli(capsys, "check", tmp_path / "nosuch.pt", "--json")
    assert code == 2 and "does not exist" in one_json_document(out)["error"] and "does not exist" in err


@pytest.mark.parametrize("name", BUNDLED)
@pytest.mark.parametrize("command", ["check", "compile"])
def test_bundled_models_need_no_input_shape(
    name: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = REPO / "models" / name / "model.pt"
    extra = ["-o", tmp_path / "c.json"] if command == "compile" else []
    code, out, err = cli(capsys, command, model, "--device", "speck", "--json", *extra)
    assert code == 0, err
    doc = one_json_document(out)
    assert doc["input_shape"] == [2, 34, 34]
    assert doc["input_shape_source"] == f"declared by {name}/__init__.py (INPUT_SHAPE)"
    assert f"input shape 2×34×34 (declared by {name}/__init__.py (INPUT_SHAPE))" in err


def test_find_input_shape_order(tmp_path: Path) -> None:
    from deploy.frontend import load_model
    from deploy.inputs import find_input_shape

    path = tmp_path / "m.pt"
    torch.save(tiny(), path)
    loaded = load_model(path)
    assert find_input_shape(path, loaded) == (None, "")
    assert find_input_shape(path, loaded, (2, 8, 8)) == ((2, 8, 8), "given with --input-shape")
    np.savez(tmp_path / "sample_input.npz", raster=np.zeros((3, 2, 12, 10), np.int16))
    assert find_input_shape(path, loaded) == (
        (2, 12, 10),
        f"from the sample input {tmp_path}/sample_input.npz",
    )
    np.savez(tmp_path / "sample_input.npz", input_shape=np.array([2, 20, 20]))
    assert find_input_shape(path, loaded)[0] == (2, 20, 20)
    module = tiny()
    module.input_shape = (2, 5, 5)  # type: ignore[assignment]
    torch.save(module, path)
    assert find_input_shape(path, load_model(path)) == (
        (2, 5, 5),
        "stored with the model (its input_shape attribute)",
    )


def test_core_map_by_the_names_the_tables_show(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The tables show "1 2": position 1, module '2'. '2:5' pins module '2' (position 2 does not exist).
    code, out, err = cli(
        capsys, "check", workdir / "tiny.pt", "--input-shape", SHAPE, "--core-map", "2:5", "--json"
    )
    assert code == 0, err
    assert one_json_document(out)["placement"]["2"] == 5
    code, out, err = cli(capsys, "check", workdir / "tiny.pt", "--input-shape", SHAPE, "--core-map", "1:6")
    assert code == 0 and "1 2 → core 6" in out  # no layer is named '1': position 1


def test_board_and_dry_runs_default_to_different_directories() -> None:
    from deploy.commands.run import default_output_dir

    model = Path("models/digits_snn/model.pt")
    assert default_output_dir(model) == Path("deploy-out/digits_snn")
    assert default_output_dir(model, dry_run=False) == Path("deploy-out/digits_snn-board")


def test_output_help_says_file_or_directory() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    helps = {
        name: next(a.help for a in sub.choices[name]._actions if "-o" in a.option_strings)  # type: ignore[index]
        for name in ("compile", "run", "simulate", "export")
    }
    assert "FILE" in helps["compile"] and "FILE" in helps["export"]
    assert "DIRECTORY" in helps["run"] and "DIRECTORY" in helps["simulate"]


# ------------------------------------------------------------------------------------------ inputs


def test_dense_raster_becomes_events_that_bin_back_to_it() -> None:
    from deploy.inputs import raster_input

    raster = np.zeros((4, 2, 3, 3), dtype=np.int16)
    raster[0, 1, 2, 0] = 3  # counts > 1: several events in one bin
    raster[0, 0, 0, 1] = 1
    raster[2, 0, 1, 1] = 2
    events, model_events = raster_input(raster, (2, 3, 3), [4], 10_000, "test raster")
    assert len(events) == 6 and set(events["layer"].tolist()) == {4}
    np.testing.assert_array_equal(
        events_to_raster(model_events, 10_000, (2, 3, 3), t0_us=0, n_bins=4), raster
    )
    # sinabs's order: larger counts first within a bin
    expected = raster_to_events(raster, layer=0, dt_us=10_000)
    np.testing.assert_array_equal(model_events, expected)
    assert model_events["feature"][:3].tolist() == [1, 1, 1] and model_events["timestamp"][-1] == 20_000


def test_dense_raster_of_another_shape_names_both_shapes() -> None:
    from deploy.inputs import raster_input

    with pytest.raises(EventFormatError, match=r"\(T, C, H, W\) = \(2, 2, 34, 34\).*\(2, 16, 16\).*Crop"):
        raster_input(np.zeros((2, 2, 34, 34)), (2, 16, 16), [0], 1000, "f")


def test_run_takes_a_dense_raster(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raster = np.random.default_rng(1).poisson(0.2, size=(5, 2, 16, 16)).astype(np.int16)
    np.save(workdir / "frames.npy", raster)
    code, out, err = cli(
        capsys, workdir / "tiny.pt", "--dry-run", "--input-shape", SHAPE, "--input", workdir / "frames.npy",
        "-o", workdir / "raster_run", "--force", "--json",
    )  # fmt: skip
    assert code == 0, err
    doc = one_json_document(out)
    assert (
        doc["input"]["n_events"] == int(raster.sum())
        and "dense raster 5×2×16×16" in doc["input"]["description"]
    )
    assert "dense raster: bin t becomes events" in err


@pytest.mark.parametrize(
    ("p", "expected", "how"),
    [
        (np.array([-1, 1, 1, -1]), [0, 1, 1, 0], "polarity {-1, 1} → channel (−1 → 0, 1 → 1)"),
        (np.array([True, False, True, True]), [1, 0, 1, 1], "polarity (bool) {False, True}"),
        (np.array([0, 1, 1, 0]), [0, 1, 1, 0], "polarity {0, 1} → channel p"),
    ],
)
def test_polarity_conventions_map_to_channels(p: np.ndarray, expected: list[int], how: str) -> None:
    from deploy.inputs import map_polarity

    ev = np.zeros(4, dtype=[("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", p.dtype)])
    ev["p"] = p
    mapped, text = map_polarity(ev, 2, "src")
    assert mapped["p"].tolist() == expected and text.startswith(how)
    one_channel, text = map_polarity(ev, 1, "src")
    assert one_channel["p"].tolist() == [0, 0, 0, 0] and "both polarities → channel 0" in text


def test_polarity_outside_every_convention_is_refused() -> None:
    from deploy.inputs import map_polarity

    ev = np.zeros(2, dtype=TONIC_DTYPE)
    ev["p"] = [-2, 1]
    with pytest.raises(EventFormatError, match=r"src: polarity p takes the values \{-2, 1\}"):
        map_polarity(ev, 2, "src")


def test_run_with_signed_polarity(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ev = np.load(workdir / "events.npy")
    ev["p"] = np.where(ev["p"] == 0, -1, 1)
    np.save(workdir / "signed.npy", ev)
    code, out, err = cli(
        capsys, workdir / "tiny.pt", "--dry-run", "--input-shape", SHAPE, "--input", workdir / "signed.npy",
        "-o", workdir / "signed_run", "--force", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert "polarity {-1, 1} → channel (−1 → 0, 1 → 1); fed to entry core" in err
    assert one_json_document(out)["input"]["n_events"] == 300


def test_sensor_sized_events_into_a_smaller_model(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ev = np.zeros(3, dtype=TONIC_DTYPE)
    ev["x"], ev["y"], ev["t"], ev["p"] = [0, 127, 64], [3, 100, 127], [0, 10, 20], [0, 1, 1]
    np.save(workdir / "sensor.npy", ev)
    code, _, err = cli(
        capsys, workdir / "tiny.pt", "--dry-run", "--input-shape", SHAPE, "--input", workdir / "sensor.npy",
        "-o", workdir / "sensor_run",
    )  # fmt: skip
    assert code == 2 and not (workdir / "sensor_run").exists()
    for needle in ("x 0..127, y 3..127, p 0..1", "2×16×16", "CenterCrop", "Downsample(spatial_factor=0.125)"):
        assert needle in err, (needle, err)
    assert "out of range for layer" not in err


# ------------------------------------------------------------------------------------------ the verdict


def test_terminal_verdict_and_fail_on_divergence(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Biases act every time step in the float/quantised views but never on a chip without a slow clock.
    code, out, err = cli(
        capsys, workdir / "biased.pt", "--dry-run", "--input-shape", SHAPE, "--input", workdir / "events.npy",
        "-o", workdir / "biased_run", "--force", "--fail-on-divergence",
    )  # fmt: skip
    assert code == 3, err
    report = (workdir / "biased_run" / "report.md").read_text(encoding="utf-8")
    summary = json.loads((workdir / "biased_run" / "summary.json").read_text(encoding="utf-8"))
    first = summary["agreement"]["first_divergence"]
    diverging = [f"{pair}: first diverges at layer '{layer}'" for pair, layer in first.items() if layer]
    assert diverging, first
    for line in diverging:
        assert line in out and line in report  # the same words in the terminal and the report
    assert "no slow clock was given (--slow-clock-hz)" in out  # without -v
    assert "the views diverge (--fail-on-divergence)" in err
    e = summary["energy"]
    assert "dynamic" in out and "static" in out and summary["config_hash"] in out
    assert f"configuration hash `{summary['config_hash']}`" in report and e["dynamic_j"] > 0


def test_energy_headline_splits_dynamic_and_static() -> None:
    from deploy.report.summary import estimate_energy
    from deploy.report.tables import energy_headline

    text = energy_headline(estimate_energy(1_000_000, 0.3))
    assert "dynamic 23.6 µJ (1,000,000 SynOps)" in text and "+ static" in text and "0.3 s of input" in text
