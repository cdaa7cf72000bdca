"""The digit → event recipe: DVS pixel model, determinism, split."""

from __future__ import annotations

import numpy as np
import pytest

from models import digits_events as de


def test_two_pixel_example_exact_events():
    # Pixel (x=0) stays constant; pixel (x=1) rises by 0.5 in log intensity during the first 1000 µs and
    # falls back by 0.5 during the second. C = 0.2: crossings at +0.2, +0.4 (ON, at 40 % and 80 % of the
    # first interval); ref is then 0.4, so OFF crossings at 0.2 and 0.0 (at 40 % and 80 % of the way down,
    # i.e. log I = 0.2 at t = 1000 + 600 and 0.0 at t = 2000).
    log_frames = np.array([[[0.0, 0.0]], [[0.0, 0.5]], [[0.0, 0.0]]])
    ev = de.emulate_dvs(log_frames, np.array([0, 1000, 2000]), 0.2)
    assert ev.dtype == de.EVENT_DTYPE
    assert ev["x"].tolist() == [1, 1, 1, 1]
    assert ev["y"].tolist() == [0, 0, 0, 0]
    assert ev["p"].tolist() == [1, 1, 0, 0]
    assert ev["t"].tolist() == [400, 800, 1600, 2000]


def test_separate_on_off_thresholds_and_hysteresis():
    # ON threshold 0.3, OFF threshold 0.1: up by 0.35 → one ON (ref 0.3); down to 0.25 → nothing (needs
    # ≤ 0.2); down to 0.15 → one OFF (ref 0.2).
    log_frames = np.array([[[0.0]], [[0.35]], [[0.25]], [[0.15]]])
    ev = de.emulate_dvs(log_frames, np.array([0, 10, 20, 30]), 0.3, 0.1)
    assert ev["p"].tolist() == [1, 0]
    assert ev["t"].tolist() == [round(10 * 0.3 / 0.35), 20 + 5]


def test_emulate_dvs_rejects_bad_input():
    with pytest.raises(ValueError, match="positive"):
        de.emulate_dvs(np.zeros((2, 1, 1)), np.array([0, 1]), 0.0)
    with pytest.raises(ValueError, match="times_us"):
        de.emulate_dvs(np.zeros((2, 1, 1)), np.array([0, 1, 2]), 0.1)


def test_moving_edge_polarity_balance():
    # A bright bar moving right: its leading edge brightens (ON), trailing edge darkens (OFF), equally often.
    frames = np.full((21, 4, 20), 0.05)
    for i in range(21):
        frames[i, :, 2 + i // 3 : 6 + i // 3] = 1.0
    ev = de.emulate_dvs(np.log(frames), np.arange(21) * 100, 0.25)
    on, off = int((ev["p"] == 1).sum()), int((ev["p"] == 0).sum())
    assert on > 0 and on == off
    # ON events lie ahead of OFF events at every time.
    first = ev[ev["t"] == ev["t"].min()]
    assert first[first["p"] == 1]["x"].min() > first[first["p"] == 0]["x"].max()


def test_digit_events_deterministic_and_seeded():
    images, _ = de.load_digits_arrays()
    a = de.digit_to_events(images[3], seed=7)
    b = de.digit_to_events(images[3], seed=7)
    c = de.digit_to_events(images[3], seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)  # threshold mismatch depends on the seed
    no_mismatch = de.Recipe(mismatch=0.0)
    np.testing.assert_array_equal(
        de.digit_to_events(images[3], 1, no_mismatch), de.digit_to_events(images[3], 2, no_mismatch)
    )


def test_batched_conversion_equals_one_by_one():
    events, labels = de.build_dataset(np.array([0, 5, 11]), chunk=2)
    for i, e in zip([0, 5, 11], events, strict=True):
        np.testing.assert_array_equal(e, de.sample_events(i))
    assert labels.tolist() == [0, 5, 1]


def test_event_counts_and_ranges_are_sane():
    events, _ = de.build_dataset(np.arange(20))
    counts = np.array([len(e) for e in events])
    # N-MNIST has ~4,000 events per 34×34 sample; this recipe gives the same order of magnitude.
    assert counts.min() > 1000 and counts.max() < 15000
    for e in events:
        assert e["x"].min() >= 0 and e["x"].max() < 34 and e["y"].min() >= 0 and e["y"].max() < 34
        assert e["t"].min() >= 0 and e["t"].max() <= 300_000
        assert np.all(np.diff(e["t"]) >= 0)
        assert 0.35 < (e["p"] == 1).mean() < 0.65  # the image ends where it started: ON ≈ OFF
    # Every saccade produces events.
    t = np.concatenate([e["t"] for e in events])
    assert all(((t >= s * 100_000) & (t < (s + 1) * 100_000)).any() for s in range(3))


def test_rasterize_counts_every_event():
    ev = de.sample_events(0)
    r = de.rasterize(ev, 30)
    assert r.shape == (30, 2, 34, 34)
    assert r.sum() == len(ev)
    assert r[:, 1].sum() == (ev["p"] == 1).sum()


def test_split_fixed_disjoint_stratified():
    train, test = de.split_indices()
    train2, test2 = de.split_indices()
    np.testing.assert_array_equal(train, train2)
    np.testing.assert_array_equal(test, test2)
    assert len(np.intersect1d(train, test)) == 0
    assert len(train) + len(test) == 1797
    assert 0.19 < len(test) / 1797 < 0.21
    _, labels = de.load_digits_arrays()
    per_class = np.bincount(labels[test], minlength=10) / np.bincount(labels, minlength=10)
    assert np.all(np.abs(per_class - 0.2) < 0.01)
    # A different seed gives a different split.
    assert not np.array_equal(de.split_indices(seed=1)[1], test)


def test_save_npz_layout_round_trip(tmp_path):
    path = tmp_path / "ev.npz"
    n = de.save_npz(path, [4, 9])
    with np.load(path) as z:
        assert sorted(z.files) == [
            "duration_us",
            "events",
            "indices",
            "input_shape",
            "labels",
            "offsets",
            "sample_events",
        ]
        assert int(z["duration_us"]) == 300_000 and z["input_shape"].tolist() == [2, 34, 34]
        off = z["offsets"]
        assert off.tolist()[0] == 0 and off[-1] == n == len(z["sample_events"])
        np.testing.assert_array_equal(z["sample_events"][off[1] : off[2]], de.sample_events(9))
        np.testing.assert_array_equal(z["events"], de.sample_events(4))
        assert z["labels"].tolist() == [4, 9]
