"""NIR export (deploy-model export): the upstream failure it works around, the round trip, the refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sinabs
import sinabs.layers as sl
import torch
from torch import nn

from deploy.cli import main
from deploy.errors import DeployError, ModelLoadError
from deploy.export_nir import NirExportError, export_nir
from deploy.pipeline import compile_model
from hwconfig.json_io import config_hash

MODELS = Path(__file__).resolve().parents[2] / "models"
SHAPE = (2, 34, 34)


def small_snn() -> nn.Sequential:
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
        sl.SumPool2d(2),
        nn.Conv2d(4, 8, 3, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
        nn.Flatten(),
        nn.Linear(8 * 2 * 2, 5, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
    )


def test_upstream_to_nir_then_write_fails_without_the_workaround(tmp_path: Path) -> None:
    """sinabs 3.1.3 + nir 1.0.4: the documented failure that export_nir exists for (docs/nir.md).

    If this starts passing, upstream fixed it: the workaround can go and docs/nir.md must say so.
    """
    import nir

    graph = sinabs.to_nir(small_snn(), torch.zeros(1, 2, 8, 8))
    with pytest.raises(TypeError, match="One of data, shape or dtype"):
        nir.write(str(tmp_path / "plain.nir"), graph)


@pytest.mark.parametrize("name", ["digits_snn", "digits_ann2snn"])
def test_exported_file_compiles_to_the_same_configuration(name: str, tmp_path: Path) -> None:
    out = tmp_path / f"{name}.nir"
    result = export_nir(MODELS / name / "model.pt", out, SHAPE)
    assert result.path == out and out.is_file() and result.layers == 3
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no staging file left behind
    from_pt = compile_model(MODELS / name / "model.pt", "speck2f", SHAPE)
    from_nir = compile_model(out, "speck2f")  # the shape comes from the file's input node
    assert config_hash(from_nir.config) == config_hash(from_pt.config)


def test_avgpool_is_rewritten_with_the_next_weights_scaled(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
        nn.AvgPool2d(2),
        nn.Conv2d(4, 4, 3, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
    )
    before = model[3].weight.detach().clone()
    export_nir(model, tmp_path / "m.nir", (2, 8, 8))
    assert torch.equal(model[3].weight, before)  # the caller's model is not modified
    import nir

    graph = nir.read(str(tmp_path / "m.nir"))
    assert any(isinstance(n, nir.SumPool2d) for n in graph.nodes.values())
    convs = [n for n in graph.nodes.values() if isinstance(n, nir.Conv2d)]
    np.testing.assert_array_equal(np.asarray(convs[1].weight), (before / 4).numpy())


def test_refusals_name_the_culprit(tmp_path: Path) -> None:
    with pytest.raises(NirExportError, match=r"must end in \.nir"):
        export_nir(small_snn(), tmp_path / "m.onnx", (2, 8, 8))
    with pytest.raises(NirExportError, match="does not exist"):
        export_nir(small_snn(), tmp_path / "missing" / "m.nir", (2, 8, 8))
    with pytest.raises(ModelLoadError, match="--input-shape"):
        export_nir(small_snn(), tmp_path / "m.nir")
    pooled = nn.Sequential(nn.Conv2d(2, 2, 3), sl.IAFSqueeze(batch_size=1), nn.AvgPool2d(3, stride=2))
    with pytest.raises(DeployError, match="not a square, non-overlapping"):
        export_nir(pooled, tmp_path / "m.nir", (2, 9, 9))
    assert not list(tmp_path.iterdir())


def test_cli_export_refuses_to_overwrite_and_prints_one_json_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "d.nir"
    out.write_bytes(b"precious")
    model = str(MODELS / "digits_snn" / "model.pt")
    assert main(["export", model, "-o", str(out), "--input-shape", "2,34,34"]) == 2
    assert "pass --force" in capsys.readouterr().err and out.read_bytes() == b"precious"
    assert main(["export", model, "-o", str(out), "--input-shape", "2,34,34", "--force", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == {
        "nir": str(out),
        "input_shape": [2, 34, 34],
        "input_shape_source": "given with --input-shape",
        "nodes": 11,
        "layers": 3,
    }
