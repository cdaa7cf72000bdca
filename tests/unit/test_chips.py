"""Chip registry and the §7.1 memory formulas."""

from __future__ import annotations

import pytest

from hwconfig import CHIPS, ChipSpec, UnknownChipError, get_chip
from hwconfig.spec import ceil_log2, conv_output_size, kernel_memory_words, neuron_memory_words

KI = 1024


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("speck2f", "speck2f"),
        ("speck", "speck2f"),
        ("Speck2fModule", "speck2f"),
        (" speck2fdevkit ", "speck2f"),
        ("speck2e", "speck2e"),
        ("speck2edevkit", "speck2e"),
        ("DYNAPCNN", "dynapcnn"),
        ("dynapcnndevkit", "dynapcnn"),
    ],
)
def test_get_chip_names_and_aliases(name: str, canonical: str) -> None:
    spec = get_chip(name)
    assert spec is CHIPS[canonical]
    assert spec.name == canonical


def test_get_chip_passes_a_spec_through() -> None:
    spec = CHIPS["speck2e"]
    assert get_chip(spec) is spec


def test_unknown_chip_lists_the_valid_ones() -> None:
    with pytest.raises(
        UnknownChipError,
        match=r"unknown chip 'speck3'; valid chips: dynapcnn, speck2e, speck2f; aliases: .*speck → speck2f",
    ):
        get_chip("speck3")


@pytest.mark.parametrize("spec", CHIPS.values(), ids=list(CHIPS))
def test_core_memories(spec: ChipSpec) -> None:
    """SPECK_SEMANTICS §7.1 table, and the 327,680 neurons of §1."""
    table = {c.core_id: (c.kernel_memory, c.neuron_memory, c.bias_memory) for c in spec.cores}
    assert table == {
        0: (16 * KI, 64 * KI, KI),
        1: (16 * KI, 64 * KI, KI),
        2: (16 * KI, 64 * KI, KI),
        3: (32 * KI, 32 * KI, KI),
        4: (32 * KI, 32 * KI, KI),
        5: (64 * KI, 16 * KI, KI),
        6: (64 * KI, 16 * KI, KI),
        7: (16 * KI, 16 * KI, KI),
        8: (16 * KI, 16 * KI, KI),
    }
    assert sum(c.neuron_memory for c in spec.cores) == 327_680
    assert sum(c.kernel_memory for c in spec.cores) == 272 * KI
    assert [c.core_id for c in spec.cores if c.parallel] == [0, 1]
    assert spec.n_cores == 9 and spec.core_ids == tuple(range(9))


def test_word_ranges_and_destinations() -> None:
    spec = get_chip("speck2f")
    assert spec.weight_range == (-128, 127)
    assert spec.state_range == spec.bias_range == (-32768, 32767)
    assert spec.valid_destination_layers == frozenset({*range(9), 12})
    assert spec.core(5).kernel_memory == 64 * KI
    with pytest.raises(KeyError, match=r"speck2f has no core 9; cores are \[0, 1, 2, 3, 4, 5, 6, 7, 8\]"):
        spec.core(9)


@pytest.mark.parametrize(
    ("n", "expected"), [(1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (9, 4), (64, 6), (65, 7)]
)
def test_ceil_log2(n: int, expected: int) -> None:
    assert ceil_log2(n) == expected


def test_ceil_log2_rejects_zero() -> None:
    with pytest.raises(ValueError, match="ceil_log2 needs n >= 1, got 0"):
        ceil_log2(0)


def test_worked_example_12b9_fits_no_core() -> None:
    """SPECK_SEMANTICS §12b.9: Conv2d(16→32, 3×3, p=1) on 64×64."""
    out = conv_output_size(64, 3, 1, 1)
    assert out == 64
    kernel = kernel_memory_words(16, 32, 3)
    neurons = neuron_memory_words(32, out, out)
    assert kernel == 16 * 2 ** (4 + 5) == 8 * KI
    assert neurons == 32 * 2 ** (6 + 6) == 128 * KI
    for spec in CHIPS.values():
        assert all(kernel <= c.kernel_memory for c in spec.cores)  # the kernel fits anywhere
        assert not any(neurons <= c.neuron_memory for c in spec.cores)  # the neurons fit nowhere


@pytest.mark.parametrize(
    ("c", "f", "k", "words"),
    [
        (1, 1, 1, 1),
        (2, 8, 3, 2 * 2 ** (4 + 3)),  # 3×3 = 9 entries round up to 16
        (1024, 1, 4, 16 * KI),  # §7.1 note b: exactly the capacity of a 16 Ki core
        (3, 10, 5, 3 * 2 ** (5 + 4)),  # non-power-of-two c is not rounded (note a)
    ],
)
def test_kernel_memory_formula(c: int, f: int, k: int, words: int) -> None:
    assert kernel_memory_words(c, f, k) == words


@pytest.mark.parametrize(
    ("f", "x", "y", "words"),
    [(1, 1, 1, 1), (10, 3, 5, 10 * 2 ** (2 + 3)), (16, 64, 64, 64 * KI), (1, 33, 1, 64)],
)
def test_neuron_memory_formula(f: int, x: int, y: int, words: int) -> None:
    assert neuron_memory_words(f, x, y) == words


@pytest.mark.parametrize(
    ("n", "k", "s", "p", "out"), [(64, 3, 1, 1, 64), (16, 3, 2, 1, 8), (34, 5, 2, 0, 15), (4, 4, 1, 0, 1)]
)
def test_output_size_formula(n: int, k: int, s: int, p: int, out: int) -> None:
    assert conv_output_size(n, k, s, p) == out


@pytest.mark.parametrize(
    ("name", "canonical", "index"),
    [
        # sinabs's device strings (SB-io device_types + ":index", e.g. DynapcnnNetwork.to(device=...)).
        ("speck2fdevkit:0", "speck2f", 0),
        ("speck2f:00", "speck2f", 0),
        ("Speck2fDevKit:0", "speck2f", 0),
        ("Speck2fModuleDevKit:3", "speck2f", 3),
        ("speck2edevkit:1", "speck2e", 1),
        ("Speck2eTestBoard", "speck2e", None),
        ("speck2f", "speck2f", None),
    ],
)
def test_parse_device_strings_with_an_index(name: str, canonical: str, index: int | None) -> None:
    from hwconfig import parse_device

    spec, idx = parse_device(name)
    assert (spec.name, idx) == (canonical, index)
    assert get_chip(name) is CHIPS[canonical]


@pytest.mark.parametrize("name", ["speck2f:", "speck2f:x", "speck2f:-1"])
def test_parse_device_rejects_a_bad_index(name: str) -> None:
    with pytest.raises(UnknownChipError, match=r"after ':' must be a board index .*speck2fdevkit:0"):
        get_chip(name)
