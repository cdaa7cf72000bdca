"""deploy.memory: the §7.1 sizing of one layer from its numbers, core fit, readout expansion (by hand)."""

from __future__ import annotations

import numpy as np
from _qgraphs import qlayer

from deploy.memory import (
    LayerMemory,
    cores_fitting,
    fits,
    layer_memory,
    max_features_fitting,
    memory_words,
)
from hwconfig import get_chip

CHIP = get_chip("speck2f")


def test_memory_words_from_numbers() -> None:
    # c=3, f=5, k=3: K = 3·2^(ceil log2 9 + ceil log2 5) = 3·2^(4+3) = 384;
    # N = 5·2^(ceil log2 6 + ceil log2 10) = 5·2^(3+4) = 640 for a 6×10 (H×W) map; bias 5 words.
    assert memory_words(3, 5, 3, (6, 10), has_bias=True) == LayerMemory(kernel=384, neuron=640, bias=5)
    assert memory_words(3, 5, 3, (0, 0), has_bias=False) == LayerMemory(kernel=384, neuron=5, bias=0)


def test_layer_memory_with_emitted_features(rng: np.random.Generator) -> None:
    fc = qlayer("fc", (64, 1, 1), 4, 1, rng=rng, bias=[1, 2, 3, 4])
    assert layer_memory(fc.source) == LayerMemory(kernel=64 * 4, neuron=4, bias=4)
    # readout erratum: 4 classes → (4 − 1)·4 + 1 = 13 channels: K = 64·2^4, N = 13, bias 13.
    assert CHIP.readout_features(4) == 13 and get_chip("dynapcnn").readout_features(4) == 4
    assert layer_memory(fc.source, 13) == LayerMemory(kernel=64 * 16, neuron=13, bias=13)


def test_fits_at_capacity_and_which_cores() -> None:
    core7 = CHIP.core(7)  # 16 Ki kernel, 16 Ki neuron, 1 Ki bias
    assert fits(LayerMemory(16384, 16384, 1024), core7)  # equal to capacity fits (§7.1 note b)
    assert not fits(LayerMemory(16385, 1, 0), core7)
    assert not fits(LayerMemory(1, 1, 1025), core7)
    assert cores_fitting(LayerMemory(32768, 32768, 0), CHIP) == (3, 4)
    assert cores_fitting(LayerMemory(65536, 16384, 0), CHIP) == (5, 6)
    assert cores_fitting(LayerMemory(65537, 1, 0), CHIP) == ()


def test_max_features_fitting_counts_classes_when_expanded(rng: np.random.Generator) -> None:
    # c=512, k=2: plain f needs 512·2^(2 + ceil log2 f) ≤ 65536 → f ≤ 32 (cores 5, 6);
    # expanded (f − 1)·4 + 1 ≤ 32 → f ≤ 8 classes.
    layer = qlayer("fc", (512, 2, 2), 40, 2, rng=rng).source
    assert max_features_fitting(layer, CHIP) == (32, 5)
    assert max_features_fitting(layer, CHIP, readout=True) == (8, 5)
