"""The run summary: small frozen dataclasses holding every number the report shows.

Everything here is plain data (ints, floats, strings, tuples, numpy arrays only in :class:`SpikeData`), built
by :mod:`deploy.report.build` from the pipeline's results and consumed by the tables, figures, HTML and
Markdown writers and by ``summary.json`` (:meth:`RunSummary.to_dict`). Keeping it separate from the pipeline
types lets the report be unit-tested with synthetic numbers.

Performance figures (SPECK_SEMANTICS §11, §7.3 rule 7) used by the throughput and energy estimates are
defined here once, each with its source and whether it is a documented figure or an assumption.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from deploy.agreement import AgreementResult, ClassAgreement
from deploy.energy import ENERGY_PER_SYNOP, RESTING_POWER, Figure
from deploy.options import DEFAULT_SYNOPS_BUDGET as DEFAULT_SYNOPS_BUDGET  # re-exported
from deploy.report.outputs import ExitOutput, TargetComparison

SCHEMA_VERSION = 1
"""Version of the ``summary.json`` layout."""

LAYER0_THROUGHPUT_FACTOR = 3.5
"""Core 0 has ≈3.5× the throughput of a regular core [DOC: SAM-2f, SPECK_SEMANTICS §11]."""


@dataclass(frozen=True)
class CoreMemory:
    """Memory use of one core (SPECK_SEMANTICS §7.1), in words.

    Attributes:
        core: Core id 0..8.
        layer: Name of the layer placed on it, or None for a free core.
        kernel_used, kernel_capacity: Kernel SRAM words (8-bit) needed / available.
        neuron_used, neuron_capacity: Neuron SRAM words (16-bit).
        bias_used, bias_capacity: Leak/bias SRAM words (16-bit).
    """

    core: int
    layer: str | None
    kernel_used: int
    kernel_capacity: int
    neuron_used: int
    neuron_capacity: int
    bias_used: int
    bias_capacity: int

    def fraction(self, kind: str) -> float:
        """Used / capacity for ``kind`` in ``("kernel", "neuron", "bias")``."""
        used, cap = getattr(self, f"{kind}_used"), getattr(self, f"{kind}_capacity")
        return used / cap if cap else 0.0


@dataclass(frozen=True)
class LayerInfo:
    """One chip layer and where it runs.

    Attributes:
        index: Layer index in the graph.
        name: Torch module path.
        core: Core it is placed on.
        kind: ``"conv"`` or ``"linear"``.
        in_shape, out_shape: ``(C, H, W)`` / ``(F, H_out, W_out)``.
        kernel_size, stride, padding: Convolution geometry (stride/padding ``(y, x)``).
        destinations: Human-readable destinations, e.g. ``"core 3 (pool 2)"`` or ``"output"``.
        modules: Torch module paths folded into the layer.
    """

    index: int
    name: str
    core: int
    kind: str
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    kernel_size: int
    stride: tuple[int, int]
    padding: tuple[int, int]
    destinations: tuple[str, ...]
    modules: tuple[str, ...] = ()


@dataclass(frozen=True)
class QuantRow:
    """Quantisation statistics of one layer: its name and the fields of
    :class:`deploy.graph.LayerQuantStats` the report shows, with the same names and meanings (see there).

    :func:`deploy.report.build.quant_rows` copies them by name from ``QuantizedLayer.stats``, so a field
    added here must exist there.
    """

    name: str
    scale: float
    weight_range: tuple[int, int]
    bias_range: tuple[int, int]
    threshold_high: int
    threshold_low: int
    zero_fraction: float
    saturated: int
    max_weight_over_threshold: float
    overflow_margin: int
    rule: str


@dataclass(frozen=True)
class CoreActivity:
    """Activity of one used core in the simulation, and its throughput against the budget.

    Attributes:
        core: Core id.
        layer: Layer name on it.
        inputs: Input events the core processed.
        synops: Synaptic operations performed.
        spikes_generated: Spikes produced (before the decimator).
        spikes_emitted: Spikes that left the core.
        dropped: Routed events discarded as out of range.
        synops_rate: Measured SynOps per second of input time (synops / duration).
        predicted_rate: SD-tips estimate ``N_in/s · C_out · k² / (s_x·s_y)`` (§7.3 rule 7).
        budget: The SynOps/s budget of this core.
    """

    core: int
    layer: str
    inputs: int
    synops: int
    spikes_generated: int
    spikes_emitted: int
    dropped: int
    synops_rate: float
    predicted_rate: float
    budget: float

    @property
    def load(self) -> float:
        """Highest of measured and predicted rate, as a fraction of the budget."""
        return max(self.synops_rate, self.predicted_rate) / self.budget if self.budget > 0 else math.inf

    @property
    def over_budget(self) -> bool:
        return self.load > 1.0


@dataclass(frozen=True)
class EnergyEstimate:
    """Energy of the run estimated from synaptic operations.

    ``dynamic = synops · energy_per_synop``; ``static = resting_power · duration``;
    ``total = dynamic + static``.
    """

    synops: int
    duration_s: float
    energy_per_synop_j: float
    energy_per_synop_source: str
    energy_per_synop_is_assumption: bool
    resting_power_w: float
    resting_power_source: str

    @property
    def dynamic_j(self) -> float:
        return self.synops * self.energy_per_synop_j

    @property
    def static_j(self) -> float:
        return self.resting_power_w * self.duration_s

    @property
    def total_j(self) -> float:
        return self.dynamic_j + self.static_j

    @property
    def average_power_w(self) -> float:
        return self.total_j / self.duration_s if self.duration_s > 0 else math.nan


def estimate_energy(
    synops: int,
    duration_s: float,
    energy_per_synop: Figure = ENERGY_PER_SYNOP,
    resting_power: Figure = RESTING_POWER,
) -> EnergyEstimate:
    """Energy estimate from a SynOp count and the run duration (see :data:`ENERGY_PER_SYNOP`)."""
    return EnergyEstimate(
        synops=int(synops),
        duration_s=float(duration_s),
        energy_per_synop_j=energy_per_synop.value,
        energy_per_synop_source=energy_per_synop.source,
        energy_per_synop_is_assumption=energy_per_synop.assumption,
        resting_power_w=resting_power.value,
        resting_power_source=resting_power.source,
    )


def predicted_synops_rate(
    input_spikes: int,
    duration_s: float,
    out_features: int,
    kernel_size: int,
    stride: tuple[int, int],
    out_size: tuple[int, int] | None = None,
) -> float:
    """SD-tips estimate of a core's SynOps/s: ``N_in/s · C_out · (k_y/s_y) · (k_x/s_x)`` (§7.3 rule 7).

    Args:
        input_spikes: Input events of the core.
        duration_s: Input duration.
        out_features: ``C_out``.
        kernel_size: ``k`` (square).
        stride: ``(s_y, s_x)``.
        out_size: ``(H_out, W_out)``; when given, each factor ``k/s`` is capped by the output map size, since
            one input event reaches at most that many output positions per axis (§3.2). Without the cap the
            formula overestimates a Linear layer (a conv whose kernel covers the whole input) by ``k²``.
    """
    if duration_s <= 0:
        return 0.0
    taps_y = kernel_size / stride[0]
    taps_x = kernel_size / stride[1]
    if out_size is not None:
        taps_y, taps_x = min(taps_y, out_size[0]), min(taps_x, out_size[1])
    return input_spikes / duration_s * out_features * taps_y * taps_x


def core_budget(core: int, budget: float) -> float:
    """Budget of ``core``: core 0 is ≈3.5× faster than the others (SAM-2f)."""
    return budget * LAYER0_THROUGHPUT_FACTOR if core == 0 else budget


@dataclass(frozen=True)
class InputInfo:
    """Where the input events came from.

    Attributes:
        kind: ``"file"``, ``"sample"`` or ``"poisson"``.
        description: One line for the report.
        n_events: Number of input events fed to the chip.
        duration_s: Time span the input covers (for rates), seconds.
        label: Known class of the sample, if shipped with it.
    """

    kind: str
    description: str
    n_events: int
    duration_s: float
    label: int | None = None


@dataclass(frozen=True)
class SpikeData:
    """Arrays for the figures (not written to ``summary.json``).

    Attributes:
        layer_names: Names in graph order.
        time_counts: Source → one ``(T,)`` spike count per time bin per layer (``T`` bins of ``dt_us``).
        dt_us: Bin width of ``time_counts``.
        input_events: Input events (``EVENT_DTYPE``).
        output_events: Output events of the target (``EVENT_DTYPE``).
        output_features: Number of output features (classes) of the exit layer.
        output_rasters: Source → ``(T, F)`` spikes per time bin and output feature of the exit layer.
        t0_us: Start of time bin 0 (event timestamps are shown relative to it).
    """

    layer_names: tuple[str, ...]
    time_counts: dict[str, list[npt.NDArray[np.int64]]]
    dt_us: int
    input_events: npt.NDArray[Any]
    output_events: npt.NDArray[Any]
    output_features: int
    output_rasters: dict[str, npt.NDArray[np.int64]] = field(default_factory=dict)
    t0_us: int = 0


@dataclass(frozen=True)
class RunSummary:
    """Everything ``summary.json`` and the reports say about one run."""

    model: str
    chip: str
    target: str
    input: InputInfo
    placement: tuple[LayerInfo, ...]
    fit: tuple[tuple[bool, ...], ...]
    core_memory: tuple[CoreMemory, ...]
    quantisation: tuple[QuantRow, ...]
    activity: tuple[CoreActivity, ...]
    energy: EnergyEstimate
    agreement: AgreementResult | None
    n_output_events: int
    predicted_class: int | None
    synops_budget: float
    checker_warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    config_hash: str = ""
    tool_version: str = ""
    files: tuple[str, ...] = ()
    samples: ClassAgreement | None = None
    board_comparison: TargetComparison | None = None
    exits: tuple[ExitOutput, ...] = ()

    @property
    def bandwidth_warnings(self) -> tuple[str, ...]:
        """One message per core whose measured or predicted SynOps/s exceeds its budget."""
        out = []
        for a in self.activity:
            if a.over_budget:
                out.append(
                    f"core {a.core} ('{a.layer}'): {max(a.synops_rate, a.predicted_rate):.3g} SynOps/s "
                    f"(measured {a.synops_rate:.3g}, predicted {a.predicted_rate:.3g}) exceeds the budget "
                    f"{a.budget:.3g} SynOps/s; exceeding a core's bandwidth stalls the whole chip (SD-tips). "
                    "Reduce the input rate, the kernel size or the output channels, or enable the decimator"
                )
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (the content of ``summary.json``)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "tool_version": self.tool_version,
            "model": self.model,
            "chip": self.chip,
            "target": self.target,
            "config_hash": self.config_hash,
            "input": asdict(self.input),
            "predicted_class": self.predicted_class,
            "n_output_events": self.n_output_events,
            "fit_matrix": {
                "layers": [layer.name for layer in self.placement],
                "cores": list(range(len(self.fit[0]))) if self.fit else [],
                "fits": [list(row) for row in self.fit],
            },
            "placement": [
                {
                    "index": layer.index,
                    "name": layer.name,
                    "core": layer.core,
                    "kind": layer.kind,
                    "in_shape": list(layer.in_shape),
                    "out_shape": list(layer.out_shape),
                    "kernel_size": layer.kernel_size,
                    "stride": list(layer.stride),
                    "padding": list(layer.padding),
                    "destinations": list(layer.destinations),
                    "modules": list(layer.modules),
                }
                for layer in self.placement
            ],
            "core_memory": [asdict(m) for m in self.core_memory],
            "quantisation": [_clean(asdict(q)) for q in self.quantisation],
            "spike_counts": _spike_counts(self.agreement),
            "cores": [
                {
                    **asdict(a),
                    "synops_rate": _finite(a.synops_rate),
                    "predicted_rate": _finite(a.predicted_rate),
                    "load": _finite(a.load),
                    "over_budget": a.over_budget,
                }
                for a in self.activity
            ],
            "synops_budget": {
                "per_core": self.synops_budget,
                "core0_factor": LAYER0_THROUGHPUT_FACTOR,
                "note": "assumption unless set with --synops-budget; no per-core limit is published",
            },
            "energy": {
                "synops": self.energy.synops,
                "duration_s": self.energy.duration_s,
                "energy_per_synop_j": self.energy.energy_per_synop_j,
                "energy_per_synop_source": self.energy.energy_per_synop_source,
                "energy_per_synop_is_assumption": self.energy.energy_per_synop_is_assumption,
                "resting_power_w": self.energy.resting_power_w,
                "resting_power_source": self.energy.resting_power_source,
                "dynamic_j": self.energy.dynamic_j,
                "static_j": self.energy.static_j,
                "total_j": self.energy.total_j,
                "average_power_w": _finite(self.energy.average_power_w),
            },
            "agreement": self.agreement.to_dict() if self.agreement is not None else None,
            "samples": self.samples.to_dict() if self.samples is not None else None,
            "board_vs_simulator": (
                self.board_comparison.to_dict() if self.board_comparison is not None else None
            ),
            "exits": [e.to_dict() for e in self.exits],
            "warnings": {
                "checker": list(self.checker_warnings),
                "bandwidth": list(self.bandwidth_warnings),
            },
            "notes": list(self.notes),
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
            "files": list(self.files),
        }


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, float):
            out[k] = _finite(v)
        elif isinstance(v, tuple):
            out[k] = list(v)
        else:
            out[k] = v
    return out


def _spike_counts(agreement: AgreementResult | None) -> list[dict[str, Any]]:
    if agreement is None:
        return []
    return [{"layer": la.name, "core": la.core, **la.totals} for la in agreement.layers]
