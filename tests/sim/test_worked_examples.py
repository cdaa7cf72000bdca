"""SPECK_SEMANTICS §12b worked examples (and the other documented rules), on both simulators."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from _nets import chip, core, dest

from deploy.errors import SimulationError, StateOverflowError
from deploy.sim.events import Events, make_events, to_rows
from deploy.sim.options import SimOptions
from deploy.sim.reference import simulate_reference
from deploy.sim.result import SimResult
from deploy.sim.simulator import simulate
from hwconfig.config import BoolVec2, ChipConfig, DvsDestination, DvsLayerConfig, ReadoutConfig, Vec2

Run = Callable[..., SimResult]


@pytest.fixture(params=["reference", "fast"])
def run(request: pytest.FixtureRequest) -> Run:
    return simulate_reference if request.param == "reference" else simulate


def ev(*rows: tuple[int, int, int, int, int]) -> Events:
    a = np.array(rows, dtype=np.int64).reshape(-1, 5)
    return make_events(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4])


def rows(result: SimResult) -> list[tuple[int, ...]]:
    return [tuple(int(v) for v in r) for r in to_rows(result.events)]


# §12b.1 -------------------------------------------------------------------------------------------------


def leak_notebook_config() -> ChipConfig:
    """The leak notebook after sinabs's discretisation: W=127, B=-13, thr=127, thr_low=-127, v0=127, 2×2."""
    layer = core(
        [[[[127]]]], (2, 2), threshold_high=127, threshold_low=-127, init=127, biases=[-13], leak_enable=True
    )
    return chip({0: replace(layer, monitor_enable=True)})


@pytest.mark.parametrize("seconds", range(2, 12))
def test_12b1_leak_notebook_readback(run: Run, seconds: int) -> None:
    """Read-backs 101, 88, …, −16 are the states after 2, 3, …, 11 ticks of a 1 Hz clock (127 − 13·k).

    The notebook's first read-back (101) came two slow-clock periods after the configuration was applied;
    neurons starting at threshold (127) never fire without input (§2.2), and leak makes no spike (§2.4).
    """
    res = run(leak_notebook_config(), ev(), SimOptions(slow_clock_hz=1.0), end_time_us=seconds * 1_000_000)
    assert res.leak_ticks == seconds
    np.testing.assert_array_equal(res.states[0], np.full((1, 2, 2), 127 - 13 * seconds))
    assert len(res.events) == 0 and res.spikes_generated.sum() == 0


def test_12b1_leak_stops_at_threshold_low(run: Run) -> None:
    res = run(leak_notebook_config(), ev(), SimOptions(slow_clock_hz=1.0), end_time_us=30_000_000)
    np.testing.assert_array_equal(res.states[0], np.full((1, 2, 2), -127))


def test_12b1_no_slow_clock_means_no_leak(run: Run) -> None:
    res = run(leak_notebook_config(), ev((5_000_000, 0, 0, 0, 0)), SimOptions())
    assert res.leak_ticks == 0
    # The input fires (127 + 127 ≥ 127 → 254 − 127 = 127); the untouched neurons keep 127.
    np.testing.assert_array_equal(res.states[0], np.full((1, 2, 2), 127))
    assert rows(res) == [(5_000_000, 0, 0, 0, 0)]


def test_leak_tick_at_event_time_comes_first(run: Run) -> None:
    """A tick at the event's timestamp is applied before the event (§12 convention)."""
    layer = core([[[[10]]]], (1, 1), threshold_high=100, init=95, biases=[-10], leak_enable=True)
    config = chip({3: replace(layer, monitor_enable=True)})
    res = run(config, ev((1000, 3, 0, 0, 0)), SimOptions(slow_clock_ticks_us=(1000,)))
    assert rows(res) == [] and int(res.states[3][0, 0, 0]) == 95  # 95 − 10 + 10: no spike
    res = run(config, ev((999, 3, 0, 0, 0)), SimOptions(slow_clock_ticks_us=(1000,)))
    assert (
        rows(res) == [(999, 3, 0, 0, 0)] and int(res.states[3][0, 0, 0]) == 5
    )  # ticks stop at the last event
    res = run(config, ev((999, 3, 0, 0, 0)), SimOptions(slow_clock_ticks_us=(1000,)), end_time_us=1000)
    assert rows(res) == [(999, 3, 0, 0, 0)] and int(res.states[3][0, 0, 0]) == -5  # 105 → 5 → −5


def test_leak_spikes_option(run: Run) -> None:
    layer = core([[[[1]]]], (1, 2), threshold_high=50, init=[[[45, 10]]], biases=[10], leak_enable=True)
    config = chip({4: replace(layer, monitor_enable=True)})
    res = run(config, ev(), SimOptions(slow_clock_ticks_us=(7,)), end_time_us=10)
    assert rows(res) == [] and res.states[4].tolist() == [[[55, 20]]]
    res = run(config, ev(), SimOptions(slow_clock_ticks_us=(7,), leak_spikes=True), end_time_us=10)
    assert rows(res) == [(7, 4, 0, 0, 0)] and res.states[4].tolist() == [[[5, 20]]]


# §12b.2 -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("c", range(9))
def test_12b2_single_neuron(run: Run, c: int) -> None:
    config = chip({c: core([[[[127]]]], (1, 1), threshold_high=127, monitor_enable=True)})
    res = run(config, ev((0, c, 0, 0, 0)))
    assert rows(res) == [(0, c, 0, 0, 0)]
    assert int(res.states[c][0, 0, 0]) == 0
    assert res.synops[c] == 1 and res.spikes_generated[c] == 1 and res.inputs[c] == 1


# §12b.3 / §12b.4 --------------------------------------------------------------------------------------


def test_12b3_tap_selection_k3_s1_p1(run: Run) -> None:
    F = 2
    w = (np.arange(F * 9).reshape(F, 1, 3, 3) + 1) * 3  # distinct, positive
    config = chip({5: core(w, (4, 4), padding=1, threshold_high=1000, monitor_enable=True)})
    res = run(config, ev((0, 5, 0, 0, 0)))
    expected = np.zeros((F, 4, 4), np.int64)
    for f in range(F):
        expected[f, 0, 0] = w[f, 0, 1, 1]
        expected[f, 1, 0] = w[f, 0, 0, 1]
        expected[f, 0, 1] = w[f, 0, 1, 0]
        expected[f, 1, 1] = w[f, 0, 0, 0]
    np.testing.assert_array_equal(res.states[5], expected)
    assert res.synops[5] == 4 * F


def test_12b3_emission_order_f_kx_ky(run: Run) -> None:
    """All 4·F targets fire; order f, then k_x, then k_y ascending (so x_o, y_o descending)."""
    config = chip({5: core(np.ones((2, 1, 3, 3)), (4, 4), padding=1, threshold_high=1, monitor_enable=True)})
    res = run(config, ev((9, 5, 0, 0, 0)))
    order = [(1, 1), (1, 0), (0, 1), (0, 0)]
    assert rows(res) == [(9, 5, f, x, y) for f in range(2) for x, y in order]


def test_12b4_stride2(run: Run) -> None:
    w = np.arange(1, 9).reshape(2, 1, 2, 2)
    config = chip({6: core(w, (4, 4), stride=2, threshold_high=1000, monitor_enable=True)})
    res = run(config, ev((0, 6, 0, 3, 0)))
    expected = np.zeros((2, 2, 2), np.int64)
    expected[:, 1, 0] = w[:, 0, 1, 0]
    np.testing.assert_array_equal(res.states[6], expected)
    assert res.synops[6] == 2


def test_anisotropic_stride_padding_matches_torch(run: Run) -> None:
    """§3.2: the event-driven taps equal PyTorch cross-correlation (weights transposed [x][y] ↔ [ky][kx])."""
    import torch

    rng = np.random.default_rng(5)
    w = rng.integers(-5, 6, size=(3, 2, 3, 3))
    config = chip(
        {2: core(w, (7, 5), stride=(2, 1), padding=(1, 2), threshold_high=30000, monitor_enable=True)}
    )
    frame = rng.integers(0, 2, size=(2, 5, 7))  # (C, H, W)
    c, yy, xx = np.nonzero(frame)
    res = run(config, make_events(0, 2, c, xx, yy))
    out = torch.nn.functional.conv2d(
        torch.tensor(frame[None], dtype=torch.float64),
        torch.tensor(w.transpose(0, 1, 3, 2), dtype=torch.float64),
        stride=(1, 2),
        padding=(2, 1),
    )[0].numpy()  # (F, H, W)
    np.testing.assert_array_equal(res.states[2], out.transpose(0, 2, 1))


# §12b.5 – §12b.7 ----------------------------------------------------------------------------------------


def test_12b5_weight_above_threshold(run: Run) -> None:
    config = chip({7: core([[[[25]]]], (1, 1), threshold_high=10, monitor_enable=True)})
    res = run(config, ev((0, 7, 0, 0, 0), (1, 7, 0, 0, 0), (2, 7, 0, 0, 0)))
    assert rows(res) == [(0, 7, 0, 0, 0), (1, 7, 0, 0, 0), (2, 7, 0, 0, 0)]
    assert int(res.states[7][0, 0, 0]) == 45


@pytest.mark.parametrize(("thr_low", "final"), [(-20, -10), (-5, -5)])
def test_12b6_mixed_sign_in_one_bin(run: Run, thr_low: int, final: int) -> None:
    config = chip(
        {8: core([[[[12]], [[-12]]]], (1, 1), threshold_high=10, threshold_low=thr_low, monitor_enable=True)}
    )
    res = run(config, ev((0, 8, 0, 0, 0), (0, 8, 1, 0, 0)))
    assert rows(res) == [(0, 8, 0, 0, 0)]
    assert int(res.states[8][0, 0, 0]) == final


@pytest.mark.parametrize(("clamp", "final"), [(True, -5), (False, -7)])
def test_12b7_clamp(run: Run, clamp: bool, final: int) -> None:
    config = chip(
        {1: core([[[[-4]]]], (1, 1), threshold_high=10, threshold_low=-5, init=-3, monitor_enable=True)}
    )
    res = run(config, ev((0, 1, 0, 0, 0)), SimOptions(clamp_on_synapse=clamp))
    assert int(res.states[1][0, 0, 0]) == final


# §12b.8 -------------------------------------------------------------------------------------------------


def test_12b8_destination_pooling_and_feature_shift(run: Run) -> None:
    a = np.zeros((4, 1, 1, 1))
    a[3] = 127
    b = np.zeros((12, 12, 1, 1))
    b[np.arange(12), np.arange(12)] = 1
    config = chip(
        {
            0: core(
                a,
                (6, 4),
                threshold_high=127,
                dests=(dest(4, pooling=2, feature_shift=8),),
                monitor_enable=True,
            ),
            4: core(b, (3, 2), threshold_high=1, monitor_enable=True),
        }
    )
    res = run(config, ev((42, 0, 0, 5, 2)))
    assert rows(res) == [(42, 0, 3, 5, 2), (42, 4, 11, 2, 1)]  # monitor is pre-pooling, cascade follows
    assert res.inputs.tolist() == [1, 0, 0, 0, 1, 0, 0, 0, 0]


# Other rules ----------------------------------------------------------------------------------------------


def test_depth_first_two_destinations_and_merge(run: Run) -> None:
    """Slot 0's whole cascade before slot 1's, before the next target neuron; merges interleave."""
    a = np.ones((2, 1, 1, 1))
    one = np.ones((1, 1, 1, 1))
    merge = np.ones((1, 2, 1, 1))
    config = chip(
        {
            2: core(
                a, (1, 1), threshold_high=1, dests=(dest(3), dest(5, feature_shift=1)), monitor_enable=True
            ),
            3: core(np.ones((1, 2, 1, 1)), (1, 1), threshold_high=1, dests=(dest(6),), monitor_enable=True),
            5: core(np.ones((1, 3, 1, 1)), (1, 1), threshold_high=1, dests=(dest(6, feature_shift=1),)),
            6: core(merge, (1, 1), threshold_high=1, monitor_enable=True),
        }
    )
    del one
    res = run(config, ev((0, 2, 0, 0, 0)))
    assert rows(res) == [
        (0, 2, 0, 0, 0),  # core 2 feature 0 fires
        (0, 3, 0, 0, 0),  # → slot 0: core 3 fires
        (0, 6, 0, 0, 0),  # → core 6 (from core 3)
        (0, 6, 0, 0, 0),  # slot 1: core 5 fires (not monitored) → core 6 via feature 1
        (0, 2, 1, 0, 0),  # then core 2's next target neuron
        (0, 3, 0, 0, 0),
        (0, 6, 0, 0, 0),
        (0, 6, 0, 0, 0),
    ]
    assert res.inputs[6] == 4 and res.spikes_generated[5] == 2


def test_zero_weight_tap_fires_neuron_above_threshold(run: Run) -> None:
    config = chip({2: core([[[[0]]]], (1, 1), threshold_high=10, init=12, monitor_enable=True)})
    res = run(config, ev((0, 2, 0, 0, 0)))
    assert rows(res) == [(0, 2, 0, 0, 0)] and res.synops[2] == 1
    res = run(config, ev((0, 2, 0, 0, 0)), SimOptions(process_zero_weights=False))
    assert rows(res) == [] and res.synops[2] == 0


def test_return_to_zero(run: Run) -> None:
    config = chip({2: core([[[[25]]]], (1, 1), threshold_high=10, return_to_zero=True, monitor_enable=True)})
    res = run(config, ev((0, 2, 0, 0, 0), (1, 2, 0, 0, 0)))
    assert len(rows(res)) == 2 and int(res.states[2][0, 0, 0]) == 0


@pytest.mark.parametrize(("phase", "passing"), [(None, [1, 3, 5]), (0, [0, 2, 4])])
def test_decimator(run: Run, phase: int | None, passing: list[int]) -> None:
    layer = core(
        [[[[20]]]], (1, 1), threshold_high=10, output_decimator_enable=True, output_decimator_interval=0
    )
    config = chip({2: replace(layer, monitor_enable=True)})
    res = run(config, ev(*[(t, 2, 0, 0, 0) for t in range(6)]), SimOptions(decimator_phase=phase))
    assert [r[0] for r in rows(res)] == passing
    assert res.spikes_generated[2] == 6 and res.spikes_emitted[2] == 3


@pytest.mark.parametrize(("erratum", "cls"), [(True, [1, 2, 2, 3]), (False, [0, 4, 7, 8])])
def test_readout_class_erratum(run: Run, erratum: bool, cls: list[int]) -> None:
    w = np.zeros((9, 1, 1, 1))
    w[[0, 4, 7, 8]] = 127
    config = chip(
        {3: core(w, (1, 1), threshold_high=127, dests=(dest(12),))}, readout=ReadoutConfig(enable=True)
    )
    res = run(config, ev((0, 3, 0, 0, 0)), SimOptions(readout_erratum=erratum))
    assert np.nonzero(res.readout_counts)[0].tolist() == sorted(set(cls))
    assert res.readout_counts.sum() == 4


def test_overflow_policies(run: Run) -> None:
    config = chip(
        {
            2: core(
                [[[[100]]]],
                (1, 1),
                threshold_high=32767,
                threshold_low=-32768,
                init=32700,
                monitor_enable=True,
            )
        }
    )
    with pytest.raises(
        StateOverflowError,
        match=r"core 2 neuron \(f=[0?], x=0, y=[0?]\) at t=0 µs: state 32800 outside the 16-bit ",
    ) as exc:
        run(config, ev((0, 2, 0, 0, 0)))
    assert "use 'wrap' or 'saturate' to continue" in str(exc.value)
    res = run(config, ev((0, 2, 0, 0, 0)), SimOptions(overflow="wrap"))
    assert int(res.states[2][0, 0, 0]) == 32800 - 65536 and rows(res) == []
    res = run(config, ev((0, 2, 0, 0, 0)), SimOptions(overflow="saturate"))
    assert rows(res) == [(0, 2, 0, 0, 0)] and int(res.states[2][0, 0, 0]) == 0
    res = run(config, ev((0, 2, 0, 0, 0)), SimOptions(overflow_check="result"))
    assert rows(res) == [(0, 2, 0, 0, 0)] and int(res.states[2][0, 0, 0]) == 33


@pytest.mark.parametrize("policy", ["drop", "error"])
def test_pooling_out_of_range_policy(run: Run, policy: str) -> None:
    """A 3-wide map pooled by 2 into a 1-wide input: x=2 → 1 is outside (§4.6)."""
    config = chip(
        {
            0: core(np.ones((1, 1, 1, 1)), (3, 1), threshold_high=1, dests=(dest(1, pooling=2),)),
            1: core(np.ones((1, 1, 1, 1)), (1, 1), threshold_high=1, monitor_enable=True),
        }
    )
    events = ev((0, 0, 0, 1, 0), (1, 0, 0, 2, 0))
    if policy == "error":
        with pytest.raises(
            SimulationError, match=r"from core 0 .* outside core 1's input shape \(1, 1, 1\)"
        ) as exc:
            run(config, events, SimOptions(out_of_range="error"))
        assert "use 'drop' to discard such events" in str(exc.value)
        return
    res = run(config, events)
    assert rows(res) == [(0, 1, 0, 0, 0)] and res.dropped[1] == 1


def test_dvs_layer_pipeline(run: Run) -> None:
    """§5: polarity filter, merge → feature 0, pooling, ROI shift, mirror, diagonal swap, monitor layer 13."""
    dvs = DvsLayerConfig(
        merge=True,
        off_channel=False,
        pooling=Vec2(2, 1),
        origin=Vec2(1, 0),
        cut=Vec2(4, 5),
        mirror=BoolVec2(True, False),
        mirror_diagonal=True,
        monitor_enable=True,
        destinations=(DvsDestination(True, 2), DvsDestination()),
    )
    config = chip(
        {2: core(np.ones((1, 1, 1, 1)), (6, 4), threshold_high=100, monitor_enable=True)}, dvs_layer=dvs
    )
    # (x=6, y=2, ON): pooled x=3 → ROI x=2 → mirror 3−2=1 → swap → (x=2, y=1).
    # (x=6, y=2, OFF) filtered; (x=0, y=0, ON) pooled x=0 < origin → outside ROI.
    res = run(config, ev((0, 13, 1, 6, 2), (1, 13, 0, 6, 2), (2, 13, 1, 0, 0)))
    assert rows(res) == [(0, 13, 0, 2, 1)]
    assert res.inputs[2] == 1 and int(res.states[2][0, 2, 1]) == 1


def test_cyclic_routing_is_rejected(run: Run) -> None:
    config = chip({2: core(np.ones((1, 1, 1, 1)), (1, 1), dests=(dest(2),), monitor_enable=True)})
    with pytest.raises(SimulationError, match="cycle"):
        run(config, ev((0, 2, 0, 0, 0)))
