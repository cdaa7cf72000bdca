"""Every front-end error message: one case per construct, asserting the culprit and the fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nir
import numpy as np
import pytest
import sinabs.activation as sa
import sinabs.layers as sl
import torch
from helpers.snn_models import build_tiny, iaf, seeded
from torch import nn

from deploy.errors import ModelLoadError, UnsupportedLayerError
from deploy.frontend import load_model, normalize
from deploy.frontend.load import resolve_architecture


def _conv(c_in: int = 2, c_out: int = 2, k: int = 1, **kw: object) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, k, bias=False, **kw)  # type: ignore[arg-type]


class _Fn(nn.Module):
    """A model whose forward is given as a function of (self, x)."""

    def __init__(self, fn: Callable[..., torch.Tensor], **modules: nn.Module) -> None:
        super().__init__()
        self.fn = fn
        for name, m in modules.items():
            self.add_module(name, m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self, x)


CASES: dict[str, tuple[Callable[[], nn.Module], tuple[int, int, int], str]] = {
    "linear_unflattened": (
        lambda: nn.Sequential(_conv(), iaf(), nn.Linear(4, 3), iaf()),
        (2, 4, 4),
        "'2' (Linear 4→3): receives an unflattened (2, 4, 4) map (a Linear would act on the last axis only); "
        "add nn.Flatten() before it",
    ),
    "linear_size": (
        lambda: nn.Sequential(_conv(), iaf(), nn.Flatten(), nn.Linear(30, 3), iaf()),
        (2, 4, 4),
        "'3' (Linear 30→3): expects 30 inputs but receives C·H·W = 2·4·4 = 32",
    ),
    "bn_after_spikes": (
        lambda: nn.Sequential(_conv(), iaf(), nn.BatchNorm2d(2), _conv(), iaf()),
        (2, 4, 4),
        "'2' (BatchNorm2d): BatchNorm can only be folded into the Conv2d/Linear right before it",
    ),
    "bn_no_stats": (
        lambda: nn.Sequential(_conv(), nn.BatchNorm2d(2, track_running_stats=False), iaf()),
        (2, 4, 4),
        "'1' (BatchNorm2d): has no running statistics (track_running_stats=False), so it cannot be folded",
    ),
    "pool_ceil_mode": (
        lambda: nn.Sequential(_conv(), iaf(), nn.AvgPool2d(2, ceil_mode=True), _conv(), iaf()),
        (2, 4, 4),
        "'2' (AvgPool2d): ceil_mode=True is not available (the chip floors); use ceil_mode=False",
    ),
    "pool_padding": (
        lambda: nn.Sequential(_conv(), iaf(), nn.AvgPool2d(2, padding=1), _conv(), iaf()),
        (2, 4, 4),
        "'2' (AvgPool2d): padding is not available for chip pooling; use padding=0",
    ),
    "pool_divisor": (
        lambda: nn.Sequential(_conv(), iaf(), nn.AvgPool2d(2, divisor_override=3), _conv(), iaf()),
        (2, 4, 4),
        "'2' (AvgPool2d): divisor_override is not supported; remove it",
    ),
    "pool_flattened": (
        lambda: nn.Sequential(_conv(), iaf(), nn.Flatten(), sl.SumPool2d(2)),
        (2, 4, 4),
        "'3' (SumPool2d): pools a flattened value (32,); pool before nn.Flatten",
    ),
    "pool_too_big": (
        lambda: nn.Sequential(_conv(), iaf(), sl.SumPool2d(8), _conv(), iaf()),
        (2, 4, 4),
        "'2' (SumPool2d): pooling (8, 8) is larger than the 4×4 map",
    ),
    "pool_before_conv_output": (
        lambda: nn.Sequential(_conv(), sl.SumPool2d(2), iaf()),
        (2, 4, 4),
        "'1' (SumPool2d): receives the output of '0' without a spiking layer in between; "
        "pooling needs spikes",
    ),
    "tau_syn": (
        lambda: nn.Sequential(_conv(), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0, tau_syn=5.0)),
        (2, 4, 4),
        "'1' (IAFSqueeze): synaptic current dynamics (tau_syn) are not available on chip; use tau_syn=None",
    ),
    "reset_value": (
        lambda: nn.Sequential(
            _conv(), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0, reset_fn=sa.MembraneReset(reset_value=0.5))
        ),
        (2, 4, 4),
        "'1' (IAFSqueeze): MembraneReset(reset_value≠0) is not available; the chip resets to 0",
    ),
    "threshold_vector": (
        lambda: nn.Sequential(
            _conv(), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0, spike_threshold=torch.ones(2))
        ),
        (2, 4, 4),
        "'1' (IAFSqueeze): spike_threshold is not a scalar; the chip has one threshold per layer",
    ),
    "threshold_negative": (
        lambda: nn.Sequential(_conv(), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0, spike_threshold=-1.0)),
        (2, 4, 4),
        "'1' (IAFSqueeze): spike_threshold -1.0 must be > 0",
    ),
    "iaf_first": (
        lambda: nn.Sequential(iaf(), _conv(), iaf()),
        (2, 4, 4),
        "'0' (IAFSqueeze): is not directly after a Conv2d/Linear (optionally with BatchNorm)",
    ),
    "two_iaf": (
        lambda: nn.Sequential(_conv(), iaf(), iaf()),
        (2, 4, 4),
        "'2' (IAFSqueeze): is not directly after a Conv2d/Linear",
    ),
    "conv_flat_input": (
        lambda: nn.Sequential(_conv(), iaf(), nn.Flatten(), _conv(), iaf()),
        (2, 4, 4),
        "'3' (Conv2d 2→2, k=1): receives a flattened input (32,); a Conv2d needs a (C, H, W) map",
    ),
    "kernel_too_big": (
        lambda: nn.Sequential(_conv(k=5), iaf()),
        (2, 4, 4),
        "'0' (Conv2d 2→2, k=5): kernel 5 does not fit the 4×4 input with padding (0, 0)",
    ),
    "same_even_kernel": (
        lambda: nn.Sequential(nn.Conv2d(2, 2, 2, padding="same", bias=False), iaf()),
        (2, 4, 4),
        "'0' (Conv2d 2→2, k=2): padding='same' needs an odd square kernel here; "
        "give explicit integer padding",
    ),
    "padding_mode": (
        lambda: nn.Sequential(nn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect", bias=False), iaf()),
        (2, 4, 4),
        "'0' (Conv2d 2→2, k=3): padding_mode='reflect' is not available on chip; use zero padding",
    ),
    "input_to_output": (
        lambda: _Fn(lambda self, x: self.m(self.s(self.c(x)), x), c=_conv(), s=iaf(), m=sl.Merge()),
        (2, 4, 4),
        "'output': the model input reaches the output without passing a chip layer; remove that path",
    ),
    "merge_pre": (
        lambda: _Fn(lambda self, x: self.s(self.c(x) + self.d(x)), c=_conv(), d=_conv(), s=iaf()),
        (2, 4, 4),
        "'add' (add): adds values that are not spike trains",
    ),
    "param_in_forward": (
        lambda: _Fn(lambda self, x: self.s(self.c(x) * self.scale), c=_conv(), s=iaf()),
        (2, 4, 4),
        "the operation `mul` in forward() is not supported on chip",
    ),
    "tensor_method": (
        lambda: _Fn(lambda self, x: self.s(self.c(x)).permute(0, 1, 3, 2), c=_conv(), s=iaf()),
        (2, 4, 4),
        "'permute' (Tensor.permute): this tensor method in forward() is not supported on chip; remove it",
    ),
    "concat_pre": (
        lambda: _Fn(
            lambda self, x: self.s(torch.cat([self.c(x), self.d(x)], dim=1)), c=_conv(), d=_conv(), s=iaf()
        ),
        (2, 4, 4),
        "'cat' (cat): concatenates values that are not spike trains",
    ),
    "concat_input": (
        lambda: _Fn(lambda self, x: torch.cat([self.s(self.c(x)), x], dim=1), c=_conv(), s=iaf()),
        (2, 4, 4),
        "'cat' (cat): concatenates the model input; only chip layer outputs can be shifted",
    ),
    "nonsquare_pool_output": (
        lambda: nn.Sequential(_conv(), iaf(), sl.SumPool2d((1, 2))),
        (2, 4, 4),
        "'2' (pooling): non-square pooling (1, 2) after '0'; use equal kernel sizes",
    ),
    "nonsquare_pool_edge": (
        lambda: nn.Sequential(_conv(), iaf(), sl.SumPool2d((1, 2)), _conv(), iaf()),
        (2, 4, 4),
        "'2' (pooling): non-square pooling (1, 2) between '0' and '3'; "
        "chip pooling on a layer's output is square",
    ),
    "unknown_module": (
        lambda: nn.Sequential(_conv(), iaf(), nn.Upsample(scale_factor=2)),
        (2, 4, 4),
        "'2' (Upsample): is not supported by the chip compiler (supported: Conv2d, Linear, sinabs IAFSqueeze",
    ),
    "adaptive_pool": (
        lambda: nn.Sequential(_conv(), iaf(), nn.AdaptiveAvgPool2d(1)),
        (2, 4, 4),
        "'2' (AdaptiveAvgPool2d): adaptive pooling is not supported; use nn.AvgPool2d with a fixed kernel",
    ),
    "channel_shift": (
        lambda: nn.Sequential(_conv(), iaf(), sl.ChannelShift(channel_shift=2)),
        (2, 4, 4),
        "'2' (ChannelShift): channel shifting is not supported as a module; to concatenate the outputs of "
        "spiking layers along the channels use `torch.cat([a, b], dim=1)` in forward()",
    ),
    "exp_leak": (
        lambda: nn.Sequential(_conv(), sl.ExpLeakSqueeze(tau_mem=5.0, batch_size=1)),
        (2, 4, 4),
        "'1' (ExpLeakSqueeze): leaky neurons are not supported",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unsupported_construct_message(case: str) -> None:
    build, shape, expected = CASES[case]
    torch.manual_seed(0)
    model = build()
    if case == "param_in_forward":
        model.scale = nn.Parameter(torch.ones(1))  # type: ignore[assignment]
    with pytest.raises(UnsupportedLayerError) as err:
        normalize(model, shape)
    text = "\n".join(err.value.problems)
    assert expected in text
    assert len(err.value.problems) == 1, text


# --- load errors not covered in test_frontend_load -------------------------------------------------


def test_bad_input_shape_values() -> None:
    with pytest.raises(ModelLoadError, match=r"input_shape 'abc' is not a shape; give three integers C,H,W"):
        load_model(seeded(build_tiny), input_shape="abc")  # type: ignore[arg-type]


def test_trust_model_file_still_failing(tmp_path: Path) -> None:
    path = tmp_path / "x.pt"
    path.write_bytes(b"\x80\x02cno_such_mod\nKlass\nq\x00.")  # a pickle naming a class that exists nowhere
    with (
        pytest.warns(UserWarning, match="weights_only=False"),
        pytest.raises(
            ModelLoadError,
            match=r"could not load '.*x\.pt' even with --trust-model-file: .*make their package importable",
        ),
    ):
        load_model(path, trust_model_file=True)


def test_callable_architecture() -> None:
    module, origin = resolve_architecture(build_tiny)
    assert isinstance(module, nn.Sequential) and origin is None


# --- NIR graph errors -----------------------------------------------------------------------------


def _nir_graph(nodes: dict[str, nir.NIRNode], edges: list[tuple[str, str]]) -> nir.NIRGraph:
    return nir.NIRGraph(nodes=nodes, edges=edges)


def _inp(shape: tuple[int, ...] = (1, 4, 4)) -> nir.Input:
    return nir.Input(input_type={"input": np.array(shape)})


def _out(shape: tuple[int, ...] = (1, 4, 4)) -> nir.Output:
    return nir.Output(output_type={"output": np.array(shape)})


def _nconv(c_in: int = 1, c_out: int = 1) -> nir.Conv2d:
    return nir.Conv2d(
        input_shape=(4, 4), weight=np.ones((c_out, c_in, 1, 1)), stride=1, padding=0, dilation=1, groups=1,
        bias=np.zeros(c_out),
    )  # fmt: skip


def _nif(shape: tuple[int, ...] = (1, 4, 4), r: float = 1.0) -> nir.IF:
    return nir.IF(r=np.full(shape, r), v_threshold=np.ones(shape))


def test_nir_avgpool_and_merge_are_supported() -> None:
    graph = _nir_graph(
        {
            "input": _inp(),
            "a": _nconv(),
            "sa": _nif(),
            "b": _nconv(),
            "sb": _nif(),
            "pool": nir.AvgPool2d(
                kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])
            ),
            "c": _nconv(),
            "sc": _nif((1, 2, 2)),
            "output": _out((1, 2, 2)),
        },
        [
            ("input", "a"),
            ("a", "sa"),
            ("input", "b"),
            ("b", "sb"),
            ("sa", "pool"),
            ("sb", "pool"),
            ("pool", "c"),
            ("c", "sc"),
            ("sc", "output"),
        ],
    )
    g = normalize(load_model(graph))
    assert [layer.name for layer in g.layers] == ["a", "b", "c"]
    assert {(e.src, e.dst, e.pooling) for e in g.in_edges(2)} == {(0, 2, 2), (1, 2, 2)}
    np.testing.assert_array_equal(g.layers[2].weight, np.full((1, 1, 1, 1), 0.25, np.float32))
    assert g.layers[0].bias is None  # NIR's zero bias means "no bias"
    assert g.layers[0].min_v_mem == -1.0


def test_nir_input_scaling_refused() -> None:
    graph = _nir_graph(
        {"input": _inp(), "c": _nconv(), "s": _nif(r=2.0), "output": _out()},
        [("input", "c"), ("c", "s"), ("s", "output")],
    )
    with pytest.raises(
        UnsupportedLayerError, match=r"NIR node 's' \(IF\): r ≠ 1 \(input scaling\) is not supported"
    ):
        load_model(graph)


def test_nir_pool_padding_refused() -> None:
    pool = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([1, 1]))
    graph = _nir_graph(
        {"input": _inp(), "p": pool, "c": _nconv(), "s": _nif(), "output": _out()},
        [("input", "p"), ("p", "c"), ("c", "s"), ("s", "output")],
    )
    with pytest.raises(
        UnsupportedLayerError, match=r"NIR node 'p' \(SumPool2d\): padding \(1, 1\) is not available"
    ):
        load_model(graph)


def test_nir_cycle_refused() -> None:
    graph = _nir_graph(
        {"input": _inp(), "c": _nconv(), "s": _nif(), "output": _out()},
        [("input", "c"), ("c", "s"), ("s", "c"), ("s", "output")],
    )
    with pytest.raises(
        UnsupportedLayerError, match=r"NIR nodes \['c', 's', 'output'\] form a recurrent loop"
    ):
        load_model(graph)


def test_nir_dangling_edge_refused() -> None:
    graph = _nir_graph({"input": _inp(), "output": _out()}, [("input", "ghost"), ("input", "output")])
    with pytest.raises(
        UnsupportedLayerError, match=r"NIR edge \('input' → 'ghost'\) names a node that does not exist"
    ):
        load_model(graph)


def test_nir_two_inputs_refused() -> None:
    graph = _nir_graph(
        {"input": _inp(), "input2": _inp(), "output": _out()}, [("input", "output"), ("input2", "output")]
    )
    with pytest.raises(
        UnsupportedLayerError, match="the NIR graph has 2 Input nodes; exactly one is supported"
    ):
        load_model(graph)


def test_nir_node_without_input() -> None:
    graph = _nir_graph(
        {"input": _inp(), "c": _nconv(), "s": _nif(), "output": _out()}, [("c", "s"), ("input", "output")]
    )
    with pytest.raises(
        UnsupportedLayerError, match=r"NIR node 'c' \(Conv2d\) has no input; connect or remove it"
    ):
        load_model(graph)
