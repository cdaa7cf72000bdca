"""Test helper: read a sinabs-written ``config.json`` (samna field names) into a :class:`hwconfig.ChipConfig`.

Only the fields sinabs writes are taken from the JSON (``dimensions``, ``weights``, ``biases``,
``neurons_initial_value``, ``threshold_high``, ``threshold_low``, ``return_to_zero``, ``leak_enable`` and each
destination's ``enable``, ``layer``, ``pooling``); everything else in the file holds a schema test double's
defaults (e.g. ``threshold_low = 0`` on unused cores), so it is replaced by samna's defaults (§8.1), i.e.
hwconfig's. Unused cores (empty weights) stay at their defaults.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from hwconfig.config import (
    ChipConfig,
    CnnLayerConfig,
    CnnLayerDestination,
    CnnLayerDimensions,
    IOShape,
    Vec2,
)


def _vec(d: dict[str, Any]) -> Vec2:
    return Vec2(int(d["x"]), int(d["y"]))


def _shape(d: dict[str, Any]) -> IOShape:
    return IOShape(size=_vec(d["size"]), feature_count=int(d["feature_count"]))


def _layer(d: dict[str, Any]) -> CnnLayerConfig | None:
    weights = np.asarray(d["weights"], dtype=np.int64)
    if weights.size == 0:
        return None
    dims = d["dimensions"]
    dests = tuple(
        CnnLayerDestination(enable=bool(x["enable"]), layer=int(x["layer"]), pooling=int(x["pooling"]))
        for x in d["destinations"]
    )
    return CnnLayerConfig(
        dimensions=CnnLayerDimensions(
            input_shape=_shape(dims["input_shape"]),
            output_shape=_shape(dims["output_shape"]),
            padding=_vec(dims["padding"]),
            stride=_vec(dims["stride"]),
            kernel_size=int(dims["kernel_size"]),
        ),
        weights=weights,
        biases=np.asarray(d["biases"], dtype=np.int64),
        neurons_initial_value=np.asarray(d["neurons_initial_value"], dtype=np.int64),
        threshold_high=int(d["threshold_high"]),
        threshold_low=int(d["threshold_low"]),
        return_to_zero=bool(d["return_to_zero"]),
        leak_enable=bool(d["leak_enable"]),
        destinations=dests,
    )


def load_sinabs_case(case_dir: Path) -> ChipConfig:
    """The case's ``config.json`` as a ChipConfig; ``monitor_enable`` on result.json's exit cores."""
    raw = json.loads((case_dir / "config.json").read_text())
    result = json.loads((case_dir / "result.json").read_text())
    exit_cores = {int(result["layer2core_map"][str(i)]) for i in result["exit_layers"]}
    config = ChipConfig()
    for core, d in enumerate(raw["cnn_layers"]):
        layer = _layer(d)
        if layer is None:
            continue
        if core in exit_cores:
            layer = replace(layer, monitor_enable=True)
        config = config.with_layer(core, layer)
    return config
