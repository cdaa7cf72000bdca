"""Memory accounting: what a layer needs in each core's SRAMs, and which cores hold it (SPECK_SEMANTICS §7.1).

The one home of the §7.1 sizing formulas as the compiler uses them. :func:`deploy.check.check` reports from
the :class:`FitMatrix`, :func:`deploy.place.place` matches layers to cores with it, and
:func:`deploy.emit.emit_config` only asserts what it guarantees. Chip facts (core capacities, the word
formulas, the readout erratum's channel stride) stay in :mod:`hwconfig.spec`.

Every function here is pure and cheap: the demand of one layer comes from a handful of integers
(:func:`memory_words`), so a search over layer parameters can size candidates without building a graph.

When the readout is used on a chip with the class erratum (2e/2f, §6), the exit layer is emitted expanded
from ``n`` to ``(n − 1)·4 + 1`` channels; the fit matrix sizes it expanded, so placement only picks cores
where the emitted layer fits.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploy.graph import ChipLayer, QuantizedGraph, conv_out_shape
from hwconfig.spec import ChipSpec, CoreSpec, kernel_memory_words, neuron_memory_words


@dataclass(frozen=True)
class LayerMemory:
    """Memory one layer needs, in words (§7.1 formulas, as sinabs's ``memory_summary``).

    Attributes:
        kernel: ``c · 2^(ceil(log2(k·k)) + ceil(log2(f)))`` 8-bit kernel words.
        neuron: ``f · 2^(ceil(log2(f_y)) + ceil(log2(f_x)))`` 16-bit neuron words.
        bias: ``f`` 16-bit bias words if the layer has a bias, else 0.
    """

    kernel: int
    neuron: int
    bias: int


def memory_words(
    in_features: int, out_features: int, kernel_size: int, out_hw: tuple[int, int], has_bias: bool
) -> LayerMemory:
    """The §7.1 demand of a layer given by its numbers (no layer object needed).

    Args:
        in_features: Input channels ``c``.
        out_features: Output channels ``f`` (as emitted: expanded for the readout erratum if it applies).
        kernel_size: Side of the square kernel the layer needs (``max(kh, kw)``).
        out_hw: Output map ``(H, W)``; sizes below 1 count as 1.
        has_bias: The layer stores biases (one word per output feature).
    """
    h, w = out_hw
    return LayerMemory(
        kernel=kernel_memory_words(in_features, out_features, kernel_size),
        neuron=neuron_memory_words(out_features, max(w, 1), max(h, 1)),
        bias=out_features if has_bias else 0,
    )


def _kernel_side(layer: ChipLayer) -> int:
    return max(int(layer.weight.shape[-2]), int(layer.weight.shape[-1]))


def layer_memory(layer: ChipLayer, out_features: int | None = None) -> LayerMemory:
    """The §7.1 demand of a chip layer (kernel side taken as ``max(kh, kw)``, the square it needs).

    Args:
        layer: The layer.
        out_features: Output channels as emitted, when they differ from the layer's (readout expansion,
            :meth:`hwconfig.spec.ChipSpec.readout_features`); None for the layer's own.
    """
    f, h, w = layer.out_shape
    return memory_words(
        layer.in_features,
        f if out_features is None else out_features,
        _kernel_side(layer),
        (h, w),
        layer.bias is not None,
    )


def fits(mem: LayerMemory, core: CoreSpec) -> bool:
    """True when ``mem`` fits the kernel, neuron and bias memories of ``core``."""
    return core.holds(mem.kernel, mem.neuron, mem.bias)


def cores_fitting(mem: LayerMemory, chip: ChipSpec) -> tuple[int, ...]:
    """Ids of the cores of ``chip`` that hold ``mem``, in the chip's order."""
    return tuple(c.core_id for c in chip.cores if fits(mem, c))


def describe(layer: ChipLayer) -> str:
    """Short description for messages, e.g. ``"Conv2d 64→128, k=5"`` or ``"Linear 512→10 as 8×8 conv"``."""
    kh, kw = layer.weight.shape[-2:]
    if layer.kind == "linear":
        return f"Linear {layer.in_features * kh * kw}→{layer.out_features} as {kh}×{kw} conv"
    k = f"{kh}" if kh == kw else f"{kh}×{kw}"
    return f"Conv2d {layer.in_features}→{layer.out_features}, k={k}"


def readout_expansion(qgraph: QuantizedGraph, chip: ChipSpec, readout: bool) -> tuple[int, int] | None:
    """``(exit layer, emitted features)`` when the readout erratum expands a layer, else None.

    The expansion applies when the readout is used on a chip that has it with the class erratum and the
    model has exactly one exit layer (otherwise the readout rules of :mod:`deploy.check` reject the model).
    """
    if not (readout and chip.has_readout and chip.readout_class_erratum):
        return None
    exits = qgraph.graph.exit_layers
    if len(exits) != 1 or not 0 <= exits[0] < len(qgraph.layers):
        return None
    i = exits[0]
    return i, chip.readout_features(qgraph.layers[i].source.out_features)


@dataclass(frozen=True)
class FitMatrix:
    """Layers × cores: memory used vs capacity, and whether each layer fits each core.

    Attributes:
        layer_names: Torch module path per layer.
        layer_descriptions: Short description per layer (``"Conv2d 2→16, k=3"``).
        memory: Demand per layer, as emitted (the readout-expanded exit layer sized expanded).
        leak: Per layer, True when the layer has a non-zero bias (leak enabled on chip).
        core_ids: Core ids, in the chip's order.
        kernel_capacity, neuron_capacity, bias_capacity: Words per core.
        fits: ``fits[i][j]`` True when layer i fits core ``core_ids[j]`` in all three memories.
        readout_expansion: ``(layer, features)`` of the exit layer expanded for the readout erratum, or
            None (:func:`readout_expansion`).
    """

    layer_names: tuple[str, ...]
    layer_descriptions: tuple[str, ...]
    memory: tuple[LayerMemory, ...]
    leak: tuple[bool, ...]
    core_ids: tuple[int, ...]
    kernel_capacity: tuple[int, ...]
    neuron_capacity: tuple[int, ...]
    bias_capacity: tuple[int, ...]
    fits: tuple[tuple[bool, ...], ...]
    readout_expansion: tuple[int, int] | None = None

    @property
    def n_layers(self) -> int:
        return len(self.layer_names)

    def cores_for(self, layer: int) -> tuple[int, ...]:
        """Core ids layer ``layer`` fits, ascending."""
        return tuple(c for c, ok in zip(self.core_ids, self.fits[layer], strict=True) if ok)

    def format(self) -> str:
        """Plain-text table for the CLI: one row per layer, one column per core (``x`` = fits)."""
        name_w = max([len("layer"), *(len(f"{i} {n}") for i, n in enumerate(self.layer_names))])
        desc_w = max([len("description"), *(len(d) for d in self.layer_descriptions)])
        cores = " ".join(f"{c:>6}" for c in self.core_ids)
        lines = [f"{'':<{name_w}}  {'':<{desc_w}}  {'kernel':>7} {'neuron':>7} {'bias':>5} | core {cores}"]
        for memory, capacity in (
            ("kernel", self.kernel_capacity),
            ("neuron", self.neuron_capacity),
            ("bias", self.bias_capacity),
        ):
            lines.append(
                f"{'capacity ' + memory:<{name_w + desc_w + 2}}  {'':>7} {'':>7} {'':>5} |      "
                + " ".join(f"{v:>6}" for v in capacity)
            )
        lines.append(
            f"{'layer':<{name_w}}  {'description':<{desc_w}}  {'kernel':>7} {'neuron':>7} {'bias':>5} |"
        )
        for i, (name, desc, mem) in enumerate(
            zip(self.layer_names, self.layer_descriptions, self.memory, strict=True)
        ):
            marks = " ".join(f"{'x' if ok else '.':>6}" for ok in self.fits[i])
            label = f"{i} {name}"
            lines.append(
                f"{label:<{name_w}}  {desc:<{desc_w}}  {mem.kernel:>7} {mem.neuron:>7} {mem.bias:>5} |"
                f"      {marks}"
            )
        return "\n".join(lines)


def fit_matrix(qgraph: QuantizedGraph, chip: ChipSpec, *, readout: bool = False) -> FitMatrix:
    """Memory demand of every layer against every core of ``chip`` (§7.1).

    Args:
        qgraph: The quantised graph.
        chip: The target chip.
        readout: The exit layer feeds the readout; on chips with the class erratum it is sized as emitted,
            expanded to ``(n − 1)·4 + 1`` channels (§6).
    """
    expansion = readout_expansion(qgraph, chip, readout)
    memory = []
    descriptions = []
    for i, q in enumerate(qgraph.layers):
        desc = describe(q.source)
        if expansion is not None and expansion[0] == i:
            memory.append(layer_memory(q.source, expansion[1]))
            desc += f" (readout: {expansion[1]} ch)"
        else:
            memory.append(layer_memory(q.source))
        descriptions.append(desc)
    return FitMatrix(
        layer_names=tuple(q.name for q in qgraph.layers),
        layer_descriptions=tuple(descriptions),
        memory=tuple(memory),
        leak=tuple(q.has_bias for q in qgraph.layers),
        core_ids=chip.core_ids,
        kernel_capacity=tuple(c.kernel_memory for c in chip.cores),
        neuron_capacity=tuple(c.neuron_memory for c in chip.cores),
        bias_capacity=tuple(c.bias_memory for c in chip.cores),
        fits=tuple(tuple(fits(m, c) for c in chip.cores) for m in memory),
        readout_expansion=expansion,
    )


# ----------------------------------------------------------------------------------------------------
# Solvers for fixes: the nearest parameters at which a layer fits


def max_features_fitting(
    layer: ChipLayer, chip: ChipSpec, *, readout: bool = False
) -> tuple[int, int] | None:
    """Largest out_features (≤ current) for which the layer fits some core, and that core; None if none.

    Args:
        layer: The layer.
        chip: The target chip.
        readout: The layer is the readout's exit layer: size it expanded as emitted
            (:meth:`~hwconfig.spec.ChipSpec.readout_features`); the result counts classes.
    """
    _, h, w = layer.out_shape
    k = _kernel_side(layer)
    has_bias = layer.bias is not None
    for f in range(layer.out_features, 0, -1):
        emitted = chip.readout_features(f) if readout else f
        cores = cores_fitting(memory_words(layer.in_features, emitted, k, (h, w), has_bias), chip)
        if cores:
            return f, cores[0]
    return None


def max_kernel_fitting(layer: ChipLayer, chip: ChipSpec, out_features: int | None = None) -> int | None:
    """Largest square kernel (< current) whose kernel memory fits the largest kernel memory of the chip.

    Args:
        layer: The layer.
        chip: The target chip.
        out_features: Output channels as emitted (readout expansion); None for the layer's own.
    """
    cap = max(c.kernel_memory for c in chip.cores)
    f = layer.out_features if out_features is None else out_features
    for kk in range(_kernel_side(layer) - 1, 0, -1):
        if kernel_memory_words(layer.in_features, f, kk) <= cap:
            return kk
    return None


def min_stride_fitting(
    layer: ChipLayer, chip: ChipSpec, out_features: int | None = None
) -> tuple[int, int] | None:
    """Smallest allowed stride (> current) at which the neuron memory fits some core; ``(stride, words)``.

    Args:
        layer: The layer.
        chip: The target chip.
        out_features: Output channels as emitted (readout expansion); None for the layer's own.
    """
    cap = max(c.neuron_memory for c in chip.cores)
    emitted = layer.out_features if out_features is None else out_features
    for s in sorted(chip.allowed_stride):
        if s <= max(layer.stride):
            continue
        _, h, w = conv_out_shape(layer.in_shape, layer.out_features, layer.kernel_size, (s, s), layer.padding)
        if h < 1 or w < 1:
            continue
        words = neuron_memory_words(emitted, w, h)
        if words <= cap and h <= chip.max_output_size and w <= chip.max_output_size:
            return s, words
    return None
