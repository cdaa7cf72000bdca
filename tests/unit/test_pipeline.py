"""deploy.pipeline: stage order, accepted model sources, check_model's verdicts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import sinabs
import sinabs.layers as sl
import torch
from helpers.snn_models import build_conv_pool_linear, iaf, seeded
from torch import nn

from deploy.errors import ChipConstraintError, PlacementError
from deploy.options import CompileOptions
from deploy.pipeline import STAGES, CompileResult, check_model, compile_model
from hwconfig import get_chip


def model() -> nn.Module:
    return seeded(build_conv_pool_linear, 3)


def test_compile_module_runs_every_stage_in_order() -> None:
    r = compile_model(model(), "speck", (2, 16, 16))
    assert isinstance(r, CompileResult) and r.chip is get_chip("speck2f")
    assert tuple(r.timings) == STAGES
    assert all(t >= 0 for t in r.timings.values())
    assert r.placement.core_of == (0, 1, 2)
    assert len(r.qgraph.layers) == len(r.graph.layers) == 3
    assert r.config.monitored_cores() == (2,)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.config = None  # type: ignore[misc]


def test_path_and_nir_sources_give_the_same_config(tmp_path: Path) -> None:
    m = model()
    path = tmp_path / "m.pt"
    torch.save(m, path)
    from_module = compile_model(m, "speck2f", (2, 16, 16))
    from_path = compile_model(path, "speck2f", (2, 16, 16))
    assert from_path.config == from_module.config
    assert from_path.loaded.sha256 is not None
    graph = sinabs.to_nir(m, torch.zeros(1, 2, 16, 16))
    from_nir = compile_model(graph, "speck2f", (2, 16, 16))
    assert from_nir.config.used_cores() == from_module.config.used_cores()
    for core in from_module.config.used_cores():
        a, b = from_module.config.cnn_layers[core], from_nir.config.cnn_layers[core]
        assert a.dimensions == b.dimensions and a.threshold_high == b.threshold_high
        assert (a.weights == b.weights).all()


def test_core_map_reaches_placement() -> None:
    r = compile_model(model(), "speck2f", (2, 16, 16), CompileOptions(core_map={"0": 8, 2: 5}))
    assert r.placement.core_of == (8, 0, 5) and r.placement.manual


def test_check_model_records_violations_instead_of_raising() -> None:
    big = nn.Sequential(nn.Conv2d(2, 16, 3, padding=1, bias=False), iaf())
    verdict = check_model(big, "speck2f", (2, 128, 128))
    assert not verdict.fits and verdict.placement is None and verdict.placement_error is None
    assert [v.rule for v in verdict.check.violations] == ["memory_fit", "output_map"]
    assert "place" not in verdict.timings
    with pytest.raises(ChipConstraintError, match=r"neuron memory 262144 words > 65536"):
        compile_model(big, "speck2f", (2, 128, 128))


def test_check_model_records_placement_failure() -> None:
    # Three layers that each need 64 Ki kernel words (64·2^(4+6)) fit only cores 5 and 6.
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Conv2d(2, 64, 1, bias=False), iaf()]
    for _ in range(3):
        layers += [nn.Conv2d(64, 64, 3, padding=1, bias=False), iaf()]
    verdict = check_model(nn.Sequential(*layers), "speck2f", (2, 4, 4))
    assert verdict.check.ok and verdict.placement is None
    assert isinstance(verdict.placement_error, PlacementError)
    assert "these 3 layers together fit only 2 core(s) [5, 6]" in str(verdict.placement_error)
    with pytest.raises(PlacementError, match=r"fit only 2 core\(s\) \[5, 6\]"):
        compile_model(nn.Sequential(*layers), "speck2f", (2, 4, 4))


def test_readout_option() -> None:
    r = compile_model(model(), "speck2f", (2, 16, 16), CompileOptions(readout=True))
    assert r.config.readout.enable
    exit_core = r.placement.core_of[2]
    assert r.config.cnn_layers[exit_core].dimensions.output_shape.feature_count == 9  # (3 − 1)·4 + 1
    assert any(w.rule == "readout" and "erratum" in w.message for w in r.warnings)
    assert not compile_model(model(), "speck2f", (2, 16, 16)).config.readout.enable


def test_allow_plain_min_v_mem_none_reaches_quantize() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False), sl.IAFSqueeze(batch_size=1, min_v_mem=None)
    )
    from deploy.errors import QuantizationError

    with pytest.raises(QuantizationError, match="--allow-plain-min-v-mem-none"):
        compile_model(net, "speck2f", (2, 8, 8))
    r = compile_model(net, "speck2f", (2, 8, 8), CompileOptions(allow_plain_min_v_mem_none=True))
    assert r.qgraph.layers[0].stats.rule == "sinabs-plain" and r.qgraph.layers[0].threshold_low == -32768
