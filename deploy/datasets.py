"""Labelled data sets for :func:`deploy.validate.validate`: event files, dense rasters, Python objects.

A data set is anything indexable with a length whose items are ``(data, label)`` pairs — a
`tonic <https://tonic.readthedocs.io>`_ dataset qualifies without this module importing tonic. ``data`` is
either

- tonic-style events: a structured array with fields ``x``, ``y`` (pixels), ``t`` (µs from the start of the
  recording) and ``p`` (polarity = input channel), sorted by ``t``; or
- a dense raster ``(T, C, H, W)`` of non-negative integer counts per time bin.

Two optional attributes describe the time axis: ``duration_us`` (length of every recording; events at or
after it count in the last time bin, as tonic's ``ToFrame(n_time_bins=...)`` does) and, for rasters,
``dt_us`` (the width of one raster bin, used to turn a raster into chip events).

Files (:func:`load_dataset`; the layouts are documented in ``docs/validate.md``):

- ``.npz`` with ``sample_events`` + ``offsets`` + ``labels`` (events of sample ``i`` are
  ``sample_events[offsets[i]:offsets[i+1]]``; the layout of the models' ``sample_input.npz`` and of
  ``scripts/make_digit_events.py``), optional ``duration_us``;
- ``.npz`` with ``rasters`` ``(N, T, C, H, W)`` + ``labels``, optional ``dt_us``;
- a folder of class folders ``DIR/<label>/<name>.npy`` (one tonic-style event array per file, the folder
  layout of N-MNIST), optional ``DIR/dataset.json`` with ``{"duration_us": ...}``;
- ``digits:test`` / ``digits:train``: the N-MNIST-style digit events of ``models/digits_events.py``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from deploy.errors import DatasetError

TONIC_FIELDS = ("x", "y", "t", "p")
BUILTIN = {"digits:test": "test", "digits:train": "train"}
"""Built-in data set names → split of :mod:`models.digits_events` (a literal dict: no discovery)."""
DIGITS_DURATION_US = 300_000
"""Length of one digit recording (three 100 ms saccades)."""


class Dataset(Protocol):
    """What :func:`deploy.validate.validate` reads: ``len(ds)`` and ``ds[i] -> (data, label)``."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> tuple[Any, Any]: ...


@dataclass(frozen=True, eq=False)
class ArrayDataset:
    """Samples held in memory.

    Attributes:
        samples: Tonic-style event arrays or ``(T, C, H, W)`` rasters, one per sample.
        labels: Class of each sample.
        name: What the data set is (shown in reports).
        duration_us: Length of every recording in µs, or None (the time axis ends at the last event).
        dt_us: Width of one raster time bin in µs (rasters only), or None for the validation's ``dt_us``.
        input_shape: ``(C, H, W)`` of one input frame (sensor polarities, height, width), or None.
    """

    samples: Sequence[npt.NDArray[Any]]
    labels: npt.NDArray[np.int64]
    name: str
    duration_us: int | None = None
    dt_us: int | None = None
    input_shape: tuple[int, int, int] | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[npt.NDArray[Any], int]:
        return self.samples[index], int(self.labels[index])


def is_tonic(data: Any) -> bool:
    """True for a structured array with the tonic fields ``x, y, t, p``."""
    names = getattr(getattr(data, "dtype", None), "names", None) or ()
    return set(TONIC_FIELDS) <= set(names)


def input_shape_of(dataset: Any) -> tuple[int, int, int] | None:
    """``(C, H, W)`` of the data set's frames.

    Its ``input_shape``, else tonic's ``sensor_size`` ``(W, H, P)``, else the shape of its first raster; None
    when none of these is known.
    """
    shape = getattr(dataset, "input_shape", None)
    if shape is not None:
        c, h, w = (int(v) for v in shape)
        return (c, h, w)
    sensor = getattr(dataset, "sensor_size", None)
    if sensor is not None and len(sensor) == 3:
        w, h, p = (int(v) for v in sensor)
        return (p, h, w)
    if len(dataset):
        first = np.asarray(dataset[0][0])
        if first.dtype.names is None and first.ndim == 4:
            c, h, w = (int(v) for v in first.shape[1:])
            return (c, h, w)
    return None


def dataset_name(dataset: Any) -> str:
    """A short description of ``dataset`` for reports."""
    name = getattr(dataset, "name", None)
    return str(name) if name else type(dataset).__name__


def load_dataset(source: str | Path) -> ArrayDataset:
    """Read a data set from a file, a folder or a built-in name (see the module docstring).

    Raises:
        DatasetError: The path does not exist, or its layout is not one of the documented ones.
    """
    text = str(source)
    if text in BUILTIN:
        return digits_dataset(BUILTIN[text])
    path = Path(source)
    if not path.exists():
        names = ", ".join(BUILTIN)
        raise DatasetError(
            f"data set '{path}' does not exist; give an .npz file, a folder of class folders, or one of "
            f"{names}"
        )
    if path.is_dir():
        return _load_folder(path)
    if path.suffix.lower() != ".npz":
        raise DatasetError(
            f"data set '{path}': expected an .npz file or a folder (see docs/validate.md), got "
            f"'{path.suffix}'"
        )
    return _load_npz(path)


def _load_npz(path: Path) -> ArrayDataset:
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DatasetError(f"data set '{path}' cannot be read as .npz ({exc})") from None
    with archive:
        files = set(archive.files)
        if "labels" not in files:
            raise DatasetError(f"data set '{path}' has no 'labels' array (it has {sorted(files)})")
        labels = _labels(np.asarray(archive["labels"]), f"data set '{path}'")
        if {"sample_events", "offsets"} <= files:
            events = np.asarray(archive["sample_events"])
            offsets = np.asarray(archive["offsets"], dtype=np.int64).reshape(-1)
            _check_offsets(path, events, offsets, len(labels))
            samples: list[npt.NDArray[Any]] = [
                events[offsets[i] : offsets[i + 1]] for i in range(len(labels))
            ]
            duration = _scalar(archive, "duration_us")
            shape = _shape(archive, path)
            return ArrayDataset(samples, labels, str(path), duration_us=duration, input_shape=shape)
        if "rasters" in files:
            rasters = np.asarray(archive["rasters"])
            if rasters.ndim != 5 or len(rasters) != len(labels):
                raise DatasetError(
                    f"data set '{path}': 'rasters' must be (N, T, C, H, W) with N = {len(labels)} labels, "
                    f"got shape {rasters.shape}"
                )
            return ArrayDataset(list(rasters), labels, str(path), dt_us=_scalar(archive, "dt_us"))
    raise DatasetError(
        f"data set '{path}' has arrays {sorted(files)}; expected 'sample_events' + 'offsets' + 'labels' "
        "(events) or 'rasters' + 'labels' (dense), see docs/validate.md"
    )


def _check_offsets(path: Path, events: npt.NDArray[Any], offsets: npt.NDArray[np.int64], n: int) -> None:
    if not is_tonic(events):
        raise DatasetError(
            f"data set '{path}': 'sample_events' has fields {events.dtype.names}; expected tonic-style "
            "fields x, y, t, p"
        )
    if len(offsets) != n + 1 or offsets[0] != 0 or offsets[-1] != len(events) or np.any(np.diff(offsets) < 0):
        raise DatasetError(
            f"data set '{path}': 'offsets' must hold {n + 1} non-decreasing values from 0 to "
            f"{len(events)} (the number of events), one more than 'labels'; got {len(offsets)} values"
        )


def _scalar(archive: Any, key: str) -> int | None:
    if key not in archive.files:
        return None
    value = int(np.asarray(archive[key]).reshape(-1)[0])
    if value <= 0:
        raise DatasetError(f"data set: '{key}' must be a positive number of µs, got {value}")
    return value


def _shape(archive: Any, path: Path) -> tuple[int, int, int] | None:
    if "input_shape" not in archive.files:
        return None
    shape = np.asarray(archive["input_shape"]).reshape(-1)
    if shape.size != 3 or shape.dtype.kind not in "iu" or shape.min() < 1:
        raise DatasetError(f"data set '{path}': 'input_shape' must be three positive integers (C, H, W)")
    c, h, w = (int(v) for v in shape)
    return (c, h, w)


def _labels(raw: npt.NDArray[Any], source: str) -> npt.NDArray[np.int64]:
    labels = raw.reshape(-1)
    if labels.size and (labels.dtype.kind not in "iu" or labels.min() < 0):
        raise DatasetError(
            f"{source}: labels must be non-negative integers (class indices), got {labels.dtype}"
        )
    return labels.astype(np.int64)


def _load_folder(path: Path) -> ArrayDataset:
    classes = sorted((d for d in path.iterdir() if d.is_dir()), key=lambda d: d.name)
    bad = [d.name for d in classes if not d.name.isdigit()]
    if not classes or bad:
        raise DatasetError(
            f"data set folder '{path}' must hold one folder per class named by its integer label "
            f"(0/, 1/, ...){f'; found {bad}' if bad else ', found none'}"
        )
    samples: list[npt.NDArray[Any]] = []
    labels: list[int] = []
    for d in sorted(classes, key=lambda d: int(d.name)):
        for f in sorted(d.glob("*.npy")):
            try:
                arr = np.load(f, allow_pickle=False)
            except (OSError, ValueError, EOFError) as exc:
                raise DatasetError(f"data set file '{f}' cannot be read ({exc})") from None
            if not is_tonic(arr):
                raise DatasetError(
                    f"data set file '{f}' has fields {arr.dtype.names}; expected tonic-style x, y, t, p"
                )
            samples.append(arr.reshape(-1))
            labels.append(int(d.name))
    if not samples:
        raise DatasetError(f"data set folder '{path}' has class folders but no .npy files in them")
    meta = path / "dataset.json"
    info: dict[str, Any] = {}
    if meta.is_file():
        try:
            info = dict(json.loads(meta.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise DatasetError(f"'{meta}' is not a JSON object ({exc})") from None
    shape = info.get("input_shape")
    return ArrayDataset(
        samples,
        np.asarray(labels, np.int64),
        str(path),
        duration_us=info.get("duration_us"),
        input_shape=None if shape is None else (int(shape[0]), int(shape[1]), int(shape[2])),
    )


def digits_dataset(split: str = "test", limit: int | None = None) -> ArrayDataset:
    """The N-MNIST-style digit events of ``models/digits_events.py`` (``split`` ``"test"`` or ``"train"``).

    Args:
        split: Which split of the fixed stratified split.
        limit: Only the first ``limit`` samples, class-balanced (``models.training.balanced_subset``).
    """
    from models import digits_events, training

    train, test = digits_events.split_indices()
    idx = {"train": train, "test": test}[split]
    if limit is not None:
        idx = training.balanced_subset(idx, limit)
    events, labels = digits_events.build_dataset(idx)
    c = 2  # OFF, ON
    shape = (c, *digits_events.SENSOR_SIZE)
    return ArrayDataset(events, labels, f"digits:{split}", duration_us=DIGITS_DURATION_US, input_shape=shape)


def subset(dataset: Any, n: int | None) -> list[int]:
    """Indices of the first ``n`` samples of ``dataset`` (all when ``n`` is None).

    Raises:
        DatasetError: ``n`` is not positive.
    """
    total = len(dataset)
    if n is None:
        return list(range(total))
    if n < 1:
        raise DatasetError(f"--samples must be ≥ 1, got {n}")
    return list(range(min(n, total)))
