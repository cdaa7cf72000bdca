"""Entry cores carried in the configuration file (issue #12): provenance.extra.routing.

The model's input enters two cores (conv1's, and conv2's which is also fed by conv1), so the guess
"cores no other core sends to" finds only one of them; the recorded routing finds both.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.two_entry import build_two_entry

from deploy.pipeline import compile_model
from deploy.routing import ROUTING_KEY, entry_targets, entry_targets_from, guess_entry_targets, routing_extra
from deploy.sim.events import TONIC_DTYPE, from_tonic, load_events
from deploy.sim.simulator import simulate
from hwconfig.errors import ConfigError
from hwconfig.json_io import Provenance, load_config, save_config

SHAPE = (2, 8, 8)


def tonic_input(n: int = 600, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, TONIC_DTYPE)
    ev["t"] = np.sort(rng.integers(0, 20_000, n))
    ev["x"], ev["y"], ev["p"] = rng.integers(0, 8, n), rng.integers(0, 8, n), rng.integers(0, 2, n)
    return ev


def chip_events(xytp: np.ndarray, targets: list[int]) -> np.ndarray:
    ev = np.concatenate([from_tonic(xytp, layer=t) for t in targets])
    return ev[np.argsort(ev["timestamp"], kind="stable")]


def test_two_entry_routing_round_trips_and_is_needed(tmp_path: Path) -> None:
    r = compile_model(build_two_entry(), "speck2f", SHAPE)
    targets = entry_targets(r.graph, r.placement)
    assert targets == sorted(r.placement.core_of)  # the input enters both cores
    assert len(guess_entry_targets(r.config)) == 1  # what a file without the record gets
    extra = {"command": "test", **routing_extra(targets, r.graph.input_shape)}
    path = save_config(tmp_path / "c.json", r.config, "speck2f", Provenance(extra=extra))
    loaded = load_config(path)
    assert dict(loaded.provenance.extra) == extra
    assert json.loads(path.read_text())["provenance"]["extra"][ROUTING_KEY] == {
        "entry_targets": targets,
        "input_shape": list(SHAPE),
    }
    got, note = entry_targets_from(loaded.config, loaded.provenance.extra, str(path))
    assert (got, note) == (targets, None)
    xytp = tonic_input()
    both, guessed = (
        simulate(loaded.config, chip_events(xytp, t)).events for t in (got, guess_entry_targets(r.config))
    )
    assert len(both) != len(guessed)  # the second entry matters for this input


def test_a_file_without_routing_gets_the_guess_and_a_note(tmp_path: Path) -> None:
    r = compile_model(build_two_entry(), "speck2f", SHAPE)
    targets, note = entry_targets_from(r.config, {}, "other.json")
    assert targets == guess_entry_targets(r.config)
    assert note is not None and "other.json does not record where the input enters" in note


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"entry_targets": []}, "expected a non-empty list of layer ids"),
        ({"entry_targets": ["0"]}, "expected a non-empty list"),
        ("cores", "expected a non-empty list"),
        ({"entry_targets": [7]}, r"\[7\] not among the used cores"),
    ],
)
def test_a_malformed_routing_record_is_named(record: object, message: str) -> None:
    r = compile_model(build_two_entry(), "speck2f", SHAPE)
    with pytest.raises(ConfigError, match=message):
        entry_targets_from(r.config, {ROUTING_KEY: record}, "bad.json")


def test_simulate_on_a_saved_two_entry_config_reproduces_the_dry_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from deploy.cli import main

    weights = tmp_path / "two_entry.pt"
    torch.save(build_two_entry().state_dict(), weights)
    inp = tmp_path / "tonic.npy"
    np.save(inp, tonic_input())
    dry = tmp_path / "dry"
    arch = (
        f"{Path(__file__).parents[1] / 'helpers' / 'two_entry.py'}:build_two_entry"  # a file: no trust needed
    )
    code = main(
        [
            str(weights),
            "--arch",
            arch,
            "--input-shape",
            "2,8,8",
            "--dry-run",
            "--input",
            str(inp),
            "-o",
            str(dry),
            "-q",
        ]
    )
    assert code == 0, capsys.readouterr().err
    sim = tmp_path / "sim"
    code = main(["simulate", str(dry / "config.json"), "--input", str(inp), "-o", str(sim), "-q"])
    assert code == 0, capsys.readouterr().err
    expected = load_events(dry / "output_events.npy")
    got = load_events(sim / "output_events.npy")
    assert len(expected) > 0
    assert np.array_equal(got, expected)
    assert json.loads((sim / "simulation.json").read_text())["notes"] == []
