"""The expected simulator outputs (an independent implementation of SPECK_SEMANTICS) match ours.

``tests/data/sinabs_reference/{tiny_2layer,reset_zero}/expected_sim_output.npz``: events in emission order,
final states and the five per-core counters must match event for event, on both simulators.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _samna_json import load_sinabs_case
from helpers.reference_data import ACCEPTED_CASES, SIM_OUTPUT_CASES, reference_file

from deploy.sim.events import load_events, to_rows
from deploy.sim.options import SimOptions
from deploy.sim.reference import simulate_reference
from deploy.sim.result import SimResult
from deploy.sim.simulator import Simulator, simulate


def _expected(case: str) -> np.lib.npyio.NpzFile:
    return np.load(reference_file(case, "expected_sim_output.npz"))


def _case(case: str) -> Path:
    """The case folder, after checking (loudly) the three files the simulator tests read."""
    reference_file(case, "config.json")
    reference_file(case, "result.json")
    return reference_file(case, "input_events.npy").parent


@pytest.mark.parametrize("sim", ["reference", "fast"])
@pytest.mark.parametrize("case", SIM_OUTPUT_CASES)
def test_matches_expected_sim_output(case: str, sim: str) -> None:
    exp = _expected(case)
    opts = json.loads(str(exp["options_json"]))
    # The semantic choices recorded with the expected output are this project's defaults.
    assert opts["clamp_on_synapse"] is True and opts["overflow"] == "error" and opts["out_of_range"] == "drop"
    assert opts["order"] == "depth_first" and opts["overflow_check"] == "sum" and opts["leak_hz"] is None
    config = load_sinabs_case(_case(case))
    assert list(config.monitored_cores()) == exp["monitored"].tolist()
    events = load_events(_case(case) / "input_events.npy")
    run = simulate_reference if sim == "reference" else simulate
    res: SimResult = run(config, events, SimOptions())
    np.testing.assert_array_equal(to_rows(res.events), exp["events"])
    for name in SimResult.COUNTERS:
        np.testing.assert_array_equal(getattr(res, name), exp[name], err_msg=name)
    for core in exp["configured_cores"].tolist():
        np.testing.assert_array_equal(res.states[core], exp[f"state_core{core}"], err_msg=f"core {core}")
    assert res.leak_ticks == int(exp["leak_ticks"])


def test_target_protocol_persists_state_until_reset() -> None:
    """Running the stream in two halves through the Target gives the same result as one run."""
    from deploy.target import Target

    exp = _expected("tiny_2layer")
    config = load_sinabs_case(_case("tiny_2layer"))
    events = load_events(_case("tiny_2layer") / "input_events.npy")
    sim = Simulator()
    assert isinstance(sim, Target)
    sim.load(config)
    half = len(events) // 2
    out = np.concatenate([sim.run(events[:half]), sim.run(events[half:])])
    np.testing.assert_array_equal(to_rows(out), exp["events"])
    np.testing.assert_array_equal(sim.states[1], exp["state_core1"])
    sim.reset()
    assert not sim.states[0].any()
    out2 = sim.run(events)
    np.testing.assert_array_equal(to_rows(out2), exp["events"])
    assert sim.last_result is not None and sim.last_result.synops.tolist() == exp["synops"].tolist()


@pytest.mark.parametrize("case", ACCEPTED_CASES)
def test_fast_equals_reference_on_sinabs_networks_with_leak(case: str) -> None:
    """Real sinabs-compiled networks (biases → leak, pooling) with a 200 Hz slow clock: fast == reference."""
    from test_differential import assert_same

    case_dir = _case(case)
    config = load_sinabs_case(case_dir)
    events = load_events(case_dir / "input_events.npy")
    for leak_spikes in (False, True):
        opts = SimOptions(
            slow_clock_hz=200.0, leak_spikes=leak_spikes, overflow="saturate", record_traces=True
        )
        assert_same(simulate_reference(config, events, opts), simulate(config, events, opts))
