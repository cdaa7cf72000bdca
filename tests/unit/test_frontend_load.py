"""deploy.frontend.load: safe loading of whole modules, state_dicts, NIR and in-memory models."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import nir
import numpy as np
import pytest
import sinabs
import torch
from helpers.snn_models import TINY_SHAPE, build_conv_pool_linear, build_tiny, graphs_equal, seeded
from torch import nn

from deploy.errors import ModelLoadError, UnsupportedLayerError
from deploy.frontend import LoadedModel, load_model, normalize
from deploy.frontend.load import pickle_globals, safe_global_names


class CustomNet(nn.Module):
    """A user-defined class: not in the allowlist."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Exploit:
    """Unpickling this creates a file (stands in for arbitrary code execution)."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (str(self.target), "w"))


def _write_nir(model: nn.Module, shape: tuple[int, int, int], path: Path) -> Path:
    graph = sinabs.to_nir(model, torch.zeros(1, *shape))
    # nir 1.0.4 cannot write this graph until Conv2d input shapes and Flatten types are set (DESIGN.md).
    x = torch.zeros(1, *shape)
    for name, m in model.named_children():
        if isinstance(m, nn.Conv2d):
            graph.nodes[name].input_shape = tuple(x.shape[-2:])
        if not isinstance(m, sinabs.layers.StatefulLayer):
            x = m(x)
    graph.infer_types()
    nir.write(str(path), graph)
    return path


# --- the same model through the three formats ---------------------------------------------------


@pytest.mark.parametrize("builder", [build_tiny, build_conv_pool_linear])
def test_pickle_state_dict_and_nir_give_identical_graphs(tmp_path: Path, builder) -> None:  # type: ignore[no-untyped-def]
    model = seeded(builder, 3)
    torch.save(model, tmp_path / "model.pt")
    torch.save(model.state_dict(), tmp_path / "state_dict.pt")
    nir_path = _write_nir(model, TINY_SHAPE, tmp_path / "model.nir")

    whole = normalize(load_model(tmp_path / "model.pt", input_shape=TINY_SHAPE))
    arch = f"helpers.snn_models:{builder.__name__}"
    from_sd = normalize(
        load_model(
            tmp_path / "state_dict.pt", architecture=arch, input_shape=TINY_SHAPE, trust_model_file=True
        )
    )
    from_nir = normalize(load_model(nir_path))
    from_memory = normalize(load_model(model, input_shape=TINY_SHAPE))

    assert len(whole.layers) >= 2
    assert graphs_equal(whole, from_sd) == []
    assert graphs_equal(whole, from_nir) == []
    assert graphs_equal(whole, from_memory) == []


def test_loaded_model_fields(tmp_path: Path) -> None:
    model = seeded(build_tiny)
    path = tmp_path / "m.pth"
    torch.save(model, path)
    loaded = load_model(path, input_shape=TINY_SHAPE)
    assert isinstance(loaded, LoadedModel)
    assert isinstance(loaded.module, nn.Sequential)
    assert loaded.nir_graph is None
    assert loaded.input_shape == TINY_SHAPE
    assert loaded.source == str(path)
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_in_memory_nir_graph_infers_input_shape() -> None:
    model = seeded(build_tiny)
    graph = sinabs.to_nir(model, torch.zeros(1, *TINY_SHAPE))
    loaded = load_model(graph)
    assert loaded.input_shape == TINY_SHAPE
    assert loaded.nir_graph is graph
    assert loaded.sha256 is None
    assert "min_v_mem = -threshold" in normalize(loaded).notes[0]


def test_architecture_by_name_from_models_package(tmp_path: Path) -> None:
    from models.digits_snn import INPUT_SHAPE, build_model

    torch.manual_seed(1)
    torch.save(build_model().state_dict(), tmp_path / "sd.pt")
    loaded = load_model(tmp_path / "sd.pt", architecture="digits_snn")
    assert loaded.input_shape == tuple(INPUT_SHAPE)  # taken from the module's INPUT_SHAPE
    assert len(normalize(loaded).layers) == 3


def test_checkpoint_dict_with_state_dict_key(tmp_path: Path) -> None:
    model = seeded(build_tiny)
    torch.save({"epoch": 3, "state_dict": model.state_dict()}, tmp_path / "ckpt.pt")
    loaded = load_model(
        tmp_path / "ckpt.pt",
        architecture="helpers.snn_models:build_tiny",
        trust_model_file=True,
        input_shape=TINY_SHAPE,
    )
    assert graphs_equal(normalize(loaded), normalize(model, TINY_SHAPE)) == []


def test_allowlist_covers_what_sinabs_pickles_reference(tmp_path: Path) -> None:
    model = seeded(build_conv_pool_linear)
    torch.save(model, tmp_path / "m.pt")
    refs = pickle_globals(tmp_path / "m.pt")
    allowed = safe_global_names()
    assert "sinabs.layers.iaf.IAFSqueeze" in refs
    assert {r for r in refs if r.startswith("sinabs.")} <= allowed


# --- refusals -----------------------------------------------------------------------------------


def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    target = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pt"
    torch.save({"weights": torch.zeros(2), "payload": Exploit(target)}, path)
    with pytest.raises(
        ModelLoadError, match=r"refusing to unpickle .*evil\.pt.*`(builtins|io)\.open`"
    ) as err:
        load_model(path, architecture="helpers.snn_models:build_tiny")
    assert "--trust-model-file" in str(err.value) and "--arch" in str(err.value)
    assert not target.exists()


def test_malicious_legacy_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    target = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pt"
    with path.open("wb") as f:
        pickle.dump(Exploit(target), f, protocol=2)
    with pytest.raises(ModelLoadError, match="refusing to unpickle"):
        load_model(path)
    assert not target.exists()


def test_custom_module_class_is_refused_with_its_name(tmp_path: Path) -> None:
    torch.save(CustomNet(), tmp_path / "custom.pt")
    with pytest.raises(ModelLoadError, match=r"`test_frontend_load\.CustomNet`.*state_dict.*--arch"):
        load_model(tmp_path / "custom.pt")


def test_trust_model_file_loads_custom_class_with_a_warning(tmp_path: Path) -> None:
    torch.save(CustomNet(), tmp_path / "custom.pt")
    with pytest.warns(UserWarning, match="weights_only=False.*arbitrary code"):
        loaded = load_model(tmp_path / "custom.pt", trust_model_file=True)
    assert type(loaded.module).__name__ == "CustomNet"


def test_trust_model_file_does_not_warn_for_safe_files(
    tmp_path: Path, recwarn: pytest.WarningsRecorder
) -> None:
    torch.save(seeded(build_tiny), tmp_path / "m.pt")
    load_model(tmp_path / "m.pt", trust_model_file=True)
    assert not [w for w in recwarn if "weights_only=False" in str(w.message)]


# --- file errors ----------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"model file '.*nope\.pt' does not exist; check the path"):
        load_model(tmp_path / "nope.pt")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(
        ModelLoadError, match=r"is a directory, not a model file; pass the \.pt/\.pth/\.nir file"
    ):
        load_model(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.pt").write_bytes(b"")
    with pytest.raises(ModelLoadError, match=r"e\.pt' is empty \(0 bytes\); re-save the model"):
        load_model(tmp_path / "e.pt")


def test_corrupt_file(tmp_path: Path, rng: np.random.Generator) -> None:
    (tmp_path / "c.pt").write_bytes(rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
    with pytest.raises(ModelLoadError, match=r"c\.pt' is not a readable PyTorch file .*Re-save it with"):
        load_model(tmp_path / "c.pt")


@pytest.mark.parametrize(
    "data",
    [b"\x80\x02}q\x00(X", b"\x80\x04\x95", b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19."],
    ids=["legacy-header-cut", "protocol-4-frame-cut", "legacy-magic-only"],
)
def test_damaged_legacy_pickle(tmp_path: Path, data: bytes) -> None:
    # Files that start like a legacy (non-zip) torch pickle fail deep inside torch's reader with
    # struct.error / IndexError; they must still be reported as unreadable, not crash the tool.
    (tmp_path / "p.pt").write_bytes(data)
    with pytest.raises(ModelLoadError, match=r"p\.pt' is not a readable PyTorch file"):
        load_model(tmp_path / "p.pt")


def test_truncated_zip(tmp_path: Path) -> None:
    torch.save(seeded(build_tiny), tmp_path / "full.pt")
    data = (tmp_path / "full.pt").read_bytes()
    (tmp_path / "t.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match=r"t\.pt' is not a readable PyTorch file"):
        load_model(tmp_path / "t.pt")


def test_wrong_extension(tmp_path: Path) -> None:
    (tmp_path / "m.onnx").write_bytes(b"x")
    with pytest.raises(ModelLoadError, match=r"extension '\.onnx'.*use a PyTorch file \(\.pt or \.pth"):
        load_model(tmp_path / "m.onnx")


def test_torchscript_file(tmp_path: Path) -> None:
    torch.jit.script(nn.Sequential(nn.Conv2d(1, 1, 1))).save(str(tmp_path / "s.pt"))
    with pytest.raises(
        ModelLoadError, match=r"s\.pt' is a TorchScript archive.*Save the eager model instead"
    ):
        load_model(tmp_path / "s.pt")


def test_corrupt_nir_file(tmp_path: Path) -> None:
    (tmp_path / "g.nir").write_bytes(b"not hdf5")
    with pytest.raises(ModelLoadError, match=r"g\.nir' is not a readable NIR file.*nir\.write"):
        load_model(tmp_path / "g.nir")


def test_not_a_path_or_model() -> None:
    with pytest.raises(ModelLoadError, match="cannot load a int: pass a file path"):
        load_model(3)


def test_bad_input_shape_argument() -> None:
    with pytest.raises(ModelLoadError, match=r"must be three positive integers C,H,W"):
        load_model(seeded(build_tiny), input_shape=(2, 16))  # type: ignore[arg-type]


def test_unknown_input_shape_asks_for_it() -> None:
    loaded = load_model(seeded(build_tiny))
    assert loaded.input_shape is None
    with pytest.raises(ModelLoadError, match=r"input shape .* is unknown.*`--input-shape C,H,W`"):
        normalize(loaded)


# --- state_dict + architecture errors ---------------------------------------------------------


def _save_sd(tmp_path: Path, model: nn.Module | None = None) -> Path:
    path = tmp_path / "sd.pt"
    torch.save((model or seeded(build_tiny)).state_dict(), path)
    return path


def test_state_dict_without_architecture(tmp_path: Path) -> None:
    with pytest.raises(
        ModelLoadError, match=r"is a state_dict .*pass `--arch NAME`.*`--arch package\.module:function`"
    ):
        load_model(_save_sd(tmp_path))


def test_whole_module_with_architecture(tmp_path: Path) -> None:
    torch.save(seeded(build_tiny), tmp_path / "m.pt")
    with pytest.raises(ModelLoadError, match=r"holds a whole model .*drop `--arch`"):
        load_model(tmp_path / "m.pt", architecture="helpers.snn_models:build_tiny", trust_model_file=True)


def test_unknown_architecture_name_lists_models(tmp_path: Path) -> None:
    with pytest.raises(
        ModelLoadError,
        match=r"cannot import the architecture 'no_such_net'.*bundled models: digits_ann2snn, digits_snn",
    ):
        load_model(_save_sd(tmp_path), architecture="no_such_net")


def test_architecture_function_missing(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"'helpers\.snn_models' has no function 'nope'"):
        load_model(_save_sd(tmp_path), architecture="helpers.snn_models:nope", trust_model_file=True)


def test_architecture_module_missing(tmp_path: Path) -> None:
    with pytest.raises(
        ModelLoadError, match=r"cannot import the architecture 'nopkg\.x:f'.*check the module path"
    ):
        load_model(_save_sd(tmp_path), architecture="nopkg.x:f", trust_model_file=True)


def test_architecture_not_returning_a_module(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"returned int, not a torch\.nn\.Module"):
        load_model(_save_sd(tmp_path), architecture="helpers.snn_models:not_a_module", trust_model_file=True)


def test_state_dict_missing_and_unexpected_keys(tmp_path: Path) -> None:
    path = _save_sd(tmp_path, seeded(build_conv_pool_linear))
    with pytest.raises(ModelLoadError) as err:
        load_model(path, architecture="helpers.snn_models:build_tiny", trust_model_file=True)
    msg = str(err.value)
    assert "does not fit the architecture 'helpers.snn_models:build_tiny'" in msg
    assert "unexpected keys (in the file, not in the architecture): " in msg and "6.weight" in msg
    assert "shape mismatches: 3.weight" in msg or "2.weight" in msg


def test_state_dict_shape_mismatch_names_the_key(tmp_path: Path) -> None:
    model = seeded(build_tiny)
    sd = model.state_dict()
    sd["2.weight"] = torch.zeros(3, 4, 3, 3)
    torch.save(sd, tmp_path / "sd.pt")
    with pytest.raises(
        ModelLoadError,
        match=r"shape mismatches: 2\.weight: file \(3, 4, 3, 3\) vs architecture \(2, 4, 3, 3\)",
    ):
        load_model(tmp_path / "sd.pt", architecture="helpers.snn_models:build_tiny", trust_model_file=True)


def test_state_dict_missing_key(tmp_path: Path) -> None:
    sd = seeded(build_tiny).state_dict()
    del sd["0.weight"]
    torch.save(sd, tmp_path / "sd.pt")
    with pytest.raises(
        ModelLoadError, match=r"missing keys \(in the architecture, not in the file\): 0\.weight"
    ):
        load_model(tmp_path / "sd.pt", architecture="helpers.snn_models:build_tiny", trust_model_file=True)


def test_neither_module_nor_state_dict(tmp_path: Path) -> None:
    torch.save([1, 2, 3], tmp_path / "l.pt")
    with pytest.raises(ModelLoadError, match=r"holds a list, neither a torch\.nn\.Module nor a state_dict"):
        load_model(tmp_path / "l.pt")


# --- NIR errors -----------------------------------------------------------------------------------


def test_nir_unsupported_nodes_listed_together() -> None:
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([2])}),
            "lif": nir.LIF(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2)),
            "delay": nir.Delay(delay=np.ones(2)),
            "output": nir.Output(output_type={"output": np.array([2])}),
        },
        edges=[("input", "lif"), ("lif", "delay"), ("delay", "output")],
    )
    with pytest.raises(UnsupportedLayerError) as err:
        load_model(graph)
    msg = str(err.value)
    assert "NIR node 'lif' (LIF): not supported on chip; leaky neurons" in msg
    assert "NIR node 'delay' (Delay): not supported on chip; delays" in msg


def test_nir_non_uniform_threshold() -> None:
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([1, 4, 4])}),
            "conv": nir.Conv2d(
                input_shape=(4, 4),
                weight=np.ones((2, 1, 1, 1)),
                stride=1,
                padding=0,
                dilation=1,
                groups=1,
                bias=np.zeros(2),
            ),
            "if": nir.IF(r=np.ones((2, 4, 4)), v_threshold=np.arange(32, dtype=float).reshape(2, 4, 4) + 1),
            "output": nir.Output(output_type={"output": np.array([2, 4, 4])}),
        },
        edges=[("input", "conv"), ("conv", "if"), ("if", "output")],
    )
    with pytest.raises(
        UnsupportedLayerError, match=r"NIR node 'if' \(IF\): v_threshold differs between neurons"
    ):
        load_model(graph)


def test_no_file_created_by_safe_load_of_reference_like_pickle(tmp_path: Path) -> None:
    """Loading a normal model with the safe loader leaves the directory untouched."""
    torch.save(seeded(build_tiny), tmp_path / "m.pt")
    before = sorted(os.listdir(tmp_path))
    load_model(tmp_path / "m.pt")
    assert sorted(os.listdir(tmp_path)) == before


def test_sinabs_from_model_network_is_unwrapped(tmp_path: Path) -> None:
    """What `sinabs.from_torch.from_model` returns (a sinabs Network) loads safely, with its input shape."""
    from sinabs.from_torch import from_model

    torch.manual_seed(0)
    ann = nn.Sequential(
        nn.Conv2d(2, 4, 3), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(4, 4, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(4 * 5 * 5, 3), nn.ReLU(),
    )  # fmt: skip
    net = from_model(ann, input_shape=(2, 16, 16), batch_size=1)
    torch.save(net, tmp_path / "net.pt")
    loaded = load_model(tmp_path / "net.pt")
    assert loaded.input_shape == (2, 16, 16)
    assert isinstance(loaded.module, nn.Sequential)
    g = normalize(loaded)
    assert [layer.name for layer in g.layers] == ["0", "3", "6"]
    assert g.layers[0].bias is not None  # the ANN's biases are kept (they become leak on chip)
    assert graphs_equal(g, normalize(net)) == []


def test_refusal_lists_every_disallowed_class_of_a_protocol_4_pickle(tmp_path: Path) -> None:
    path = tmp_path / "two.pt"
    with path.open("wb") as f:
        pickle.dump([CustomNet, Exploit, CustomNet], f, protocol=4)  # memoised module strings
    assert pickle_globals(path) == ["test_frontend_load.CustomNet", "test_frontend_load.Exploit"]
    with pytest.raises(
        ModelLoadError, match=r"`test_frontend_load\.CustomNet`, `test_frontend_load\.Exploit`"
    ):
        load_model(path)


def test_state_dict_saved_after_a_run_loads_its_neuron_state(tmp_path: Path) -> None:
    model = seeded(build_tiny)
    model(torch.rand(3, *TINY_SHAPE))  # v_mem buffers now (1, F, H, W)
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    loaded = load_model(
        tmp_path / "sd.pt",
        architecture="helpers.snn_models:build_tiny",
        trust_model_file=True,
        input_shape=TINY_SHAPE,
    )
    g = normalize(loaded)
    assert g.layers[0].initial_state is not None
    np.testing.assert_array_equal(g.layers[0].initial_state, model[1].v_mem[0].detach().numpy())
