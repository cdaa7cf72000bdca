"""deploy.place: matching, determinism, leak preference, manual core maps, Hall witnesses."""

from __future__ import annotations

import numpy as np
import pytest
from _qgraphs import chain, qgraph, qlayer

from deploy.check import check_placement
from deploy.errors import PlacementError
from deploy.memory import FitMatrix, LayerMemory, fit_matrix
from deploy.place import place
from hwconfig import get_chip

CHIP = get_chip("speck2f")


def big_kernel(name: str) -> object:
    # c=64, f=64, k=3: K = 64·2^(4+6) = 65536 words → only cores 5 and 6 (64 Ki kernel memory).
    return qlayer(name, (64, 4, 4), 64, 3, padding=(1, 1))


def random_fit(rng: np.random.Generator, n: int, density: float) -> FitMatrix:
    fits = tuple(tuple(bool(v) for v in rng.random(9) < density) for _ in range(n))
    return FitMatrix(
        layer_names=tuple(f"l{i}" for i in range(n)),
        layer_descriptions=tuple("x" for _ in range(n)),
        memory=tuple(LayerMemory(1, 1, 0) for _ in range(n)),
        leak=tuple(bool(v) for v in rng.random(n) < 0.3),
        core_ids=CHIP.core_ids,
        kernel_capacity=tuple(c.kernel_memory for c in CHIP.cores),
        neuron_capacity=tuple(c.neuron_memory for c in CHIP.cores),
        bias_capacity=tuple(c.bias_memory for c in CHIP.cores),
        fits=fits,
    )


def exists_assignment(allowed: list[list[bool]], used: frozenset[int] = frozenset()) -> bool:
    """Brute force (backtracking over every core for every layer): is there an injective assignment?"""
    if not allowed:
        return True
    return any(
        ok and c not in used and exists_assignment(allowed[1:], used | {c}) for c, ok in enumerate(allowed[0])
    )


def test_chain_goes_to_lowest_cores_like_sinabs(rng: np.random.Generator) -> None:
    p = place(chain(rng), CHIP)
    assert p.core_of == (0, 1)  # sinabs_reference/tiny_2layer: layer2core_map {0: 0, 1: 1}
    assert not p.manual
    assert len(p.fit) == 2 and all(p.fit[0])


def test_augmenting_path_moves_an_earlier_layer() -> None:
    # Layer 0 fits every core; layer 1 (neuron memory 64 Ki) only cores 0, 1, 2; layers 2, 3 only 1, 2.
    free = qlayer("free", (1, 4, 4), 1, 1)
    n64 = [qlayer(f"n{i}", (1, 64, 64), 16, 1) for i in range(3)]
    g = qgraph([free, *n64])
    fit = fit_matrix(g, CHIP)
    assert fit.cores_for(1) == (0, 1, 2)
    p = place(g, CHIP)
    assert p.core_of == (3, 0, 1, 2)


def test_leak_layers_avoid_erratum_cores() -> None:
    biased = qlayer("biased", (2, 8, 8), 2, 1, bias=[1, 0])
    plain = qlayer("plain", (2, 8, 8), 2, 1)
    g = qgraph([biased, plain])
    p = place(g, CHIP)
    assert p.core_of == (2, 0)
    assert check_placement(g, p, CHIP) == ()


def test_leak_preference_falls_back_when_needed() -> None:
    layers = [qlayer(f"b{i}", (2, 8, 8), 2, 1, bias=[1, 1]) for i in range(9)]
    g = qgraph(layers)
    p = place(g, CHIP)
    assert sorted(p.core_of) == list(range(9))
    warns = check_placement(g, p, CHIP)
    assert [w.measured for w in warns] == [0, 1]


def test_hall_witness_names_layers_cores_and_memory() -> None:
    layers = [big_kernel(f"block{i}") for i in range(3)]
    with pytest.raises(
        PlacementError, match=r"these 3 layers together fit only 2 core\(s\) \[5, 6\]"
    ) as info:
        place(qgraph(layers), CHIP)
    msg = str(info.value)
    assert "'block0' (Conv2d 64→64, k=3: kernel 65536, neuron 1024, bias 0 words) fits cores [5, 6]" in msg
    assert "'block2'" in msg and "Make 1 of them smaller" in msg


def test_witness_excludes_unrelated_layers() -> None:
    small = qlayer("small", (1, 4, 4), 1, 1)
    layers = [small, big_kernel("a"), big_kernel("b"), big_kernel("c")]
    with pytest.raises(PlacementError) as info:
        place(qgraph(layers), CHIP)
    assert "'small'" not in str(info.value)


def test_layer_that_fits_no_core() -> None:
    huge = qlayer("features.0", (2, 128, 128), 16, 3, padding=(1, 1))
    with pytest.raises(PlacementError, match=r"layer 'features\.0' fits no core.*neuron 262144"):
        place(qgraph([huge]), CHIP)


def test_too_many_layers() -> None:
    layers = [qlayer(f"l{i}", (2, 8, 8), 2, 1) for i in range(10)]
    with pytest.raises(PlacementError, match=r"10 layers but speck2f has 9 cores.*remove 1 layer"):
        place(qgraph(layers), CHIP)


def test_core_map_by_index_and_name_partial(rng: np.random.Generator) -> None:
    g = chain(rng)
    p = place(g, CHIP, {1: 0})
    assert p.core_of == (1, 0) and p.manual
    assert place(g, CHIP, {"0": 7, "2": 8}).core_of == (7, 8)


@pytest.mark.parametrize(
    ("core_map", "pattern"),
    [
        ({5: 0}, r"layer index 5 does not exist \(layers are 0\.\.1\)"),
        ({"features.9": 0}, r"unknown layer 'features\.9'; layers are \['0', '2'\]"),
        ({0: 9}, r"core 9 does not exist"),
        ({0: 3, 1: 3}, r"core 3 is given to 2 layers \('0', '2'\)"),
        ({0: 1, "0": 2}, r"layer '0' is given twice"),
    ],
)
def test_core_map_errors(rng: np.random.Generator, core_map: dict, pattern: str) -> None:
    with pytest.raises(PlacementError, match=pattern):
        place(chain(rng), CHIP, core_map)


def test_core_map_layer_does_not_fit_core() -> None:
    g = qgraph([big_kernel("blk")])
    with pytest.raises(
        PlacementError, match=r"'blk' does not fit core 0: kernel 65536 > 16384 words.*\[5, 6\]"
    ):
        place(g, CHIP, {"blk": 0})


def test_core_map_that_blocks_the_rest() -> None:
    g = qgraph([big_kernel("a"), big_kernel("b"), qlayer("s", (1, 4, 4), 1, 1)])
    with pytest.raises(PlacementError, match=r"cores \[5, 6\] are taken by the manual core map") as err:
        place(g, CHIP, {"s": 5, "a": 6})
    # The witness stops at the pinned layers: it used to walk on through 's' (which fits every core) and
    # report "3 layers together fit only 9 core(s) ... Make -6 of them smaller".
    msg = str(err.value)
    assert "these 1 layer(s) together fit only 0 free core(s) []" in msg and "'s' (" not in msg
    assert "Make 1 of them smaller" in msg and "pin the manually placed layers elsewhere" in msg


def test_hall_witness_with_a_pinned_layer_counts_free_cores() -> None:
    g = qgraph([big_kernel("a"), big_kernel("b"), big_kernel("c"), qlayer("s", (1, 4, 4), 1, 1)])
    with pytest.raises(PlacementError) as err:
        place(g, CHIP, {"s": 5})
    msg = str(err.value)
    assert "these 2 layer(s) together fit only 1 free core(s) [6]; cores [5] are taken" in msg
    assert "Make 1 of them smaller" in msg


def test_matches_brute_force_on_random_fit_matrices() -> None:
    rng = np.random.default_rng(7)
    for trial in range(300):
        n = int(rng.integers(1, 8))
        fit = random_fit(rng, n, float(rng.uniform(0.1, 0.6)))
        exists = exists_assignment([list(row) for row in fit.fits])
        if exists:
            p = place(fit, CHIP)
            assert len(set(p.core_of)) == n, trial
            assert all(fit.fits[i][c] for i, c in enumerate(p.core_of)), trial
            assert place(fit, CHIP).core_of == p.core_of  # deterministic
            if not any(fit.leak):  # lexicographically smallest: no layer can take a lower core
                for i in range(n):
                    for c in range(p.core_of[i]):
                        rest = [[ok and cc != c for cc, ok in enumerate(row)] for row in fit.fits[i + 1 :]]
                        prefix = set(p.core_of[:i])
                        rest = [[ok and cc not in prefix for cc, ok in enumerate(row)] for row in rest]
                        assert not (fit.fits[i][c] and c not in prefix and exists_assignment(rest)), trial
        else:
            with pytest.raises(PlacementError) as info:
                place(fit, CHIP)
            assert "fit" in str(info.value)


def test_leak_preference_is_respected_whenever_possible() -> None:
    rng = np.random.default_rng(11)
    erratum = {0, 1}
    for _ in range(200):
        n = int(rng.integers(1, 7))
        fit = random_fit(rng, n, 0.5)
        try:
            p = place(fit, CHIP)
        except PlacementError:
            continue
        allowed = [
            [ok and not (fit.leak[i] and c in erratum) for c, ok in enumerate(row)]
            for i, row in enumerate(fit.fits)
        ]
        can_avoid = exists_assignment(allowed)
        avoided = not any(fit.leak[i] and c in erratum for i, c in enumerate(p.core_of))
        assert avoided == can_avoid
