"""Input events of a run: where they come from, and their conversion for the chip and the model.

:func:`resolve_input` picks the input of ``deploy-model run`` (:func:`deploy.runner.run_model`); first match
wins:

1. an events file (``--input FILE``, ``.npy``/``.npz``): tonic-style events (fields ``x, y, t, p``, polarity
   ``{0, 1}``, ``{-1, 1}`` or bool, :func:`map_polarity`; fed to the entry core(s), or to the DVS layer for
   models with a DVS input; events outside the model's input are refused with the crop/downsample fix,
   :func:`check_in_model_input`), a dense raster ``(T, C, H, W)`` of counts per ``dt`` bin (tonic's
   ``ToFrame``, :func:`raster_input`), chip events (``EVENT_DTYPE``) or N×5 integer rows
   ``[timestamp_us, layer, feature, x, y]``; an ``.npz`` uses its ``events`` array (else its first) and an
   optional ``label`` (or ``labels[0]``);
2. a Poisson rate or duration given explicitly (:attr:`deploy.options.RunOptions.explicit_poisson`);
3. ``sample_input.npz`` next to the model file (shipped with the bundled models);
4. Poisson events: every input pixel and channel fires independently at the rate (default 50 Hz) for the
   duration (default 100 ms), seeded.

An ``.npz`` that also holds ``sample_events``, ``offsets`` and ``labels`` (the bundled models'
``sample_input.npz``) adds labelled samples for the multi-sample class check (:func:`read_samples`).

Also here: the time bins and input raster of the time-stepped views (:func:`time_bins`,
:func:`input_raster`), the input shape a bundled model declares (:func:`bundled_input_shape`) and the one
place that decides a model's input shape for every command (:func:`find_input_shape`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from deploy.errors import DeployError, EventFormatError
from deploy.options import DEFAULT_DURATION_MS, DEFAULT_POISSON_RATE_HZ, RunOptions

if TYPE_CHECKING:
    from deploy.frontend.load import LoadedModel
    from deploy.graph import Shape3
    from deploy.pipeline import CompileResult
    from deploy.report.summary import InputInfo

SAMPLE_INPUT = "sample_input.npz"
"""File next to a bundled model holding its sample input."""
EVENT_SUFFIXES = (".npy", ".npz")
"""Extensions of an events file."""

Sample = tuple[npt.NDArray[Any], npt.NDArray[Any], int | None]
"""One shipped sample: chip events, model events and label."""


@dataclass(frozen=True)
class ResolvedInput:
    """Input events for the chip, the same events in model-input space, and their description.

    Attributes:
        events: Chip events (``EVENT_DTYPE``) to feed the target.
        model_events: The events the model's input sees (``layer`` ignored), for the time-stepped raster.
        info: Provenance and duration for the report.
        samples: Further labelled samples shipped in the same archive (``sample_events``, ``offsets``,
            ``labels``, as ``models/training.py`` writes ``sample_input.npz``): ``(chip events, model events,
            label)`` each, for the multi-sample class check.
        interpretation: How the input was read, one line each (polarity → channel, entry core, binning of
            the float/quantised views), for the console and the report's notes.
    """

    events: npt.NDArray[Any]
    model_events: npt.NDArray[Any]
    info: InputInfo
    samples: tuple[Sample, ...] = ()
    interpretation: tuple[str, ...] = ()


def entry_targets(result: CompileResult) -> list[int]:
    """Layer ids input events go to: 13 (DVS layer) for a DVS model, else the entry layers' cores."""
    from deploy.routing import entry_targets as targets_of

    return targets_of(result.graph, result.placement)


def poisson_events(
    shape: tuple[int, int, int], rate_hz: float, duration_ms: float, seed: int
) -> npt.NDArray[np.void]:
    """Independent Poisson spike trains, one per input channel and pixel, as tonic-style events.

    Args:
        shape: ``(C, H, W)``; the channel becomes the polarity/feature ``p``.
        rate_hz: Rate of every train.
        duration_ms: Length; timestamps are integer µs in ``[0, duration)``.
        seed: Seed of ``np.random.default_rng``.

    Returns:
        Events sorted by time (ties by channel, y, x), dtype ``deploy.sim.events.TONIC_DTYPE``.
    """
    from deploy.sim.events import TONIC_DTYPE

    if not rate_hz > 0 or not duration_ms > 0:
        raise DeployError(
            f"Poisson input needs a positive rate and duration, got --poisson-rate {rate_hz:g} Hz and "
            f"--duration-ms {duration_ms:g} ms"
        )
    rng = np.random.default_rng(seed)
    c, h, w = shape
    duration_us = max(round(duration_ms * 1000), 1)
    counts = rng.poisson(rate_hz * duration_us / 1e6, size=(c, h, w))
    pixel = np.repeat(np.arange(c * h * w), counts.ravel())
    t = rng.integers(0, duration_us, size=pixel.size)
    order = np.lexsort((pixel, t))
    pixel, t = pixel[order], t[order]
    ch, y, x = np.unravel_index(pixel, (c, h, w))
    out = np.zeros(pixel.size, dtype=TONIC_DTYPE)
    out["x"], out["y"], out["t"], out["p"] = x, y, t, ch
    return out


def read_event_file(path: Path) -> tuple[npt.NDArray[Any], int | None]:
    """Raw event array and optional label from ``.npy``/``.npz`` (no conversion yet; see :func:`is_tonic`,
    :func:`tonic_to_chip` and :func:`deploy.sim.events.as_events`).

    Raises:
        EventFormatError: The file is missing, a directory, not ``.npy``/``.npz``, corrupt or an empty
            archive, or its columns hold values out of range (checked before any narrowing).
    """
    from deploy.limits import check_numpy_file
    from deploy.sim.events import check_event_columns

    if not path.exists():
        raise EventFormatError(f"input events file '{path}' does not exist")
    if path.is_dir():
        raise EventFormatError(f"input events path '{path}' is a directory, not an .npy/.npz file")
    if path.suffix.lower() not in EVENT_SUFFIXES:
        raise EventFormatError(
            f"input events file '{path}' has the extension '{path.suffix}'; expected .npy or .npz holding "
            "tonic-style events (x, y, t, p), chip events or N×5 rows [timestamp_us, layer, feature, x, y]"
        )
    check_numpy_file(path)  # header sizes and archive integrity before anything is allocated
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise EventFormatError(
            f"input events file '{path}' cannot be read as {path.suffix} ({exc}); it is corrupt or not a "
            "numpy file"
        ) from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        check_event_columns(np.asarray(loaded), f"input events file '{path}'")
        return np.asarray(loaded), None
    with loaded:
        files = list(loaded.files)
        key = "events" if "events" in files else (files[0] if files else None)
        if key is None:
            raise EventFormatError(f"input events file '{path}' is an empty .npz archive")
        try:
            arr = np.asarray(loaded[key])
            label = _label(loaded, files, key)
        except (OSError, ValueError, EOFError) as exc:
            raise EventFormatError(
                f"input events file '{path}': array '{key}' cannot be read ({exc})"
            ) from None
    check_event_columns(arr, f"input events file '{path}'")
    return arr, label


def _label(archive: Any, files: list[str], key: str) -> int | None:
    """The known class of the events: ``label`` (a scalar), or ``labels[0]`` for the ``events`` array of a
    multi-sample archive (as ``models/training.py`` writes ``sample_input.npz``)."""
    if "label" in files and np.size(archive["label"]) == 1:
        return int(np.asarray(archive["label"]).reshape(-1)[0])
    if key == "events" and "labels" in files and np.size(archive["labels"]) >= 1:
        return int(np.asarray(archive["labels"]).reshape(-1)[0])
    return None


def is_tonic(arr: npt.NDArray[Any]) -> bool:
    """True for tonic-style events: fields ``x, y, t, p`` and no chip ``layer``."""
    names = arr.dtype.names or ()
    return {"x", "y", "t", "p"} <= set(names) and "layer" not in names


def tonic_to_chip(xytp: npt.NDArray[Any], targets: list[int], source: str) -> npt.NDArray[Any]:
    """Tonic-style events → chip events, one copy per target layer, sorted by time (stable).

    Args:
        xytp: Tonic-style events, sorted by ``t``.
        targets: Layer ids to inject into (entry cores, or the DVS layer).
        source: What the events are, for error messages (e.g. ``"input events file 'x.npy'"``).

    Raises:
        EventFormatError: The events are not sorted by time (names the first offending index).
    """
    from deploy.sim.events import from_tonic

    t = np.asarray(xytp["t"]).reshape(-1)
    back = np.nonzero(np.diff(t) < 0)[0]
    if len(back):
        i = int(back[0]) + 1
        raise EventFormatError(
            f"{source}: event {i}: timestamp t = {int(t[i])} µs is before the previous event's "
            f"{int(t[i - 1])} µs (events must be sorted by time)"
        )
    per_target = [from_tonic(xytp.reshape(-1), layer=t) for t in targets]
    events = np.concatenate(per_target) if len(per_target) > 1 else per_target[0]
    return events[np.argsort(events["timestamp"], kind="stable")]


def input_duration_s(events: npt.NDArray[Any], dt_us: int) -> float:
    """Time the input spans, from the start of its first time bin to its last event."""
    t0, _ = time_bins(events, dt_us)
    if not len(events):
        return dt_us / 1e6
    return (int(events["timestamp"].max()) + 1 - t0) / 1e6


MAX_RASTER_ELEMENTS = 200_000_000
"""Largest time-stepped input raster (T·C·H·W counts, 8 bytes each) the agreement check builds."""


def time_bins(events: npt.NDArray[Any], dt_us: int) -> tuple[int, int]:
    """``(t0_us, n_bins)`` of the time-stepped views: bins of ``dt_us`` aligned to multiples of ``dt_us``,
    from the bin of the first event to the bin of the last (recordings need not start at 0)."""
    if not len(events):
        return 0, 1
    first, last = int(events["timestamp"].min()), int(events["timestamp"].max())
    t0 = first // dt_us * dt_us
    return t0, (last - t0) // dt_us + 1


def input_raster(
    model_events: npt.NDArray[Any], shape: tuple[int, int, int], dt_us: int, t0_us: int, n_bins: int
) -> npt.NDArray[np.int64]:
    """The ``(T, C, H, W)`` raster the time-stepped views see.

    Raises:
        DeployError: The raster would be too large (long input, small ``--dt-ms``).
    """
    from deploy.sim.events import events_to_raster

    size = n_bins * shape[0] * shape[1] * shape[2]
    if size > MAX_RASTER_ELEMENTS:
        raise DeployError(
            f"the input spans {n_bins} time steps of {dt_us / 1000:g} ms; a "
            f"{n_bins}×{'×'.join(map(str, shape))} raster ({size:,} counts) is too large for the "
            "time-stepped agreement check: use a larger --dt-ms or a shorter input"
        )
    return events_to_raster(model_events, dt_us, shape, t0_us=t0_us, n_bins=n_bins)


def resolve_input(
    result: CompileResult, model_path: Path | None, events_file: Path | None, run: RunOptions
) -> ResolvedInput:
    """Pick the input events (see the module docstring for the order) and convert them for the chip.

    Args:
        result: The compiled model (entry cores, input shape).
        model_path: The model file, whose folder may hold :data:`SAMPLE_INPUT`; None for an in-memory model.
        events_file: An events file given by the user, or None.
        run: Poisson rate, duration and seed, and the time step (for the input's duration and the bins of a
            dense raster).

    Raises:
        EventFormatError: unreadable or malformed event file, or events outside the model's input (naming
            the file, the problem and the fix).
    """
    from deploy.report.summary import InputInfo
    from deploy.sim.events import as_events

    targets = entry_targets(result)
    shape = result.graph.input_shape
    dt_us = run.dt_us
    sample = model_path.parent / SAMPLE_INPUT if model_path is not None else None
    path: Path | None = None
    kind = "poisson"
    if events_file is not None:
        path, kind = events_file, "file"
    elif not run.explicit_poisson and sample is not None and sample.is_file():
        path, kind = sample, "sample"

    if path is None:
        rate = DEFAULT_POISSON_RATE_HZ if run.poisson_rate_hz is None else run.poisson_rate_hz
        duration = DEFAULT_DURATION_MS if run.duration_ms is None else run.duration_ms
        xytp = poisson_events(shape, rate, duration, run.seed)
        events = tonic_to_chip(xytp, targets, "Poisson input")
        model_events = as_events(xytp)
        info = InputInfo(
            "poisson",
            f"Poisson {rate:g} Hz per input pixel, {duration:g} ms, seed {run.seed}",
            len(events),
            duration / 1000,
        )
        lines = (_entry_line(targets, "input channel c → feature c"), _binning_line(events, dt_us))
        return ResolvedInput(events, model_events, info, interpretation=lines)

    source = f"input events file '{path}'"
    raw, label = read_event_file(path)
    if is_tonic(raw):
        xytp, how = map_polarity(raw.reshape(-1), shape[0], source)
        check_in_model_input(xytp, shape, source)
        events = tonic_to_chip(xytp, targets, source)
        model_events = as_events(xytp)
        fmt = "tonic-style events"
        lines = (_entry_line(targets, how), _binning_line(events, dt_us))
    elif is_dense_raster(raw):
        events, model_events = raster_input(raw, shape, targets, dt_us, source)
        fmt = f"dense raster {'×'.join(map(str, raw.shape))} (T, C, H, W)"
        lines = (
            _entry_line(targets, "raster channel c → feature c"),
            f"dense raster: bin t becomes events at t0 + t·{dt_us / 1000:g} ms (--dt-ms), a count n as n "
            "events in sinabs's raster_to_events order; the float/quantised views see the same raster",
        )
    else:
        events = as_events(raw, source=source)
        stray = np.nonzero(~np.isin(events["layer"], targets))[0]
        if len(stray):
            i = int(stray[0])
            raise EventFormatError(
                f"{source}: event {i} is sent to layer {int(events['layer'][i])}, but this "
                f"model's input enters the chip at layer(s) {targets} (chip events carry the core they are "
                "injected into, which depends on the placement); store the events tonic-style (fields x, y, "
                "t, p) to have them routed to the entry core automatically, or pin the placement with "
                "--core-map"
            )
        model_events = events[np.isin(events["layer"], targets[:1])]
        fmt = "chip events"
        lines = (_entry_line(targets, "feature as given (chip events)"), _binning_line(events, dt_us))
    what = "sample shipped with the model" if kind == "sample" else "file"
    info = InputInfo(
        kind,
        f"{what} {path} ({fmt})" + (f", label {label}" if label is not None else ""),
        len(events),
        input_duration_s(events, dt_us),
        label,
    )
    samples = []
    for i, (xytp, lab) in enumerate(read_samples(path)):
        mapped, _ = map_polarity(xytp, shape[0], f"{source}, sample {i}")
        samples.append((tonic_to_chip(mapped, targets, f"{source}, sample {i}"), as_events(mapped), lab))
    return ResolvedInput(events, model_events, info, tuple(samples), lines)


def _entry_line(targets: list[int], how: str) -> str:
    """How input reaches the chip: its channel mapping and the entry core(s) or the DVS layer."""
    from deploy.sim.events import DVS_LAYER

    where = (
        "the DVS pre-processing layer (13)"
        if targets == [DVS_LAYER]
        else f"entry core{'s' if len(targets) > 1 else ''} {', '.join(map(str, targets))}"
    )
    return f"input: {how}; fed to {where}"


def _binning_line(events: npt.NDArray[Any], dt_us: int) -> str:
    """How the time-stepped (float/quantised) views bin the events."""
    t0, n_bins = time_bins(events, dt_us)
    return (
        f"float/quantised views: events binned into {n_bins} time step(s) of {dt_us / 1000:g} ms (--dt-ms) "
        f"from t = {t0} µs; the simulated view is event-driven"
    )


def is_dense_raster(arr: npt.NDArray[Any]) -> bool:
    """True for a plain numeric 4-D array: a dense raster ``(T, C, H, W)`` (tonic's ``ToFrame`` output)."""
    return arr.dtype.names is None and arr.ndim == 4 and arr.dtype.kind in "biuf"


def raster_input(
    raster: npt.NDArray[Any], shape: Shape3, targets: list[int], dt_us: int, source: str
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """Chip events (one copy per target) and model events from a dense count raster ``(T, C, H, W)``.

    Bin ``t`` becomes timestamp ``t·dt_us``; a count ``n`` becomes ``n`` events in the order of sinabs's
    ``raster_to_events`` (:func:`deploy.sim.events.raster_to_events`), so binning the events again with
    ``dt_us`` gives back the raster.

    Raises:
        EventFormatError: The raster's ``(C, H, W)`` is not the model's input shape, or a count is negative
            or not an integer.
    """
    from deploy.sim.events import raster_to_events

    if tuple(raster.shape[1:]) != tuple(shape):
        _, c, h, w = raster.shape
        raise EventFormatError(
            f"{source}: a dense raster of shape (T, C, H, W) = {raster.shape} does not fit the model's input "
            f"(C, H, W) = {tuple(shape)}: it has {c} channel(s) and {h}×{w} pixels (H×W). Crop or downsample "
            f"the frames to {shape[1]}×{shape[2]} (e.g. tonic.transforms.CenterCrop / Downsample before "
            f"ToFrame) and give {shape[0]} channel(s)"
        )
    arr = raster.astype(np.int64) if raster.dtype.kind == "b" else raster
    try:
        model_events = raster_to_events(arr, layer=0, dt_us=dt_us)
    except EventFormatError as exc:
        raise EventFormatError(f"{source}: {exc}") from None
    per_target = []
    for layer in targets:
        ev = model_events.copy()
        ev["layer"] = layer
        per_target.append(ev)
    events = np.concatenate(per_target) if len(per_target) > 1 else per_target[0]
    return events[np.argsort(events["timestamp"], kind="stable")], model_events


def map_polarity(xytp: npt.NDArray[Any], channels: int, source: str) -> tuple[npt.NDArray[Any], str]:
    """Tonic-style events with their polarity mapped to the model's input channels, and how.

    Conventions: ``bool`` (False → 0, True → 1); ``{-1, 1}`` (−1 → 0, 1 → 1, as tonic's datasets with
    signed polarity); ``{0, 1}`` and any other non-negative integers are channels as they are. A model with
    one input channel receives both polarities on channel 0.

    Returns:
        The events (a copy with ``p`` replaced when mapped; dtype kept) and one line saying what was done.

    Raises:
        EventFormatError: Polarities that fit no convention (negative values other than −1 with 1).
    """
    p = np.asarray(xytp["p"])
    values = np.unique(p)
    shown = (
        "{"
        + ", ".join(str(int(v)) if p.dtype.kind != "b" else str(bool(v)) for v in values[:6])
        + (", …}" if len(values) > 6 else "}")
    )
    if p.dtype.kind == "b":
        mapped, how = p.astype(np.int64), f"polarity (bool) {shown} → channel False → 0, True → 1"
    elif len(values) and values.min() < 0:
        if not set(values.tolist()) <= {-1, 1}:
            raise EventFormatError(
                f"{source}: polarity p takes the values {shown}; expected {{0, 1}}, {{-1, 1}} or bool "
                "(channel indices must be ≥ 0)"
            )
        mapped, how = (p > 0).astype(np.int64), f"polarity {shown} → channel (−1 → 0, 1 → 1)"
    else:
        mapped, how = p.astype(np.int64), f"polarity {shown} → channel p"
    if channels == 1 and len(values) > 1 and mapped.max() <= 1:
        mapped = np.zeros_like(mapped)
        how += "; both polarities → channel 0 (the model has 1 input channel)"
    if mapped is p:
        return xytp, how
    out = xytp.copy()
    if out.dtype["p"].kind == "b" or out.dtype["p"].itemsize < 2:
        out = out.astype([(n, "<i2" if n == "p" else out.dtype[n]) for n in out.dtype.names or ()])
    out["p"] = mapped
    return out, how


def check_in_model_input(xytp: npt.NDArray[Any], shape: Shape3, source: str) -> None:
    """Refuse events outside the model's input ``(C, H, W)``, naming the ranges found and the fix.

    Raises:
        EventFormatError: Some ``x ≥ W``, ``y ≥ H``, ``p ≥ C`` or a negative coordinate (typically a
            sensor-sized recording fed to a model with a smaller input).
    """
    if not len(xytp):
        return
    c, h, w = shape
    x, y, p = (np.asarray(xytp[n], dtype=np.int64) for n in ("x", "y", "p"))
    ranges = {n: (int(v.min()), int(v.max())) for n, v in (("x", x), ("y", y), ("p", p))}
    limits = {"x": w, "y": h, "p": c}
    outside = [n for n, (lo, hi) in ranges.items() if lo < 0 or hi >= limits[n]]
    if not outside:
        return
    found = ", ".join(f"{n} {lo}..{hi}" for n, (lo, hi) in ranges.items())
    columns = {"x": x, "y": y, "p": p}
    first = min(
        (int(np.argmax((columns[n] < 0) | (columns[n] >= limits[n]))), n) for n in outside
    )  # the first offending event, and its first offending field
    i, name = first
    fixes = []
    if "x" in outside or "y" in outside:
        sensor_w, sensor_h = ranges["x"][1] + 1, ranges["y"][1] + 1
        fixes.append(
            f"crop them to the model's field of view (keep x < {w} and y < {h}, e.g. "
            f"tonic.transforms.CenterCrop(sensor_size, ({w}, {h}))) or downsample them (e.g. "
            f"tonic.transforms.Downsample(spatial_factor={min(w / sensor_w, h / sensor_h):.3g})), or add a "
            "DVS layer / pooling that maps the sensor onto the model's input"
        )
    if "p" in outside:
        fixes.append(f"map the polarity to {c} channel(s) 0..{c - 1}")
    raise EventFormatError(
        f"{source}: event {i} has {name} = {int(columns[name][i])}; the events span {found} (x: width, y: "
        "height, p: channel), but the model's input is "
        f"{c}×{h}×{w} (C×H×W: x 0..{w - 1}, y 0..{h - 1}, p 0..{c - 1}); {'; '.join(fixes)}"
    )


def read_samples(path: Path) -> list[tuple[npt.NDArray[Any], int | None]]:
    """Labelled tonic-style samples of a multi-sample ``.npz`` (keys ``sample_events``, ``offsets``,
    ``labels``); empty for any other file.

    Raises:
        EventFormatError: The keys are present but inconsistent.
    """
    if path.suffix.lower() != ".npz":
        return []
    with np.load(path, allow_pickle=False) as archive:
        if not {"sample_events", "offsets", "labels"} <= set(archive.files):
            return []
        try:
            events = np.asarray(archive["sample_events"])
            offsets = np.asarray(archive["offsets"], dtype=np.int64).reshape(-1)
            labels = np.asarray(archive["labels"]).reshape(-1)
        except (OSError, ValueError, EOFError) as exc:
            raise EventFormatError(f"input events file '{path}': samples cannot be read ({exc})") from None
    n = len(offsets) - 1
    if (
        not is_tonic(events)
        or n < 1
        or len(labels) != n
        or offsets[0] != 0
        or offsets[-1] != len(events)
        or np.any(np.diff(offsets) < 0)
    ):
        raise EventFormatError(
            f"input events file '{path}': 'sample_events' (tonic-style), 'offsets' (n + 1 increasing, "
            f"from 0 to the number of events) and 'labels' (n) do not fit together: {len(events)} events, "
            f"{len(offsets)} offsets, {len(labels)} labels"
        )
    return [(events[offsets[i] : offsets[i + 1]], int(labels[i])) for i in range(n)]


def bundled_input_shape(model_path: Path) -> tuple[int, int, int] | None:
    """``INPUT_SHAPE`` declared by a bundled model's package (``models/<name>/__init__.py``) for a model file
    inside that package's folder; None for any other file.

    The literal is read with :mod:`ast` (nothing is imported or executed), following ``from models.<other>
    import INPUT_SHAPE``, so this also works when the ``models`` package is not importable (an older
    editable install).
    """
    folder = model_path.resolve().parent
    if folder.parent.name != "models" or not (folder.parent / "__init__.py").is_file():
        return None
    return _declared_input_shape(folder, depth=0)


def _declared_input_shape(package: Path, depth: int) -> tuple[int, int, int] | None:
    import ast

    init = package / "__init__.py"
    if depth > 3 or not init.is_file():
        return None
    try:
        tree = ast.parse(init.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and any(
            a.name == "INPUT_SHAPE" and a.asname is None for a in node.names
        ):
            parts = (node.module or "").split(".")
            if node.level == 0 and len(parts) == 2 and parts[0] == "models":
                return _declared_input_shape(package.parent / parts[1], depth + 1)
            return None
        if isinstance(node, ast.Assign):
            targets, value = list(node.targets), node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "INPUT_SHAPE" for t in targets):
            try:
                shape = ast.literal_eval(value)
            except ValueError:
                return None
            if (
                isinstance(shape, tuple)
                and len(shape) == 3
                and all(isinstance(v, int) and v > 0 for v in shape)
            ):
                return (shape[0], shape[1], shape[2])
            return None
    return None


INPUT_SHAPE_KEY = "input_shape"
"""Array of a model's ``sample_input.npz`` that may declare the input shape ``(C, H, W)``."""


def find_input_shape(
    model_path: Path | None, loaded: LoadedModel, given: Shape3 | None = None
) -> tuple[Shape3 | None, str]:
    """The input shape ``(C, H, W)`` of a model, and where it came from, the same way for every command.

    First match wins: ``given`` (``--input-shape``); the ``INPUT_SHAPE`` a bundled model's package declares
    (:func:`bundled_input_shape`); what the loader found (a DVS layer, the NIR input node, or an
    ``input_shape`` attribute stored with the checkpoint's module); the sample input next to the model file
    (:data:`SAMPLE_INPUT` with an ``input_shape`` array, or a ``raster`` ``(T, C, H, W)``; sample *events*
    are not used, since their largest coordinate need not reach the edge of the input).

    Args:
        model_path: The model file, or None for an in-memory model.
        loaded: The loaded model (:func:`deploy.frontend.load_model`).
        given: The shape the user gave, or None.

    Returns:
        The shape (None when unknown) and a description of its source for the console, e.g.
        ``"declared by models/digits_snn/__init__.py (INPUT_SHAPE)"``; ``""`` when unknown.
    """
    if given is not None:
        return given, "given with --input-shape"
    if model_path is not None:
        declared = bundled_input_shape(model_path)
        if declared is not None:
            return declared, f"declared by {model_path.resolve().parent.name}/__init__.py (INPUT_SHAPE)"
    if loaded.input_shape is not None:
        shape = loaded.input_shape
        return (int(shape[0]), int(shape[1]), int(shape[2])), _loader_shape_source(loaded)
    if model_path is not None:
        sample = model_path.parent / SAMPLE_INPUT
        from_sample = _sample_input_shape(sample)
        if from_sample is not None:
            return from_sample, f"from the sample input {sample}"
    return None, ""


def _loader_shape_source(loaded: LoadedModel) -> str:
    """Which part of the model the loader read the input shape from."""
    if loaded.nir_graph is not None:
        return "from the NIR graph's input node"
    module = loaded.module
    if module is not None and any(type(m).__name__ == "DVSLayer" for m in module.modules()):
        return "from the model's DVS layer"
    return "stored with the model (its input_shape attribute)"


def _sample_input_shape(path: Path) -> Shape3 | None:
    """``input_shape`` (3 positive integers) or the ``(C, H, W)`` of a ``raster`` in a sample archive."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            files = set(archive.files)
            if INPUT_SHAPE_KEY in files:
                values = np.asarray(archive[INPUT_SHAPE_KEY]).reshape(-1)
            elif "raster" in files:
                values = np.asarray(archive["raster"].shape[1:])
            else:
                return None
    except (OSError, ValueError, EOFError, AttributeError):
        return None
    if len(values) != 3 or values.dtype.kind not in "iu" or values.min() < 1:
        return None
    return (int(values[0]), int(values[1]), int(values[2]))
