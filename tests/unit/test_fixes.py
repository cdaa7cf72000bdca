"""deploy.fixes: one set of changes that makes the whole model fit, proven by checking the changed model.

Every fix found here is also applied to the torch model by an independent helper
(tests/helpers/apply_changes.py) and the edited model is checked from scratch with
:func:`deploy.pipeline.check_model`. Memory figures are worked out by hand from SPECK_SEMANTICS §7.1:
kernel = c · 2^(ceil(log2(k²)) + ceil(log2(f))), neuron = f · 2^(ceil(log2(H)) + ceil(log2(W))); speck2f
cores 0–2 hold kernel 16384 / neuron 65536, 3–4 32768 / 32768, 5–6 65536 / 16384, 7–8 16384 / 16384.
"""

from __future__ import annotations

import json

import sinabs.layers as sl
import torch
from helpers.apply_changes import apply_changes_to_module
from helpers.reference_data import reference_file
from helpers.snn_models import iaf
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn

from deploy.fixes import JointFix, LayerChange, NoJointFix, apply_changes, find_joint_fix, format_joint_fix
from deploy.pipeline import ModelCheck, check_model
from hwconfig import get_chip

CHIP = get_chip("speck2f")


def checked(model: nn.Module, shape: tuple[int, int, int]) -> ModelCheck:
    return check_model(model, CHIP, shape)


def proven_fix(model: nn.Module, shape: tuple[int, int, int]) -> JointFix:
    verdict = checked(model, shape)
    assert not verdict.fits
    fix = find_joint_fix(verdict.graph, CHIP)
    assert isinstance(fix, JointFix), fix
    assert fix.check.ok and fix.placement is not None  # the proof travels with the fix
    exits = {verdict.graph.layers[i].name for i in verdict.graph.exit_layers}
    assert not [c for c in fix.changes if c.field == "out_channels" and c.layer_name in exits]
    return fix


def assert_fits_when_applied(model: nn.Sequential, fix: JointFix, shape: tuple[int, int, int]) -> None:
    edited = apply_changes_to_module(model, fix.changes, shape)
    verdict = checked(edited, shape)
    assert verdict.fits, [v.message for v in verdict.check.violations]


def too_big_neurons() -> nn.Sequential:
    model = torch.load(reference_file("too_big_neurons", "model.pt"), weights_only=False)
    assert isinstance(model, nn.Sequential)
    return model


def test_too_big_neurons_one_stride_change_fixes_it() -> None:
    # conv 2→16 k3 p1 on 128×128: neuron 16·2^14 = 262144 > 65536 and map 128 > 64. Stride 2 → 64×64:
    # 16·2^12 = 65536 (cores 0–2); the next layer (16→4, k3 s2 p1) then sees 64×64 → 32×32: 4096 words.
    model = too_big_neurons()
    fix = proven_fix(model, (2, 128, 128))
    assert fix.changes == (LayerChange("0", "stride", 1, 2),)
    assert fix.graph.layers[0].out_shape == (16, 64, 64)
    assert fix.graph.layers[1].in_shape == (16, 64, 64) and fix.graph.layers[1].out_shape == (4, 32, 32)
    assert fix.placement.core_of == (0, 1)
    assert_fits_when_applied(model, fix, (2, 128, 128))
    text = format_joint_fix(fix, CHIP)
    assert text.startswith("one change makes the whole model fit speck2f (checked: every rule passes")
    assert "layer '0': stride 1 → 2" in text
    summary = json.loads(json.dumps(fix.as_dict()))
    assert summary["changes"] == [{"layer": "0", "field": "stride", "old": 1, "new": 2}]
    assert summary["proof"]["placement"] == {"0": 0, "2": 1} and summary["found"] is True


def issue_model() -> nn.Sequential:
    """Issue #13's shape: two 128×128 convs and a Linear classifier; per-layer hints disagree."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 8, 3, padding=1, bias=False),
        iaf(),
        nn.Conv2d(8, 16, 3, padding=1, bias=False),
        iaf(),
        sl.SumPool2d(2),
        nn.Conv2d(16, 16, 3, padding=1, bias=False),
        iaf(),
        sl.SumPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 32 * 32, 10, bias=False),
        iaf(),
    )


def test_one_early_stride_fixes_every_violation_and_the_classifier_follows() -> None:
    model = issue_model()
    verdict = checked(model, (2, 128, 128))
    # Six violations on three layers; the per-layer hints each see one layer (stride 2 for '0' and '2', a
    # smaller kernel for the classifier).
    assert len(verdict.check.violations) == 6
    assert {v.layer for v in verdict.check.violations} == {"0", "2", "9"}
    fix = proven_fix(model, (2, 128, 128))
    # Stride 2 on '0': '0' 8·2^12 = 32768, '2' 16·2^12 = 65536, pool → '5' 16·2^10 = 16384, pool → the
    # Linear sees 16×16×16: its kernel becomes 16×16 (k = 16 allowed), kernel 16·2^(8+4) = 65536 (cores 5–6).
    assert fix.changes == (LayerChange("0", "stride", 1, 2),)
    classifier = fix.graph.layers[3]
    assert classifier.kind == "linear" and classifier.weight.shape == (10, 16, 16, 16)
    assert classifier.out_features == 10
    assert_fits_when_applied(model, fix, (2, 128, 128))


def two_layer_model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False),
        iaf(),
        nn.Conv2d(4, 1024, 9, 8, 4, bias=False),
        iaf(),
        nn.Conv2d(1024, 10, 1, bias=False),
        iaf(),
    )


def test_a_model_where_two_layers_must_change() -> None:
    # '0' maps 128×128 → 128×128 > 64: only its own stride shrinks its output map. '2' (4→1024, k9) needs
    # kernel 4·2^(7+10) = 524288 words, > 65536 even with 1 input channel (2^17): only '2' itself can fix it.
    model = two_layer_model()
    fix = proven_fix(model, (2, 128, 128))
    assert fix.layers_touched == ("0", "2")
    assert LayerChange("0", "stride", 1, 2) in fix.changes
    assert_fits_when_applied(model, fix, (2, 128, 128))
    for name in ("0", "2"):
        alone = [c for c in fix.changes if c.layer_name == name]
        edited = apply_changes_to_module(model, alone, (2, 128, 128))
        assert not checked(edited, (2, 128, 128)).fits, name
    verdict = checked(model, (2, 128, 128))
    one_layer = find_joint_fix(verdict.graph, CHIP, max_layers=1)
    assert isinstance(one_layer, NoJointFix) and one_layer.exhausted
    assert "search space exhausted" in one_layer.reason


def test_apply_changes_propagates_through_the_graph() -> None:
    verdict = checked(two_layer_model(), (2, 128, 128))
    changed = apply_changes(
        verdict.graph,
        [LayerChange("0", "out_channels", 4, 2), LayerChange("2", "kernel_size", 9, 3)],
    )
    first, second, head = changed.layers
    assert first.weight.shape == (2, 2, 3, 3)
    # '2' keeps the first 2 input channels and the centre 3×3; padding 4 → 1 keeps (128 − 3 + 2)//8 + 1 = 16.
    assert (
        second.weight.shape == (1024, 2, 3, 3)
        and second.padding == (1, 1)
        and second.out_shape[1:] == (16, 16)
    )
    assert (second.weight == verdict.graph.layers[1].weight[:, :2, 3:6, 3:6]).all()
    assert head.in_shape == (1024, 16, 16) and head.weight.shape == (10, 1024, 1, 1)


def test_the_classifier_class_count_is_never_changed() -> None:
    # conv 2→16 k3 s2 on 16×16 → 16×8×8 → Linear 1024→1000: kernel 16·2^(6+10) = 2^20 words. Shrinking the
    # 1000 classes would be one per-layer answer; the fix must act before the classifier instead.
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 16, 3, 2, 1, bias=False),
        iaf(),
        nn.Flatten(),
        nn.Linear(16 * 8 * 8, 1000, bias=False),
        iaf(),
    )
    verdict = checked(model, (2, 16, 16))
    hints = [v.fix for v in verdict.check.violations if v.layer == "3"]
    assert hints and not any("out_channels" in h for h in hints)
    fix = proven_fix(model, (2, 16, 16))
    assert fix.layers_touched == ("0",)
    assert fix.graph.layers[1].out_features == 1000
    assert_fits_when_applied(model, fix, (2, 16, 16))


def test_a_model_that_cannot_be_fixed_says_why() -> None:
    # 128 input channels (the model input) → 1024 classes, k = 1: kernel 128·2^(0+10) = 131072 > 65536.
    # Only the input channels could shrink it; stride changes (the whole space) leave the kernel as it is.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(128, 1024, 1, bias=False), iaf())
    verdict = checked(model, (128, 4, 4))
    assert [v.rule for v in verdict.check.violations] == ["memory_fit"]
    assert "its out_channels are the class count" in verdict.check.violations[0].fix
    fix = find_joint_fix(verdict.graph, CHIP)
    assert isinstance(fix, NoJointFix) and fix.exhausted, fix
    assert fix.search_space == 3 and "none of the 3 candidate models" in fix.reason  # stride 2, 4 or 8
    assert format_joint_fix(fix, CHIP).startswith("no joint fix: search space exhausted")
    assert json.loads(json.dumps(fix.as_dict()))["found"] is False


def test_too_many_classes_is_refused_without_a_search() -> None:
    # 2000 classes > 1024 output features of a core, and the class count is never changed.
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, bias=False), iaf(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2000, bias=False), iaf()
    )
    fix = find_joint_fix(checked(model, (2, 8, 8)).graph, CHIP)
    assert isinstance(fix, NoJointFix) and fix.search_space == 0
    assert fix.reason.startswith("the exit layer '3' has 2000 classes and a core holds at most 1024 output")


def test_a_rule_about_something_else_is_refused_without_a_search() -> None:
    # Ten spiking layers for nine cores: no size change removes a layer.
    layers: list[nn.Module] = []
    for _ in range(10):
        layers += [nn.Conv2d(2, 2, 1, bias=False), iaf()]
    verdict = checked(nn.Sequential(*layers), (2, 8, 8))
    fix = find_joint_fix(verdict.graph, CHIP)
    assert isinstance(fix, NoJointFix) and fix.search_space == 0
    assert "[layer_count]" in fix.reason and "not about sizes" in fix.reason


def test_the_search_is_bounded() -> None:
    verdict = checked(two_layer_model(), (2, 128, 128))
    fix = find_joint_fix(verdict.graph, CHIP, max_candidates=0)
    assert isinstance(fix, NoJointFix) and not fix.exhausted
    assert fix.reason.startswith("search stopped after 0 candidate models")
    assert f"of {fix.search_space}" in fix.reason
    stopped = find_joint_fix(verdict.graph, CHIP, time_budget_s=0.0)
    assert isinstance(stopped, NoJointFix) and "search stopped" in stopped.reason


def test_a_model_that_fits_needs_no_change() -> None:
    torch.manual_seed(0)
    verdict = checked(nn.Sequential(nn.Conv2d(2, 4, 3, bias=False), iaf()), (2, 8, 8))
    fix = find_joint_fix(verdict.graph, CHIP)
    assert isinstance(fix, JointFix) and fix.changes == ()


@st.composite
def sequential_models(draw: st.DrawFn) -> tuple[nn.Sequential, tuple[int, int, int]]:
    """Small conv chains (optionally pooled, optionally ending in a Linear classifier), often too big."""
    side = draw(st.sampled_from([32, 64, 128]))
    layers: list[nn.Module] = []
    c = 2
    for _ in range(draw(st.integers(1, 3))):
        f = draw(st.sampled_from([2, 8, 32, 128]))
        k = draw(st.sampled_from([1, 3, 5, 7]))
        layers += [nn.Conv2d(c, f, k, draw(st.sampled_from([1, 2])), k // 2, bias=False), iaf()]
        if draw(st.booleans()):
            layers.append(sl.SumPool2d(2))
        c = f
    shapes = nn.Sequential(*(m for m in layers if not isinstance(m, sl.IAFSqueeze)))  # no stored states
    try:
        with torch.no_grad():
            n_in = shapes(torch.zeros(1, 2, side, side)).numel()
    except RuntimeError:  # the map shrank to nothing
        assume(False)
    if draw(st.booleans()) and n_in <= 2**16:
        layers += [nn.Flatten(), nn.Linear(n_in, 10, bias=False), iaf()]
    return nn.Sequential(*layers), (2, side, side)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequential_models())
def test_every_fix_found_fits_when_applied_to_the_torch_model(
    case: tuple[nn.Sequential, tuple[int, int, int]],
) -> None:
    model, shape = case
    verdict = checked(model, shape)
    assume(not verdict.fits)
    fix = find_joint_fix(verdict.graph, CHIP)
    assume(isinstance(fix, JointFix))
    assert isinstance(fix, JointFix)
    exits = {verdict.graph.layers[i].name for i in verdict.graph.exit_layers}
    assert not [c for c in fix.changes if c.field == "out_channels" and c.layer_name in exits]
    assert_fits_when_applied(model, fix, shape)
