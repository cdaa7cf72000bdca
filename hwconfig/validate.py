"""Check a raw :class:`~hwconfig.config.ChipConfig` against one chip (SPECK_SEMANTICS §7).

:func:`validate_config` runs every check and raises one :class:`~hwconfig.errors.ConfigError` listing
every problem, each prefixed with its field path, e.g. ``cnn_layers[3].destinations[1].pooling: 3 not in
{1, 2, 4}``. The checks cover what a configuration alone can violate:

- field types (bool fields hold bools, int fields ints, nodes the right dataclass, arrays of integers);
- per-field ranges and allowed sets (§2.1, §4, §5, §6, §7.2), figures taken from the :class:`ChipSpec`;
- array shapes against ``dimensions`` and the output-size formula ``floor((in − k + 2p)/s) + 1`` (§3.2);
- destinations: exactly ``chip.max_destinations`` slots; for enabled ones, ``feature_shift + F_src ≤
  C_dest`` and ``floor(out_src / pooling) == in_dest`` per axis (§4.3–§4.6, §7.3);
- memories of the cores in use (:meth:`ChipConfig.used_cores`) by the §7.1 formulas;
- the DVS layer (pooling, region of interest, destinations, output size vs the destination core, §5);
- readout selectors and the factory slow-clock divider.

Graph-level policy (self loops, merges, leak on cores 0/1, overflow guards) belongs to ``deploy.check``.

The dataclass field walker :func:`field_types` is shared with :mod:`hwconfig.json_io`, so the type check
here and the strict JSON reader there agree on what each field may hold.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from hwconfig.chips import get_chip
from hwconfig.config import ChipConfig, CnnLayerConfig, CnnLayerDestination, DvsLayerConfig
from hwconfig.errors import ConfigError
from hwconfig.spec import ChipSpec, CoreSpec, conv_output_size, kernel_memory_words, neuron_memory_words

# Register widths of the readout layer (§6, DS-ro / SAM-cfg): 2-bit mode selectors and a 16-bit class
# threshold; and the DVS filter window (§5, SAM-cfg: filter_size 1..15). The class index range comes from
# ``ChipSpec.readout_max_classes``.
READOUT_OUTPUT_MODE_RANGE = (0, 3)
READOUT_CONFIGURATION_SEL_RANGE = (0, 3)
READOUT_THRESHOLD_RANGE = (0, 65535)
DVS_FILTER_SIZE_RANGE = (1, 15)


# --------------------------------------------------------------------------------------------------
# Field types, shared with json_io
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldType:
    """What one dataclass field of the configuration tree holds.

    Attributes:
        kind: ``int``, ``bool``, ``str``, ``node`` (a nested dataclass), ``seq`` (a tuple of ``item``) or
            ``array`` (an integer numpy array of ``ndim`` dimensions).
        node: The dataclass for ``kind == "node"``.
        item: The element type for ``kind == "seq"``.
        ndim: Number of dimensions for ``kind == "array"``.
    """

    kind: Literal["int", "bool", "str", "node", "seq", "array"]
    node: type[Any] | None = None
    item: FieldType | None = None
    ndim: int = 0


def field_types(cls: type[Any]) -> tuple[tuple[str, FieldType], ...]:
    """The fields of a configuration dataclass, in declaration (samna) order, with their types.

    Array dimensionality is taken from the field's default value, so the dataclass stays the single
    source of truth. Results are memoised per class (resolving annotations is the slow part).
    """
    # Classes are hashable; mypy's view of ``type.__hash__`` disagrees with functools.cache's Hashable.
    return _field_types(typing.cast(Hashable, cls))


@functools.cache
def _field_types(cls: Any) -> tuple[tuple[str, FieldType], ...]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        ftype = _resolve(hints[f.name])
        if ftype.kind == "array":
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            ftype = dataclasses.replace(ftype, ndim=np.asarray(default).ndim)
        out.append((f.name, ftype))
    return tuple(out)


def _resolve(hint: Any) -> FieldType:
    origin = typing.get_origin(hint)
    if hint is bool:
        return FieldType("bool")
    if hint is int:
        return FieldType("int")
    if hint is str:
        return FieldType("str")
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"unsupported tuple annotation {hint!r}: use tuple[X, ...]")
        return FieldType("seq", item=_resolve(args[0]))
    if origin is np.ndarray:
        return FieldType("array")
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return FieldType("node", node=hint)
    raise TypeError(f"unsupported field annotation {hint!r}")


def is_int(value: object) -> bool:
    """Python or numpy integer, but not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_bool(value: object) -> bool:
    """Python or numpy bool."""
    return isinstance(value, (bool, np.bool_))


def type_name(value: object) -> str:
    """The JSON-ish name of a value's type, for messages."""
    if value is None:
        return "null"
    return type(value).__name__


def _type_problems(value: object, ftype: FieldType, path: str) -> Iterable[str]:
    """Type problems of one value of the object tree (not JSON: tuples, arrays and dataclass instances)."""
    if ftype.kind == "int":
        if not is_int(value):
            yield f"{path}: expected int, got {type_name(value)}"
    elif ftype.kind == "bool":
        if not is_bool(value):
            yield f"{path}: expected bool, got {type_name(value)}"
    elif ftype.kind == "str":
        if not isinstance(value, str):
            yield f"{path}: expected str, got {type_name(value)}"
    elif ftype.kind == "array":
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "iu" or value.ndim != ftype.ndim:
            got = (
                f"{value.dtype} array of shape {value.shape}"
                if isinstance(value, np.ndarray)
                else type_name(value)
            )
            yield f"{path}: expected a {ftype.ndim}-dimensional integer array, got {got}"
    elif ftype.kind == "seq":
        assert ftype.item is not None
        if not isinstance(value, tuple):
            yield f"{path}: expected tuple, got {type_name(value)}"
            return
        for i, item in enumerate(value):
            yield from _type_problems(item, ftype.item, f"{path}[{i}]")
    else:
        assert ftype.node is not None
        if type(value) is not ftype.node:
            yield f"{path}: expected {ftype.node.__name__}, got {type_name(value)}"
            return
        for name, sub in field_types(ftype.node):
            yield from _type_problems(getattr(value, name), sub, f"{path}.{name}")


# --------------------------------------------------------------------------------------------------
# Range checks
# --------------------------------------------------------------------------------------------------


class _Problems:
    """Collects problems; each checking method returns True when the value passed, else records it."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, what: str) -> bool:
        self.items.append(f"{path}: {what}")
        return False

    def in_range(self, path: str, value: int, bounds: tuple[int, int]) -> bool:
        lo, hi = bounds
        return lo <= value <= hi or self.add(path, f"{value} not in [{lo}, {hi}]")

    def in_set(self, path: str, value: int, allowed: Iterable[int]) -> bool:
        allowed = sorted(allowed)
        shown = "{" + ", ".join(str(a) for a in allowed) + "}"
        return value in allowed or self.add(path, f"{value} not in {shown}")

    def shape(self, path: str, arr: npt.NDArray[Any], expected: tuple[int, ...], why: str) -> bool:
        if arr.shape == expected:
            return True
        return self.add(path, f"shape {list(arr.shape)} != {list(expected)} {why}")

    def words(self, path: str, arr: npt.NDArray[Any], bounds: tuple[int, int], word: str) -> bool:
        lo, hi = bounds
        bad = np.argwhere((arr < lo) | (arr > hi))
        if bad.size == 0:
            return True
        index = tuple(int(i) for i in bad[0])
        where = "".join(f"[{i}]" for i in index)
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        return self.add(f"{path}{where}", f"{int(arr[index])} outside the {word} range [{lo}, {hi}]{more}")


def validate_config(config: ChipConfig, chip: str | ChipSpec) -> None:
    """Check every field range and every configuration rule of SPECK_SEMANTICS §7 for ``chip``.

    Args:
        config: The configuration to check.
        chip: A chip name or alias (see :func:`hwconfig.get_chip`) or a :class:`ChipSpec`.

    Raises:
        ConfigError: listing every problem found, each with its field path.
    """
    spec = get_chip(chip)
    if not isinstance(config, ChipConfig):
        raise ConfigError(f"<root>: expected ChipConfig, got {type_name(config)}")
    p = _Problems()
    clean: dict[str, bool] = {}
    for name, ftype in field_types(ChipConfig):
        if name == "cnn_layers":  # per layer, so one mistyped layer does not hide the others' problems
            clean[name] = _check_cnn_layers(p, config.cnn_layers, spec)
            continue
        found = list(_type_problems(getattr(config, name), ftype, name))
        p.items.extend(found)
        clean[name] = not found
    if clean["dvs_layer"]:
        clean["dvs_layer"] = _check_dvs_layer(p, config.dvs_layer, spec)
    if clean["cnn_layers"] and clean["dvs_layer"]:
        _check_network(p, config, spec)
    if clean["dvs_filter"]:
        for axis in ("x", "y"):
            size = getattr(config.dvs_filter.filter_size, axis)
            p.in_range(f"dvs_filter.filter_size.{axis}", size, DVS_FILTER_SIZE_RANGE)
        if config.dvs_filter.threshold < 0:
            p.add("dvs_filter.threshold", f"{config.dvs_filter.threshold} is negative")
    if clean["readout"]:
        _check_readout(p, config, spec)
    if clean["factory_config"]:
        divider = config.factory_config.internal_slow_clk_divider
        p.in_range("factory_config.internal_slow_clk_divider", divider, spec.internal_slow_clk_divider_range)
    if p.items:
        raise ConfigError(p.items)


def _check_cnn_layers(p: _Problems, layers: object, spec: ChipSpec) -> bool:
    """Type and range checks of every layer; True if the layers are typed right and one per core."""
    if not isinstance(layers, tuple):
        return p.add("cnn_layers", f"expected tuple, got {type_name(layers)}")
    clean = len(layers) == spec.n_cores or p.add(
        "cnn_layers", f"{len(layers)} layers, but {spec.name} has {spec.n_cores} cores"
    )
    layer_type = FieldType("node", node=CnnLayerConfig)
    for i, layer in enumerate(layers):
        found = list(_type_problems(layer, layer_type, f"cnn_layers[{i}]"))
        p.items.extend(found)
        if found:
            clean = False
        elif i < spec.n_cores:
            _check_layer(p, f"cnn_layers[{i}]", layer, spec)
    return clean


def _check_layer(p: _Problems, path: str, layer: CnnLayerConfig, spec: ChipSpec) -> None:
    dims = layer.dimensions
    d = f"{path}.dimensions"
    kernel_ok = p.in_range(f"{d}.kernel_size", dims.kernel_size, spec.kernel_size_range)
    geometry_ok = kernel_ok
    out_size_ok = True
    for axis in ("x", "y"):
        geometry_ok &= p.in_set(f"{d}.stride.{axis}", getattr(dims.stride, axis), spec.allowed_stride)
        geometry_ok &= p.in_range(f"{d}.padding.{axis}", getattr(dims.padding, axis), spec.padding_range)
        geometry_ok &= p.in_range(
            f"{d}.input_shape.size.{axis}", getattr(dims.input_shape.size, axis), (1, spec.max_input_size)
        )
        out_size_ok &= p.in_range(
            f"{d}.output_shape.size.{axis}", getattr(dims.output_shape.size, axis), (1, spec.max_output_size)
        )
    c_ok = p.in_range(
        f"{d}.input_shape.feature_count", dims.input_shape.feature_count, spec.feature_count_range
    )
    f_ok = p.in_range(
        f"{d}.output_shape.feature_count", dims.output_shape.feature_count, spec.feature_count_range
    )
    if geometry_ok:  # the output size is only defined for valid kernel, stride, padding and input
        for axis in ("x", "y"):
            n_in, s, pad = (getattr(v, axis) for v in (dims.input_shape.size, dims.stride, dims.padding))
            expected = conv_output_size(n_in, dims.kernel_size, s, pad)
            got = getattr(dims.output_shape.size, axis)
            if got != expected:
                formula = f"floor(({n_in} − {dims.kernel_size} + 2·{pad}) / {s}) + 1"
                p.add(f"{d}.output_shape.size.{axis}", f"{got} != {formula} = {expected}")
    # Shapes are compared only with dimensions that are themselves valid (no follow-up noise);
    # word ranges are checked regardless.
    arrays = (
        (
            "weights",
            layer.weights,
            dims.weights_array_dimensions(),
            "[f][c][k][k]",
            kernel_ok and c_ok and f_ok,
        ),
        ("biases", layer.biases, dims.biases_array_dimensions(), "[f]", f_ok),
        (
            "neurons_initial_value",
            layer.neurons_initial_value,
            dims.neuron_states_array_dimensions(),
            "[f][x][y]",
            f_ok and out_size_ok,
        ),
    )
    words = {"weights": (spec.weight_range, spec.weight_bits), "biases": (spec.bias_range, spec.bias_bits)}
    for name, arr, shape, layout, comparable in arrays:
        if comparable:
            p.shape(f"{path}.{name}", arr, shape, layout)
        bounds, bits = words.get(name, (spec.state_range, spec.state_bits))
        p.words(f"{path}.{name}", arr, bounds, f"int{bits}")
    p.in_range(f"{path}.threshold_high", layer.threshold_high, spec.threshold_high_range)
    p.in_range(f"{path}.threshold_low", layer.threshold_low, spec.threshold_low_range)
    p.in_range(
        f"{path}.output_decimator_interval", layer.output_decimator_interval, spec.decimator_interval_range
    )
    _check_slots(p, f"{path}.destinations", layer.destinations, spec)
    for j, dest in enumerate(layer.destinations):
        q = f"{path}.destinations[{j}]"
        _check_destination_layer(p, f"{q}.layer", dest.layer, dest.enable, spec, cnn_source=True)
        p.in_set(f"{q}.pooling", dest.pooling, spec.allowed_pooling)
        if dest.feature_shift < 0:
            p.add(f"{q}.feature_shift", f"{dest.feature_shift} is negative")


def _check_slots(p: _Problems, path: str, slots: Sequence[object], spec: ChipSpec) -> None:
    if len(slots) != spec.max_destinations:
        p.add(path, f"{len(slots)} slots, expected exactly {spec.max_destinations}")


def _check_destination_layer(
    p: _Problems, path: str, layer: int, enabled: bool, spec: ChipSpec, *, cnn_source: bool
) -> None:
    """Register range of a destination's layer id; the readout only counts if the chip has one."""
    if cnn_source and layer == spec.readout_layer_id:
        if enabled and not spec.has_readout:
            p.add(path, f"readout layer {layer} as destination, but {spec.name} has no readout layer")
        return
    allowed = set(spec.core_ids) | ({spec.readout_layer_id} if cnn_source else set())
    p.in_set(path, layer, allowed)


def _check_dvs_layer(p: _Problems, dvs: DvsLayerConfig, spec: ChipSpec) -> bool:
    """Ranges of the DVS layer; True if it passed (so its output size is defined)."""
    before = len(p.items)
    width, height = spec.dvs_size
    for axis, size in (("x", width), ("y", height)):
        p.in_set(f"dvs_layer.pooling.{axis}", getattr(dvs.pooling, axis), spec.dvs_allowed_pooling)
        origin, cut = getattr(dvs.origin, axis), getattr(dvs.cut, axis)
        ok = p.in_range(f"dvs_layer.origin.{axis}", origin, (0, size - 1))
        ok &= p.in_range(f"dvs_layer.cut.{axis}", cut, (0, size - 1))
        if ok and origin > cut:
            p.add(f"dvs_layer.origin.{axis}", f"{origin} > cut.{axis} = {cut}")
    _check_slots(p, "dvs_layer.destinations", dvs.destinations, spec)
    for j, dest in enumerate(dvs.destinations):
        path = f"dvs_layer.destinations[{j}]"
        _check_destination_layer(p, f"{path}.layer", dest.layer, dest.enable, spec, cnn_source=False)
        if dest.enable and not spec.has_dvs:
            p.add(f"{path}.enable", f"{spec.name} has no DVS layer")
    return len(p.items) == before


def dvs_output_shape(dvs: DvsLayerConfig, chip: ChipSpec) -> tuple[int, int, int]:
    """Size ``(x, y)`` and feature count of the events the DVS layer sends to a core (§5).

    The region of interest is in pooled coordinates (sinabs' convention), clipped to the pooled sensor;
    ``mirror_diagonal`` swaps the axes after cropping. Merged polarities give 1 feature, else 2.
    """
    sizes = []
    for axis, sensor in zip(("x", "y"), chip.dvs_size, strict=True):
        pooled = sensor // getattr(dvs.pooling, axis)
        sizes.append(min(getattr(dvs.cut, axis), pooled - 1) - getattr(dvs.origin, axis) + 1)
    x, y = sizes
    if dvs.mirror_diagonal:
        x, y = y, x
    return x, y, 1 if dvs.merge else 2


def _check_network(p: _Problems, config: ChipConfig, spec: ChipSpec) -> None:
    """Rules between cores (enabled destinations) and memories of the cores in use."""
    layers = config.cnn_layers
    for i, layer in enumerate(layers):
        out = layer.dimensions.output_shape
        for j, dest in enumerate(layer.destinations):
            if not dest.enable or dest.layer not in spec.core_ids or dest.pooling not in spec.allowed_pooling:
                continue
            _check_link(
                p,
                f"cnn_layers[{i}].destinations[{j}]",
                dest,
                out.size.x,
                out.size.y,
                out.feature_count,
                layers,
            )
    dvs = config.dvs_layer
    if spec.has_dvs:
        x, y, f = dvs_output_shape(dvs, spec)
        for j, ddest in enumerate(dvs.destinations):
            if ddest.enable and ddest.layer in spec.core_ids:
                link = CnnLayerDestination(enable=True, layer=ddest.layer)
                _check_link(p, f"dvs_layer.destinations[{j}]", link, x, y, f, layers, source="DVS layer")
    for core in config.used_cores():
        if core not in spec.core_ids:  # an out-of-range destination layer, already reported
            continue
        _check_memory(p, f"cnn_layers[{core}]", layers[core], spec.core(core))


def _check_link(
    p: _Problems,
    path: str,
    dest: CnnLayerDestination,
    out_x: int,
    out_y: int,
    features: int,
    layers: Sequence[CnnLayerConfig],
    source: str = "source",
) -> None:
    """An enabled destination: the features must fit the target's input features and the (pooled) map
    size must equal the target's input size (§4.5, §4.6)."""
    target = layers[dest.layer].dimensions.input_shape
    if dest.feature_shift + features > target.feature_count:
        # DVS destinations have no feature_shift field: report at the slot itself.
        where = f"{path}.feature_shift" if source == "source" else path
        p.add(
            where,
            f"{dest.feature_shift} + {features} {source} features > {target.feature_count} input features "
            f"of core {dest.layer}",
        )
    pooled = (out_x // dest.pooling, out_y // dest.pooling)
    if pooled != (target.size.x, target.size.y):
        via = f" ({out_x}×{out_y} pooled by {dest.pooling})" if dest.pooling != 1 else ""
        p.add(
            path,
            f"{source} output {pooled[0]}×{pooled[1]}{via} != input size {target.size.x}×{target.size.y} "
            f"of core {dest.layer}",
        )


def _check_memory(p: _Problems, path: str, layer: CnnLayerConfig, core: CoreSpec) -> None:
    """Memory demand of a core in use (§7.1 formulas) against its memories."""
    dims = layer.dimensions
    c, f, k = dims.input_shape.feature_count, dims.output_shape.feature_count, dims.kernel_size
    fx, fy = dims.output_shape.size.x, dims.output_shape.size.y
    if min(c, f, k, fx, fy) < 1:
        return  # already reported as a range problem
    kernel = kernel_memory_words(c, f, k)
    if kernel > core.kernel_memory:
        p.add(
            f"{path}.dimensions",
            f"kernel memory {kernel} words (c={c}, f={f}, k={k}) > {core.kernel_memory} "
            f"on core {core.core_id}",
        )
    neurons = neuron_memory_words(f, fx, fy)
    if neurons > core.neuron_memory:
        p.add(
            f"{path}.dimensions",
            f"neuron memory {neurons} words (f={f}, {fx}×{fy}) > {core.neuron_memory} on core {core.core_id}",
        )
    if layer.leak_enable and f > core.bias_memory:
        p.add(f"{path}.biases", f"bias memory {f} words > {core.bias_memory} on core {core.core_id}")


def _check_readout(p: _Problems, config: ChipConfig, spec: ChipSpec) -> None:
    r = config.readout
    if r.enable and not spec.has_readout:
        p.add("readout.enable", f"{spec.name} has no readout layer")
    p.in_range("readout.output_mode_sel", r.output_mode_sel, READOUT_OUTPUT_MODE_RANGE)
    p.in_range(
        "readout.readout_configuration_sel", r.readout_configuration_sel, READOUT_CONFIGURATION_SEL_RANGE
    )
    p.in_range("readout.output_neuron_num", r.output_neuron_num, (0, spec.readout_max_classes))
    p.in_range("readout.threshold", r.threshold, READOUT_THRESHOLD_RANGE)
