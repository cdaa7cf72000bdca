"""The committed reference models: architecture, safe loading, state dicts, sample inputs."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
import sinabs.layers as sl
import torch
from torch import nn

from models import digits_events, training

NAMES = ["digits_snn", "digits_ann2snn"]


def _pkg(name: str):
    return importlib.import_module(f"models.{name}")


@pytest.mark.parametrize("name", NAMES)
def test_build_model_shapes_and_chip_friendly_layers(name: str) -> None:
    torch.manual_seed(0)
    model = _pkg(name).build_model()
    x = torch.zeros(2 * _pkg(name).N_BINS, *_pkg(name).INPUT_SHAPE)
    assert model(x).shape == (2 * _pkg(name).N_BINS, 10)
    spiking = [m for m in model.modules() if isinstance(m, sl.IAFSqueeze)]
    assert len(spiking) == 3
    for m in spiking:
        assert float(m.min_v_mem) == -float(m.spike_threshold)  # finite floor: sinabs scale does not collapse
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            assert m.bias is None  # a bias would be a slow-clock leak on the chip


@pytest.mark.parametrize("name", NAMES)
def test_committed_checkpoint_loads_safely_and_matches_state_dict(name: str) -> None:
    pkg = _pkg(name)
    whole = training.load_module(pkg.CHECKPOINT)  # weights_only=True with the documented allowlist
    from_sd = pkg.load_trained()  # build_model() + strict state dict
    assert type(whole) is nn.Sequential
    for (k1, v1), (k2, v2) in zip(whole.named_parameters(), from_sd.named_parameters(), strict=True):
        assert k1 == k2
        torch.testing.assert_close(v1, v2)
    weights = [m.weight for m in whole.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert all(w.abs().max() > 0 for w in weights)
    if name == "digits_snn":  # trained with |w| <= threshold (chip: one spike per event)
        assert all(float(w.detach().abs().max()) <= 1.0 + 1e-6 for w in weights)


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_files_are_small(name: str) -> None:
    pkg = _pkg(name)
    for path in pkg.HERE.glob("*.pt"):
        assert path.stat().st_size < 1 << 20, path
    assert pkg.SAMPLE_INPUT.stat().st_size < 1 << 20


@pytest.mark.parametrize("name", NAMES)
def test_sample_input_is_test_split_and_classified(name: str) -> None:
    pkg = _pkg(name)
    with np.load(pkg.SAMPLE_INPUT) as z:
        data = {k: z[k] for k in z.files}
    offsets, labels, indices = data["offsets"], data["labels"], data["indices"]
    assert len(offsets) == len(labels) + 1 == len(indices) + 1
    _, test = digits_events.split_indices()
    assert np.isin(indices, test).all()
    _, all_labels = digits_events.load_digits_arrays()
    np.testing.assert_array_equal(all_labels[indices], labels)
    samples = [data["sample_events"][offsets[i] : offsets[i + 1]] for i in range(len(labels))]
    np.testing.assert_array_equal(samples[0], data["events"])
    for i, ev in zip(indices, samples, strict=True):  # regenerating the recipe gives the same events
        np.testing.assert_array_equal(ev, digits_events.sample_events(int(i)))
    x = torch.from_numpy(np.stack([digits_events.rasterize(e, pkg.N_BINS) for e in samples]))
    acc, _ = training.evaluate(training.load_module(pkg.CHECKPOINT), x, torch.from_numpy(labels))
    assert acc >= 0.75


@pytest.mark.parametrize("name", NAMES)
def test_train_log_records_accuracy(name: str) -> None:
    log = json.loads((_pkg(name).HERE / "train_log.json").read_text())
    assert log["model"] == name
    assert 0.8 < log["test_accuracy_float"] <= 1.0


def test_predict_tie_break_rule() -> None:
    counts = np.array([[0, 3, 3, 1], [0, 0, 0, 0], [5, 0, 0, 5], [0, 0, 0, 2]])
    assert training.predict(counts).tolist() == [1, -1, 0, 3]


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_with_architecture_name_compiles_like_whole_module(name: str) -> None:
    from deploy.options import CompileOptions
    from deploy.pipeline import compile_model

    pkg = _pkg(name)
    by_name = compile_model(pkg.STATE_DICT, "speck2f", pkg.INPUT_SHAPE, CompileOptions(architecture=name))
    whole = compile_model(pkg.CHECKPOINT, "speck2f", pkg.INPUT_SHAPE)
    assert len(by_name.qgraph.layers) == len(whole.qgraph.layers) == 3
    for a, b in zip(by_name.qgraph.layers, whole.qgraph.layers, strict=True):
        np.testing.assert_array_equal(a.weight, b.weight)
    assert by_name.config == whole.config
