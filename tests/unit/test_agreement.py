"""deploy.agreement: correlation, output class, first divergence, counts from monitored events."""

from __future__ import annotations

import numpy as np
import pytest

from deploy.agreement import (
    Tolerance,
    class_agreement,
    compare,
    count_correlation,
    monitored_counts,
    output_class,
    reduce_counts,
    relative_difference,
)
from deploy.sim.events import make_events

SHAPES = [(4, 6, 6), (3, 3, 3), (2, 1, 1)]
NAMES = ["conv1", "conv2", "fc"]


def test_correlation_edge_cases(rng: np.random.Generator) -> None:
    a = rng.poisson(4, (3, 5, 5))
    assert count_correlation(a, a) == 1.0
    assert count_correlation(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0  # both silent: agree
    assert count_correlation(np.zeros((2, 2)), np.eye(2)) == 0.0  # one silent: undefined -> disagree
    assert count_correlation(np.full((2, 2), 3), np.full((2, 2), 5)) == 0.0
    assert count_correlation([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert count_correlation([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    b = a + rng.poisson(1, a.shape)
    assert count_correlation(a, b) == pytest.approx(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    with pytest.raises(ValueError, match="shapes"):
        count_correlation(np.zeros(3), np.zeros(4))


def test_relative_difference() -> None:
    assert relative_difference(0, 0) == 0.0
    assert relative_difference(100, 75) == pytest.approx(0.25)
    assert relative_difference(0, 5) == 1.0


def test_output_class_argmax_ties_and_silence() -> None:
    counts = np.zeros((3, 2, 2), dtype=np.int64)
    assert output_class(counts) == (None, [0, 0, 0])
    counts[1, 0, 0] = 2
    counts[2, 1, 1] = 2
    assert output_class(counts) == (1, [0, 2, 2])  # tie -> lowest index
    counts[2, 0, 1] = 1
    assert output_class(counts) == (2, [0, 2, 3])


def _counts(rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.poisson(5, s) for s in SHAPES]


def test_identical_views_agree_everywhere(rng: np.random.Generator) -> None:
    c = _counts(rng)
    res = compare({"float": c, "quantised": c, "simulated": c}, NAMES, cores=[0, 1, 2])
    assert res.classes_agree
    assert res.first_divergence == {
        "float vs quantised": None,
        "quantised vs simulated": None,
        "float vs simulated": None,
    }
    assert all(p.within_tolerance and p.correlation == 1.0 for la in res.layers for p in la.pairs)
    assert [la.core for la in res.layers] == [0, 1, 2]
    assert res.output_layer == 2


def test_first_divergence_is_the_first_layer_beyond_tolerance(rng: np.random.Generator) -> None:
    f = _counts(rng)
    q = [c.copy() for c in f]
    s = [c.copy() for c in f]
    s[1] = rng.permutation(s[1].ravel()).reshape(s[1].shape)  # same total, pattern scrambled
    s[2] = s[2] * 2  # 50 % more spikes in the last layer
    res = compare({"float": f, "quantised": q, "simulated": s}, NAMES)
    assert res.first_divergence["float vs quantised"] is None
    assert res.first_divergence["quantised vs simulated"] == "conv2"
    assert res.first_divergence["float vs simulated"] == "conv2"
    la2 = res.layers[2].pair("quantised", "simulated")
    assert la2 is not None and la2.relative_difference == pytest.approx(0.5) and not la2.within_tolerance


def test_count_tolerance_is_applied(rng: np.random.Generator) -> None:
    f = [np.ones(s, dtype=np.int64) * 10 for s in SHAPES]
    f[0][0, 0, 0] = 20  # some spatial variation so the correlation is defined
    q = [c.copy() for c in f]
    q[0] = q[0] + (q[0] // 10)  # +10 % everywhere: correlation 1, relative difference ≈ 0.09
    loose = compare({"float": f, "quantised": q}, NAMES, tolerance=Tolerance(0.9, 0.25))
    assert loose.first_divergence == {"float vs quantised": None}
    strict = compare({"float": f, "quantised": q}, NAMES, tolerance=Tolerance(0.9, 0.05))
    assert strict.first_divergence == {"float vs quantised": "conv1"}


def test_class_disagreement_is_reported(rng: np.random.Generator) -> None:
    f = _counts(rng)
    s = [c.copy() for c in f]
    s[2] = np.zeros_like(s[2])
    s[2][1] = 1
    f[2] = np.zeros_like(f[2])
    f[2][0] = 3
    res = compare({"float": f, "simulated": s}, NAMES)
    assert res.output_classes == {"float": 0, "simulated": 1}
    assert not res.classes_agree
    assert res.output_counts == {"float": [3, 0], "simulated": [0, 1]}
    d = res.to_dict()
    assert d["classes_agree"] is False and d["layers"][2]["totals"] == {"float": 3, "simulated": 1}


def test_compare_rejects_wrong_layer_count(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match="2 layers, expected 3"):
        compare({"float": _counts(rng)[:2]}, NAMES)


def test_monitored_counts_bins_feature_y_x() -> None:
    # core 4 holds layer 0 (F=2, H=3, W=5); core 7 holds layer 1 (F=1, H=1, W=1); core 0 is not a layer.
    ev = make_events(
        timestamp=[0, 1, 2, 3, 4],
        layer=[4, 4, 7, 4, 0],
        feature=[1, 1, 0, 0, 0],
        x=[4, 4, 0, 0, 9],
        y=[2, 2, 0, 1, 9],
    )
    counts = monitored_counts(ev, core_of=[4, 7], out_shapes=[(2, 3, 5), (1, 1, 1)])
    assert counts[0][1, 2, 4] == 2 and counts[0][0, 1, 0] == 1 and counts[0].sum() == 3
    assert counts[1].tolist() == [[[1]]]
    with pytest.raises(ValueError, match="core 4"):
        monitored_counts(make_events(0, 4, 0, 5, 0), core_of=[4], out_shapes=[(2, 3, 5)])


def test_reduce_counts_sums_time() -> None:
    raster = np.ones((7, 2, 3, 3))
    assert reduce_counts([raster])[0].tolist() == (np.ones((2, 3, 3)) * 7).tolist()
    assert reduce_counts([raster[None]])[0].shape == (2, 3, 3)
    assert reduce_counts([np.ones((2, 3, 3))])[0].sum() == 18
    with pytest.raises(ValueError, match="expected"):
        reduce_counts([np.ones((3, 3))])


def test_monitored_counts_match_the_simulator_counters(rng: np.random.Generator) -> None:
    """With every used core monitored, per-layer counts from events equal the per-core spike counters."""
    import sinabs.layers as sl
    import torch
    from torch import nn

    from deploy.analysis import monitor_all
    from deploy.inputs import poisson_events
    from deploy.pipeline import compile_model
    from deploy.sim.events import from_tonic
    from deploy.sim.simulator import simulate

    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
        sl.SumPool2d(2),
        nn.Conv2d(4, 3, 3, padding=1, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
    )
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Conv2d):
                m.weight.uniform_(-0.1, 0.5)
    result = compile_model(model, "speck2f", (2, 12, 12))
    core_of = result.placement.core_of
    entry = core_of[result.graph.entry_layers[0]]
    events = from_tonic(poisson_events((2, 12, 12), 200.0, 50.0, seed=int(rng.integers(1000))), layer=entry)
    sim = simulate(monitor_all(result.config, core_of), events, chip=result.chip)
    counts = monitored_counts(sim.events, core_of, [layer.out_shape for layer in result.graph.layers])
    assert [int(c.sum()) for c in counts] == [int(sim.spikes_generated[core]) for core in core_of]
    assert all(c.sum() > 0 for c in counts)
    # Monitoring does not change the computation: the exit core's events are the same either way.
    plain = simulate(result.config, events, chip=result.chip)
    exit_core = core_of[result.graph.exit_layers[0]]
    np.testing.assert_array_equal(plain.events, sim.events[sim.events["layer"] == exit_core])


def test_class_agreement_accuracy_and_pairwise() -> None:
    c = class_agreement(
        {"float": [1, 2, 3, 0], "quantised": [1, 2, 0, 0], "simulated": [1, None, 0, 0]},
        labels=[1, 2, 3, None],
    )
    assert c.n_samples == 4
    assert c.accuracy == {"float": 1.0, "quantised": pytest.approx(2 / 3), "simulated": pytest.approx(1 / 3)}
    assert c.pairwise == {
        "float vs quantised": 0.75,
        "quantised vs simulated": 0.75,
        "float vs simulated": 0.5,
    }
    d = c.to_dict()
    assert d["predictions"]["simulated"] == [1, None, 0, 0] and d["labels"][3] is None
    assert class_agreement({"float": [None]}, [None]).accuracy == {"float": None}
    with pytest.raises(ValueError, match="3 predictions for 4 samples"):
        class_agreement({"float": [1, 2, 3]}, [1, 2, 3, 4])
