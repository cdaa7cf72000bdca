"""Event-camera version of scikit-learn's handwritten digits, recorded the way N-MNIST was.

N-MNIST (Orchard et al., 2015, "Converting Static Image Datasets to Spiking Neuromorphic Datasets Using
Saccades", Front. Neurosci. 9:437) was made by showing each MNIST digit on a monitor to an ATIS event camera
that moved through three saccades along an isosceles triangle, ~100 ms each, and cropping the result to
34×34 pixels. This module does the same in software with the 1,797 real 8×8 digits bundled in scikit-learn
(``sklearn.datasets.load_digits``, no download):

1. upscale 8×8 → 28×28 (bilinear, like the 20→28 framing of MNIST) and place it in a 34×34 canvas with a
   3-pixel margin; ink is bright on a dark background (MNIST on a monitor);
2. translate the image with bilinear sub-pixel interpolation along the saccade triangle
   ``(0, 0) → (1.5, 3) → (3, 0) → (0, 0)`` pixels (x, y), sampled every 1 ms for 3 × 100 ms;
3. feed the log intensity to a small DVS pixel model (:func:`emulate_dvs`): every pixel keeps a reference
   log intensity and emits an ON (OFF) event each time ``log I − ref`` rises above ``+C`` (falls below
   ``−C``), moving ``ref`` by ``C``; event times are interpolated linearly inside the 1 ms frame interval.
   Per-pixel contrast thresholds vary by a seeded ±5 % (Gaussian σ) mismatch, as in real pixel arrays.

Events are tonic-style structured arrays with fields ``x``, ``y`` (pixels, x = column), ``t`` (µs) and
``p`` (1 = ON, 0 = OFF), sorted by ``t`` (ties by y, x, p). Everything is deterministic given the seed.
The train/test split is a fixed stratified 80/20 split (:func:`split_indices`, seed 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

EVENT_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i2")])
"""tonic-style event record: pixel column ``x``, row ``y``, time ``t`` in µs, polarity ``p`` (1 ON, 0 OFF)."""

SENSOR_SIZE = (34, 34)
"""``(H, W)`` of the emulated sensor, the N-MNIST size."""

N_CLASSES = 10


@dataclass(frozen=True)
class Recipe:
    """Parameters of the digit → events conversion (defaults are the committed data set).

    Attributes:
        digit_size: Side of the upscaled digit in pixels.
        margin: Offset of the digit's top-left corner inside the 34×34 canvas, pixels.
        saccade_ms: Duration of each of the three saccades, ms.
        frame_us: Sampling interval of the moving image, µs.
        amplitude: Saccade triangle size in pixels: vertices (0,0), (a/2, a), (a, 0) as (x, y).
        contrast: Nominal contrast threshold C (log-intensity units), ON and OFF alike.
        mismatch: Relative σ of the per-pixel threshold mismatch (0 for an ideal array).
        background: Intensity of the dark background (ink = 1.0); keeps ``log`` finite.
    """

    digit_size: int = 28
    margin: int = 1
    saccade_ms: int = 100
    frame_us: int = 1000
    amplitude: float = 3.0
    contrast: float = 0.3
    mismatch: float = 0.05
    background: float = 0.05


def emulate_dvs(
    log_frames: npt.NDArray[np.floating],
    times_us: npt.NDArray[np.integer],
    threshold_on: float | npt.NDArray[np.floating],
    threshold_off: float | npt.NDArray[np.floating] | None = None,
) -> npt.NDArray[np.void]:
    """Idealised DVS pixel array driven by a sequence of log-intensity frames.

    Each pixel starts with its reference at ``log_frames[0]``. Between two frames the log intensity is
    taken to change linearly; every crossing of ``ref + threshold_on`` (``ref − threshold_off``) emits an
    ON (OFF) event at the linearly interpolated time and moves ``ref`` by that threshold. No refractory
    period, no noise.

    Args:
        log_frames: ``(N, H, W)`` log intensities.
        times_us: ``(N,)`` increasing frame times in µs.
        threshold_on: ON threshold, scalar or ``(H, W)`` per pixel; > 0.
        threshold_off: OFF threshold (positive number), scalar or ``(H, W)``; defaults to ``threshold_on``.

    Returns:
        Events with :data:`EVENT_DTYPE`, sorted by ``(t, y, x, p)``.
    """
    log_frames = np.asarray(log_frames, dtype=np.float64)
    times = np.asarray(times_us, dtype=np.int64)
    n, h, w = log_frames.shape
    if times.shape != (n,):
        raise ValueError(f"times_us has shape {times.shape}, expected ({n},)")
    on = np.broadcast_to(np.asarray(threshold_on, dtype=np.float64), (h, w))
    off = on if threshold_off is None else np.broadcast_to(np.asarray(threshold_off, np.float64), (h, w))
    if (on <= 0).any() or (off <= 0).any():
        raise ValueError("contrast thresholds must be positive")
    ref = log_frames[0].copy()
    chunks: list[npt.NDArray[np.void]] = []
    for i in range(1, n):
        prev, cur = log_frames[i - 1], log_frames[i]
        t0, dt = times[i - 1], times[i] - times[i - 1]
        for pol, thr, sign in ((1, on, 1.0), (0, off, -1.0)):
            # Number of crossings of ref + k·thr (ON) or ref − k·thr (OFF), k = 1..count, in this interval.
            count = np.floor((sign * (cur - ref)) / thr + 1e-12).astype(np.int64)
            count[count < 0] = 0
            ys, xs = np.nonzero(count)
            if ys.size == 0:
                continue
            reps = count[ys, xs]
            ys_r, xs_r = np.repeat(ys, reps), np.repeat(xs, reps)
            starts = np.repeat(np.cumsum(reps) - reps, reps)
            k = (np.arange(reps.sum()) - starts + 1).astype(np.float64)
            level = ref[ys_r, xs_r] + sign * k * thr[ys_r, xs_r]
            delta = cur[ys_r, xs_r] - prev[ys_r, xs_r]
            with np.errstate(divide="ignore", invalid="ignore"):
                frac = np.where(delta != 0, (level - prev[ys_r, xs_r]) / delta, 1.0)
            frac = np.clip(frac, 0.0, 1.0)
            ev = np.empty(ys_r.size, EVENT_DTYPE)
            ev["x"], ev["y"], ev["p"] = xs_r, ys_r, pol
            ev["t"] = t0 + np.round(frac * dt).astype(np.int64)
            chunks.append(ev)
            ref[ys, xs] += sign * reps * thr[ys, xs]
    if not chunks:
        return np.empty(0, EVENT_DTYPE)
    events = np.concatenate(chunks)
    return events[np.lexsort((events["p"], events["x"], events["y"], events["t"]))]


def saccade_path(recipe: Recipe = Recipe()) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Frame times and image offsets of the three-saccade triangle.

    Returns:
        ``times_us`` ``(N,)`` and ``offsets`` ``(N, 2)`` as ``(dx, dy)`` pixels, N = 3·saccade/frame + 1.
    """
    a = recipe.amplitude
    corners = np.array([[0.0, 0.0], [a / 2, a], [a, 0.0], [0.0, 0.0]])
    steps = recipe.saccade_ms * 1000 // recipe.frame_us
    offsets = [corners[0][None]]
    for s in range(3):
        frac = (np.arange(1, steps + 1) / steps)[:, None]
        offsets.append(corners[s] + frac * (corners[s + 1] - corners[s]))
    times = np.arange(3 * steps + 1, dtype=np.int64) * recipe.frame_us
    return times, np.concatenate(offsets)


def _upscale(image: npt.NDArray[np.floating], size: int) -> npt.NDArray[np.float64]:
    """Bilinear resize of a square image (pixel centres aligned, like ``align_corners=False``)."""
    n = image.shape[0]
    centres = (np.arange(size) + 0.5) * n / size - 0.5
    centres = np.clip(centres, 0, n - 1)
    i0 = np.floor(centres).astype(int)
    i1 = np.minimum(i0 + 1, n - 1)
    f = centres - i0
    rows = image[i0] * (1 - f)[:, None] + image[i1] * f[:, None]
    return rows[:, i0] * (1 - f)[None, :] + rows[:, i1] * f[None, :]


def _shift(stack: npt.NDArray[np.float64], dx: float, dy: float, fill: float) -> npt.NDArray[np.float64]:
    """Translate ``(..., H, W)`` images by a sub-pixel offset (bilinear), ``fill`` outside."""
    h, w = stack.shape[-2:]
    padded = np.full((*stack.shape[:-2], h + 2, w + 2), fill)
    padded[..., 1:-1, 1:-1] = stack
    ys = np.clip(np.arange(h) - dy + 1, 0, h + 1)
    xs = np.clip(np.arange(w) - dx + 1, 0, w + 1)
    y0 = np.clip(np.floor(ys).astype(int), 0, h)
    x0 = np.clip(np.floor(xs).astype(int), 0, w)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = padded[..., y0, :][..., x0] * (1 - fx) + padded[..., y0, :][..., x0 + 1] * fx
    bot = padded[..., y0 + 1, :][..., x0] * (1 - fx) + padded[..., y0 + 1, :][..., x0 + 1] * fx
    return top * (1 - fy) + bot * fy


def digits_to_events(
    images: npt.NDArray[np.floating], seeds: npt.ArrayLike, recipe: Recipe = Recipe()
) -> list[npt.NDArray[np.void]]:
    """Convert 8×8 digits (values 0..16) into saccade event streams on a 34×34 sensor.

    All digits of the batch are emulated side by side as one wide pixel array (pixels are independent),
    which is much faster than one at a time and gives identical events.

    Args:
        images: ``(B, 8, 8)`` digits, 0 = background, 16 = full ink.
        seeds: ``(B,)`` seeds of each digit's per-pixel threshold mismatch.
        recipe: Conversion parameters.

    Returns:
        One event array (:data:`EVENT_DTYPE`) per digit; ``t`` in [0, 300 000] µs for the default recipe.
    """
    images = np.asarray(images, dtype=np.float64)
    seeds = np.atleast_1d(np.asarray(seeds, dtype=np.int64))
    b = images.shape[0]
    if seeds.shape != (b,):
        raise ValueError(f"need one seed per image, got {seeds.shape} for {b} images")
    h, w = SENSOR_SIZE
    m, d = recipe.margin, recipe.digit_size
    canvas = np.zeros((b, h, w))
    for i in range(b):
        canvas[i, m : m + d, m : m + d] = _upscale(images[i] / 16.0, d).clip(0.0, 1.0)
    intensity = recipe.background + (1.0 - recipe.background) * canvas
    times, offsets = saccade_path(recipe)
    frames = np.stack([_shift(intensity, dx, dy, recipe.background) for dx, dy in offsets])  # (N,B,H,W)
    wide = np.log(frames.clip(1e-6)).transpose(0, 2, 1, 3).reshape(len(times), h, b * w)
    thr = np.empty((2, h, b * w))
    for i, s in enumerate(seeds):
        noise = np.random.default_rng(int(s)).standard_normal((2, h, w))
        thr[:, :, i * w : (i + 1) * w] = recipe.contrast * (1.0 + recipe.mismatch * noise).clip(0.5, 1.5)
    events = emulate_dvs(wide, times, thr[0], thr[1])
    owner = events["x"] // w
    events["x"] %= w
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(b + 1))
    return [events[order[bounds[i] : bounds[i + 1]]] for i in range(b)]


def digit_to_events(
    image: npt.NDArray[np.floating], seed: int, recipe: Recipe = Recipe()
) -> npt.NDArray[np.void]:
    """Convert one 8×8 digit into events; see :func:`digits_to_events`."""
    return digits_to_events(np.asarray(image)[None], [seed], recipe)[0]


@lru_cache(maxsize=1)
def load_digits_arrays() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """The 1,797 scikit-learn digits as ``(N, 8, 8)`` images (0..16) and ``(N,)`` labels."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.images.astype(np.float64), data.target.astype(np.int64)


def split_indices(test_fraction: float = 0.2, seed: int = 0) -> tuple[npt.NDArray[np.int64], ...]:
    """The fixed stratified train/test split of the 1,797 digits.

    Returns:
        ``(train_idx, test_idx)``, sorted, disjoint, covering all samples (1,437 / 360 by default).
    """
    _, labels = load_digits_arrays()
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in range(N_CLASSES):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(idx.size)]
        n_test = round(test_fraction * idx.size)
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _sample_seed(index: int, seed: int) -> int:
    return seed * 100_003 + index


def sample_events(index: int, recipe: Recipe = Recipe(), seed: int = 0) -> npt.NDArray[np.void]:
    """Events of digit number ``index`` of the scikit-learn set (mismatch seeded by ``seed`` and index)."""
    images, _ = load_digits_arrays()
    return digit_to_events(images[index], seed=_sample_seed(index, seed), recipe=recipe)


def rasterize(
    events: npt.NDArray[np.void],
    n_bins: int,
    duration_us: int = 300_000,
    sensor: tuple[int, int] = SENSOR_SIZE,
) -> npt.NDArray[np.float32]:
    """Count events into ``n_bins`` equal time bins over ``[0, duration_us]``.

    Returns:
        ``(n_bins, 2, H, W)`` float32 counts; channel 0 = OFF, channel 1 = ON (feature = polarity, as
        sinabs ``xytp_to_events`` and the chip's input features). Events at ``t == duration_us`` go into
        the last bin.
    """
    out = np.zeros((n_bins, 2, *sensor), np.float32)
    b = np.minimum(events["t"] * n_bins // duration_us, n_bins - 1).astype(np.int64)
    np.add.at(out, (b, events["p"].astype(np.int64), events["y"], events["x"]), 1.0)
    return out


def build_dataset(
    indices: npt.NDArray[np.integer], recipe: Recipe = Recipe(), seed: int = 0, chunk: int = 128
) -> tuple[list[npt.NDArray[np.void]], npt.NDArray[np.int64]]:
    """Event streams and labels for the given sample indices."""
    images, labels = load_digits_arrays()
    indices = np.asarray(indices, dtype=np.int64)
    events: list[npt.NDArray[np.void]] = []
    for start in range(0, indices.size, chunk):
        part = indices[start : start + chunk]
        events += digits_to_events(images[part], [_sample_seed(int(i), seed) for i in part], recipe)
    return events, labels[indices]


def rasterized_split(
    split: str, n_bins: int, recipe: Recipe = Recipe(), seed: int = 0
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Rasterised ``"train"`` or ``"test"`` split: ``(N, n_bins, 2, 34, 34)`` counts and ``(N,)`` labels."""
    train, test = split_indices()
    idx = {"train": train, "test": test}[split]
    events, labels = build_dataset(idx, recipe, seed)
    return np.stack([rasterize(e, n_bins) for e in events]), labels


def save_npz(path: str | Path, indices: npt.ArrayLike, recipe: Recipe = Recipe(), seed: int = 0) -> int:
    """Write the events of the given digits to one ``.npz`` (the ``sample_input.npz`` layout).

    Keys: ``events`` (first sample, tonic-style), ``sample_events`` (all samples concatenated),
    ``offsets`` (``n + 1``; sample i is ``sample_events[offsets[i]:offsets[i+1]]``), ``labels``, ``indices``
    (positions in scikit-learn's ``load_digits``), ``duration_us`` (length of every recording, µs),
    ``input_shape`` (``(C, H, W)`` = (2 polarities, 34, 34)).

    Returns:
        The number of events written.
    """
    idx = np.asarray(indices, dtype=np.int64)
    events, labels = build_dataset(idx, recipe, seed)
    offsets = np.concatenate([[0], np.cumsum([len(e) for e in events])]).astype(np.int64)
    np.savez_compressed(
        path,
        events=events[0] if events else np.empty(0, EVENT_DTYPE),
        sample_events=np.concatenate(events) if events else np.empty(0, EVENT_DTYPE),
        offsets=offsets,
        labels=labels,
        indices=idx,
        duration_us=np.int64(3 * recipe.saccade_ms * 1000),
        input_shape=np.array([2, *SENSOR_SIZE], np.int64),
    )
    return int(offsets[-1])
