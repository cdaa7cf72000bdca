"""The front end and quantiser against what sinabs 3.1.3 wrote for the six reference networks.

``tests/data/sinabs_reference`` (``SINABS_REFERENCE`` in tests/helpers/reference_data.py) holds, per case,
the model, sinabs's per-layer discretisation (``result.json``) and the chip configuration it wrote
(``config.json``, weights in samna's ``[f][c][x][y]`` order). Our integers must equal sinabs's, bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from helpers.reference_data import ACCEPTED_CASES, reference_file

from deploy.errors import UnsupportedLayerError
from deploy.frontend import load_model, normalize
from deploy.graph import OUTPUT, LayerGraph, QuantizedGraph
from deploy.quantize import quantize
from deploy.timestep import evaluate
from hwconfig import get_chip

ACCEPTED = list(ACCEPTED_CASES)
QUANTISED = [*ACCEPTED, "too_big_neurons"]


def _result(name: str) -> dict[str, Any]:
    return json.loads(reference_file(name, "result.json").read_text())


def _compile(name: str, source: str = "model.pt") -> tuple[LayerGraph, QuantizedGraph]:
    res = _result(name)
    kwargs: dict[str, Any] = {"input_shape": tuple(res["input_shape"])}
    graph = normalize(load_model(reference_file(name, source), **kwargs))
    return graph, quantize(graph, get_chip("speck2f"))


@pytest.mark.parametrize("name", QUANTISED)
def test_scales_thresholds_and_weight_stats_match_sinabs(name: str) -> None:
    res = _result(name)
    _, q = _compile(name)
    assert len(q.layers) == len(res["layers"])
    for ql, rl in zip(q.layers, res["layers"], strict=True):
        d = rl["discretization"]
        s = ql.stats
        assert s.scale == d["scale"], ql.name
        assert s.scale_weights == d["scale_weights"]
        assert s.scale_thresholds == d["scale_thresholds"]
        assert s.scale_bias == (math.inf if d["scale_bias"] == "inf" else d["scale_bias"])
        assert (ql.threshold_high, ql.threshold_low) == (rl["spike_threshold"], rl["min_v_mem"])
        assert s.weight_range == (rl["weight_min"], rl["weight_max"])
        assert np.count_nonzero(ql.weight) == rl["weight_nonzero"] and ql.weight.size == rl["weight_numel"]
        if rl["bias"] is None:
            assert not ql.has_bias and ql.source.bias is None
        else:
            assert ql.bias.tolist() == rl["bias"]
        # sinabs hashes its float32 discretised weights (torch order, signed zeros included).
        rounded = torch.round(torch.from_numpy(ql.source.weight) * torch.tensor(s.scale, dtype=torch.float32))
        assert hashlib.sha256(rounded.numpy().tobytes()).hexdigest() == rl["weight_sha256"]
        assert np.array_equal(rounded.numpy().astype(np.int64), ql.weight)


@pytest.mark.parametrize("name", QUANTISED)
def test_layer_shapes_and_conversions_match_sinabs(name: str) -> None:
    res = _result(name)
    g, _ = _compile(name)
    for layer, rl in zip(g.layers, res["layers"], strict=True):
        assert layer.in_shape == tuple(rl["in_shape"])
        assert layer.out_shape == tuple(rl["neuron_shape"])
        assert (layer.kernel_size, layer.kernel_size) == tuple(rl["kernel_size"])
        assert layer.stride == tuple(rl["stride"]) and layer.padding == tuple(rl["padding"])
        assert layer.reset == ("zero" if rl["reset_fn"] == "MembraneReset" else "subtract")
        assert layer.threshold == rl["float_spike_threshold"] and layer.min_v_mem == rl["float_min_v_mem"]
        assert rl["spike_fn"].endswith(layer.spike_fn)
    for i, rl in enumerate(res["layers"]):
        edges = g.out_edges(i)
        assert [e.dst for e in edges] == rl["destinations"]  # -1 = OUTPUT in both
        assert [[e.pooling, e.pooling] for e in edges] == rl["pool"]
    assert g.exit_layers == tuple(res["exit_layers"])


@pytest.mark.parametrize("name", ACCEPTED)
def test_integers_equal_config_json(name: str) -> None:
    res = _result(name)
    cfg = json.loads(reference_file(name, "config.json").read_text())
    g, q = _compile(name)
    for i, ql in enumerate(q.layers):
        cl = cfg["cnn_layers"][res["layer2core_map"][str(i)]]
        # samna's [f][c][x][y] is torch's [f][c][y][x] with the last two axes swapped.
        np.testing.assert_array_equal(np.array(cl["weights"]), ql.weight.transpose(0, 1, 3, 2))
        np.testing.assert_array_equal(
            np.array(cl["neurons_initial_value"]), ql.initial_state.transpose(0, 2, 1)
        )
        assert cl["biases"] == ql.bias.tolist()
        assert cl["threshold_high"] == ql.threshold_high and cl["threshold_low"] == ql.threshold_low
        assert cl["return_to_zero"] == (ql.source.reset == "zero")
        assert cl["leak_enable"] == ql.has_bias
        dims = cl["dimensions"]
        assert dims["kernel_size"] == ql.source.kernel_size
        assert (dims["stride"]["y"], dims["stride"]["x"]) == ql.source.stride
        assert (dims["padding"]["y"], dims["padding"]["x"]) == ql.source.padding
        c, h, w = ql.source.in_shape
        shape_in = dims["input_shape"]
        assert (shape_in["feature_count"], shape_in["size"]["y"], shape_in["size"]["x"]) == (c, h, w)
        f, oh, ow = ql.source.out_shape
        shape_out = dims["output_shape"]
        assert (shape_out["feature_count"], shape_out["size"]["y"], shape_out["size"]["x"]) == (f, oh, ow)
        enabled = [d for d in cl["destinations"] if d["enable"]]
        chip_edges = [e for e in g.out_edges(i) if e.dst != OUTPUT]
        assert [d["pooling"] for d in enabled] == [e.pooling for e in chip_edges]
        assert [d["layer"] for d in enabled] == [res["layer2core_map"][str(e.dst)] for e in chip_edges]


@pytest.mark.parametrize("name", ACCEPTED)
def test_timestep_evaluation_reproduces_sinabs_output(name: str) -> None:
    _, q = _compile(name)
    raster = np.load(reference_file(name, "input_raster.npy"))
    expected = np.load(reference_file(name, "output.npy"))
    out = evaluate(q, raster).output
    np.testing.assert_array_equal(out.reshape(expected.shape), expected)
    assert expected.sum() > 0


@pytest.mark.parametrize("name", ACCEPTED)
def test_state_dict_with_architecture_gives_the_same_integers(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reference state_dict, loaded into an architecture given as ``module:function``, quantises alike."""
    # The architecture: the pickled module (via the safe loader) with its weights zeroed, so that the
    # state_dict must supply every value.
    (tmp_path / f"arch_{name}.py").write_text(
        "import torch\n"
        "from deploy.frontend.load import load_model\n"
        "def build():\n"
        f"    model = load_model({str(reference_file(name, 'model.pt'))!r}).module\n"
        "    with torch.no_grad():\n"
        "        for p in model.parameters():\n"
        "            p.zero_()\n"
        "    return model\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    res = _result(name)
    loaded = load_model(
        reference_file(name, "state_dict.pt"),
        architecture=f"arch_{name}:build",
        input_shape=tuple(res["input_shape"]),
        trust_model_file=True,  # a module on sys.path outside models/ (issue 16)
    )
    q2 = quantize(normalize(loaded), get_chip("speck2f"))
    _, q1 = _compile(name)
    for a, b in zip(q1.layers, q2.layers, strict=True):
        np.testing.assert_array_equal(a.weight, b.weight)
        np.testing.assert_array_equal(a.bias, b.bias)
        assert (a.threshold_high, a.threshold_low) == (b.threshold_high, b.threshold_low)


def test_unsupported_relu_rejected_naming_the_relu() -> None:
    res = _result("unsupported_relu")
    with pytest.raises(UnsupportedLayerError) as err:
        model = reference_file("unsupported_relu", "model.pt")
        normalize(load_model(model, input_shape=tuple(res["input_shape"])))
    (problem,) = err.value.problems
    assert problem.startswith("'1' (ReLU): non-spiking activation")
    assert "IAFSqueeze" in problem and "ReLU" in res["error"]["message"]


@pytest.mark.parametrize("name", ["tiny_2layer", "bias_leak", "reset_zero"])
def test_float_evaluation_equals_the_sinabs_model_forward(name: str) -> None:
    """Without AvgPool rescaling, the float graph computes exactly what the sinabs model computes."""
    loaded = load_model(reference_file(name, "model.pt"), input_shape=tuple(_result(name)["input_shape"]))
    raster = np.load(reference_file(name, "input_raster.npy")).astype(np.float32)
    assert loaded.module is not None
    graph = normalize(loaded)  # before the forward pass: a run leaves its final v_mem as initial state
    with torch.no_grad():
        expected = loaded.module(torch.from_numpy(raster)).numpy()
    out = evaluate(graph, raster).output
    np.testing.assert_array_equal(out.reshape(expected.shape), expected)
