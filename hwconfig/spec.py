"""Chip descriptions: what a DYNAP-CNN / Speck chip can hold and compute.

Every figure lives in one module per chip under :mod:`hwconfig.chips` and cites the section of
``SPECK_SEMANTICS.md`` it comes from. Code elsewhere asks capabilities (``chip.allowed_pooling``,
``chip.max_destinations``), never chip names.
"""

from __future__ import annotations

from dataclasses import dataclass

READOUT_ERRATUM_CHANNEL_STRIDE = 4
"""Readout erratum on 2e/2f: class i is read from channel 4·i of the exit layer (§6, SD-err, DS-bug)."""


@dataclass(frozen=True)
class CoreSpec:
    """Memories of one convolutional core, in words (SPECK_SEMANTICS §7.1).

    Attributes:
        core_id: Core index on the chip, 0..8.
        kernel_memory: Kernel SRAM words (8-bit weights).
        neuron_memory: Neuron SRAM words (16-bit states).
        bias_memory: Leak/bias SRAM words (16-bit, one per output feature).
        parallel: True for cores 0 and 1, whose output order is not guaranteed and which may withhold
            the last spike of a finite train (§3.3).
        leak_erratum: True where the datasheet lists leak generation as unusable (§2.4, DS-bug).
    """

    core_id: int
    kernel_memory: int
    neuron_memory: int
    bias_memory: int
    parallel: bool = False
    leak_erratum: bool = False

    def holds(self, kernel_words: int, neuron_words: int, bias_words: int) -> bool:
        """True when a layer needing these words fits all three memories of this core (§7.1).

        "Equal to capacity" counts as fitting (§7.1 note b).
        """
        return (
            kernel_words <= self.kernel_memory
            and neuron_words <= self.neuron_memory
            and bias_words <= self.bias_memory
        )


@dataclass(frozen=True)
class ChipSpec:
    """Everything the compiler, checker, simulator and board layer need to know about one chip.

    Ranges are inclusive ``(low, high)`` tuples; sets of allowed values are frozensets.
    """

    name: str
    description: str
    cores: tuple[CoreSpec, ...]
    # Word widths and ranges (§2.1).
    weight_bits: int
    state_bits: int
    bias_bits: int
    threshold_high_range: tuple[int, int]
    threshold_low_range: tuple[int, int]
    # Per-core parameter limits (§7.2).
    kernel_size_range: tuple[int, int]
    allowed_stride: frozenset[int]
    padding_range: tuple[int, int]
    allowed_pooling: frozenset[int]
    feature_count_range: tuple[int, int]
    max_input_size: int
    max_output_size: int
    max_destinations: int
    decimator_interval_range: tuple[int, int]
    decimator_factors: tuple[int, ...]
    # Layer ids (§1).
    readout_layer_id: int
    dvs_layer_id: int
    # Readout (§6).
    has_readout: bool
    readout_max_classes: int
    readout_class_erratum: bool
    # DVS (§5).
    has_dvs: bool
    dvs_size: tuple[int, int]
    dvs_allowed_pooling: frozenset[int]
    dvs_max_input_channels: int
    # Slow clock (§2.4).
    internal_slow_clk_divider_range: tuple[int, int]
    # samna names (§8).
    samna_module: str
    samna_device_types: tuple[str, ...]
    samna_input_source_node: str
    samna_output_sink_node: str

    @property
    def n_cores(self) -> int:
        return len(self.cores)

    @property
    def core_ids(self) -> tuple[int, ...]:
        return tuple(c.core_id for c in self.cores)

    @property
    def weight_range(self) -> tuple[int, int]:
        return _signed_range(self.weight_bits)

    @property
    def state_range(self) -> tuple[int, int]:
        return _signed_range(self.state_bits)

    @property
    def bias_range(self) -> tuple[int, int]:
        return _signed_range(self.bias_bits)

    @property
    def valid_destination_layers(self) -> frozenset[int]:
        ids = set(self.core_ids)
        if self.has_readout:
            ids.add(self.readout_layer_id)
        return frozenset(ids)

    def readout_features(self, n_classes: int) -> int:
        """Output features the exit layer needs to serve ``n_classes`` through the readout (§6).

        With the class erratum (2e/2f) class i is read from channel 4·i, so the layer is expanded to
        ``(n − 1)·4 + 1`` channels (sinabs ``extend_readout_layer``); otherwise it keeps ``n_classes``.
        """
        if not self.readout_class_erratum:
            return n_classes
        return (n_classes - 1) * READOUT_ERRATUM_CHANNEL_STRIDE + 1

    def core(self, core_id: int) -> CoreSpec:
        for c in self.cores:
            if c.core_id == core_id:
                return c
        raise KeyError(f"{self.name} has no core {core_id}; cores are {list(self.core_ids)}")


def _signed_range(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def ceil_log2(n: int) -> int:
    """``ceil(log2(n))`` for n >= 1, with ``ceil_log2(1) == 0`` (§7.1 note c)."""
    if n < 1:
        raise ValueError(f"ceil_log2 needs n >= 1, got {n}")
    return (n - 1).bit_length()


def kernel_memory_words(in_features: int, out_features: int, kernel_size: int) -> int:
    """Kernel SRAM words a layer needs: ``c · 2^(ceil(log2(k·k)) + ceil(log2(f)))`` (§7.1)."""
    return in_features * (1 << (ceil_log2(kernel_size * kernel_size) + ceil_log2(out_features)))


def neuron_memory_words(out_features: int, out_x: int, out_y: int) -> int:
    """Neuron SRAM words a layer needs: ``f · 2^(ceil(log2(f_y)) + ceil(log2(f_x)))`` (§7.1)."""
    return out_features * (1 << (ceil_log2(out_y) + ceil_log2(out_x)))


def conv_output_size(in_size: int, kernel_size: int, stride: int, padding: int) -> int:
    """Output map size ``floor((in − k + 2p) / s) + 1`` (§3.2, DS-reg OFSX/OFSY)."""
    return (in_size - kernel_size + 2 * padding) // stride + 1
