"""Helpers of the hardware-in-the-loop suite: reference cases, relocation, comparison, divergence reports.

Nothing here imports samna.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from helpers.reference_data import reference_file

from deploy.sim.events import Events, from_rows, to_rows
from hwconfig.chips import get_chip
from hwconfig.config import N_CNN_LAYERS, ChipConfig, CnnLayerConfig, CnnLayerDestination
from hwconfig.json_io import config_from_dict, config_to_dict
from hwconfig.spec import kernel_memory_words, neuron_memory_words

CHAIN_CORES = tuple(range(2, 9))
ENV_DOUBLE = "SPECK_DEPLOY_HIL_DOUBLE"


def using_double() -> bool:
    """True when the suite runs against the samna test double (a dry run of its logic, not hardware)."""
    return os.environ.get(ENV_DOUBLE) == "1"


# deterministic cores (SPECK_SEMANTICS §3.3: 0 and 1 are parallel)


# ------------------------------------------------------------------------------- reference cases


@dataclass(frozen=True)
class ReferenceCase:
    name: str
    config: ChipConfig
    events: Events
    exit_cores: tuple[int, ...]


def load_reference_case(name: str) -> ReferenceCase:
    """A sinabs reference case: its ``cnn_layers`` (the fields sinabs writes, §8.1) over this project's
    defaults for everything else, exit cores monitored, and its recorded input events."""
    data = json.loads(reference_file(name, "config.json").read_text())
    result = json.loads(reference_file(name, "result.json").read_text())
    base = config_to_dict(ChipConfig())
    layers = []
    for default, given in zip(base["cnn_layers"], data["cnn_layers"], strict=True):
        layers.append(_merge(default, given))
    base["cnn_layers"] = layers
    config = config_from_dict(base)
    for core in set(range(N_CNN_LAYERS)) - set(config.used_cores()):
        # Unused cores hold the sinabs test double's defaults (README), e.g. threshold_low 0: use ours.
        config = config.with_layer(core, CnnLayerConfig())
    core_of = {int(k): v for k, v in result["layer2core_map"].items()}
    exit_cores = tuple(sorted(core_of[int(i)] for i in result["exit_layers"]))
    for core in exit_cores:
        config = config.with_layer(core, dataclasses.replace(config.cnn_layers[core], monitor_enable=True))
    events = from_rows(np.load(reference_file(name, "input_events.npy")))
    return ReferenceCase(name, config, events, exit_cores)


def _merge(default: Any, given: Any) -> Any:
    if isinstance(default, dict) and isinstance(given, dict):
        return {k: _merge(v, given[k]) if k in given else v for k, v in default.items()}
    return given


def relocate(
    config: ChipConfig, events: Events, chip: str, cores: tuple[int, ...] = CHAIN_CORES
) -> tuple[ChipConfig, Events, dict[int, int]]:
    """Move every used core onto ``cores`` (lowest that fits its memories), rewriting destinations and the
    target layer of the input events. Raises AssertionError if the network does not fit."""
    spec = get_chip(chip)
    mapping: dict[int, int] = {}
    free = list(cores)
    for core in config.used_cores():
        layer = config.cnn_layers[core]
        d = layer.dimensions
        kernel = kernel_memory_words(d.input_shape.feature_count, d.output_shape.feature_count, d.kernel_size)
        neurons = neuron_memory_words(
            d.output_shape.feature_count, d.output_shape.size.x, d.output_shape.size.y
        )
        fits = [
            c for c in free if spec.core(c).kernel_memory >= kernel and spec.core(c).neuron_memory >= neurons
        ]
        assert fits, f"core {core} (kernel {kernel}, neurons {neurons} words) fits none of {free}"
        mapping[core] = fits[0]
        free.remove(fits[0])
    layers = [CnnLayerConfig() for _ in range(N_CNN_LAYERS)]
    for old, new in mapping.items():
        layer = config.cnn_layers[old]
        dests = tuple(
            dataclasses.replace(dst, layer=mapping.get(dst.layer, dst.layer))
            if dst.enable
            else CnnLayerDestination()
            for dst in layer.destinations
        )
        layers[new] = dataclasses.replace(layer, destinations=dests)
    moved = dataclasses.replace(config, cnn_layers=tuple(layers))
    rows = to_rows(events)
    rows[:, 1] = [mapping.get(int(c), int(c)) for c in rows[:, 1]]
    return moved, from_rows(rows), mapping


def random_chain(rng: np.random.Generator, cores: tuple[int, ...] = (2, 5, 7)) -> ChipConfig:
    """A small seeded chain on deterministic cores: 2×12×12 → 6×12×12 → 6×6×6 (s2) → 4×6×6, all monitored."""
    from hwconfig import CnnLayerDimensions, IOShape, Vec2

    shapes = [((12, 2), (12, 6), 1), ((12, 6), (6, 6), 2), ((6, 6), (6, 4), 1)]
    config = ChipConfig()
    for i, (core, ((si, ci), (so, co), stride)) in enumerate(zip(cores, shapes, strict=True)):
        nxt = cores[i + 1] if i + 1 < len(cores) else None
        layer = CnnLayerConfig(
            dimensions=CnnLayerDimensions(
                IOShape(Vec2(si, si), ci), IOShape(Vec2(so, so), co), Vec2(1, 1), Vec2(stride, stride), 3
            ),
            weights=rng.integers(-40, 50, size=(co, ci, 3, 3)),
            biases=np.zeros(co, int),
            neurons_initial_value=np.zeros((co, so, so), int),
            threshold_high=120,
            threshold_low=-120,
            monitor_enable=True,
            destinations=(CnnLayerDestination(enable=nxt is not None, layer=nxt or 0), CnnLayerDestination()),
        )
        config = config.with_layer(core, layer)
    return config


def random_input(
    rng: np.random.Generator, core: int, channels: int, size: int, n: int, span_us: int
) -> Events:
    from deploy.sim.events import make_events

    ts = np.sort(rng.integers(0, span_us, size=n))
    return make_events(
        ts, core, rng.integers(0, channels, n), rng.integers(0, size, n), rng.integers(0, size, n)
    )


# ------------------------------------------------------------------------------- comparison


def per_layer(events: Events) -> dict[int, list[tuple[int, int, int]]]:
    out: dict[int, list[tuple[int, int, int]]] = {}
    for e in events:
        out.setdefault(int(e["layer"]), []).append((int(e["feature"]), int(e["x"]), int(e["y"])))
    return out


@dataclass(frozen=True)
class Divergence:
    layer: int
    index: int
    board: tuple[int, int, int] | None
    simulator: tuple[int, int, int] | None
    same_multiset: bool

    def describe(self) -> str:
        kind = (
            "same events in a different order (the chip's update order within an event differs from the "
            "SPECK_SEMANTICS §12 convention)"
            if self.same_multiset
            else "different events"
        )
        return (
            f"first divergence on layer {self.layer} at its event {self.index}: board {self.board}, "
            f"simulator {self.simulator} — {kind}"
        )


def first_divergence(board: Events, sim: Events, topological: list[int]) -> Divergence | None:
    """Per-layer sequences compared exactly, layers in topological order (upstream first)."""
    b, s = per_layer(board), per_layer(sim)
    order = [c for c in topological if c in b or c in s] + sorted((set(b) | set(s)) - set(topological))
    for layer in order:
        bl, sl = b.get(layer, []), s.get(layer, [])
        if bl == sl:
            continue
        i = next((k for k, (x, y) in enumerate(zip(bl, sl, strict=False)) if x != y), min(len(bl), len(sl)))
        return Divergence(
            layer,
            i,
            bl[i] if i < len(bl) else None,
            sl[i] if i < len(sl) else None,
            Counter(bl) == Counter(sl),
        )
    return None


def report_dir() -> Path:
    path = Path(os.environ.get("SPECK_DEPLOY_HIL_REPORTS", "hil-reports"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_divergence_report(
    name: str,
    config: ChipConfig,
    inputs: Events,
    board: Events,
    sim: Events,
    summary: str,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``<name>.json`` (summary, counts per layer, first events) and ``<name>.npz`` (all events)."""
    folder = report_dir()
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    np.savez(folder / f"{safe}.npz", inputs=to_rows(inputs), board=to_rows(board), simulator=to_rows(sim))
    (folder / f"{safe}.config.json").write_text(json.dumps(config_to_dict(config)))
    doc = {
        "test": name,
        "summary": summary,
        "inputs": len(inputs),
        "board_events_per_layer": {str(k): len(v) for k, v in per_layer(board).items()},
        "simulator_events_per_layer": {str(k): len(v) for k, v in per_layer(sim).items()},
        "board_first_events": to_rows(board)[:20].tolist(),
        "simulator_first_events": to_rows(sim)[:20].tolist(),
        **(extra or {}),
    }
    path = folder / f"{safe}.json"
    path.write_text(json.dumps(doc, indent=2))
    return path
