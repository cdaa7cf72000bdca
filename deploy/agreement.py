"""Do the float model, the quantised model and the chip simulation agree on the same input?

Three views of one network are compared layer by layer, on the same input:

- ``float``: the normalised float :class:`~deploy.graph.LayerGraph`, evaluated time-stepped the way sinabs
  does (:func:`deploy.timestep.evaluate`);
- ``quantised``: the :class:`~deploy.graph.QuantizedGraph` (chip integers), evaluated the same way;
- ``simulated``: the bit-accurate event-driven simulation of the emitted configuration, with every used
  core monitored, so that each chip layer's spikes are seen (monitored events carry the core's own,
  pre-pooling neuron coordinates, SPECK_SEMANTICS §4.2, i.e. exactly the layer's ``(F, H_out, W_out)``
  neuron array).

For each layer and each pair of views: the Pearson correlation of the per-neuron spike counts and the
relative difference of the total counts. A pair *diverges* at a layer when the correlation is below
:attr:`Tolerance.min_correlation` or the relative count difference exceeds
:attr:`Tolerance.max_relative_count_difference`. The output class of each view is the argmax over output
features of the exit layer's spike counts (summed over the map).

Differences between ``quantised`` and ``simulated`` are expected in kind (SPECK_SEMANTICS §10: the chip fires
at most one spike per neuron per input event and thresholds after every synaptic update, sinabs sums a time
step first); the report shows how large they are for the model at hand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

SOURCES: tuple[str, ...] = ("float", "quantised", "simulated")
"""The three views, in pipeline order."""

PAIRS: tuple[tuple[str, str], ...] = (
    ("float", "quantised"),
    ("quantised", "simulated"),
    ("float", "simulated"),
)
"""Compared pairs: quantisation error, time-step vs event semantics, and end to end."""


@dataclass(frozen=True)
class Tolerance:
    """When two views of a layer count as diverged.

    Attributes:
        min_correlation: Lowest acceptable Pearson correlation of per-neuron spike counts. 0.9 keeps the
            spatial pattern of activity while allowing the per-event-vs-per-step differences of
            SPECK_SEMANTICS §10 to move individual counts.
        max_relative_count_difference: Largest acceptable ``|a − b| / max(a, b)`` of the layer's total spike
            counts (0.25: a quarter more or fewer spikes in the layer).
    """

    min_correlation: float = 0.9
    max_relative_count_difference: float = 0.25


@dataclass(frozen=True)
class PairAgreement:
    """Agreement of two views on one layer.

    Attributes:
        a, b: Source names (from :data:`SOURCES`).
        correlation: Pearson correlation of the per-neuron counts; 1.0 when both are identical (including
            both silent), 0.0 when exactly one of them is constant.
        total_a, total_b: Total spikes of the layer in each view.
        relative_difference: ``|total_a − total_b| / max(total_a, total_b)`` (0 when both are 0).
        within_tolerance: Neither threshold of the :class:`Tolerance` is crossed.
    """

    a: str
    b: str
    correlation: float
    total_a: int
    total_b: int
    relative_difference: float
    within_tolerance: bool


@dataclass(frozen=True)
class LayerAgreement:
    """All pairwise comparisons of one chip layer.

    Attributes:
        index: Layer index in the graph.
        name: Torch module path of the layer.
        core: Core the layer is placed on, or None when unknown.
        totals: Total spike count per source.
        pairs: One :class:`PairAgreement` per compared pair present.
    """

    index: int
    name: str
    core: int | None
    totals: dict[str, int]
    pairs: tuple[PairAgreement, ...]

    def pair(self, a: str, b: str) -> PairAgreement | None:
        """The comparison of views ``a`` and ``b`` in that order, or None if that pair was not compared."""
        for p in self.pairs:
            if (p.a, p.b) == (a, b):
                return p
        return None


@dataclass(frozen=True)
class AgreementResult:
    """The agreement check of one run.

    Attributes:
        layers: Per-layer comparison, in graph order.
        output_layer: Index of the layer whose counts decide the class.
        output_classes: Argmax class per source (None when that view produced no output spikes).
        output_counts: Per-class spike counts of the output layer per source.
        classes_agree: All available views predict the same class (None counts as a class of its own).
        first_divergence: Per pair ``"a vs b"``: name of the first layer (graph order) beyond tolerance, or
            None when every layer is within it.
        tolerance: The thresholds used.
    """

    layers: tuple[LayerAgreement, ...]
    output_layer: int
    output_classes: dict[str, int | None]
    output_counts: dict[str, list[int]]
    classes_agree: bool
    first_divergence: dict[str, str | None]
    tolerance: Tolerance = field(default_factory=Tolerance)

    @property
    def diverges(self) -> bool:
        """The views diverge: they disagree on the output class, or some pair has a layer beyond tolerance
        (what ``deploy-model run --fail-on-divergence`` gates on, and what the reports flag)."""
        return not self.classes_agree or any(v is not None for v in self.first_divergence.values())

    @property
    def sources(self) -> tuple[str, ...]:
        """The compared views (e.g. float, quantised, simulated), in report order."""
        return tuple(self.output_classes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (used in ``summary.json``)."""
        return {
            "tolerance": {
                "min_correlation": self.tolerance.min_correlation,
                "max_relative_count_difference": self.tolerance.max_relative_count_difference,
            },
            "output_layer": self.output_layer,
            "output_classes": dict(self.output_classes),
            "output_counts": {k: list(v) for k, v in self.output_counts.items()},
            "classes_agree": self.classes_agree,
            "first_divergence": dict(self.first_divergence),
            "layers": [
                {
                    "index": la.index,
                    "name": la.name,
                    "core": la.core,
                    "totals": dict(la.totals),
                    "pairs": [
                        {
                            "a": p.a,
                            "b": p.b,
                            "correlation": _json_float(p.correlation),
                            "total_a": p.total_a,
                            "total_b": p.total_b,
                            "relative_difference": _json_float(p.relative_difference),
                            "within_tolerance": p.within_tolerance,
                        }
                        for p in la.pairs
                    ],
                }
                for la in self.layers
            ],
        }


def _json_float(x: float) -> float | None:
    return None if math.isnan(x) else round(float(x), 6)


def count_correlation(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Pearson correlation of two count arrays of the same shape, defined for constant inputs.

    Returns:
        1.0 when the arrays are equal (also when both are all zero); 0.0 when they differ and at least one is
        constant (correlation undefined, and the views clearly disagree); else Pearson's r.

    Raises:
        ValueError: The shapes differ.
    """
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if np.shape(a) != np.shape(b):
        raise ValueError(f"cannot correlate counts of shapes {np.shape(a)} and {np.shape(b)}")
    if np.array_equal(x, y):
        return 1.0
    xc, yc = x - x.mean(), y - y.mean()
    den = math.sqrt(float(xc @ xc) * float(yc @ yc))
    if den == 0.0:
        return 0.0
    return float(np.clip(float(xc @ yc) / den, -1.0, 1.0))


def relative_difference(total_a: int, total_b: int) -> float:
    """``|a − b| / max(a, b)``, 0 when both are 0."""
    top = max(total_a, total_b)
    return 0.0 if top == 0 else abs(total_a - total_b) / top


def output_class(counts: npt.ArrayLike) -> tuple[int | None, list[int]]:
    """Class = argmax over features of a ``(F, H, W)`` (or ``(F,)``) count array; None if silent.

    Ties go to the lowest feature index (``np.argmax``).
    """
    arr = np.asarray(counts)
    per_class = arr.reshape(arr.shape[0], -1).sum(axis=1).astype(np.int64)
    if per_class.sum() == 0:
        return None, per_class.tolist()
    return int(np.argmax(per_class)), per_class.tolist()


def compare(
    counts: Mapping[str, Sequence[npt.ArrayLike]],
    names: Sequence[str],
    cores: Sequence[int | None] | None = None,
    output_layer: int | None = None,
    tolerance: Tolerance | None = None,
) -> AgreementResult:
    """Compare per-layer, per-neuron spike counts of several views of one network.

    Args:
        counts: Source name (``"float"``, ``"quantised"``, ``"simulated"``) → one ``(F, H_out, W_out)``
            count array per layer, in graph order. Missing sources are skipped.
        names: Layer names, in graph order.
        cores: Core of each layer (for the report), or None.
        output_layer: Layer whose counts decide the class; defaults to the last layer.
        tolerance: Divergence thresholds; defaults to :class:`Tolerance()`.

    Returns:
        The per-layer comparison, the output classes and the first diverging layer per pair.

    Raises:
        ValueError: A source has a different number of layers than ``names``, or shapes differ.
    """
    tol = tolerance or Tolerance()
    n = len(names)
    sources = [s for s in SOURCES if s in counts] + [s for s in counts if s not in SOURCES]
    arrays: dict[str, list[npt.NDArray[np.int64]]] = {}
    for s in sources:
        layer_counts = list(counts[s])
        if len(layer_counts) != n:
            raise ValueError(f"source {s!r} has counts for {len(layer_counts)} layers, expected {n}")
        arrays[s] = [np.asarray(c).astype(np.int64) for c in layer_counts]
    core_list: list[int | None] = list(cores) if cores is not None else [None] * n
    pairs = [p for p in PAIRS if p[0] in arrays and p[1] in arrays]
    first: dict[str, str | None] = {f"{a} vs {b}": None for a, b in pairs}
    layers: list[LayerAgreement] = []
    for i, name in enumerate(names):
        totals = {s: int(arrays[s][i].sum()) for s in sources}
        layer_pairs: list[PairAgreement] = []
        for a, b in pairs:
            r = count_correlation(arrays[a][i], arrays[b][i])
            d = relative_difference(totals[a], totals[b])
            ok = r >= tol.min_correlation and d <= tol.max_relative_count_difference
            layer_pairs.append(PairAgreement(a, b, r, totals[a], totals[b], d, ok))
            key = f"{a} vs {b}"
            if not ok and first[key] is None:
                first[key] = name
        layers.append(LayerAgreement(i, name, core_list[i], totals, tuple(layer_pairs)))
    out = n - 1 if output_layer is None else output_layer
    classes: dict[str, int | None] = {}
    out_counts: dict[str, list[int]] = {}
    for s in sources:
        if n == 0:
            classes[s], out_counts[s] = None, []
        else:
            classes[s], out_counts[s] = output_class(arrays[s][out])
    agree = len(set(classes.values())) <= 1
    return AgreementResult(tuple(layers), out, classes, out_counts, agree, first, tol)


def monitored_counts(
    events: npt.NDArray[Any],
    core_of: Sequence[int],
    out_shapes: Sequence[tuple[int, int, int]],
) -> list[npt.NDArray[np.int64]]:
    """Per-layer ``(F, H, W)`` spike counts from monitored chip events.

    Args:
        events: Output events with fields ``layer`` (core), ``feature``, ``x``, ``y``; monitored events carry
            the core's pre-pooling neuron coordinates (SPECK_SEMANTICS §4.2).
        core_of: Core of each layer, in graph order.
        out_shapes: ``(F, H_out, W_out)`` of each layer.

    Returns:
        One count array per layer (all zeros for a layer whose core sent no event).

    Raises:
        ValueError: An event's coordinates fall outside its layer's neuron array.
    """
    result: list[npt.NDArray[np.int64]] = []
    for core, shape in zip(core_of, out_shapes, strict=True):
        counts = np.zeros(shape, dtype=np.int64)
        if len(events):
            sel = events[np.asarray(events["layer"]) == core]
            f = np.asarray(sel["feature"], dtype=np.int64)
            y = np.asarray(sel["y"], dtype=np.int64)
            x = np.asarray(sel["x"], dtype=np.int64)
            bad = (f < 0) | (f >= shape[0]) | (y < 0) | (y >= shape[1]) | (x < 0) | (x >= shape[2])
            if bad.any():
                j = int(np.argmax(bad))
                raise ValueError(
                    f"monitored event on core {core} at (feature {f[j]}, x {x[j]}, y {y[j]}) is outside the "
                    f"layer's neuron array (F, H, W) = {shape}"
                )
            np.add.at(counts, (f, y, x), 1)
        result.append(counts)
    return result


def reduce_counts(per_layer: Sequence[npt.ArrayLike]) -> list[npt.NDArray[np.int64]]:
    """Turn per-layer spike outputs into ``(F, H, W)`` counts.

    Accepts ``(T, F, H, W)`` rasters (summed over time), ``(F, H, W)`` counts, or ``(B, T, F, H, W)`` with a
    batch of one.
    """
    out: list[npt.NDArray[np.int64]] = []
    for arr in per_layer:
        a = np.asarray(arr)
        if a.ndim == 5:
            a = a.sum(axis=(0, 1))
        elif a.ndim == 4:
            a = a.sum(axis=0)
        elif a.ndim != 3:
            raise ValueError(f"expected (T, F, H, W) or (F, H, W) spike counts, got shape {a.shape}")
        out.append(np.rint(a).astype(np.int64))
    return out


@dataclass(frozen=True)
class ClassAgreement:
    """Output classes of several samples in every view (the multi-sample form of the class check).

    Attributes:
        labels: Known class per sample (None where unknown).
        predictions: Source → predicted class per sample (None when the view produced no output spike).
        accuracy: Source → fraction of samples whose prediction equals the label (None without labels).
        pairwise: ``"a vs b"`` → fraction of samples on which the two views predict the same class.
    """

    labels: tuple[int | None, ...]
    predictions: dict[str, tuple[int | None, ...]]
    accuracy: dict[str, float | None]
    pairwise: dict[str, float]

    @property
    def n_samples(self) -> int:
        return len(self.labels)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_samples": self.n_samples,
            "labels": list(self.labels),
            "predictions": {k: list(v) for k, v in self.predictions.items()},
            "accuracy": dict(self.accuracy),
            "pairwise_agreement": dict(self.pairwise),
        }


def class_agreement(
    predictions: Mapping[str, Sequence[int | None]], labels: Sequence[int | None]
) -> ClassAgreement:
    """Accuracy of each view and how often each pair of views predicts the same class.

    Raises:
        ValueError: A view has a different number of predictions than there are labels.
    """
    n = len(labels)
    for src, p in predictions.items():
        if len(p) != n:
            raise ValueError(f"source {src!r} has {len(p)} predictions for {n} samples")
    known = [i for i, lab in enumerate(labels) if lab is not None]
    accuracy: dict[str, float | None] = {}
    for src, p in predictions.items():
        accuracy[src] = sum(p[i] == labels[i] for i in known) / len(known) if known else None
    pairwise = {
        f"{a} vs {b}": (
            sum(x == y for x, y in zip(predictions[a], predictions[b], strict=True)) / n if n else 1.0
        )
        for a, b in PAIRS
        if a in predictions and b in predictions
    }
    return ClassAgreement(tuple(labels), {k: tuple(v) for k, v in predictions.items()}, accuracy, pairwise)
