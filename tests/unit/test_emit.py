"""deploy.emit: torch → samna conventions, destinations, monitor, DVS, readout; hand-derived expectations."""

from __future__ import annotations

import numpy as np
import pytest
from _qgraphs import chain, qgraph, qlayer

from deploy.check import check
from deploy.emit import emit_config
from deploy.errors import PlacementError
from deploy.graph import OUTPUT, DvsInput, Edge, Placement
from hwconfig import ConfigError, ReadoutConfig, Vec2, get_chip

CHIP = get_chip("speck2f")


def test_non_square_map_dimensions_use_x_for_width(rng: np.random.Generator) -> None:
    # H=16, W=24; stride (y=1, x=2); padding (y=0, x=1); k=3 → H_out = 14, W_out = (24-3+2)//2+1 = 12.
    layer = qlayer("conv", (2, 16, 24), 4, 3, stride=(1, 2), padding=(0, 1), rng=rng)
    cfg = emit_config(qgraph([layer]), Placement(core_of=(3,)), CHIP)
    d = cfg.cnn_layers[3].dimensions
    assert (d.input_shape.size, d.input_shape.feature_count) == (Vec2(x=24, y=16), 2)
    assert (d.output_shape.size, d.output_shape.feature_count) == (Vec2(x=12, y=14), 4)
    assert d.stride == Vec2(x=2, y=1) and d.padding == Vec2(x=1, y=0) and d.kernel_size == 3
    assert cfg.cnn_layers[3].neurons_initial_value.shape == (4, 12, 14)  # [f][x][y]


def test_weights_and_states_are_transposed_to_samna_order(rng: np.random.Generator) -> None:
    w = np.zeros((2, 1, 3, 3), np.int64)
    w[0, 0, 0, 2] = 7  # torch [f][c][ky=0][kx=2] → samna [f][c][kx=2][ky=0]
    w[1, 0, 2, 1] = -5  # ky=2, kx=1 → samna [1][0][1][2]
    state = np.zeros((2, 4, 6), np.int64)  # torch [f][y][x] for a 4×6 (H×W) output
    state[1, 3, 5] = 9
    layer = qlayer("c", (1, 6, 8), 2, 3, weight=w, initial_state=state)
    cfg = emit_config(qgraph([layer]), Placement(core_of=(0,)), CHIP).cnn_layers[0]
    assert cfg.weights[0, 0, 2, 0] == 7 and cfg.weights[0, 0, 0, 2] == 0
    assert cfg.weights[1, 0, 1, 2] == -5
    assert cfg.weights.dtype == np.int8
    assert cfg.neurons_initial_value.shape == (2, 6, 4) and cfg.neurons_initial_value[1, 5, 3] == 9


def test_neuron_parameters_bias_leak_and_reset(rng: np.random.Generator) -> None:
    a = qlayer("a", (2, 8, 8), 3, 1, rng=rng, threshold_high=120, threshold_low=-64)
    b = qlayer("b", (3, 8, 8), 2, 1, rng=rng, bias=[0, -13], reset="zero")
    cfg = emit_config(qgraph([a, b]), Placement(core_of=(4, 7)), CHIP)
    ca, cb = cfg.cnn_layers[4], cfg.cnn_layers[7]
    assert (ca.threshold_high, ca.threshold_low, ca.return_to_zero, ca.leak_enable) == (
        120,
        -64,
        False,
        False,
    )
    assert ca.biases.tolist() == [0, 0, 0]
    assert cb.return_to_zero and cb.leak_enable and cb.biases.tolist() == [0, -13]


def test_destinations_follow_the_placement_and_exit_layers_are_monitored(rng: np.random.Generator) -> None:
    a = qlayer("a", (2, 16, 16), 4, 3, padding=(1, 1), rng=rng)
    b = qlayer("b", (4, 8, 8), 4, 1, rng=rng)
    c = qlayer("c", (8, 4, 4), 2, 1, rng=rng)
    edges = [
        Edge(0, 1, pooling=2),
        Edge(0, 2, pooling=4, feature_shift=4),
        Edge(1, 2, pooling=2),
        Edge(2, OUTPUT),
    ]
    g = qgraph([a, b, c], edges)
    cfg = emit_config(g, Placement(core_of=(5, 2, 8)), CHIP)
    d = cfg.cnn_layers[5].destinations
    assert [(x.enable, x.layer, x.pooling, x.feature_shift) for x in d] == [(True, 2, 2, 0), (True, 8, 4, 4)]
    d = cfg.cnn_layers[2].destinations
    assert [(x.enable, x.layer, x.pooling) for x in d] == [(True, 8, 2), (False, 0, 1)]
    assert not any(x.enable for x in cfg.cnn_layers[8].destinations)  # edge to OUTPUT: no destination
    assert cfg.monitored_cores() == (8,)
    assert cfg.used_cores() == (2, 5, 8)
    assert emit_config(g, Placement(core_of=(5, 2, 8)), CHIP, monitor=[0, 1]).monitored_cores() == (2, 5)


def test_unused_cores_keep_samna_defaults(rng: np.random.Generator) -> None:
    cfg = emit_config(chain(rng), Placement(core_of=(0, 1)), CHIP)
    for core in range(2, 9):
        layer = cfg.cnn_layers[core]
        assert not layer.monitor_enable and not layer.enabled_destinations and layer.threshold_low == -1


def test_dvs_layer(rng: np.random.Generator) -> None:
    # 2×128×128, pool (y=2, x=4) → 64×32; crop rows 8..40, cols 0..32 → 32×32; cut = end − 1.
    first = qlayer("conv0", (1, 32, 32), 2, 3, padding=(1, 1), rng=rng)
    dvs = DvsInput(
        input_shape=(2, 128, 128),
        pooling=(2, 4),
        merge_polarities=True,
        crop=((8, 40), (0, 32)),
        flip_x=True,
        destinations=(0,),
    )
    cfg = emit_config(qgraph([first], dvs=dvs), Placement(core_of=(6,)), CHIP)
    d = cfg.dvs_layer
    assert d.merge and d.pooling == Vec2(x=4, y=2)
    assert d.origin == Vec2(x=0, y=8) and d.cut == Vec2(x=31, y=39)
    assert (d.mirror.x, d.mirror.y, d.mirror_diagonal) == (True, False, False)
    assert [(x.enable, x.layer) for x in d.destinations] == [(True, 6), (False, 0)]
    assert not d.pass_sensor_events


def test_dvs_layer_without_crop_spans_the_pooled_input(rng: np.random.Generator) -> None:
    first = qlayer("conv0", (2, 32, 32), 2, 3, padding=(1, 1), rng=rng)
    dvs = DvsInput(input_shape=(2, 64, 64), pooling=(2, 2), destinations=(0,))
    d = emit_config(qgraph([first], dvs=dvs), Placement(core_of=(0,)), CHIP).dvs_layer
    assert d.origin == Vec2(0, 0) and d.cut == Vec2(x=31, y=31) and not d.merge


def test_one_channel_dvs_input_merges_polarities(rng: np.random.Generator) -> None:
    first = qlayer("conv0", (1, 64, 64), 2, 3, padding=(1, 1), rng=rng)
    dvs = DvsInput(input_shape=(1, 128, 128), pooling=(2, 2), destinations=(0,))
    d = emit_config(qgraph([first], dvs=dvs), Placement(core_of=(0,)), CHIP).dvs_layer
    assert d.merge  # as sinabs's DVSLayer.from_layers: merge_polarities = (channels == 1)


def test_readout_with_erratum_expands_exit_layer(rng: np.random.Generator) -> None:
    a = qlayer("conv", (2, 4, 4), 4, 3, padding=(1, 1), rng=rng)
    fc = qlayer("fc", (4, 4, 4), 3, 4, kind="linear", rng=rng, bias=[1, 2, 3])
    g = qgraph([a, fc])
    cfg = emit_config(g, Placement(core_of=(0, 2)), CHIP, readout=True)
    exit_cfg = cfg.cnn_layers[2]
    # 3 classes → (3 − 1)·4 + 1 = 9 channels, class i at channel 4·i.
    assert exit_cfg.dimensions.output_shape.feature_count == 9
    assert exit_cfg.biases.tolist() == [1, 0, 0, 0, 2, 0, 0, 0, 3]
    np.testing.assert_array_equal(exit_cfg.weights[8], np.swapaxes(fc.weight[2], -1, -2))
    assert not exit_cfg.weights[1].any()
    assert [(d.enable, d.layer) for d in exit_cfg.destinations] == [(True, 12), (False, 0)]
    assert cfg.readout.enable and cfg.readout.readout_configuration_sel == 3
    custom = emit_config(g, Placement(core_of=(0, 2)), CHIP, readout=ReadoutConfig(threshold=5))
    assert custom.readout.enable and custom.readout.threshold == 5


def test_emit_asserts_the_readout_rules_instead_of_deciding_them(rng: np.random.Generator) -> None:
    # Each case breaks a readout rule that deploy.check reports (tests/unit/test_check.py) or uses a core
    # that check's fit matrix rules out; emit only asserts.
    many = qgraph([qlayer("fc", (4, 1, 1), 15, 1, rng=rng)])
    conv = qlayer("conv", (2, 4, 4), 2, 3, padding=(1, 1), rng=rng)
    two = qgraph([conv, qlayer("b", (2, 4, 4), 2, 1)], [Edge(0, 1), Edge(0, OUTPUT), Edge(1, OUTPUT)])
    a, b, c = (qlayer(n, (2, 1, 1), 2, 1, rng=rng) for n in "abc")
    no_slot = qgraph([a, b, c], [Edge(0, 1), Edge(0, 2), Edge(0, OUTPUT)])
    cases = [
        (many, (0,), r"unchecked layer 'fc'"),
        (qgraph([conv]), (0,), r"unchecked layer 'conv'"),
        (two, (0, 1), r"unchecked graph"),
        (no_slot, (0, 1, 2), r"layer 'a' has 3 destinations"),
        # c=512, k=1, 14 classes → 53 channels: K = 512·2^(0+6) = 32768 > 16384 on core 7.
        (qgraph([qlayer("fc", (512, 1, 1), 14, 1, rng=rng)]), (7,), r"'fc' placed on core 7 where it does"),
    ]
    for g, cores, message in cases:
        result = check(g, CHIP, readout=True)
        # check rejects the graph, or its fit matrix (which placement uses) rules the core out.
        assert not result.ok or cores[0] not in result.fit_matrix.cores_for(0)
        with pytest.raises(AssertionError, match=message):
            emit_config(g, Placement(core_of=cores), CHIP, readout=True)


def test_emit_validates_and_checks_placement(rng: np.random.Generator) -> None:
    w = np.full((1, 1, 1, 1), 300)
    bad = qlayer("bad", (1, 4, 4), 1, 1, weight=w)
    with pytest.raises(ConfigError, match=r"cnn_layers\[0\]\.weights"):
        emit_config(qgraph([bad]), Placement(core_of=(0,)), CHIP)
    with pytest.raises(PlacementError, match=r"placement has 1 cores for 2 layers"):
        emit_config(chain(rng), Placement(core_of=(0,)), CHIP)
