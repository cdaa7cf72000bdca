"""Where the model input enters the chip, carried in a configuration file (issue #12).

samna's configuration has a field for the DVS layer's destinations but none for "the host input enters
cores A and B": a network whose input feeds a core that *also* receives from another core (a skip
connection from the input into a merge) cannot be told apart from one whose input only enters A. The
compiler knows; so the file records it in ``provenance.extra["routing"]`` (:func:`routing_extra`), and
``deploy-model simulate`` reads it back (:func:`entry_targets_from`) so that a saved configuration
simulates exactly like the dry run that wrote it.

``routing`` = ``{"entry_targets": [layer ids], "input_shape": [C, H, W]}``: the layer ids host input goes
to (cores 0..8, or 13 for the DVS layer) and the model-input shape of tonic-style events. A file written
by another tool (or an older version) has no ``routing``: the targets are then guessed from the
configuration (the DVS layer when it has destinations, else the used cores no other core sends to) and a
note says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from deploy.graph import LayerGraph, Placement
from deploy.sim.events import DVS_LAYER
from hwconfig.config import N_CNN_LAYERS, ChipConfig
from hwconfig.errors import ConfigError

ROUTING_KEY = "routing"
"""Key of the routing record in ``Provenance.extra``."""


def entry_targets(graph: LayerGraph, placement: Placement) -> list[int]:
    """Layer ids the model input goes to: 13 (DVS layer) for a DVS input, else the entry layers' cores."""
    if graph.dvs is not None:
        return [DVS_LAYER]
    return sorted({placement.core_of[i] for i in graph.entry_layers})


def routing_extra(targets: Sequence[int], input_shape: Sequence[int]) -> dict[str, Any]:
    """The ``provenance.extra`` entries that record the input routing (merge them into ``extra``)."""
    return {
        ROUTING_KEY: {
            "entry_targets": [int(t) for t in targets],
            "input_shape": [int(v) for v in input_shape],
        }
    }


def guess_entry_targets(config: ChipConfig) -> list[int]:
    """Targets of a configuration without a routing record: the DVS layer (13) if it has destinations,
    else the used cores that no other core sends to."""
    if any(d.enable for d in config.dvs_layer.destinations):
        return [DVS_LAYER]
    fed = {
        d.layer for layer in config.cnn_layers for d in layer.enabled_destinations if d.layer < N_CNN_LAYERS
    }
    return [c for c in config.used_cores() if c not in fed]


def entry_targets_from(
    config: ChipConfig, extra: Mapping[str, Any], source: str
) -> tuple[list[int], str | None]:
    """Where host input goes for a configuration read from a file.

    Args:
        config: The configuration.
        extra: ``provenance.extra`` of the file.
        source: The file, for messages.

    Returns:
        ``(targets, note)``: the recorded targets and None, or the guess of :func:`guess_entry_targets`
        and a note saying the file did not record them.

    Raises:
        ConfigError: The routing record is malformed, or names a core the configuration does not use.
    """
    record = extra.get(ROUTING_KEY)
    if record is None:
        targets = guess_entry_targets(config)
        note = (
            f"{source} does not record where the input enters the chip (provenance.extra.{ROUTING_KEY}, "
            f"written by deploy-model); input goes to layer(s) {targets} (the DVS layer if it has "
            "destinations, else the cores no other core sends to). If the input also enters a core that "
            "receives from another core, give chip events with their layer instead"
        )
        return targets, note
    recorded = record.get("entry_targets") if isinstance(record, Mapping) else None
    if not isinstance(recorded, list) or not recorded or not all(type(t) is int for t in recorded):
        raise ConfigError(
            f"provenance.extra.{ROUTING_KEY}.entry_targets: expected a non-empty list of layer ids, got "
            f"{recorded!r}",
            source=source,
        )
    valid = set(config.used_cores()) | {DVS_LAYER}
    stray = [t for t in recorded if t not in valid]
    if stray:
        raise ConfigError(
            f"provenance.extra.{ROUTING_KEY}.entry_targets: {stray} not among the used cores "
            f"{sorted(config.used_cores())} or the DVS layer 13; fix or delete the routing record",
            source=source,
        )
    return list(recorded), None
