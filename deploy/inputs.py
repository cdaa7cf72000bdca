"""Input events of a run: where they come from, and their conversion for the chip and the model.

:func:`resolve_input` picks the input of ``deploy-model run`` (:func:`deploy.runner.run_model`); first match
wins:

1. an events file (``--input FILE``, ``.npy``/``.npz``): tonic-style events (fields ``x, y, t, p``; fed to the
   entry core(s), or to the DVS layer for models with a DVS input), chip events (``EVENT_DTYPE``) or N×5
   integer rows ``[timestamp_us, layer, feature, x, y]``; an ``.npz`` uses its ``events`` array and an
   optional ``label`` (or ``labels[0]``);
2. a Poisson rate or duration given explicitly (:attr:`deploy.options.RunOptions.explicit_poisson`);
3. ``sample_input.npz`` next to the model file (shipped with the bundled models);
4. Poisson events: every input pixel and channel fires independently at the rate (default 50 Hz) for the
   duration (default 100 ms), seeded.

An ``.npz`` that also holds ``sample_events``, ``offsets`` and ``labels`` (the bundled models'
``sample_input.npz``) adds labelled samples for the multi-sample class check (:func:`read_samples`).

Also here: the time bins and input raster of the time-stepped views (:func:`time_bins`,
:func:`input_raster`) and the input shape a bundled model declares (:func:`bundled_input_shape`).
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
    """

    events: npt.NDArray[Any]
    model_events: npt.NDArray[Any]
    info: InputInfo
    samples: tuple[Sample, ...] = ()


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
        run: Poisson rate, duration and seed, and the time step (for the input's duration).

    Raises:
        EventFormatError: unreadable or malformed event file (naming the file and the problem).
    """
    from deploy.report.summary import InputInfo
    from deploy.sim.events import as_events

    targets = entry_targets(result)
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
        xytp = poisson_events(result.graph.input_shape, rate, duration, run.seed)
        events = tonic_to_chip(xytp, targets, "Poisson input")
        model_events = as_events(xytp)
        info = InputInfo(
            "poisson",
            f"Poisson {rate:g} Hz per input pixel, {duration:g} ms, seed {run.seed}",
            len(events),
            duration / 1000,
        )
        return ResolvedInput(events, model_events, info)

    raw, label = read_event_file(path)
    if is_tonic(raw):
        events = tonic_to_chip(raw, targets, f"input events file '{path}'")
        model_events = as_events(raw.reshape(-1))
        fmt = "tonic-style events"
    else:
        events = as_events(raw, source=f"input events file '{path}'")
        stray = np.nonzero(~np.isin(events["layer"], targets))[0]
        if len(stray):
            i = int(stray[0])
            raise EventFormatError(
                f"input events file '{path}': event {i} is sent to layer {int(events['layer'][i])}, but this "
                f"model's input enters the chip at layer(s) {targets} (chip events carry the core they are "
                "injected into, which depends on the placement); store the events tonic-style (fields x, y, "
                "t, p) to have them routed to the entry core automatically, or pin the placement with "
                "--core-map"
            )
        model_events = events[np.isin(events["layer"], targets[:1])]
        fmt = "chip events"
    what = "sample shipped with the model" if kind == "sample" else "file"
    info = InputInfo(
        kind,
        f"{what} {path} ({fmt})" + (f", label {label}" if label is not None else ""),
        len(events),
        input_duration_s(events, dt_us),
        label,
    )
    samples = tuple(
        (tonic_to_chip(xytp, targets, f"input events file '{path}', sample {i}"), as_events(xytp), lab)
        for i, (xytp, lab) in enumerate(read_samples(path))
    )
    return ResolvedInput(events, model_events, info, samples)


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
