"""Small helpers to build chip configurations by hand in simulator tests."""

from __future__ import annotations

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
from hwconfig.spec import conv_output_size


def core(
    weights: Any,
    in_wh: tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    threshold_high: int = 127,
    threshold_low: int = -128,
    init: Any = 0,
    dests: tuple[CnnLayerDestination, ...] = (),
    **kw: Any,
) -> CnnLayerConfig:
    """One core from weights ``[f][c][x][y]`` and the input map size (output size computed)."""
    w = np.asarray(weights, dtype=np.int64)
    F, C, k, _ = w.shape
    sx, sy = (stride, stride) if isinstance(stride, int) else stride
    px, py = (padding, padding) if isinstance(padding, int) else padding
    wo, ho = conv_output_size(in_wh[0], k, sx, px), conv_output_size(in_wh[1], k, sy, py)
    state = np.broadcast_to(np.asarray(init, dtype=np.int64), (F, wo, ho)).copy()
    dests = tuple(dests) + tuple(CnnLayerDestination() for _ in range(2 - len(dests)))
    kw.setdefault("biases", np.zeros(F, np.int64))
    return CnnLayerConfig(
        dimensions=CnnLayerDimensions(
            input_shape=IOShape(Vec2(*in_wh), C),
            output_shape=IOShape(Vec2(wo, ho), F),
            padding=Vec2(px, py),
            stride=Vec2(sx, sy),
            kernel_size=k,
        ),
        weights=w,
        neurons_initial_value=state,
        threshold_high=threshold_high,
        threshold_low=threshold_low,
        destinations=dests,
        **kw,
    )


def chip(layers: dict[int, CnnLayerConfig], **kw: Any) -> ChipConfig:
    """A ChipConfig with the given cores set (other cores at samna defaults)."""
    config = ChipConfig(**kw)
    for c, layer in layers.items():
        config = config.with_layer(c, layer)
    return config


def dest(layer: int, pooling: int = 1, feature_shift: int = 0) -> CnnLayerDestination:
    return CnnLayerDestination(enable=True, layer=layer, pooling=pooling, feature_shift=feature_shift)
