"""Chip events: the one event dtype of the project, converters and validation.

An event is a samna ``Spike`` (SPECK_SEMANTICS §8.2): ``timestamp`` in µs, ``layer`` (input: the target
core 0..8, 12 for the readout layer, or 13 for a DVS event fed to the DVS pre-processing layer with
``feature`` = polarity; output: the producing core, or 13 for the DVS-layer monitor), ``feature``, ``x``
(horizontal, PyTorch's last axis) and ``y`` (vertical). Coordinates of an input event are in the *input*
space of the target core: no pooling or feature shift is applied on injection (§8.2).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from deploy.errors import EventFormatError

if TYPE_CHECKING:
    from hwconfig.config import ChipConfig

EVENT_DTYPE = np.dtype(
    [("timestamp", "<i8"), ("layer", "<i2"), ("feature", "<i2"), ("x", "<i2"), ("y", "<i2")]
)
"""Structured dtype of chip events: timestamp (µs, int64), layer, feature, x, y (int16)."""

TONIC_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i2")])
"""Tonic-style DVS event dtype written by :func:`to_tonic` (x, y, t in µs, polarity p)."""

READOUT_LAYER = 12
DVS_LAYER = 13

Events = npt.NDArray[np.void]


def empty_events(n: int = 0) -> Events:
    """A zero-filled event array of length ``n``."""
    return np.zeros(n, dtype=EVENT_DTYPE)


def _checked_column(col: npt.NDArray[Any], name: str, target: np.dtype[Any], source: str) -> npt.NDArray[Any]:
    """``col`` as ``target``, after checking in its *original* dtype that every value is an integer that
    fits (a silent cast would turn x = 65541 into x = 5).

    Raises:
        EventFormatError: naming ``source``, the column, the first bad index and its original value.
    """
    if col.dtype.kind == "b":
        return col.astype(target)
    if col.dtype.kind == "f":
        bad_f = np.nonzero(~np.isfinite(col) | (col != np.floor(col)))[0]
        if len(bad_f):
            i = int(bad_f[0])
            raise EventFormatError(
                f"{source}: event {i}: {name} = {col[i]!r} is not an integer; store integer columns"
            )
    elif col.dtype.kind not in "iu":
        raise EventFormatError(
            f"{source}: column {name!r} has dtype {col.dtype} ({col.dtype.kind!r}); events need integer "
            "columns (timestamps in µs, coordinates, features)"
        )
    if col.size:
        info = np.iinfo(target)
        bad = np.nonzero((col < info.min) | (col > info.max))[0]
        if len(bad):
            i = int(bad[0])
            value = int(col[i])
            raise EventFormatError(
                f"{source}: event {i}: {name} = {value} does not fit the event field ({target}, "
                f"{info.min}..{info.max}); the file is corrupt or uses another coordinate system"
            )
    return col.astype(target)


_FIELD_OF = {"t": "timestamp", "p": "feature"}


def check_event_columns(arr: npt.NDArray[Any], source: str) -> None:
    """Check the columns of a raw event array (structured: chip or tonic-style fields) in their original
    dtype, before any arithmetic or narrowing: integers (or integral floats, or booleans) that fit their
    event field. Unstructured arrays are checked when converted (:func:`as_events`).

    Raises:
        EventFormatError: naming ``source``, the column, the first bad index and its original value.
    """
    for name in arr.dtype.names or ():
        field = _FIELD_OF.get(name, name)
        if field in (EVENT_DTYPE.names or ()):
            _checked_column(np.asarray(arr[name]).reshape(-1), name, EVENT_DTYPE[field], source)


def make_events(
    timestamp: Any, layer: Any, feature: Any, x: Any, y: Any, *, source: str = "events"
) -> Events:
    """Build an event array from columns (scalars broadcast).

    Args:
        timestamp: Timestamps in µs.
        layer: Target (input) or source (output) layer ids.
        feature: Feature (channel) indices.
        x: Horizontal coordinates.
        y: Vertical coordinates.
        source: Where the columns come from, for error messages.

    Returns:
        An ``EVENT_DTYPE`` array.

    Raises:
        EventFormatError: a column is not integer, or a value does not fit its field (checked before any
            narrowing, so the message shows the original value).
    """
    cols = np.broadcast_arrays(
        np.asarray(timestamp), np.asarray(layer), np.asarray(feature), np.asarray(x), np.asarray(y)
    )
    out = np.zeros(cols[0].shape, dtype=EVENT_DTYPE).reshape(-1)
    for name, col in zip(EVENT_DTYPE.names or (), cols, strict=True):
        out[name] = _checked_column(col.reshape(-1), name, EVENT_DTYPE[name], source)
    return out


# --------------------------------------------------------------------------------------------- N×5 rows


def from_rows(rows: npt.ArrayLike, source: str = "events") -> Events:
    """Convert N×5 integer rows ``[timestamp_us, layer, feature, x, y]`` to events.

    Raises:
        EventFormatError: if the array is not N×5 of integers.
    """
    arr = np.asarray(rows)
    if arr.ndim != 2 or arr.shape[1] != 5:
        raise EventFormatError(
            f"expected an N×5 array of [timestamp_us, layer, feature, x, y], got shape {arr.shape}"
        )
    if arr.size and arr.dtype.kind not in "iu":
        raise EventFormatError(f"expected an integer N×5 array, got dtype {arr.dtype}")
    return make_events(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4], source=source)


def to_rows(events: Events) -> npt.NDArray[np.int64]:
    """Events as N×5 int64 rows ``[timestamp_us, layer, feature, x, y]``."""
    ev = as_events(events)
    return np.stack([ev[n].astype(np.int64) for n in EVENT_DTYPE.names or ()], axis=1).reshape(len(ev), 5)


# --------------------------------------------------------------------------------------------- tonic


def from_tonic(xytp: npt.NDArray[np.void], layer: int, source: str = "events") -> Events:
    """Convert a tonic-style structured array (fields ``x``, ``y``, ``t`` in µs, ``p``) to events.

    As sinabs's ``xytp_to_events``: ``feature = p`` (booleans become 0/1), timestamps are kept.

    Args:
        xytp: Structured array with fields ``x``, ``y``, ``t``, ``p``.
        layer: Target layer of every event (a core 0..8, or 13 for the DVS layer).

    Raises:
        EventFormatError: if a field is missing.
    """
    names = xytp.dtype.names or ()
    missing = [n for n in ("x", "y", "t", "p") if n not in names]
    if missing:
        raise EventFormatError(
            f"{source}: tonic-style events need fields x, y, t, p; missing {missing} in {names}"
        )
    return make_events(xytp["t"], layer, xytp["p"], xytp["x"], xytp["y"], source=source)


def to_tonic(events: Events) -> npt.NDArray[np.void]:
    """Events as a tonic-style structured array (``TONIC_DTYPE``; ``p`` = feature, layer dropped)."""
    ev = as_events(events)
    out = np.zeros(len(ev), dtype=TONIC_DTYPE)
    out["x"], out["y"], out["t"], out["p"] = ev["x"], ev["y"], ev["timestamp"], ev["feature"]
    return out


# --------------------------------------------------------------------------------------------- rasters


def raster_to_events(raster: npt.ArrayLike, layer: int, dt_us: int, t0_us: int = 0) -> Events:
    """Convert a dense count raster ``(T, C, H, W)`` to events, exactly as sinabs's ``raster_to_events``.

    A count ``v`` becomes ``v`` identical events with ``timestamp = t0_us + t·dt_us``, ``feature = c``,
    ``x = w``, ``y = h``. The order is sinabs's: for each count value from the largest down to 1, the
    positions holding that value in C order, the block repeated ``v`` times; then a stable sort by time bin.

    Args:
        raster: Non-negative integer counts, shape ``(T, C, H, W)``.
        layer: Target layer of every event.
        dt_us: Bin width in µs.
        t0_us: Timestamp of bin 0 in µs (sinabs's ``delay_factor``).

    Raises:
        EventFormatError: for a wrong shape or negative / non-integer counts.
    """
    arr = np.asarray(raster)
    if arr.ndim != 4:
        raise EventFormatError(f"expected a raster of shape (T, C, H, W), got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or not np.array_equal(arr, np.floor(arr))):
        bad = tuple(int(i) for i in np.argwhere((arr < 0) | (arr != np.floor(arr)))[0])
        raise EventFormatError(
            f"raster counts must be non-negative integers; entry (t, c, y, x) = {bad} is {arr[bad]} "
            "(round or clip the raster, e.g. np.clip(np.rint(raster), 0, None))"
        )
    counts = arr.astype(np.int64)
    blocks: list[npt.NDArray[np.int64]] = []
    for val in range(int(counts.max()) if counts.size else 0, 0, -1):
        idx = np.stack(np.nonzero(counts == val), axis=1)
        if len(idx):
            blocks.append(np.tile(idx, (val, 1)))
    if not blocks:
        return empty_events()
    rows = np.concatenate(blocks)
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    return make_events(t0_us + rows[:, 0] * int(dt_us), layer, rows[:, 1], rows[:, 3], rows[:, 2])


def events_to_raster(
    events: Events,
    dt_us: int,
    shape: tuple[int, int, int],
    t0_us: int | None = None,
    n_bins: int | None = None,
) -> npt.NDArray[np.int64]:
    """Bin events into a count raster ``(T, C, H, W)`` (sinabs's ``events_to_raster`` semantics).

    Args:
        events: Events (all layers are counted together; filter first if needed).
        dt_us: Bin width in µs.
        shape: ``(C, H, W)``.
        t0_us: Start of bin 0; sinabs uses the first event's timestamp (the default here too).
        n_bins: Number of bins; default ``⌊(max_ts − t0)/dt⌋ + 1``. Events beyond are dropped.

    Raises:
        EventFormatError: for events outside ``shape`` or before ``t0_us``.
    """
    ev = as_events(events)
    if t0_us is None:
        t0_us = int(ev["timestamp"].min()) if len(ev) else 0
    rel = ev["timestamp"].astype(np.int64) - t0_us
    if len(ev) and rel.min() < 0:
        i = int(np.argmin(rel))
        raise EventFormatError(f"event {i}: timestamp {int(ev['timestamp'][i])} before raster start {t0_us}")
    bins = rel // int(dt_us)
    if n_bins is None:
        n_bins = int(bins.max()) + 1 if len(ev) else 0
    c, h, w = shape
    for name, lim in (("feature", c), ("y", h), ("x", w)):
        bad = np.nonzero((ev[name] < 0) | (ev[name] >= lim))[0]
        if len(bad):
            i = int(bad[0])
            raise EventFormatError(f"event {i}: {name} = {int(ev[name][i])} outside raster range [0, {lim})")
    keep = bins < n_bins
    raster = np.zeros((n_bins, c, h, w), dtype=np.int64)
    np.add.at(raster, (bins[keep], ev["feature"][keep], ev["y"][keep], ev["x"][keep]), 1)
    return raster


# --------------------------------------------------------------------------------------------- coercion / IO


def as_events(data: Any, source: str = "events") -> Events:
    """Coerce chip-event arrays, tonic-style arrays (layer 13) or N×5 integer rows to ``EVENT_DTYPE``.

    Raises:
        EventFormatError: naming ``source`` and what was expected.
    """
    arr = np.asarray(data)
    names = arr.dtype.names
    if names is not None:
        if set(EVENT_DTYPE.names or ()) <= set(names):
            if arr.dtype == EVENT_DTYPE:
                return arr.reshape(-1)
            return make_events(
                arr["timestamp"], arr["layer"], arr["feature"], arr["x"], arr["y"], source=source
            )
        if {"x", "y", "t", "p"} <= set(names):
            return from_tonic(arr.reshape(-1), layer=DVS_LAYER, source=source)
        raise EventFormatError(
            f"{source}: structured array with fields {names} is neither chip events "
            f"(timestamp, layer, feature, x, y) nor tonic-style events (x, y, t, p)"
        )
    if arr.ndim == 2 and arr.shape[1] == 5 and (arr.size == 0 or arr.dtype.kind in "iu"):
        return from_rows(arr, source=source)
    if arr.ndim == 1 and arr.size == 0:
        return empty_events()
    raise EventFormatError(
        f"{source}: expected chip events (EVENT_DTYPE), tonic-style events (x, y, t, p) or an N×5 integer "
        f"array [timestamp_us, layer, feature, x, y]; got dtype {arr.dtype} with shape {arr.shape}"
    )


def load_events(path: str | Path, key: str | None = None) -> Events:
    """Load events from ``.npy`` or ``.npz`` (first array, or ``key``; ``events`` preferred).

    Accepts chip-event structured arrays, tonic-style structured arrays (mapped to layer 13, the DVS
    layer) and N×5 integer rows.

    Raises:
        EventFormatError: naming the file and what was expected.
    """
    from deploy.limits import check_numpy_file

    p = Path(path)
    check_numpy_file(p)
    try:
        loaded = np.load(p, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise EventFormatError(f"{p}: cannot read events ({exc})") from exc
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            files = list(loaded.files)
            if key is None:
                key = "events" if "events" in files else (files[0] if files else None)
            if key is None or key not in files:
                raise EventFormatError(f"{p}: no array {key!r} in archive (has {files})")
            arr = loaded[key]
    else:
        arr = loaded
    return as_events(arr, source=str(p))


def save_events(path: str | Path, events: Events) -> None:
    """Save events as a structured ``.npy`` (or ``.npz`` with key ``events``)."""
    p = Path(path)
    ev = as_events(events)
    if p.suffix == ".npz":
        np.savez(p, events=ev)
    else:
        np.save(p, ev)


# --------------------------------------------------------------------------------------------- validation


def validate_events(events: Events, config: ChipConfig, dvs_size: tuple[int, int] = (128, 128)) -> None:
    """Check input events against a configuration before simulating or streaming them.

    Checked, in this order per rule: timestamps non-negative and non-decreasing; target layer a used core,
    12 (readout, only if enabled) or 13 (DVS, only if the DVS layer has an enabled destination or monitor);
    feature, x and y inside the target core's ``input_shape`` (or the DVS array, polarity 0/1).

    Raises:
        EventFormatError: naming the first offending index, the value and the limit.
    """
    from hwconfig.config import N_CNN_LAYERS

    ev = as_events(events)
    if not len(ev):
        return
    ts = ev["timestamp"]
    # (Each rule is first checked with a reduction, which allocates nothing; the index of the first
    # offending event is searched only when there is one.)
    if ts.min() < 0:
        i = int(np.argmax(ts < 0))
        raise EventFormatError(f"event {i}: negative timestamp {int(ts[i])} (timestamps must be >= 0 µs)")
    if len(ts) > 1 and not (ts[1:] >= ts[:-1]).all():
        dec = np.nonzero(np.diff(ts) < 0)[0]
        i = int(dec[0]) + 1
        raise EventFormatError(
            f"event {i}: timestamp {int(ts[i])} is before the previous event's {int(ts[i - 1])} "
            "(timestamps must be non-decreasing)"
        )
    used = set(config.used_cores())
    dvs = config.dvs_layer
    dvs_used = dvs.monitor_enable or any(d.enable for d in dvs.destinations)
    layers = ev["layer"]
    allowed = (
        sorted(used) + ([READOUT_LAYER] if config.readout.enable else []) + ([DVS_LAYER] if dvs_used else [])
    )
    single = bool(layers.min() == layers.max())  # one target layer: the usual case, checked faster
    if single and int(layers[0]) in allowed:
        bad = np.zeros(0, np.intp)
    else:
        bad = np.nonzero(~np.isin(layers, allowed))[0]
    if len(bad):
        i = int(bad[0])
        lay = int(layers[i])
        why = (
            "unknown layer"
            if not (0 <= lay < N_CNN_LAYERS or lay in (READOUT_LAYER, DVS_LAYER))
            else "unused layer"
        )
        raise EventFormatError(
            f"event {i}: target layer {lay} is an {why}; the configuration accepts layers {allowed}"
        )

    def limits(lay: int) -> tuple[int, int, int]:
        """(features, width, height) of layer ``lay``'s input."""
        if lay == DVS_LAYER:
            return 2, dvs_size[0], dvs_size[1]
        if lay == READOUT_LAYER:
            return 1 << 10, 1 << 7, 1 << 7
        shape = config.cnn_layers[lay].dimensions.input_shape
        return shape.feature_count, shape.size.x, shape.size.y

    lim_f: npt.NDArray[np.int64] | np.int64
    lim_x: npt.NDArray[np.int64] | np.int64
    lim_y: npt.NDArray[np.int64] | np.int64
    if single:
        lim_f, lim_x, lim_y = (np.int64(v) for v in limits(int(layers[0])))
    else:
        lim_f = np.zeros(len(ev), np.int64)
        lim_x = np.zeros(len(ev), np.int64)
        lim_y = np.zeros(len(ev), np.int64)
        for lay in allowed:
            m = layers == lay
            lim_f[m], lim_x[m], lim_y[m] = limits(lay)
    for name, lim in (("feature", lim_f), ("x", lim_x), ("y", lim_y)):
        col = ev[name]
        if single and col.min() >= 0 and col.max() < lim:
            continue
        bad = np.nonzero((col < 0) | (col >= lim))[0]
        if len(bad):
            i = int(bad[0])
            allowed_max = int(np.broadcast_to(lim, col.shape)[i]) - 1
            raise EventFormatError(
                f"event {i}: {name} = {int(col[i])} out of range for layer {int(layers[i])} "
                f"(allowed 0..{allowed_max})"
            )
