"""Event dtype, converters, file formats and validation (messages asserted)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _nets import chip, core, dest
from helpers.reference_data import reference_file

from deploy.errors import EventFormatError
from deploy.sim.events import (
    EVENT_DTYPE,
    TONIC_DTYPE,
    as_events,
    events_to_raster,
    from_rows,
    from_tonic,
    load_events,
    make_events,
    raster_to_events,
    save_events,
    to_rows,
    to_tonic,
    validate_events,
)
from hwconfig.config import ChipConfig, DvsDestination, DvsLayerConfig


def test_dtype_is_the_documented_one() -> None:
    assert EVENT_DTYPE.names == ("timestamp", "layer", "feature", "x", "y")
    assert [EVENT_DTYPE[n].str for n in EVENT_DTYPE.names] == ["<i8", "<i2", "<i2", "<i2", "<i2"]


def test_rows_round_trip(rng: np.random.Generator) -> None:
    rows = np.column_stack([np.sort(rng.integers(0, 10**9, 50)), *(rng.integers(0, 128, (4, 50)))])
    ev = from_rows(rows)
    assert ev.dtype == EVENT_DTYPE
    np.testing.assert_array_equal(to_rows(ev), rows)


def test_tonic_round_trip(rng: np.random.Generator) -> None:
    tonic = np.zeros(20, dtype=[("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "?")])
    tonic["x"], tonic["y"] = rng.integers(0, 128, 20), rng.integers(0, 128, 20)
    tonic["t"], tonic["p"] = np.sort(rng.integers(0, 10**6, 20)), rng.integers(0, 2, 20).astype(bool)
    ev = from_tonic(tonic, layer=13)
    assert (
        (ev["layer"] == 13).all()
        and (ev["feature"] == tonic["p"]).all()
        and (ev["timestamp"] == tonic["t"]).all()
    )
    back = to_tonic(ev)
    assert back.dtype == TONIC_DTYPE
    np.testing.assert_array_equal(back["x"], tonic["x"])
    np.testing.assert_array_equal(back["p"], tonic["p"].astype(int))


def test_tonic_missing_field() -> None:
    bad = np.zeros(3, dtype=[("x", "<i2"), ("y", "<i2"), ("ts", "<i8"), ("p", "?")])
    with pytest.raises(EventFormatError, match=r"missing \['t'\]"):
        from_tonic(bad, layer=0)


def test_raster_to_events_reproduces_sinabs_stream() -> None:
    """input_events.npy was produced by sinabs's raster_to_events(input_raster, layer=0, dt=1 ms)."""
    raster = np.load(reference_file("tiny_2layer", "input_raster.npy"))
    expected = np.load(reference_file("tiny_2layer", "input_events.npy"))
    np.testing.assert_array_equal(to_rows(raster_to_events(raster, layer=0, dt_us=1000)), expected)


def test_raster_with_counts_above_one_follows_sinabs_order() -> None:
    """Counts > 1 in sinabs 3.1.3's order, worked out by hand.

    SPECK_SEMANTICS §9.4 says v copies per count, stably sorted by time bin; the order inside a bin is read
    from sinabs's ``ChipFactory.raster_to_events`` (backend/dynapcnn/chip_factory.py): it loops over the
    count values from the largest down to 1, takes the positions holding that value in C order (t, c, y, x)
    and repeats that whole block v times (``evData.repeat(v, 1)``: positions interleave, A B A B, not
    A A B B); then it sorts the list stably by time bin.
    """
    raster = np.zeros((2, 2, 2, 3), np.int64)  # (T, C, H, W)
    raster[0, 0, 1, 2] = 3  # P
    raster[0, 0, 0, 1] = 2  # A
    raster[0, 1, 0, 2] = 2  # B
    raster[1, 1, 0, 0] = 2  # D (bin 1)
    raster[0, 1, 1, 0] = 1  # C
    raster[1, 0, 0, 0] = 1  # E (bin 1)
    # value 3: [P]×3; value 2: [A, B, D]×2; value 1: [C, E]. Stable sort by bin:
    # bin 0: P P P A B A B C; bin 1: D D E. Rows [timestamp, layer, feature, x = W index, y = H index].
    p, a, b, c = (0, 5, 0, 2, 1), (0, 5, 0, 1, 0), (0, 5, 1, 2, 0), (0, 5, 1, 0, 1)
    d, e = (1000, 5, 1, 0, 0), (1000, 5, 0, 0, 0)
    expected = [p, p, p, a, b, a, b, c, d, d, e]
    got = raster_to_events(raster, layer=5, dt_us=1000)
    assert to_rows(got).tolist() == [list(row) for row in expected]
    # With t0 the timestamps shift and nothing else changes.
    shifted = to_rows(raster_to_events(raster, layer=5, dt_us=1000, t0_us=250))
    np.testing.assert_array_equal(shifted[:, 0], [t + 250 for t, *_ in expected])


def test_raster_counts_and_binning(rng: np.random.Generator) -> None:
    raster = rng.integers(0, 3, size=(6, 2, 4, 5))
    ev = raster_to_events(raster, layer=3, dt_us=250, t0_us=1000)
    assert len(ev) == raster.sum() and (np.diff(ev["timestamp"]) >= 0).all()
    assert ev["timestamp"].min() >= 1000 and (ev["layer"] == 3).all()
    back = events_to_raster(ev, dt_us=250, shape=(2, 4, 5), t0_us=1000, n_bins=6)
    np.testing.assert_array_equal(back, raster)


def test_raster_errors() -> None:
    with pytest.raises(EventFormatError, match=r"shape \(T, C, H, W\)"):
        raster_to_events(np.zeros((2, 3, 4)), layer=0, dt_us=1)
    with pytest.raises(EventFormatError, match="non-negative integers"):
        raster_to_events(-np.ones((1, 1, 1, 1)), layer=0, dt_us=1)
    half = np.zeros((2, 1, 3, 4))
    half[1, 0, 2, 3] = 0.5
    with pytest.raises(
        EventFormatError, match=r"entry \(t, c, y, x\) = \(1, 0, 2, 3\) is 0\.5 \(round or clip"
    ):
        raster_to_events(half, layer=0, dt_us=1)
    with pytest.raises(EventFormatError, match="event 1: x = 9 outside raster range"):
        events_to_raster(make_events([0, 1], 0, 0, [0, 9], 0), dt_us=1, shape=(1, 1, 4))


@pytest.mark.parametrize("fmt", ["structured", "rows", "tonic", "npz"])
def test_load_save_formats(tmp_path: Path, rng: np.random.Generator, fmt: str) -> None:
    ev = make_events(np.sort(rng.integers(0, 1000, 10)), 13, rng.integers(0, 2, 10), 3, 4)
    path = tmp_path / ("ev.npz" if fmt == "npz" else "ev.npy")
    if fmt == "structured" or fmt == "npz":
        save_events(path, ev)
    elif fmt == "rows":
        np.save(path, to_rows(ev))
    else:
        np.save(path, to_tonic(ev))
    loaded = load_events(path)
    np.testing.assert_array_equal(loaded, ev)


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((4, 3)))
    with pytest.raises(
        EventFormatError, match=r"bad\.npy: expected chip events .* got dtype float64 with shape \(4, 3\)"
    ):
        load_events(bad)
    odd = tmp_path / "odd.npy"
    np.save(odd, np.zeros(2, dtype=[("a", "<i4")]))
    with pytest.raises(EventFormatError, match=r"odd\.npy: structured array with fields \('a',\)"):
        load_events(odd)
    with pytest.raises(EventFormatError, match=r"missing\.npy: cannot read events"):
        load_events(tmp_path / "missing.npy")
    arch = tmp_path / "a.npz"
    np.savez(arch, other=np.zeros((1, 5), np.int64))
    assert len(load_events(arch)) == 1
    with pytest.raises(EventFormatError, match=r"no array 'events'"):
        load_events(arch, key="events")


def _config() -> ChipConfig:
    return chip(
        {
            2: core(np.ones((4, 2, 3, 3)), (8, 6), padding=1, dests=(dest(5),)),
            5: core(np.ones((1, 4, 1, 1)), (8, 6), monitor_enable=True),
        },
        dvs_layer=DvsLayerConfig(destinations=(DvsDestination(True, 2), DvsDestination())),
    )


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([(0, 2, 0, 0, 0), (-5, 2, 0, 0, 0)], r"event 1: negative timestamp -5"),
        ([(10, 2, 0, 0, 0), (9, 2, 0, 0, 0)], r"event 1: timestamp 9 is before the previous event's 10"),
        ([(0, 2, 0, 0, 0), (1, 4, 0, 0, 0)], r"event 1: target layer 4 is an unused layer; .* \[2, 5, 13\]"),
        ([(0, 11, 0, 0, 0)], r"event 0: target layer 11 is an unknown layer"),
        (
            [(0, 2, 0, 0, 0), (0, 2, 2, 0, 0)],
            r"event 1: feature = 2 out of range for layer 2 \(allowed 0\.\.1\)",
        ),
        ([(0, 2, 0, 8, 0)], r"event 0: x = 8 out of range for layer 2 \(allowed 0\.\.7\)"),
        ([(0, 5, 0, 0, 6)], r"event 0: y = 6 out of range for layer 5 \(allowed 0\.\.5\)"),
        ([(0, 13, 2, 0, 0)], r"event 0: feature = 2 out of range for layer 13 \(allowed 0\.\.1\)"),
        ([(0, 13, 0, 128, 0)], r"event 0: x = 128 out of range for layer 13 \(allowed 0\.\.127\)"),
        ([(0, 12, 0, 0, 0)], r"event 0: target layer 12 is an unused layer"),
    ],
)
def test_validate_events_messages(rows: list[tuple[int, ...]], message: str) -> None:
    with pytest.raises(EventFormatError, match=message):
        validate_events(from_rows(np.array(rows)), _config())


def test_validate_accepts_good_events() -> None:
    validate_events(from_rows(np.array([(0, 2, 1, 7, 5), (0, 5, 3, 7, 5), (3, 13, 1, 127, 127)])), _config())


def test_as_events_rejects_floats() -> None:
    with pytest.raises(EventFormatError, match="N×5 integer array"):
        as_events(np.zeros((3, 5), np.float32))
