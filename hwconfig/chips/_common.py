"""Figures shared by the speck2e, speck2f and DYNAP-CNN cores (they use one core architecture, §intro)."""

from __future__ import annotations

from hwconfig.spec import CoreSpec

KI = 1024

# SPECK_SEMANTICS §7.1 (DS-mem, DK Table 1; identical in sinabs get_constraints).
# Cores 0 and 1 are the parallel implementations (§3.3, SAM-2f) and carry the leak erratum (§2.4, DS-bug).
SPECK_CORES: tuple[CoreSpec, ...] = (
    CoreSpec(
        0, kernel_memory=16 * KI, neuron_memory=64 * KI, bias_memory=KI, parallel=True, leak_erratum=True
    ),
    CoreSpec(
        1, kernel_memory=16 * KI, neuron_memory=64 * KI, bias_memory=KI, parallel=True, leak_erratum=True
    ),
    CoreSpec(2, kernel_memory=16 * KI, neuron_memory=64 * KI, bias_memory=KI),
    CoreSpec(3, kernel_memory=32 * KI, neuron_memory=32 * KI, bias_memory=KI),
    CoreSpec(4, kernel_memory=32 * KI, neuron_memory=32 * KI, bias_memory=KI),
    CoreSpec(5, kernel_memory=64 * KI, neuron_memory=16 * KI, bias_memory=KI),
    CoreSpec(6, kernel_memory=64 * KI, neuron_memory=16 * KI, bias_memory=KI),
    CoreSpec(7, kernel_memory=16 * KI, neuron_memory=16 * KI, bias_memory=KI),
    CoreSpec(8, kernel_memory=16 * KI, neuron_memory=16 * KI, bias_memory=KI),
)

# Keyword arguments common to every chip of the family; each chip module adds its own names.
COMMON_LIMITS = dict(
    weight_bits=8,  # §2.1 kernel SRAM word
    state_bits=16,  # §2.1 neuron SRAM word
    bias_bits=16,  # §2.1 leak SRAM word ([CONFLICT]: sinabs only uses 8 bits of it)
    threshold_high_range=(0, 32767),  # §2.1, SAM-cfg
    threshold_low_range=(-32768, -1),  # §2.1, SAM-cfg; 0 is a documented bug (DK)
    kernel_size_range=(1, 16),  # §7.2 KSZ 4 bits
    allowed_stride=frozenset({1, 2, 4, 8}),  # §7.2
    padding_range=(0, 7),  # §7.2
    allowed_pooling=frozenset({1, 2, 4}),  # §4.3, §7.2
    feature_count_range=(1, 1024),  # §7.2 IFN/OFN 10 bits
    max_input_size=128,  # §7.2 event x/y are 7 bit
    max_output_size=64,  # §7.2 OFSX/OFSY 6 bits
    max_destinations=2,  # §4.3
    decimator_interval_range=(0, 7),  # §4.1
    decimator_factors=(2, 4, 8, 16, 32, 128, 256, 512),  # §4.1 [CONFLICT] default: SAM-cfg/DK table
    readout_layer_id=12,  # §1
    dvs_layer_id=13,  # §1
    dvs_size=(128, 128),  # §11, DK §2.2
    dvs_allowed_pooling=frozenset({1, 2, 4}),  # §5
    dvs_max_input_channels=2,  # §9.3
    internal_slow_clk_divider_range=(14, 17),  # §2.4, SAM-cfg
)
