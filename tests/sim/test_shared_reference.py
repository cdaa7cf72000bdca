"""The shared expected simulator outputs (an independent implementation of SPECK_SEMANTICS) match ours.

``/work/shared/sinabs_reference/{tiny_2layer,reset_zero}/expected_sim_output.npz``: events in emission order,
final states and the five per-core counters must match event for event, on both simulators.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from _paths import SINABS_REFERENCE
from _samna_json import load_sinabs_case

from deploy.sim.events import load_events, to_rows
from deploy.sim.options import SimOptions
from deploy.sim.reference import simulate_reference
from deploy.sim.result import SimResult
from deploy.sim.simulator import Simulator, simulate

CASES = ["tiny_2layer", "reset_zero"]


def _expected(case: str) -> np.lib.npyio.NpzFile:
    path = SINABS_REFERENCE / case / "expected_sim_output.npz"
    if not path.exists():
        pytest.skip(f"{path} not available (shared/ must sit beside the clone)")
    return np.load(path)


@pytest.mark.parametrize("sim", ["reference", "fast"])
@pytest.mark.parametrize("case", CASES)
def test_matches_expected_sim_output(case: str, sim: str) -> None:
    exp = _expected(case)
    opts = json.loads(str(exp["options_json"]))
    # The semantic choices recorded with the expected output are this project's defaults.
    assert opts["clamp_on_synapse"] is True and opts["overflow"] == "error" and opts["out_of_range"] == "drop"
    assert opts["order"] == "depth_first" and opts["overflow_check"] == "sum" and opts["leak_hz"] is None
    config = load_sinabs_case(SINABS_REFERENCE / case)
    assert list(config.monitored_cores()) == exp["monitored"].tolist()
    events = load_events(SINABS_REFERENCE / case / "input_events.npy")
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
    config = load_sinabs_case(SINABS_REFERENCE / "tiny_2layer")
    events = load_events(SINABS_REFERENCE / "tiny_2layer" / "input_events.npy")
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


@pytest.mark.parametrize("case", ["tiny_2layer", "reset_zero", "bias_leak", "mnist_avgpool"])
def test_fast_equals_reference_on_sinabs_networks_with_leak(case: str) -> None:
    """Real sinabs-compiled networks (biases → leak, pooling) with a 200 Hz slow clock: fast == reference."""
    from test_differential import assert_same

    case_dir = SINABS_REFERENCE / case
    if not (case_dir / "config.json").exists():
        pytest.skip(f"{case_dir} not available")
    config = load_sinabs_case(case_dir)
    events = load_events(case_dir / "input_events.npy")
    for leak_spikes in (False, True):
        opts = SimOptions(
            slow_clock_hz=200.0, leak_spikes=leak_spikes, overflow="saturate", record_traces=True
        )
        assert_same(simulate_reference(config, events, opts), simulate(config, events, opts))
