"""What a simulation returns, and the configuration checks both simulators share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from deploy.errors import SimulationError, StateOverflowError
from deploy.sim.events import DVS_LAYER, Events, empty_events
from hwconfig.config import N_CNN_LAYERS, ChipConfig

N_READOUT_CLASSES = 16
"""Readout class counters: 15 classes + the idle class 0 (§6)."""


@dataclass(eq=False)
class SimResult:
    """Result of one simulation run.

    Attributes:
        events: Output events (``EVENT_DTYPE``) in emission order: spikes of monitored cores (after the
            decimator, before pooling and feature shift, §4.2) and DVS-layer monitor events (layer 13).
            Each output timestamp is the timestamp of the input event (or slow-clock tick) that caused it;
            the chip's transit latency (~µs) is not modelled.
        synops: Per core (length 9): synaptic updates performed (taps that hit a valid neuron).
        spikes_generated: Per core: spikes produced by the neurons (before the decimator).
        spikes_emitted: Per core: spikes that left the core (after the decimator).
        inputs: Per core: input events the core processed (injected or routed).
        dropped: Per core: routed events addressed to the core that were discarded because their pooled
            coordinates or shifted feature fell outside its input shape (``out_of_range="drop"``).
        states: Final membrane states ``{core: [f][x][y] int16}`` of every used core.
        readout_counts: Spike counts per readout class (length 16), erratum applied (§6).
        leak_ticks: Slow-clock ticks applied in this run.
        traces: With ``record_traces``: every emitted spike per core (monitored or not), emission order.
    """

    events: Events = field(default_factory=empty_events)
    synops: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(N_CNN_LAYERS, np.int64))
    spikes_generated: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(N_CNN_LAYERS, np.int64))
    spikes_emitted: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(N_CNN_LAYERS, np.int64))
    inputs: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(N_CNN_LAYERS, np.int64))
    dropped: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(N_CNN_LAYERS, np.int64))
    states: dict[int, npt.NDArray[np.int16]] = field(default_factory=dict)
    readout_counts: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.zeros(N_READOUT_CLASSES, np.int64)
    )
    leak_ticks: int = 0
    traces: dict[int, Events] | None = None

    COUNTERS = ("synops", "spikes_generated", "spikes_emitted", "inputs", "dropped")

    def counters(self) -> dict[str, npt.NDArray[np.int64]]:
        """The five per-core counters by name."""
        return {name: getattr(self, name) for name in self.COUNTERS}


def overflow_error(core: int, f: int, x: int, y: int, t: int, v: int) -> StateOverflowError:
    """The error for a 16-bit state overflow with ``SimOptions.overflow == "error"``.

    A negative ``f`` or ``y`` means not known: the fast kernel does not track them in its vectorised loops.
    """
    where = ", ".join(f"{k}={c}" if c >= 0 else f"{k}=?" for k, c in (("f", f), ("x", x), ("y", y)))
    unknown = (
        " (? = not tracked by the fast simulator; deploy.sim.reference.simulate_reference names it)"
        if min(f, y) < 0
        else ""
    )
    return StateOverflowError(
        f"core {core} neuron ({where}) at t={t} µs: state {v} outside the 16-bit range [-32768, 32767]"
        f"{unknown}; SimOptions.overflow='error': use 'wrap' or 'saturate' to continue, or lower the "
        "layer's weights, bias or threshold"
    )


def out_of_range_error(
    config: ChipConfig, src: int, dst: int, f: int, x: int, y: int, t: int
) -> SimulationError:
    """The error for a routed event outside core ``dst``'s input shape with ``out_of_range == "error"``."""
    shape = config.cnn_layers[dst].dimensions.input_shape
    origin = "DVS" if src == DVS_LAYER else f"core {src}"
    return SimulationError(
        f"event (feature={f}, x={x}, y={y}) from {origin} at t={t} µs is outside core {dst}'s input shape "
        f"({shape.feature_count}, {shape.size.x}, {shape.size.y}) (SimOptions.out_of_range='error'; use "
        "'drop' to discard such events, or route so that pooled coordinates and shifted features fit)"
    )


def check_config(config: ChipConfig) -> tuple[int, ...]:
    """Check what the simulator relies on; return the used cores.

    Checks array shapes and dtypes of every used core and that core-to-core routing is acyclic (the
    hardware allows cycles but they "can result in deadlock", SD-arch; depth-first order is undefined).

    Raises:
        SimulationError: naming the core and the problem.
    """
    used = config.used_cores()
    for core in used:
        layer = config.cnn_layers[core]
        dims = layer.dimensions
        checks = (
            ("weights", layer.weights, dims.weights_array_dimensions(), np.int8),
            (
                "neurons_initial_value",
                layer.neurons_initial_value,
                dims.neuron_states_array_dimensions(),
                np.int16,
            ),
            ("biases", layer.biases, dims.biases_array_dimensions(), np.int16),
        )
        for name, arr, shape, dtype in checks:
            if arr.shape != shape:
                raise SimulationError(f"core {core}: {name} has shape {arr.shape}, dimensions need {shape}")
            if arr.dtype != dtype:
                raise SimulationError(
                    f"core {core}: {name} values do not fit {np.dtype(dtype).name}; run config.validate(chip)"
                )
        for i, d in enumerate(layer.destinations):
            if d.enable and not (0 <= d.layer < N_CNN_LAYERS or d.layer == 12):
                raise SimulationError(f"core {core}: destinations[{i}].layer = {d.layer} is not a core or 12")
            if d.enable and d.pooling < 1:
                raise SimulationError(f"core {core}: destinations[{i}].pooling = {d.pooling} must be >= 1")
    topological_order(config)
    return used


def check_targets(events: npt.NDArray[np.void], config: ChipConfig, used: tuple[int, ...]) -> None:
    """Memory-safety checks that run even when ``SimOptions.validate`` is off.

    Input events may only target used cores, the readout (12) or the DVS layer (13), and a core event's
    feature must be one of the core's input features (the fast kernel indexes memory with it).

    Raises:
        EventFormatError: naming the first offending event.
    """
    from deploy.errors import EventFormatError

    layers = events["layer"].astype(np.int64)
    ok = np.isin(layers, [*used, 12, 13])
    if not ok.all():
        i = int(np.argmin(ok))
        raise EventFormatError(
            f"event {i}: target layer {int(layers[i])} is not a used core, 12 or 13 "
            f"(used cores: {list(used)})"
        )
    n_in = np.array([layer.dimensions.input_shape.feature_count for layer in config.cnn_layers] + [0] * 5)
    feat = events["feature"].astype(np.int64)
    core = layers < N_CNN_LAYERS
    bad = core & ((feat < 0) | (feat >= n_in[np.where(core, layers, 0)]))
    if bad.any():
        i = int(np.argmax(bad))
        raise EventFormatError(
            f"event {i}: feature = {int(feat[i])} out of range for layer {int(layers[i])} "
            f"(allowed 0..{int(n_in[layers[i]]) - 1})"
        )


def core_edges(config: ChipConfig) -> dict[int, list[int]]:
    """Core → enabled destination cores (readout excluded)."""
    return {
        i: [d.layer for d in layer.destinations if d.enable and d.layer < N_CNN_LAYERS]
        for i, layer in enumerate(config.cnn_layers)
    }


def topological_order(config: ChipConfig) -> list[int]:
    """Cores in a topological order of the routing graph (ties by core id).

    Raises:
        SimulationError: if routing has a cycle (including a core sending to itself).
    """
    edges = core_edges(config)
    indeg = dict.fromkeys(range(N_CNN_LAYERS), 0)
    for dsts in edges.values():
        for d in set(dsts):
            indeg[d] += 1
    ready = sorted(c for c, n in indeg.items() if n == 0)
    order: list[int] = []
    while ready:
        c = ready.pop(0)
        order.append(c)
        for d in sorted(set(edges[c])):
            indeg[d] -= 1
            if indeg[d] == 0:
                ready.append(d)
                ready.sort()
    if len(order) != N_CNN_LAYERS:
        cyc = sorted(set(range(N_CNN_LAYERS)) - set(order))
        raise SimulationError(
            f"routing between cores {cyc} forms a cycle; the simulator needs acyclic routing"
        )
    return order
