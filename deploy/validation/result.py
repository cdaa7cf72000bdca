"""What a validation found: accuracy, agreement, confusion matrix, per-layer drift, SynOps, energy, gates."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deploy.agreement import PAIRS
from deploy.energy import ENERGY_PER_SYNOP
from deploy.validation.task import NO_CLASS, VIEWS, SampleOutcome


@dataclass(frozen=True)
class Spread:
    """Mean and spread of a per-sample quantity.

    Attributes:
        mean, std: Mean and (population) standard deviation.
        min, p5, median, p95, max: Order statistics.
    """

    mean: float
    std: float
    min: float
    p5: float
    median: float
    p95: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """Statistics of ``values`` (all zero for none)."""
        a = np.asarray(values, dtype=np.float64)
        if a.size == 0:
            return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        p5, med, p95 = (float(v) for v in np.percentile(a, [5, 50, 95]))
        return cls(float(a.mean()), float(a.std()), float(a.min()), p5, med, p95, float(a.max()))


@dataclass(frozen=True)
class LayerDrift:
    """Spike activity of one layer in the three views, over the data set.

    Attributes:
        index: Layer index (graph order).
        name: Torch module path.
        core: Core the layer runs on.
        neurons: Neurons of the layer ``F·H·W``.
        spikes: View → mean spikes per sample.
        drift: ``(simulated − float) / float`` of the mean spikes (0 when both are 0, ``inf`` when only the
            float layer is silent).
    """

    index: int
    name: str
    core: int
    neurons: int
    spikes: Mapping[str, float]
    drift: float

    def rate_hz(self, view: str, duration_s: float) -> float:
        """Mean firing rate per neuron (Hz) of ``view`` over recordings of ``duration_s``."""
        return self.spikes[view] / max(self.neurons, 1) / duration_s if duration_s > 0 else math.nan


@dataclass(frozen=True)
class Gates:
    """CI gates; None switches a gate off. All in percent (points), like the report.

    Attributes:
        min_accuracy: Lowest acceptable simulated accuracy, %.
        max_drop: Largest acceptable float − simulated accuracy, points.
        min_agreement: Lowest acceptable share of samples on which simulated and float predict the same
            class, %.
    """

    min_accuracy: float | None = None
    max_drop: float | None = None
    min_agreement: float | None = None


@dataclass(frozen=True)
class GateResult:
    """One evaluated gate: ``name``, the measured ``value``, the ``limit`` and whether it ``passed``."""

    name: str
    value: float
    limit: float
    passed: bool

    @property
    def text(self) -> str:
        """``"max_drop: 0.00 points ≤ -1 — FAILED"``."""
        unit, op = {"max_drop": ("points", "≤")}.get(self.name, ("%", "≥"))
        return (
            f"{self.name}: {self.value:.2f} {unit} {op} {self.limit:g} — {'ok' if self.passed else 'FAILED'}"
        )


def evaluate_gates(
    gates: Gates, accuracy: Mapping[str, float], agreement: Mapping[str, float]
) -> tuple[GateResult, ...]:
    """Check ``gates`` against the accuracies and the float/simulated agreement (fractions)."""
    sim, flt = 100 * accuracy["simulated"], 100 * accuracy["float"]
    out = []
    if gates.min_accuracy is not None:
        out.append(GateResult("min_accuracy", sim, gates.min_accuracy, sim >= gates.min_accuracy))
    if gates.max_drop is not None:
        drop = flt - sim
        out.append(GateResult("max_drop", drop, gates.max_drop, drop <= gates.max_drop))
    if gates.min_agreement is not None:
        agree = 100 * agreement["float vs simulated"]
        out.append(GateResult("min_agreement", agree, gates.min_agreement, agree >= gates.min_agreement))
    return tuple(out)


@dataclass(frozen=True)
class ValidationResult:
    """The result of :func:`deploy.validation.validate` (equal for every executor and worker count).

    Attributes:
        model: The model (file path or description).
        chip: Chip name.
        dataset: Data set description.
        n_classes: Output features of the class-deciding layer.
        accuracy: View → fraction of samples classified correctly.
        agreement: ``"a vs b"`` → fraction of samples on which the two views predict the same class.
        layers: Per-layer activity and drift float → simulated, graph order.
        synops: Synaptic operations per inference (simulated).
        energy_j: Estimated dynamic energy per inference, J (SynOps × :data:`deploy.energy.ENERGY_PER_SYNOP`).
        input_events: Input events per sample.
        gates: The gates evaluated (empty when none were asked).
        samples: Per-sample outcomes in data-set order.
        duration_s: Length of one recording, s (None when unknown).
        executor, workers, seconds: How it ran (not compared).
    """

    model: str
    chip: str
    dataset: str
    n_classes: int
    accuracy: Mapping[str, float]
    agreement: Mapping[str, float]
    layers: tuple[LayerDrift, ...]
    synops: Spread
    energy_j: Spread
    input_events: Spread
    gates: tuple[GateResult, ...]
    samples: tuple[SampleOutcome, ...]
    duration_s: float | None = None
    executor: str = field(default="process", compare=False)
    workers: int = field(default=1, compare=False)
    seconds: float = field(default=0.0, compare=False)

    @property
    def n_samples(self) -> int:
        return len(self.samples)

    @property
    def passed(self) -> bool:
        """True when every gate holds (and when there are none)."""
        return all(g.passed for g in self.gates)

    @property
    def drop_points(self) -> float:
        """Float − simulated accuracy, points."""
        return 100 * (self.accuracy["float"] - self.accuracy["simulated"])

    def predictions(self, view: str) -> tuple[int, ...]:
        """Predicted class per sample in ``view`` (:data:`NO_CLASS` for a silent output)."""
        i = VIEWS.index(view)
        return tuple(s.predictions[i] for s in self.samples)

    def confusion(self, view: str = "simulated") -> np.ndarray:
        """``(n_classes, n_classes + 1)`` counts: row = label, column = predicted class, last = no spike."""
        m = np.zeros((self.n_classes, self.n_classes + 1), np.int64)
        for s, p in zip(self.samples, self.predictions(view), strict=True):
            if 0 <= s.label < self.n_classes:
                m[s.label, self.n_classes if p == NO_CLASS or p >= self.n_classes else p] += 1
        return m

    def most_drifting(self, k: int = 3) -> tuple[LayerDrift, ...]:
        """The ``k`` layers whose simulated activity differs most from the float model's (by ``|drift|``)."""
        return tuple(sorted(self.layers, key=lambda la: (-abs(la.drift), la.index))[:k])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (``summary.json``): no NaN or infinity (written as null)."""
        return {
            "model": self.model,
            "chip": self.chip,
            "dataset": self.dataset,
            "n_samples": self.n_samples,
            "n_classes": self.n_classes,
            "accuracy": dict(self.accuracy),
            "drop_points": self.drop_points,
            "agreement": dict(self.agreement),
            "confusion_simulated": self.confusion("simulated").tolist(),
            "layers": [
                {
                    "index": la.index,
                    "name": la.name,
                    "core": la.core,
                    "neurons": la.neurons,
                    "spikes_per_sample": dict(la.spikes),
                    "drift": _finite(la.drift),
                }
                for la in self.layers
            ],
            "most_drifting": [la.name for la in self.most_drifting()],
            "synops_per_inference": vars(self.synops),
            "energy_j_per_inference": vars(self.energy_j),
            "energy_per_synop_j": ENERGY_PER_SYNOP.value,
            "energy_source": ENERGY_PER_SYNOP.source,
            "input_events_per_sample": vars(self.input_events),
            "duration_s": self.duration_s,
            "gates": [vars(g) | {"text": g.text} for g in self.gates],
            "passed": self.passed,
            "predictions": {
                "labels": [s.label for s in self.samples],
                **{v: list(self.predictions(v)) for v in VIEWS},
            },
            "run": {"executor": self.executor, "workers": self.workers, "seconds": self.seconds},
        }


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _drift(flt: float, sim: float) -> float:
    if flt == 0:
        return 0.0 if sim == 0 else math.inf
    return (sim - flt) / flt


def summarise(
    outcomes: Sequence[SampleOutcome],
    *,
    model: str,
    chip: str,
    dataset: str,
    n_classes: int,
    layer_names: Sequence[str],
    cores: Sequence[int],
    neurons: Sequence[int],
    gates: Gates | None = None,
    duration_s: float | None = None,
) -> ValidationResult:
    """Aggregate per-sample outcomes (in data-set order) into a :class:`ValidationResult`."""
    n = len(outcomes)
    preds = {v: np.array([o.predictions[i] for o in outcomes], np.int64) for i, v in enumerate(VIEWS)}
    labels = np.array([o.label for o in outcomes], np.int64)
    accuracy = {v: float((p == labels).mean()) if n else 0.0 for v, p in preds.items()}
    agreement = {f"{a} vs {b}": float((preds[a] == preds[b]).mean()) if n else 1.0 for a, b in PAIRS}
    layers = []
    for i, name in enumerate(layer_names):
        mean = {
            v: float(np.mean([o.layer_spikes[j][i] for o in outcomes])) if n else 0.0
            for j, v in enumerate(VIEWS)
        }
        layers.append(
            LayerDrift(i, name, cores[i], neurons[i], mean, _drift(mean["float"], mean["simulated"]))
        )
    synops = [o.synops for o in outcomes]
    return ValidationResult(
        model=model,
        chip=chip,
        dataset=dataset,
        n_classes=n_classes,
        accuracy=accuracy,
        agreement=agreement,
        layers=tuple(layers),
        synops=Spread.of(synops),
        energy_j=Spread.of([s * ENERGY_PER_SYNOP.value for s in synops]),
        input_events=Spread.of([o.input_events for o in outcomes]),
        gates=evaluate_gates(gates or Gates(), accuracy, agreement),
        samples=tuple(outcomes),
        duration_s=duration_s,
    )
