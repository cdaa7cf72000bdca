"""Sensor input (issue #12): the DVS layer sinabs 3.1.3 writes for ``dvs_input=True``, and DvsOptions.

Every expected value is derived by hand from sinabs's source (paths relative to
``sinabs/backend/dynapcnn/``), not from our code:

- ``nir_graph_extractor.py::_add_dvs_node``: a model without a DVSLayer gets
  ``DVSLayer(input_shape=(H, W), merge_polarities=(C == 1))`` whose destinations are every entry node;
- ``nir_graph_extractor.py::_handle_dvs_input``: ``disable_pixel_array = not dvs_input``;
- ``dvs_layer.py::DVSLayer.__init__``: crop None → ``((0, H // py), (0, W // px))``;
- ``dynapcnn_layer_utils.py::consolidate_dvs_pooling``: a pooling layer after the DVS node multiplies
  into ``pool`` and divides ``bottom_crop``/``right_crop``;
- ``dvs_layer.py::DVSLayer.get_config_dict``: ``cut = crop_end − 1``, ``origin = crop_start``,
  ``pooling {x: px, y: py}``, ``mirror {x: flip_x, y: flip_y}``, ``mirror_diagonal = swap_xy``,
  ``pass_sensor_events = not disable_pixel_array``;
- ``chips/dynapcnn.py::write_dvs_layer_config``: destination slot k → core of the k-th destination layer.
"""

from __future__ import annotations

import numpy as np
import pytest
import sinabs.layers as sl
import torch
from helpers.snn_models import iaf
from torch import nn

from deploy.errors import UnsupportedLayerError
from deploy.options import CompileOptions, DvsOptions
from deploy.pipeline import compile_model
from deploy.sim.events import DVS_LAYER, make_events
from deploy.sim.simulator import simulate
from deploy.timestep import evaluate
from hwconfig.config import BoolVec2, Vec2


def net(c: int, *, pool: int = 1, k: int = 3) -> nn.Sequential:
    torch.manual_seed(0)
    head: list[nn.Module] = [sl.SumPool2d(pool)] if pool > 1 else []
    m = nn.Sequential(*head, nn.Conv2d(c, 4, k, bias=False), iaf(), nn.Conv2d(4, 2, 1, bias=False), iaf())
    with torch.no_grad():
        for conv in m:
            if isinstance(conv, nn.Conv2d):
                conv.weight.abs_()  # excitatory, so that a few hundred events make output spikes
    return m


def compile_dvs(model: nn.Module, shape: tuple[int, int, int], **kw: object):  # type: ignore[no-untyped-def]
    return compile_model(model, "speck2f", shape, CompileOptions(**kw))  # type: ignore[arg-type]


def test_dvs_input_without_pooling_creates_the_dvs_layer_sinabs_writes() -> None:
    r = compile_dvs(net(2), (2, 34, 34), dvs_input=True)
    d = r.config.dvs_layer
    entry_core = r.placement.core_of[0]
    assert (d.merge, d.pooling, d.origin, d.cut) == (False, Vec2(1, 1), Vec2(0, 0), Vec2(33, 33))
    assert (d.mirror, d.mirror_diagonal, d.pass_sensor_events) == (BoolVec2(False, False), False, True)
    assert [(s.enable, s.layer) for s in d.destinations] == [(True, entry_core), (False, 0)]
    assert r.graph.input_shape == (2, 34, 34) and r.graph.entry_layers == ()


def test_without_dvs_input_there_is_no_dvs_layer() -> None:
    r = compile_dvs(net(2), (2, 34, 34))
    assert not any(s.enable for s in r.config.dvs_layer.destinations)
    assert r.config.dvs_layer.pass_sensor_events is False


def test_merged_polarity_input_shape_is_one_channel() -> None:
    r = compile_dvs(net(1), (1, 34, 34), dvs_input=True)
    d = r.config.dvs_layer
    assert d.merge is True and d.cut == Vec2(33, 33)
    assert r.config.cnn_layers[r.placement.core_of[0]].dimensions.input_shape.feature_count == 1
    assert r.graph.input_shape == (1, 34, 34)


@pytest.mark.parametrize(("pool", "size", "cut"), [(2, 64, 31), (4, 128, 31)])
def test_input_pooling_folds_into_the_dvs_layer(pool: int, size: int, cut: int) -> None:
    r = compile_dvs(net(2, pool=pool), (2, size, size), dvs_input=True)
    d = r.config.dvs_layer
    assert (d.pooling, d.origin, d.cut, d.pass_sensor_events) == (
        Vec2(pool, pool),
        Vec2(0, 0),
        Vec2(cut, cut),
        True,
    )
    # Without dvs_input the same DVS layer is written, fed by the host only (sinabs: dvs_input None/False).
    assert compile_dvs(net(2, pool=pool), (2, size, size)).config.dvs_layer.pass_sensor_events is False


def test_mirror_and_crop_options_match_a_sinabs_dvs_layer() -> None:
    # sinabs: DVSLayer(input_shape=(128, 128), pool=(2, 2), crop=((10, 42), (20, 52)), flip_x=True)
    # → cut {x: 51, y: 41}, origin {x: 20, y: 10}, pooling {x: 2, y: 2}, mirror {x: True, y: False}.
    opts = DvsOptions(pooling=(2, 2), crop=((10, 42), (20, 52)), flip_x=True)
    r = compile_dvs(net(2), (2, 32, 32), dvs_input=True, dvs=opts)
    d = r.config.dvs_layer
    assert (d.origin, d.cut, d.pooling) == (Vec2(20, 10), Vec2(51, 41), Vec2(2, 2))
    assert (d.mirror, d.mirror_diagonal) == (BoolVec2(True, False), False)
    assert r.graph.input_shape == (2, 128, 128)


def test_options_without_crop_scale_the_sensor_input() -> None:
    # DVSLayer(input_shape=(64, 32), pool=(2, 2), swap_xy=True, flip_y=True) outputs 16×32 after the swap.
    opts = DvsOptions(pooling=(2, 2), swap_xy=True, flip_y=True)
    r = compile_dvs(net(2), (2, 18, 34), dvs=opts)
    d = r.config.dvs_layer
    assert r.graph.input_shape == (2, 68, 36)
    assert (d.cut, d.mirror, d.mirror_diagonal, d.pass_sensor_events) == (
        Vec2(17, 33),
        BoolVec2(False, True),
        True,
        False,
    )


@pytest.mark.parametrize(
    ("shape", "kw", "message"),
    [
        ((3, 34, 34), {"dvs_input": True}, "the model input has 3 channels"),
        ((2, 34, 34), {"dvs": DvsOptions(merge_polarities=True)}, "merge_polarities gives the model one"),
        ((2, 32, 32), {"dvs": DvsOptions(crop=((0, 30), (0, 32)))}, r"crop .* is 30×32 \(H×W\)"),
        ((2, 32, 32), {"dvs": DvsOptions(crop=((100, 132), (0, 32)))}, "leaves the pooled sensor 128×128"),
    ],
)
def test_dvs_option_errors_name_the_problem(shape: tuple[int, int, int], kw: dict, message: str) -> None:
    with pytest.raises(UnsupportedLayerError, match=message):
        compile_dvs(net(shape[0]), shape, **kw)


def test_options_contradicting_the_models_own_dvs_layer_are_refused() -> None:
    with pytest.raises(UnsupportedLayerError, match="already has a DVS layer"):
        compile_dvs(net(2, pool=2), (2, 64, 64), dvs=DvsOptions(flip_x=True))


def test_simulator_takes_sensor_events_through_the_dvs_layer() -> None:
    """Sensor events at layer 13 give the same output as the hand-transformed events injected at the core."""
    opts = DvsOptions(crop=((10, 42), (20, 52)), flip_x=True)
    r = compile_dvs(net(2, k=3), (2, 32, 32), dvs_input=True, dvs=opts)
    core = r.placement.core_of[0]
    rng = np.random.default_rng(1)
    n = 5000
    t = np.sort(rng.integers(0, 10_000, n))
    x, y, p = rng.integers(20, 52, n), rng.integers(10, 42, n), rng.integers(0, 2, n)
    sensor = make_events(t, DVS_LAYER, p, x, y)
    # By hand: crop origin (20, 10) → shift; flip_x mirrors the 32-wide window: x' = 31 − (x − 20).
    direct = make_events(t, core, p, 31 - (x - 20), y - 10)
    a, b = simulate(r.config, sensor), simulate(r.config, direct)
    assert len(a.events) > 0
    assert np.array_equal(a.events, b.events)
    # Sensor events outside the crop window are dropped by the DVS layer.
    outside = make_events(np.arange(5), DVS_LAYER, 0, np.arange(5), np.arange(5))
    assert len(simulate(r.config, outside).events) == 0


def test_time_stepped_evaluation_takes_both_polarities_for_a_merged_input() -> None:
    r = compile_dvs(net(1), (1, 16, 16), dvs_input=True)
    rng = np.random.default_rng(2)
    two = rng.integers(0, 3, size=(5, 2, 16, 16))
    one = two.sum(axis=1, keepdims=True)
    for graph in (r.graph, r.qgraph):
        merged, summed = evaluate(graph, two), evaluate(graph, one)
        for s1, s2 in zip(merged.spikes, summed.spikes, strict=True):
            np.testing.assert_array_equal(s1, s2)
    with pytest.raises(Exception, match=r"expected \(T, C, H, W\)"):
        evaluate(r.graph, rng.integers(0, 2, size=(5, 3, 16, 16)))


def test_dvs_input_leaves_the_cnn_cores_as_they_were() -> None:
    """sinabs's _add_dvs_node only adds a node in front: every CnnLayerConfig is unchanged."""
    with_dvs, without = (compile_dvs(net(2, pool=2), (2, 64, 64), dvs_input=d) for d in (True, False))
    assert with_dvs.config.cnn_layers == without.config.cnn_layers
    plain = compile_dvs(net(2), (2, 34, 34))
    assert compile_dvs(net(2), (2, 34, 34), dvs_input=True).config.cnn_layers == plain.config.cnn_layers
