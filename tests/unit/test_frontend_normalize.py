"""deploy.frontend.normalize: topologies, layer conversions and the one-error-lists-all rule."""

from __future__ import annotations

import numpy as np
import pytest
import sinabs.layers as sl
import torch
from helpers.snn_models import TINY_SHAPE, Residual, build_conv_pool_linear, build_tiny, iaf, seeded
from torch import nn

from deploy.errors import ModelLoadError, UnsupportedLayerError
from deploy.frontend import normalize
from deploy.frontend.trace import trace
from deploy.graph import OUTPUT, Edge


def _problems(model: nn.Module, shape: tuple[int, int, int] = TINY_SHAPE) -> tuple[str, ...]:
    with pytest.raises(UnsupportedLayerError) as err:
        normalize(model, shape)
    return err.value.problems


# --- topologies ---------------------------------------------------------------------------------


def test_sequential() -> None:
    g = normalize(seeded(build_tiny), TINY_SHAPE)
    assert [layer.name for layer in g.layers] == ["0", "2"]
    assert g.layers[0].modules == ("0", "1")
    assert g.edges == (Edge(0, 1), Edge(1, OUTPUT))
    assert g.entry_layers == (0,) and g.dvs is None
    assert g.layers[1].out_shape == (2, 8, 8)
    assert g.layers[1].stride == (2, 2) and g.layers[1].padding == (1, 1)
    assert g.layers[0].threshold == 1.0 and g.layers[0].min_v_mem == -1.0
    assert g.layers[0].reset == "subtract" and g.layers[0].spike_fn == "MultiSpike"
    np.testing.assert_array_equal(g.layers[0].weight, build_tiny_weight(0))


def build_tiny_weight(index: int) -> np.ndarray:
    return seeded(build_tiny)[2 * index].weight.detach().numpy()


def test_residual_with_merge_and_plus() -> None:
    g = normalize(seeded(Residual), (2, 8, 8))
    assert [layer.name for layer in g.layers] == ["c1", "c2", "c3", "fc"]
    pooled = ("pool",)
    assert set(g.edges) == {
        Edge(0, 1),
        Edge(1, 2),
        Edge(0, 3, 2, 0, pooled),
        Edge(2, 3, 2, 0, pooled),
        Edge(1, 3, 2, 0, pooled),
        Edge(3, OUTPUT),
    }
    assert len(g.out_edges(0)) == 2 and len(g.out_edges(1)) == 2  # two destinations each
    assert g.layers[3].kind == "linear" and g.layers[3].in_shape == (4, 4, 4)


class Branch(nn.Module):
    """One layer feeding two branches (two destinations) that end in two outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.c0, self.s0 = nn.Conv2d(2, 4, 3, padding=1, bias=False), iaf()
        self.a, self.sa = nn.Conv2d(4, 2, 1, bias=False), iaf()
        self.pool = sl.SumPool2d(2)
        self.b, self.sb = nn.Conv2d(4, 3, 3, bias=False), iaf()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.s0(self.c0(x))
        return self.sa(self.a(h)), self.sb(self.b(self.pool(h)))


def test_branching_into_two_destinations_and_two_outputs() -> None:
    g = normalize(seeded(Branch), (2, 8, 8))
    assert set(g.out_edges(0)) == {Edge(0, 1), Edge(0, 2, 2, 0, ("pool",))}
    assert g.exit_layers == (1, 2)
    assert g.layers[2].in_shape == (4, 4, 4)


def test_leading_pooling_becomes_dvs_input() -> None:
    model = nn.Sequential(sl.SumPool2d(2), nn.Conv2d(2, 4, 3, bias=False), iaf())
    g = normalize(seeded(lambda: model), (2, 32, 32))
    assert g.dvs is not None
    assert g.dvs.pooling == (2, 2) and g.dvs.destinations == (0,) and g.dvs.module_path == "0"
    assert g.dvs.output_shape == (2, 16, 16)
    assert g.entry_layers == ()
    assert g.layers[0].in_shape == (2, 16, 16)
    assert g.edges == (Edge(0, OUTPUT),)


def test_leading_avgpool_rescales_first_weights() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(2, 4, 3, bias=False), iaf())
    g = normalize(model, (2, 8, 8))
    assert g.dvs is not None and g.dvs.pooling == (2, 2)
    np.testing.assert_array_equal(g.layers[0].weight, (model[1].weight * 0.25).detach().numpy())


def test_pooling_chain_merges_and_multiplies() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False),
        iaf(),
        sl.SumPool2d(2),
        nn.AvgPool2d(2),
        nn.Conv2d(4, 4, 3, padding=1, bias=False),
        iaf(),
    )
    g = normalize(model, (2, 16, 16))
    assert g.edges[0] == Edge(0, 1, 4, 0, ("2", "3"))
    assert g.layers[1].in_shape == (4, 4, 4)
    # sinabs: next weights × 1/(k·k) for the AvgPool only, computed in float32 as `weight * factor`.
    np.testing.assert_array_equal(g.layers[1].weight, (model[4].weight * 0.25).detach().numpy())


def test_avgpool_sinabs_rule_bit_exact_float32() -> None:
    torch.manual_seed(5)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, bias=False),
        iaf(),
        nn.AvgPool2d(2),
        nn.AvgPool2d(2),
        nn.Conv2d(2, 2, 1, bias=False),
        iaf(),
    )
    g = normalize(model, (1, 18, 18))
    factor = 1.0
    for _ in range(2):
        factor *= 1.0 / 4  # sinabs consolidate_dest_pooling: cumulative product of 1/(k·k)
    np.testing.assert_array_equal(g.layers[1].weight, (model[4].weight * factor).detach().numpy())


def test_linear_after_flatten_becomes_full_map_conv() -> None:
    model = seeded(build_conv_pool_linear)
    g = normalize(model, TINY_SHAPE)
    lin = g.layers[2]
    assert lin.kind == "linear" and lin.in_shape == (4, 8, 8) and lin.kernel_size == 8
    assert lin.out_shape == (3, 1, 1)
    np.testing.assert_array_equal(lin.weight, model[6].weight.detach().reshape(3, 4, 8, 8).numpy())
    assert g.edges[0] == Edge(0, 1, 2, 0, ("2",))


def test_linear_after_linear_has_1x1_kernel() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(2 * 4 * 4, 5, bias=False), iaf(), nn.Linear(5, 3, bias=False), iaf()
    )
    g = normalize(model, (2, 4, 4))
    assert g.layers[1].in_shape == (5, 1, 1) and g.layers[1].kernel_size == 1


def test_batchnorm_folds_into_conv_and_notes_the_leak() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, padding=1, bias=False)
    bn = nn.BatchNorm2d(3)
    bn.running_mean.uniform_(-0.5, 0.5)
    bn.running_var.uniform_(0.5, 2.0)
    bn.weight.data.uniform_(0.5, 1.5)
    bn.bias.data.uniform_(-0.2, 0.2)
    model = nn.Sequential(conv, bn, iaf()).eval()
    g = normalize(model, (2, 6, 6))
    layer = g.layers[0]
    assert layer.modules == ("0", "1", "2") and layer.bias is not None
    x = torch.rand(1, 2, 6, 6)
    folded = nn.functional.conv2d(x, torch.from_numpy(layer.weight), torch.from_numpy(layer.bias), padding=1)
    torch.testing.assert_close(folded, bn(conv(x)), rtol=1e-5, atol=1e-6)
    assert any("BatchNorm '1' was folded into '0'" in n and "leak" in n for n in g.notes)


def test_flatten_identity_dropout_disappear() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Identity(), nn.Conv2d(2, 4, 3, bias=False), nn.Dropout(0.2), iaf(), nn.Dropout2d(), nn.Flatten(),
        nn.Linear(4 * 2 * 2, 2, bias=False), iaf(),
    )  # fmt: skip
    g = normalize(model, (2, 4, 4))
    assert [layer.modules for layer in g.layers] == [("1", "3"), ("6", "7")]


def test_pooling_after_last_layer_kept_on_output_edge_with_note() -> None:
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), iaf(), sl.SumPool2d(2))
    g = normalize(seeded(lambda: model), (2, 8, 8))
    assert g.edges == (Edge(0, OUTPUT, 2, 0, ("2",)),)
    assert any("kept on the output edge" in n and "sinabs drops" in n for n in g.notes)


def test_initial_state_and_reset_and_spike_fn_are_kept() -> None:
    import sinabs.activation as sa

    torch.manual_seed(0)
    spk = sl.IAFSqueeze(batch_size=1, min_v_mem=-2.0, spike_threshold=2.0, reset_fn=sa.MembraneReset(),
                        spike_fn=sa.SingleSpike)  # fmt: skip
    model = nn.Sequential(nn.Conv2d(1, 2, 1, bias=False), spk)
    model(torch.rand(1, 1, 3, 3))  # initialises v_mem
    g = normalize(model, (1, 3, 3))
    layer = g.layers[0]
    assert layer.reset == "zero" and layer.spike_fn == "SingleSpike" and layer.threshold == 2.0
    assert layer.initial_state is not None and layer.initial_state.shape == (2, 3, 3)
    np.testing.assert_array_equal(layer.initial_state, spk.v_mem[0].detach().numpy())


def test_tracer_keeps_sinabs_modules_as_leaves() -> None:
    gm = trace(seeded(Residual))
    targets = [n.target for n in gm.graph.nodes if n.op == "call_module"]
    assert "merge" in targets and "s1" in targets


# --- unsupported constructs: all in one error -------------------------------------------------------


def test_unsupported_constructs_are_all_listed_in_one_error() -> None:
    model = nn.Sequential(
        nn.Conv2d(2, 4, (3, 5), padding=(1, 2), bias=False),  # 0 non-square kernel
        iaf(),
        nn.Conv2d(4, 4, 3, padding=2, dilation=2, bias=False),  # 2 dilation
        iaf(),
        nn.Conv2d(4, 4, 3, padding=1, groups=2, bias=False),  # 4 groups
        nn.ReLU(),  # 5
        nn.Conv2d(4, 4, 3, padding=1, bias=False),  # 6
        sl.LIFSqueeze(tau_mem=10.0, batch_size=1),  # 7
        nn.Conv2d(4, 4, 3, padding=1, bias=False),  # 8
        sl.IAF(),  # 9
        nn.MaxPool2d(2),  # 10
        nn.ConvTranspose2d(4, 4, 2),  # 11
        nn.Conv2d(4, 4, 1, bias=False),  # 12: no spiking layer after it
    )
    problems = _problems(model, (2, 16, 16))
    text = "\n".join(problems)
    for expected in [
        "'0' (Conv2d 2→4, k=3×5): kernel 3×5 is not square",
        "'2' (Conv2d 4→4, k=3): dilation (2, 2) is not available on chip",
        "'4' (Conv2d 4→4, k=3): groups=2",
        "'5' (ReLU): non-spiking activation",
        "'7' (LIFSqueeze): leaky neurons are not supported",
        "'9' (IAF): plain sinabs IAF is not accepted",
        "IAFSqueeze",
        "'10' (MaxPool2d): max pooling is not available on chip",
        "'11' (ConvTranspose2d): transposed convolution is not available",
        "'12' (Conv2d 4→4, k=1): has no spiking layer after it",
    ]:
        assert expected in text, expected
    assert len(problems) == 9


def test_relu_named_with_hint() -> None:
    model = nn.Sequential(nn.Conv2d(2, 4, 3, bias=False), nn.ReLU(), nn.Conv2d(4, 2, 3, bias=False), iaf())
    (problem,) = _problems(model)
    assert problem.startswith("'1' (ReLU): non-spiking activation")
    assert "sinabs.from_torch.from_model" in problem


def test_functional_relu_in_forward() -> None:
    class F(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(2, 2, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.c(x))

    (problem,) = _problems(F())
    assert "non-spiking activation `relu`" in problem


def test_linear_on_non_square_map_explains_why() -> None:
    model = nn.Sequential(nn.Conv2d(2, 2, 3, bias=False), iaf(), nn.Flatten(), nn.Linear(2 * 2 * 6, 3), iaf())
    (problem,) = _problems(model, (2, 4, 8))
    assert problem.startswith("'3' (Linear 24→3): on chip a Linear becomes a convolution whose kernel is")
    assert "H×W = 2×6" in problem and "must be square" in problem
    assert "pool or crop to a square map" in problem and "previous conv's stride/padding" in problem


def test_conv_without_spiking_layer_before_linear() -> None:
    model = nn.Sequential(nn.Conv2d(2, 2, 3, bias=False), nn.Flatten(), nn.Linear(2 * 14 * 14, 3), iaf())
    (problem,) = _problems(model)
    assert "'2' (Linear 392→3): receives the output of '0' without a spiking layer" in problem


def test_module_called_twice_is_refused() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c, self.s = nn.Conv2d(2, 2, 1, bias=False), iaf()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.s(self.c(self.s(self.c(x))))

    problems = _problems(Twice())
    assert any(p.startswith("'c' (Conv2d 2→2, k=1): is called 2 times") for p in problems)
    assert any(p.startswith("'s' (IAFSqueeze): is called 2 times") for p in problems)


def test_recurrent_layer_is_refused() -> None:
    model = nn.Sequential(
        nn.Conv2d(2, 2, 1, bias=False), nn.Flatten(), sl.IAFRecurrent(rec_connect=nn.Linear(512, 512))
    )
    problems = _problems(model)
    assert any("'2' (IAFRecurrent): recurrent connections (loops) are not supported" in p for p in problems)


def test_different_avgpool_factors_into_one_layer() -> None:
    class Mixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1, self.s1 = nn.Conv2d(2, 2, 1, bias=False), iaf()
            self.c2, self.s2 = nn.Conv2d(2, 2, 2, stride=2, bias=False), iaf()
            self.avg = nn.AvgPool2d(2)
            self.c3, self.s3 = nn.Conv2d(2, 2, 1, bias=False), iaf()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            a = self.s1(self.c1(x))
            return self.s3(self.c3(self.avg(a) + self.s2(self.c2(a))))

    (problem,) = _problems(Mixed(), (2, 8, 8))
    assert "'s3' (IAFSqueeze): the inputs of 'c3' come through different average poolings" in problem


def test_iaf_threshold_and_reset_options_refused() -> None:
    import sinabs.activation as sa

    model = nn.Sequential(
        nn.Conv2d(2, 2, 1, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0, reset_fn=sa.MembraneSubtract(subtract_value=0.5)),
        nn.Conv2d(2, 2, 1, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=0.5, spike_fn=sa.MaxSpike(3)),
    )
    text = "\n".join(_problems(model))
    assert "'1' (IAFSqueeze): MembraneSubtract(subtract_value≠threshold)" in text
    assert "'3' (IAFSqueeze): min_v_mem 0.5 must be < 0" in text
    assert "spike_fn MaxSpike is not supported" in text


def test_pool_with_stride_different_from_kernel() -> None:
    model = nn.Sequential(
        nn.Conv2d(2, 2, 1, bias=False), iaf(), nn.AvgPool2d(2, stride=1), nn.Conv2d(2, 2, 1), iaf()
    )
    (problem,) = _problems(model)
    assert "'2' (AvgPool2d): stride (1, 1) differs from the kernel (2, 2)" in problem


def test_merge_of_different_shapes() -> None:
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1, self.s1 = nn.Conv2d(2, 2, 1, bias=False), iaf()
            self.c2, self.s2 = nn.Conv2d(2, 2, 3, bias=False), iaf()
            self.m = sl.Merge()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.m(self.s1(self.c1(x)), self.s2(self.c2(x)))

    (problem,) = _problems(M())
    assert "'m' (Merge): merges inputs of different shapes (2, 16, 16) and (2, 14, 14)" in problem


def test_untraceable_forward() -> None:
    class Dyn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(2, 2, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.sum() > 0:
                return self.c(x)
            return x

    (problem,) = _problems(Dyn())
    assert problem.startswith("'Dyn.forward' cannot be traced by torch.fx")
    assert "remove Python control flow" in problem


def test_channel_mismatch_with_input_shape() -> None:
    (problem,) = _problems(seeded(build_tiny), (3, 16, 16))
    assert problem == "'0' (Conv2d 2→4, k=3): expects 2 input channels but receives 3 ((3, 16, 16))"


def test_empty_model() -> None:
    (problem,) = _problems(nn.Sequential(nn.Identity()))
    assert "contains no Conv2d/Linear followed by IAFSqueeze" in problem


def test_normalize_needs_an_input_shape() -> None:
    with pytest.raises(ModelLoadError, match=r"pass `--input-shape C,H,W`"):
        normalize(seeded(build_tiny))


# --- sinabs DVSLayer (duck-typed: sinabs.backend.dynapcnn cannot be imported without samna) ---------


class _Crop(nn.Module):
    def __init__(self, crop: tuple[tuple[int, int], tuple[int, int]]) -> None:
        super().__init__()
        (self.top_crop, self.bottom_crop), (self.left_crop, self.right_crop) = crop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, self.top_crop : self.bottom_crop, self.left_crop : self.right_crop]


class _Flip(nn.Module):
    def __init__(self, flip_x: bool, flip_y: bool, swap_xy: bool) -> None:
        super().__init__()
        self.flip_x, self.flip_y, self.swap_xy = flip_x, flip_y, swap_xy


class DVSLayer(nn.Module):
    """Mirrors the attributes of sinabs.backend.dynapcnn.DVSLayer that the compiler reads."""

    def __init__(self, input_shape: tuple[int, int], pool: int, crop, merge: bool, flip_x: bool) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.merge_polarities = merge
        self.input_shape = (1 if merge else 2, *input_shape)
        self.pool_layer = sl.SumPool2d(pool)
        self.crop_layer = _Crop(crop)
        self.flip_layer = _Flip(flip_x, False, False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


DVSLayer.__module__ = "sinabs.backend.dynapcnn.dvs_layer"  # traced as a sinabs leaf, like the real one


def test_dvs_layer_becomes_dvs_input_and_gives_the_input_shape() -> None:
    from deploy.frontend import load_model

    dvs = DVSLayer((32, 32), pool=2, crop=((2, 14), (0, 12)), merge=True, flip_x=True)
    model = nn.Sequential(dvs, nn.Conv2d(1, 4, 3, bias=False), iaf())
    loaded = load_model(model)
    assert loaded.input_shape == (2, 32, 32)
    g = normalize(loaded)
    assert g.dvs is not None
    assert g.dvs.pooling == (2, 2) and g.dvs.merge_polarities and g.dvs.flip_x
    assert g.dvs.crop == ((2, 14), (0, 12)) and g.dvs.output_shape == (1, 12, 12)
    assert g.dvs.destinations == (0,) and g.dvs.module_path == "0"
    assert g.layers[0].in_shape == (1, 12, 12) and g.entry_layers == ()


def test_dvs_layer_not_first_is_refused() -> None:
    model = nn.Sequential(
        nn.Conv2d(2, 2, 1, bias=False), iaf(), DVSLayer((16, 16), 1, ((0, 16), (0, 16)), False, False)
    )
    (problem,) = _problems(model)
    assert problem.startswith("'2' (DVSLayer): a DVS layer must be the first module")


def test_input_pooled_differently_on_two_branches() -> None:
    class TwoPools(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.p = sl.SumPool2d(2)
            self.a, self.sa = nn.Conv2d(2, 2, 1, bias=False), iaf()
            self.b, self.sb = nn.Conv2d(2, 2, 1, bias=False), iaf()

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return self.sa(self.a(self.p(x))), self.sb(self.b(x))

    (problem,) = _problems(TwoPools())
    assert problem.startswith("'input': the input is pooled differently on its way to different layers")


class Concat(nn.Module):
    """Two branches concatenated along channels: the second lands at feature_shift = 3."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.sa = nn.Conv2d(2, 3, 1, bias=False), iaf()
        self.b, self.sb = nn.Conv2d(2, 2, 1, bias=False), iaf()
        self.pool = sl.SumPool2d(2)
        self.c, self.sc = nn.Conv2d(5, 1, 1, bias=False), iaf(threshold=0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sc(self.c(self.pool(torch.cat([self.sa(self.a(x)), self.sb(self.b(x))], dim=1))))


def test_concatenation_becomes_feature_shift() -> None:
    g = normalize(seeded(Concat), (2, 4, 4))
    assert set(g.in_edges(2)) == {Edge(0, 2, 2, 0, ("pool",)), Edge(1, 2, 2, 3, ("pool",))}
    assert g.layers[2].in_shape == (5, 2, 2)


def test_concatenation_evaluates_like_the_torch_model(rng: np.random.Generator) -> None:
    from deploy.timestep import evaluate

    model = seeded(Concat, 4)
    with torch.no_grad():
        model.a.weight.fill_(1.0)
        model.b.weight.fill_(2.0)
        model.c.weight.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, -1.0]).reshape(1, 5, 1, 1))
    g = normalize(model, (2, 4, 4))
    raster = rng.integers(0, 2, size=(6, 2, 4, 4)).astype(np.float32)
    res = evaluate(g, raster)
    expected = model(torch.from_numpy(raster)).detach().numpy()
    np.testing.assert_array_equal(res.output, expected)
    assert res.spikes[1].sum() > 0


def test_concatenation_along_width_is_refused() -> None:
    class Wide(Concat):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([self.sa(self.a(x)), self.sa2(self.a2(x))], dim=3)

        def __init__(self) -> None:
            super().__init__()
            self.a2, self.sa2 = nn.Conv2d(2, 3, 1, bias=False), iaf()

    (problem,) = _problems(Wide(), (2, 4, 4))
    assert "concatenation along dim 3; only channel concatenation (dim=1) is possible" in problem


def test_stored_state_of_wrong_size_is_refused() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 1, bias=False), iaf())
    model(torch.rand(1, 1, 5, 5))  # state for 5×5, compiled for 3×3
    (problem,) = _problems(model, (1, 3, 3))
    assert "'1' (IAFSqueeze): its stored membrane state v_mem (1, 2, 5, 5) does not fit" in problem
    assert "model.reset_states()" in problem


def test_stored_nonzero_state_is_noted() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 1, bias=False), iaf())
    with torch.no_grad():
        model[0].weight.fill_(0.4)
    model(torch.ones(1, 1, 3, 3))
    g = normalize(model, (1, 3, 3))
    assert g.layers[0].initial_state is not None
    np.testing.assert_array_equal(g.layers[0].initial_state, model[1].v_mem[0].detach().numpy())
    assert float(g.layers[0].initial_state.min()) > 0.39
    assert any("starts from the membrane state stored in the model" in n for n in g.notes)


def _random_chain(gen: np.random.Generator) -> tuple[nn.Sequential, tuple[int, int, int]]:
    import sinabs.activation as sa

    c, size = int(gen.integers(1, 3)), int(gen.choice([8, 12, 16]))
    shape = (c, size, size)
    layers: list[nn.Module] = []
    h = size
    for _ in range(int(gen.integers(1, 4))):
        k = int(gen.integers(1, 4))
        stride = int(gen.choice([1, 2]))
        pad = int(gen.integers(0, k))
        if (h + 2 * pad - k) // stride + 1 < 2:
            break
        f = int(gen.integers(1, 5))
        layers.append(nn.Conv2d(c, f, k, stride=stride, padding=pad, bias=bool(gen.integers(0, 2))))
        reset = sa.MembraneReset() if gen.integers(0, 2) else sa.MembraneSubtract()
        spike = sa.SingleSpike if gen.integers(0, 2) else sa.MultiSpike
        thr = float(gen.choice([0.5, 1.0, 2.0]))
        layers.append(
            sl.IAFSqueeze(batch_size=1, spike_threshold=thr, min_v_mem=-thr, reset_fn=reset, spike_fn=spike)
        )
        c, h = f, (h + 2 * pad - k) // stride + 1
        if h >= 4 and gen.integers(0, 2):
            layers.append(sl.SumPool2d(2))
            h //= 2
    if gen.integers(0, 2):
        layers += [nn.Flatten(), nn.Linear(c * h * h, 3), iaf()]
    return nn.Sequential(*layers), shape


@pytest.mark.parametrize("seed", range(12))
def test_random_chains_evaluate_exactly_like_sinabs(seed: int) -> None:
    """normalize + timestep.evaluate compute what the sinabs model itself computes, bit for bit."""
    from deploy.timestep import evaluate

    gen = np.random.default_rng(seed)
    torch.manual_seed(seed)
    model, shape = _random_chain(gen)
    assert any(isinstance(m, sl.IAFSqueeze) for m in model)
    g = normalize(model, shape)
    raster = gen.integers(0, 3, size=(10, *shape)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(raster)).numpy()
    out = evaluate(g, raster).output
    np.testing.assert_array_equal(out.reshape(expected.shape), expected)
