"""Mutation fuzzing of every loader and subcommand (issue 16).

Property: ``deploy-model`` exits 0, or exits 2 with a one-paragraph message; it never exits 1, raises (a
traceback), hangs, or writes outside ``-o``. Mutated model files (zip and legacy torch files, the pickle
inside them, NIR files), configuration JSON and event arrays go through the loaders directly and through
the subcommands in-process (``deploy.cli.main``); a few go through a real subprocess.

Bounded for CI (the whole tier takes well under a minute); ``scripts/fuzz.sh`` (``SPECK_DEPLOY_FUZZ=long``)
runs 50× more examples.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import nir
import numpy as np
import pytest
import torch
from helpers.hostile import (
    SHAPE,
    fuzz_examples,
    fuzz_is_random,
    run_cli,
    save_tiny,
    snapshot,
    time_limit,
    tiny_model,
    tonic_events,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy.errors import DeployError
from deploy.frontend.load import load_model
from hwconfig.errors import ConfigError
from hwconfig.json_io import load_config

REPO = Path(__file__).resolve().parents[2]
TIME_LIMIT_S = 60


def fuzz(ci_examples: int) -> Any:
    return settings(
        max_examples=fuzz_examples(ci_examples),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        derandomize=not fuzz_is_random(),
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Valid seed files: a whole-model .pt (zip), a legacy .pt, a state_dict, a NIR file, a config, events."""
    d = tmp_path_factory.mktemp("corpus")
    model = save_tiny(d)
    torch.save(tiny_model(), d / "legacy.pt", _use_new_zipfile_serialization=False)
    torch.save(tiny_model().state_dict(), d / "sd.pt")
    np.save(d / "ev.npy", tonic_events())
    code, _, err = run_cli(["compile", model, "--input-shape", SHAPE, "-o", d / "config.json"])
    assert code == 0, err
    nodes = {
        "input": nir.Input(input_type={"input": np.array([2, 8, 8])}),
        "conv": nir.Conv2d(
            input_shape=(8, 8),
            weight=np.ones((4, 2, 3, 3), np.float32),
            stride=1,
            padding=0,
            dilation=1,
            groups=1,
            bias=np.zeros(4, np.float32),
        ),
        "spk": nir.IF(r=np.ones((4, 6, 6), np.float32), v_threshold=np.ones((4, 6, 6), np.float32)),
        "output": nir.Output(output_type={"output": np.array([4, 6, 6])}),
    }
    graph = nir.NIRGraph(nodes=nodes, edges=[("input", "conv"), ("conv", "spk"), ("spk", "output")])
    nir.write(str(d / "g.nir"), graph)
    return {
        "dir": d,
        "pt": model.read_bytes(),
        "legacy": (d / "legacy.pt").read_bytes(),
        "sd": (d / "sd.pt").read_bytes(),
        "nir": (d / "g.nir").read_bytes(),
        "config": json.loads((d / "config.json").read_text()),
    }


# --- mutations ----------------------------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few byte flips, a cut, or a spliced run of random bytes."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "splice", "int"]))
        pos = draw(st.integers(0, max(len(buf) - 1, 0)))
        if kind == "flip" and buf:
            buf[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del buf[pos:]
        elif kind == "splice":
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "int" and pos + 4 <= len(buf):
            buf[pos : pos + 4] = draw(
                st.sampled_from([b"\xff\xff\xff\x7f", b"\x00\x00\x00\x80", b"\0\0\0\0"])
            )
    return bytes(buf)


def mutate_pickle_in_zip(data: bytes, new_pickle: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for n in src.namelist():
            z.writestr(n, new_pickle if n.endswith("data.pkl") else src.read(n))
    return out.getvalue()


def data_pkl(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))


def assert_cli_property(argv: list[str | Path], root: Path, out: Path | None = None) -> tuple[int, str]:
    """Run the CLI in-process; exit 0 or 2 (one paragraph, no traceback); nothing under ``root`` changes
    except ``out`` (and hidden staging beside it must be gone)."""
    before = snapshot(root, skip=[out] if out is not None else [])
    with time_limit(TIME_LIMIT_S):
        code, _, err = run_cli(argv)
    assert code in (0, 2), (code, err)
    if code == 2:
        assert err.startswith("deploy-model: error:") or err.startswith("usage:"), err
        assert "Traceback" not in err
    assert snapshot(root, skip=[out] if out is not None else []) == before
    return code, err


# --- model files --------------------------------------------------------------------------------------


@fuzz(25)
@given(data=st.data())
def test_mutated_model_files_load_or_fail_cleanly(
    corpus: dict[str, Any], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    kind = data.draw(st.sampled_from(["pt", "legacy", "sd", "pickle", "nir"]))
    seed = corpus["pt" if kind == "pickle" else kind]
    if kind == "pickle":
        blob = mutate_pickle_in_zip(seed, data.draw(mutated(data_pkl(seed))))
    else:
        blob = data.draw(mutated(seed))
    d = tmp_path_factory.mktemp("m")
    path = d / ("m.nir" if kind == "nir" else "m.pt")
    path.write_bytes(blob)
    try:
        with time_limit(TIME_LIMIT_S):
            load_model(path, architecture="digits_snn" if kind == "sd" else None)
    except (DeployError, ConfigError):
        pass


@fuzz(12)
@given(data=st.data())
def test_mutated_model_files_through_check_and_compile(
    corpus: dict[str, Any], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    kind = data.draw(st.sampled_from(["pt", "pickle", "nir", "legacy"]))
    seed = corpus["pt" if kind == "pickle" else kind]
    blob = (
        mutate_pickle_in_zip(seed, data.draw(mutated(data_pkl(seed))))
        if kind == "pickle"
        else data.draw(mutated(seed))
    )
    d = tmp_path_factory.mktemp("c")
    path = d / ("m.nir" if kind == "nir" else "m.pt")
    path.write_bytes(blob)
    shape = [] if kind == "nir" else ["--input-shape", SHAPE]
    if data.draw(st.booleans()):
        assert_cli_property(["check", path, *shape], d)
    else:
        out = d / "out.json"
        assert_cli_property(["compile", path, *shape, "-o", out], d, out)


# --- configurations -----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:3]):
            out += _paths(v, (*prefix, i))
    return out


@fuzz(25)
@given(data=st.data())
def test_mutated_configs_load_or_fail_cleanly(
    corpus: dict[str, Any], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    doc = json.loads(json.dumps(corpus["config"]))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(doc)))
        if not path:
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(json_values)
    d = tmp_path_factory.mktemp("cfg")
    cfg = d / "config.json"
    text = json.dumps(doc)
    if data.draw(st.integers(0, 9)) == 0:
        text = data.draw(mutated(text.encode())).decode("utf-8", errors="replace")
    cfg.write_text(text)
    try:
        load_config(cfg)
    except ConfigError:
        return
    out = d / "sim"
    assert_cli_property(["simulate", cfg, "--input", corpus["dir"] / "ev.npy", "-o", out, "-q"], d, out)


# --- events -------------------------------------------------------------------------------------------

int_dtypes = st.sampled_from(["<i1", "<i2", "<i4", "<i8", "<u2", "<u8", "<f4", "<f8", "?", "<U4"])


@st.composite
def event_arrays(draw: st.DrawFn) -> np.ndarray:
    layout = draw(st.sampled_from(["tonic", "chip", "rows", "other"]))
    n = draw(st.integers(0, 20))
    if layout == "rows":
        dt = draw(st.sampled_from(["<i8", "<f8", "<i2", "<U3"]))
        shape = draw(st.sampled_from([(n, 5), (n, 4), (n,), (n, 5, 1)]))
        values = draw(
            st.lists(st.integers(-(2**40), 2**40), min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))
        )
        return np.array(values, dtype=np.int64).reshape(shape).astype(dt)
    names = {"tonic": ["x", "y", "t", "p"], "chip": ["timestamp", "layer", "feature", "x", "y"]}.get(
        layout, ["a", "t"]
    )
    dtype = np.dtype([(name, draw(int_dtypes)) for name in names])
    arr = np.zeros(n, dtype=dtype)
    for name in names:
        values = draw(
            st.lists(
                st.one_of(
                    st.integers(0, 20), st.integers(-(2**33), 2**33), st.sampled_from([65541, 40000, -1])
                ),
                min_size=n,
                max_size=n,
            )
        )
        col = np.array(values, dtype=np.int64)
        if dtype[name].kind == "U":
            arr[name] = col.astype(str)
        else:
            with np.errstate(all="ignore"):
                arr[name] = col.astype(dtype[name], casting="unsafe")
    if layout != "other" and draw(st.booleans()):
        t = "t" if layout == "tonic" else "timestamp"
        if dtype[t].kind in "iuf":
            arr = np.sort(arr, order=t)
    return arr


@fuzz(30)
@given(data=st.data())
def test_event_files_through_simulate(
    corpus: dict[str, Any], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    d = tmp_path_factory.mktemp("ev")
    arr = data.draw(event_arrays())
    fmt = data.draw(st.sampled_from(["npy", "npz", "mutated-npz", "mutated-npy"]))
    path = d / f"ev.{fmt.removeprefix('mutated-')}"
    if fmt.endswith("npz"):
        np.savez(path, events=arr, label=np.array(data.draw(st.sampled_from([1, -3, 2**40]))))
    else:
        np.save(path, arr)
    if fmt.startswith("mutated"):
        path.write_bytes(data.draw(mutated(path.read_bytes())))
    out = d / "out"
    assert_cli_property(["simulate", corpus["dir"] / "config.json", "--input", path, "-o", out, "-q"], d, out)


@fuzz(4)
@given(data=st.data())
def test_event_files_through_run(
    corpus: dict[str, Any], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """The full ``run`` (compile, simulate, analysis, reports) on fuzzed events: slower, fewer examples."""
    d = tmp_path_factory.mktemp("run")
    path = d / "ev.npy"
    np.save(path, data.draw(event_arrays()))
    out = d / "out"
    model = corpus["dir"] / "tiny.pt"
    assert_cli_property(
        ["run", model, "--input-shape", SHAPE, "--dry-run", "--input", path, "-o", out, "-q"], d, out
    )


# --- --force never removes what the tool did not write ---------------------------------------------

targets = st.sampled_from(
    ["cwd", "parent", "model_dir", "user_dir", "user_file", "nested_in_file", "fresh", "own"]
)


@fuzz(20)
@given(target=targets, force=st.booleans(), command=st.sampled_from(["simulate", "compile", "run"]))
def test_force_never_removes_user_files(
    corpus: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    target: str,
    force: bool,
    command: str,
) -> None:
    root = tmp_path_factory.mktemp("home")
    work = root / "work"
    (work / "models").mkdir(parents=True)
    model = work / "models" / "tiny.pt"
    model.write_bytes(corpus["pt"])
    (work / "notes.txt").write_text("notes")
    (work / "src").mkdir()
    (work / "src" / "code.py").write_text("code")
    (work / "user_dir").mkdir()
    (work / "user_dir" / "data.txt").write_text("data")
    (work / "user_file").write_text("file")
    config = work / "config.json"
    config.write_text((corpus["dir"] / "config.json").read_text())
    events = work / "ev.npy"
    np.save(events, tonic_events())
    own = work / "own"
    if command != "compile":
        sim = ["simulate", config, "--input", events, "-o", own, "-q"]
        assert run_cli(sim, cwd=work)[0] == 0
    else:
        assert run_cli(["compile", model, "--input-shape", SHAPE, "-o", own], cwd=work)[0] == 0
    out = {
        "cwd": Path("."),
        "parent": Path(".."),
        "model_dir": Path("models"),
        "user_dir": Path("user_dir"),
        "user_file": Path("user_file"),
        "nested_in_file": Path("user_file/out"),
        "fresh": Path("fresh"),
        "own": Path("own"),
    }[target]
    argv: list[str | Path] = {
        "simulate": ["simulate", config, "--input", events, "-o", out, "-q"],
        "compile": ["compile", model, "--input-shape", SHAPE, "-o", out],
        "run": ["run", model, "--input-shape", SHAPE, "--dry-run", "--input", events, "-o", out, "-q"],
    }[command]
    if force:
        argv.append("--force")
    user_files = snapshot(root, skip=[work / "own", work / "fresh"])
    with time_limit(TIME_LIMIT_S):
        code, _, err = run_cli(argv, cwd=work)
    assert code in (0, 2), err
    if code == 0:
        assert target in ("fresh", "own"), f"{target} was replaced: {err}"
    assert snapshot(root, skip=[work / "own", work / "fresh"]) == user_files
    leftovers = [p.name for p in work.iterdir() if ".tmp-" in p.name or ".old-" in p.name]
    assert leftovers == []


# --- a few real subprocesses ------------------------------------------------------------------------


@fuzz(3)
@given(data=st.data())
def test_subprocess_exit_codes(
    corpus: dict[str, Any], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    d = tmp_path_factory.mktemp("sub")
    path = d / "m.pt"
    path.write_bytes(mutate_pickle_in_zip(corpus["pt"], data.draw(mutated(data_pkl(corpus["pt"])))))
    proc = subprocess.run(
        [sys.executable, "-m", "deploy.cli", "check", str(path), "--input-shape", SHAPE],
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT_S,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=d,
    )
    assert proc.returncode in (0, 2), proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in d.iterdir()) == ["m.pt"]
