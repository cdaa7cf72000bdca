"""deploy.check: every rule and hint on hand-built quantised graphs (expected numbers worked out by hand)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from _qgraphs import chain, qgraph, qlayer

from deploy.check import (
    POST_PLACEMENT_RULES,
    RULES,
    CheckWarning,
    Violation,
    Warning,
    check,
    check_placement,
    raise_on_violations,
)
from deploy.errors import ChipConstraintError
from deploy.graph import OUTPUT, DvsInput, Edge, Placement
from deploy.memory import fit_matrix
from hwconfig import get_chip

CHIP = get_chip("speck2f")


def rules_of(findings: tuple[Violation, ...] | tuple[CheckWarning, ...]) -> list[str]:
    return [f.rule for f in findings]


def only(findings, rule):  # type: ignore[no-untyped-def]
    hits = [f for f in findings if f.rule == rule]
    assert len(hits) == 1, [f.message for f in findings]
    return hits[0]


def with_head(layer):  # type: ignore[no-untyped-def]
    """``layer`` followed by a small 1×1 exit layer, so that its own out_channels are not class counts."""
    return qgraph([layer, qlayer("head", layer.source.out_shape, 2, 1)])


def test_rules_are_one_named_list() -> None:
    names = [name for name, _ in RULES]
    assert len(names) == len(set(names))
    assert {"layer_count", "memory_fit", "kernel_size", "stride", "padding", "features"} <= set(names)
    assert "input_map" in names
    assert {"output_map", "pooling", "destinations", "destination_shape", "word_ranges", "dvs"} <= set(names)
    assert [n for n, _ in POST_PLACEMENT_RULES] == ["leak_erratum"]
    assert Warning is CheckWarning


def test_clean_chain_has_no_findings(rng: np.random.Generator) -> None:
    result = check(chain(rng), CHIP)
    assert result.ok
    assert result.violations == ()
    assert result.warnings == ()
    raise_on_violations(result)  # no exception


def test_fit_matrix_numbers(rng: np.random.Generator) -> None:
    fit = fit_matrix(chain(rng), CHIP)
    # tiny_2layer: sinabs's memory_summary says kernel 128/128, neuron 1024/128 (result.json).
    assert [(m.kernel, m.neuron, m.bias) for m in fit.memory] == [(128, 1024, 0), (128, 128, 0)]
    assert fit.kernel_capacity == (16384, 16384, 16384, 32768, 32768, 65536, 65536, 16384, 16384)
    assert fit.neuron_capacity == (65536, 65536, 65536, 32768, 32768, 16384, 16384, 16384, 16384)
    assert all(all(row) for row in fit.fits)
    text = fit.format()
    assert "0 0" in text and "1 2" in text and "Conv2d 2→4, k=3" in text
    assert "65536" in text and text.count("x") >= 18


def test_too_many_neurons_names_layer_numbers_and_fixes() -> None:
    # 2×128×128, conv 16 k3 p1 → 16×128×128: N = 16·2^(7+7) = 262144 > 65536 (sinabs: too_big_neurons).
    a = qlayer("features.0", (2, 128, 128), 16, 3, padding=(1, 1))
    b = qlayer("features.2", (16, 128, 128), 4, 3, stride=(2, 2), padding=(1, 1))
    result = check(qgraph([a, b]), CHIP)
    mem = only(result.violations, "memory_fit")
    assert mem.layer == "features.0"
    assert "262144" in str(mem.measured)
    # f·2^14 ≤ 65536 → f ≤ 4; stride 2 → 64×64 → 16·2^12 = 65536 words.
    assert "reduce out_channels from 16 to ≤ 4 (fits core 0)" in mem.fix
    assert "use stride 2 (neuron memory 65536 words)" in mem.fix
    out = only(result.violations, "output_map")
    assert out.layer == "features.0" and out.measured == "128×128" and out.limit == "64×64"
    assert "use stride 2 (output 64×64)" in out.fix
    assert "pool the input by 2 (output 64×64)" in out.fix
    with pytest.raises(ChipConstraintError, match=r"features\.0.*neuron memory 262144 words > 65536") as info:
        raise_on_violations(result)
    assert len(info.value.violations) == 2


def test_too_much_kernel_memory_solves_for_out_channels_and_kernel() -> None:
    # c=64, f=128, k=5: K = 64·2^(5+7) = 262144 > 65536. f ≤ 32 (64·2^(5+5) = 65536, core 5); k ≤ 2.
    layer = qlayer("features.3", (64, 8, 8), 128, 5, padding=(2, 2))
    result = check(with_head(layer), CHIP)
    mem = only(result.violations, "memory_fit")
    head = "[memory_fit] layer 'features.3': (Conv2d 64→128, k=5) kernel memory 262144"
    assert mem.message.startswith(head)
    assert "reduce out_channels from 128 to ≤ 32 (fits core 5)" in mem.fix
    assert "use kernel_size ≤ 2" in mem.fix


def test_exit_layer_hints_never_shrink_the_class_count() -> None:
    # The same too-big layers as above, now the model's exit layer: out_channels are its classes.
    kernel = qlayer("classifier", (64, 8, 8), 128, 5, padding=(2, 2))
    mem = only(check(qgraph([kernel]), CHIP).violations, "memory_fit")
    assert "out_channels" not in mem.fix and mem.fix == "use kernel_size ≤ 2"
    neurons = qlayer("classifier", (2, 128, 128), 16, 3, padding=(1, 1))
    mem = only(check(qgraph([neurons]), CHIP).violations, "memory_fit")
    assert "out_channels" not in mem.fix and mem.fix == "use stride 2 (neuron memory 65536 words)"
    # Nothing of its own fits: the fix points before the layer. 1100 classes with a bias: B = 1100 > 1024.
    wide = qlayer("classifier", (1, 1, 1), 1100, 1, bias=[1] * 1100)
    mem = only(check(qgraph([wide]), CHIP).violations, "memory_fit")
    assert mem.fix.startswith("its out_channels are the class count: reduce its input channels")


def test_kernel_and_neuron_fit_different_cores() -> None:
    # K = 16·2^(4+8) = 65536 → only cores 5/6; N = 256·2^(3+3)= 16384 fits all → fits 5, 6. Make N 32768:
    # 256 features on 16×8 → 256·2^(4+3) = 32768 → cores 0..4 only; no core holds both.
    layer = qlayer("c", (16, 16, 8), 256, 3, padding=(1, 1))
    result = check(with_head(layer), CHIP)
    mem = only(result.violations, "memory_fit")
    assert "fits only cores [5, 6]" in mem.message and "fits only cores [0, 1, 2, 3, 4]" in mem.message
    # f=128: K = 32768 (cores 3..6), N = 16384 (all) → core 3.
    assert "≤ 128 (fits core 3)" in mem.fix


def test_layer_count() -> None:
    layers = [qlayer(f"l{i}", (2, 8, 8), 2, 1) for i in range(10)]
    result = check(qgraph(layers), CHIP)
    v = only(result.violations, "layer_count")
    assert (v.measured, v.limit) == (10, 9)
    assert "'l9'" in v.message and "remove or merge 1 spiking layer(s)" in v.fix


def test_non_square_kernel_conv_and_linear() -> None:
    conv = qlayer("conv", (2, 16, 16), 4, (3, 5))
    result = check(qgraph([conv]), CHIP)
    v = only(result.violations, "kernel_size")
    assert v.measured == "3×5" and "kernel_size=5" in v.fix
    lin = qlayer("fc", (4, 8, 6), 10, (8, 6), kind="linear")
    v = only(check(qgraph([lin]), CHIP).violations, "kernel_size")
    assert "Linear 192→10 as 8×6 conv" in v.message
    assert "make the map square" in v.fix


def test_kernel_too_large_for_linear_suggests_pooling() -> None:
    lin = qlayer("fc", (2, 32, 32), 10, 32, kind="linear")
    v = only(check(qgraph([lin]), CHIP).violations, "kernel_size")
    assert v.measured == 32 and v.limit == "1..16"
    assert "pool by 2 before it (kernel 16)" in v.fix


def test_stride_padding_features() -> None:
    a = qlayer("a", (2, 32, 32), 4, 3, stride=(3, 1), padding=(8, 0))
    result = check(qgraph([a]), CHIP)
    s = only(result.violations, "stride")
    assert s.measured == 3 and "use stride 2 on y" in s.fix
    p = only(result.violations, "padding")
    assert p.measured == 8 and p.limit == "0..7" and "padding ≤ 7 on y" in p.fix
    big = qlayer("big", (2, 1, 1), 2000, 1)
    f = only(check(qgraph([big]), CHIP).violations, "features")
    assert f.measured == 2000 and "split the layer in 2 parts" in f.fix


def test_input_map_too_large() -> None:
    a = qlayer("a", (1, 200, 100), 1, 4, stride=(4, 4))
    v = only(check(qgraph([a]), CHIP).violations, "input_map")
    assert v.measured == "200×100" and "pool the input by 2 (map 100×50)" in v.fix


def test_empty_output_map() -> None:
    a = qlayer("a", (1, 2, 2), 1, 5)
    v = only(check(qgraph([a]), CHIP).violations, "output_map")
    assert "is empty" in v.message


def test_pooling_and_destination_rules(rng: np.random.Generator) -> None:
    a = qlayer("a", (2, 16, 16), 4, 3, padding=(1, 1), rng=rng)
    b = qlayer("b", (4, 5, 5), 4, 1, rng=rng)
    c = qlayer("c", (4, 2, 2), 2, 1, rng=rng)
    d = qlayer("d", (8, 16, 16), 2, 1, rng=rng)
    edges = [Edge(0, 1, pooling=3), Edge(0, 2, pooling=8), Edge(0, 3, feature_shift=6), Edge(1, OUTPUT)]
    edges += [Edge(2, OUTPUT), Edge(3, OUTPUT)]
    result = check(qgraph([a, b, c, d], edges), CHIP)
    pools = [v for v in result.violations if v.rule == "pooling"]
    assert [v.measured for v in pools] == [3, 8]
    assert "use pooling in [1, 2, 4]" in pools[0].fix
    assert "use pooling 4 and stride 2 in 'c'" in pools[1].fix
    dest = only(result.violations, "destinations")
    assert dest.measured == 3 and dest.limit == 2
    shape = [v for v in result.violations if v.rule == "destination_shape"]
    # 16×16 pooled by 3 → 5×5 matches b; by 8 → 2×2 matches c; feature_shift 6 + 4 > 8 input features of d.
    assert len(shape) == 1 and shape[0].measured == 10 and shape[0].limit == 8
    warn = only(result.warnings, "pooling_divisibility")
    assert warn.measured == "16×16" and "multiple of 3" in warn.limit


def test_destination_size_mismatch_and_self_loop(rng: np.random.Generator) -> None:
    a = qlayer("a", (2, 16, 16), 4, 3, padding=(1, 1), rng=rng)
    b = qlayer("b", (4, 16, 16), 4, 1, rng=rng)
    result = check(qgraph([a, b], [Edge(0, 1, pooling=2), Edge(1, 1), Edge(1, OUTPUT)]), CHIP)
    shape = only(result.violations, "destination_shape")
    assert shape.measured == "8×8" and shape.limit == "16×16"
    assert "self-loop" in only(result.violations, "destinations").message


def test_word_ranges(rng: np.random.Generator) -> None:
    w = rng.integers(-10, 10, size=(2, 2, 1, 1))
    w[0, 0, 0, 0] = 200
    a = qlayer("a", (2, 4, 4), 2, 1, weight=w, bias=[40000, 0], threshold_low=0, threshold_high=300)
    result = check(qgraph([a]), CHIP)
    wr = only(result.violations, "weight_range")
    assert wr.measured == "[-10, 200]" or wr.measured.endswith(", 200]")
    assert "0.635× the current one fits" in wr.fix  # 127 / 200
    assert only(result.violations, "bias_range").limit == "[-32768, 32767]"
    thr = only(result.violations, "threshold_range")
    assert thr.measured == 0 and "negative min_v_mem" in thr.fix


def test_warnings_spike_loss_overflow_leak_merge(rng: np.random.Generator) -> None:
    w = np.full((2, 2, 1, 1), 100)
    a = qlayer("a", (2, 4, 4), 2, 1, weight=w, threshold_high=40)
    b = qlayer("b", (2, 4, 4), 2, 1, weight=w, threshold_high=32700, bias=[3, 0])
    c = qlayer("c", (2, 4, 4), 2, 1, rng=rng)
    edges = [Edge(0, 2), Edge(1, 2), Edge(2, OUTPUT)]
    result = check(qgraph([a, b, c], edges), CHIP)
    assert result.ok
    loss = only(result.warnings, "spike_loss")
    assert (loss.layer, loss.measured, loss.limit) == ("a", 100, 40)
    assert "up to 3 times" in loss.message and "0.4" in loss.fix  # v = 39, + 100 → 139 = 3 × 40 + 19
    ovf = only(result.warnings, "overflow")
    assert (ovf.layer, ovf.measured, ovf.limit) == ("b", 32800, 32767)
    assert "≤ 32667" in ovf.fix
    assert only(result.warnings, "leak").layer == "b"
    assert "merge" not in rules_of(result.warnings)  # equal ranges: a residual sum, as intended


def test_spike_loss_counts_crossings_from_just_below_threshold() -> None:
    a = qlayer("a", (2, 4, 4), 2, 1, weight=np.full((2, 2, 1, 1), 50), threshold_high=40)
    loss = only(check(qgraph([a]), CHIP).warnings, "spike_loss")
    assert "up to 2 times" in loss.message  # v = 39, + 50 → 89 = 2 × 40 + 9 (never "up to 1 times")


def test_merge_warns_only_for_partly_overlapping_feature_ranges(rng: np.random.Generator) -> None:
    a = qlayer("a", (2, 4, 4), 2, 1, rng=rng)
    b = qlayer("b", (2, 4, 4), 2, 1, rng=rng)
    c = qlayer("c", (3, 4, 4), 2, 1, rng=rng)
    edges = [Edge(0, 2), Edge(1, 2, feature_shift=1), Edge(2, OUTPUT)]
    merge = only(check(qgraph([a, b, c], edges), CHIP).warnings, "merge")
    assert merge.layer == "c" and "overlap in part" in merge.message and "torch.cat" in merge.fix
    disjoint = [Edge(0, 2), Edge(1, 2, feature_shift=2), Edge(2, OUTPUT)]
    c4 = qlayer("c", (4, 4, 4), 2, 1, rng=rng)
    assert "merge" not in rules_of(check(qgraph([a, b, c4], disjoint), CHIP).warnings)


def test_readout_rules() -> None:
    exit_layer = qlayer("fc", (4, 1, 1), 16, 1)
    result = check(qgraph([exit_layer]), CHIP, readout=True)
    classes = only(result.violations, "readout")  # emit cannot serve 16 classes: a violation
    assert classes.measured == 16 and classes.limit == 14 and "use ≤ 14 classes" in classes.fix
    assert "from 16 to 61 channels" in only(result.warnings, "readout").message
    plain = check(qgraph([exit_layer]), CHIP)
    assert "readout" not in rules_of(plain.violations) + rules_of(plain.warnings)


def test_readout_needs_a_1x1_map_and_a_free_destination_slot(rng: np.random.Generator) -> None:
    conv = qlayer("conv", (2, 4, 4), 2, 3, padding=(1, 1), rng=rng)
    v = only(check(qgraph([conv]), CHIP, readout=True).violations, "readout")
    assert (v.layer, v.measured, v.limit) == ("conv", "4×4", "1×1") and "Linear" in v.fix
    a, b, c = (qlayer(n, (2, 1, 1), 2, 1, rng=rng) for n in "abc")
    # 'a' is the only exit and already uses both slots; the readout would be its third destination.
    g = qgraph([a, b, c], [Edge(0, 1), Edge(0, 2), Edge(0, OUTPUT)])
    assert "destinations" not in rules_of(check(g, CHIP).violations)
    no_erratum = dataclasses.replace(CHIP, readout_class_erratum=False)
    v = only(check(g, no_erratum, readout=True).violations, "readout")
    assert (v.layer, v.measured, v.limit) == ("a", 3, 2) and "feed at most 1 other layers" in v.fix
    # With the erratum the expanded exit layer may not feed other layers at all (they would get 5 channels).
    one = qgraph([a, b], [Edge(0, 1), Edge(0, OUTPUT)])
    v = only(check(one, CHIP, readout=True).violations, "readout")
    assert "expanded from 2 to 5 channels" in v.message and "also feeds 'b'" in v.message
    assert check(one, no_erratum, readout=True).ok


def test_fit_matrix_sizes_the_readout_expanded_exit_layer(rng: np.random.Generator) -> None:
    # c=512, k=1, 14 classes → 53 channels on speck2f: K = 512·2^(0+6) = 32768 (cores 3..6 only);
    # unexpanded 14 channels: K = 512·2^4 = 8192 (every core).
    fc = qlayer("fc", (512, 1, 1), 14, 1, rng=rng)
    g = qgraph([fc])
    assert fit_matrix(g, CHIP).cores_for(0) == tuple(range(9))
    fit = fit_matrix(g, CHIP, readout=True)
    assert fit.readout_expansion == (0, 53) and fit.memory[0].kernel == 32768
    assert fit.cores_for(0) == (3, 4, 5, 6) and "(readout: 53 ch)" in fit.layer_descriptions[0]
    assert check(g, CHIP, readout=True).fit_matrix == fit
    no_erratum = get_chip("dynapcnn")
    assert fit_matrix(g, no_erratum, readout=True).readout_expansion is None


def test_readout_expansion_that_fits_no_core_is_a_memory_violation(rng: np.random.Generator) -> None:
    # c=512, k=2 on a 2×2 map, 14 classes: K = 512·2^(2+4) = 32768 fits cores 3..6; expanded to 53
    # channels K = 512·2^(2+6) = 131072 > 65536, the largest kernel memory.
    fc = qlayer("fc", (512, 2, 2), 14, 2, rng=rng)
    assert check(qgraph([fc]), CHIP).ok
    v = only(check(qgraph([fc]), CHIP, readout=True).violations, "memory_fit")
    assert "kernel memory 131072 words > 65536" in v.message
    assert "14 classes expanded to 53 channels" in v.message
    assert "out_channels" not in v.fix  # the exit layer's channels are the class count: never shrunk
    assert "use kernel_size ≤ 1" in v.fix  # 512·2^(0+6) = 32768


def test_dvs_rules(rng: np.random.Generator) -> None:
    first = qlayer("conv0", (2, 64, 64), 4, 3, padding=(1, 1), rng=rng)
    dvs = DvsInput(input_shape=(3, 128, 128), pooling=(3, 2), destinations=(0, 0, 0), module_path="dvs")
    result = check(qgraph([first], dvs=dvs), CHIP)
    msgs = [v.message for v in result.violations if v.rule == "dvs"]
    assert any("3 channels" in m for m in msgs)
    assert any("DVS pooling y=3" in m and "use DVS pooling 2" in m for m in msgs)
    assert any("feeds 3 layers" in m for m in msgs)
    assert any("DVS output 3×42×64" in m for m in msgs)
    ok = DvsInput(input_shape=(2, 128, 128), pooling=(2, 2), destinations=(0,))
    assert check(qgraph([first], dvs=ok), CHIP).ok


def test_dvs_on_chip_without_dvs(rng: np.random.Generator) -> None:
    chip = dataclasses.replace(CHIP, has_dvs=False)
    first = qlayer("conv0", (2, 64, 64), 4, 3, padding=(1, 1), rng=rng)
    dvs = DvsInput(input_shape=(2, 64, 64), destinations=(0,))
    v = only(check(qgraph([first], dvs=dvs), chip).violations, "dvs")
    assert "has no DVS layer" in v.message


def test_every_violation_is_reported_at_once() -> None:
    a = qlayer("a", (2, 16, 16), 4, (3, 5), stride=(3, 3), padding=(9, 9))
    result = check(qgraph([a]), CHIP)
    assert {"kernel_size", "stride", "padding"} <= set(rules_of(result.violations))
    with pytest.raises(ChipConstraintError, match=r"\(5 violation\(s\)\)") as info:
        raise_on_violations(result)
    assert len(info.value.violations) == len(result.violations) == 5


def test_leak_erratum_post_placement(rng: np.random.Generator) -> None:
    a = qlayer("a", (2, 4, 4), 2, 1, bias=[1, -1], rng=rng)
    b = qlayer("b", (2, 4, 4), 2, 1, rng=rng)
    g = qgraph([a, b])
    warn = check_placement(g, Placement(core_of=(0, 1)), CHIP)
    assert len(warn) == 1 and warn[0].rule == "leak_erratum" and warn[0].measured == 0
    assert "free cores without the erratum: [2, 3, 4, 5, 6, 7, 8]" in warn[0].fix
    assert check_placement(g, Placement(core_of=(2, 1)), CHIP) == ()


def test_remaining_hints(rng: np.random.Generator) -> None:
    # Conv kernel 17 (> 16): generic range fix.
    v = only(check(qgraph([qlayer("k17", (1, 20, 20), 1, 17)]), CHIP).violations, "kernel_size")
    assert v.measured == 17 and "use kernel_size in 1..16" in v.fix
    # A Linear over a 100×100 map: no pooling in {1, 2, 4} brings its kernel to ≤ 16.
    lin = qlayer("fc", (1, 100, 100), 2, 100, kind="linear")
    v = next(x for x in check(qgraph([lin]), CHIP).violations if x.rule == "kernel_size")
    assert "reduce the map before the Linear layer to ≤ 16×16" in v.fix
    # Input map 600 wide: no allowed pooling fits → generic fix.
    wide = qlayer("wide", (1, 8, 600), 1, 8, stride=(8, 8))
    v = only(check(qgraph([wide]), CHIP).violations, "input_map")
    assert "reduce the input map to ≤ 128×128" in v.fix
    # Its output is 1×75 ((600 − 8)//8 + 1); stride is already 8, and pooling the 8-row input by 2 or 4
    # leaves fewer rows than the kernel: only the generic fix remains.
    v = only(check(qgraph([wide]), CHIP).violations, "output_map")
    assert v.measured == "1×75" and v.fix == "reduce the output map to ≤ 64×64"


def test_threshold_high_and_state_ranges() -> None:
    state = np.zeros((1, 4, 4), np.int64)
    state[0, 0, 0] = 40000
    a = qlayer("a", (1, 4, 4), 1, 1, threshold_high=40000, initial_state=state)
    result = check(qgraph([a]), CHIP)
    thr = only(result.violations, "threshold_range")
    assert thr.measured == 40000 and "quantise threshold_high into [0, 32767]" in thr.fix
    assert only(result.violations, "state_range").measured == "[0, 40000]"


def test_bias_memory_over_capacity() -> None:
    # 1100 features with a bias: B = 1100 > 1024 bias words on every core (and > 1024 features).
    a = qlayer("a", (1, 1, 1), 1100, 1, bias=[1] * 1100)
    mem = only(check(with_head(a), CHIP).violations, "memory_fit")
    assert "bias memory 1100 words > 1024" in mem.message
    assert "reduce out_channels from 1100 to ≤ 1024 (fits core 0)" in mem.fix


def test_edges_to_unknown_layers(rng: np.random.Generator) -> None:
    a = qlayer("a", (2, 4, 4), 2, 1, rng=rng)
    v = only(check(qgraph([a], [Edge(0, 5)]), CHIP).violations, "destinations")
    assert "edges to unknown layers [5]" in v.message


def test_dvs_larger_than_sensor(rng: np.random.Generator) -> None:
    first = qlayer("conv0", (2, 128, 64), 2, 3, stride=(2, 1), padding=(1, 1), rng=rng)
    dvs = DvsInput(input_shape=(2, 256, 128), pooling=(2, 2), destinations=(0,))
    msgs = [v.message for v in check(qgraph([first], dvs=dvs), CHIP).violations if v.rule == "dvs"]
    assert any("DVS input 256×128 larger than the sensor 128×128" in m for m in msgs)


def test_readout_needs_one_exit_and_a_readout_layer(rng: np.random.Generator) -> None:
    a = qlayer("a", (2, 1, 1), 2, 1, rng=rng)
    b = qlayer("b", (2, 1, 1), 2, 1, rng=rng)
    two = qgraph([a, b], [Edge(0, 1), Edge(0, OUTPUT), Edge(1, OUTPUT)])
    v = only(check(two, CHIP, readout=True).violations, "readout")
    assert (v.measured, v.limit) == (2, 1)
    no_readout = dataclasses.replace(CHIP, has_readout=False)
    v = only(check(qgraph([a]), no_readout, readout=True).violations, "readout")
    assert "has no readout layer" in v.message and v.fix.startswith("drop --readout (Python: readout=False)")


def test_leak_erratum_without_free_cores() -> None:
    layers = [qlayer(f"b{i}", (2, 4, 4), 2, 1, bias=[1, 1]) for i in range(9)]
    g = qgraph(layers)
    warns = check_placement(g, Placement(core_of=tuple(range(9))), CHIP)
    assert [w.layer for w in warns] == ["b0", "b1"]
    assert all("remove its bias, or free a core without the erratum" in w.fix for w in warns)
