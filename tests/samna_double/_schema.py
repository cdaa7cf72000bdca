"""Strict imitation of samna's configuration structs (SPECK_SEMANTICS §8.1, ranges §7.2).

Every struct accepts only its documented attributes (unknown name → ``AttributeError``), only values of the
documented kind (Python ``bool`` for flags, Python ``int`` — not bool, not numpy — for integers, nested Python
lists for arrays; otherwise ``TypeError``) and only in-range values (``ValueError``). Struct-valued
attributes hand out references (like pybind11's ``reference_internal``), accept assignment of an instance
of the same class (copied), and fixed-length lists (``cnn_layers``, ``destinations``) refuse resizing.
Array getters return copies (like pybind11's conversion of ``std::vector``).

Where a range is not documented the double says so next to the field ([INF]).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any, ClassVar


class Field:
    """One attribute of a struct: its kind, default and allowed values."""

    def __init__(
        self,
        kind: str,
        default: Any = None,
        *,
        lo: int | None = None,
        hi: int | None = None,
        allowed: frozenset[int] | None = None,
        ndim: int = 0,
        struct: Callable[[], Struct] | None = None,
        length: int = 0,
    ) -> None:
        self.kind = kind  # "bool" | "int" | "struct" | "structs" | "array" | "bool_array"
        self.default = default
        self.lo, self.hi, self.allowed = lo, hi, allowed
        self.ndim, self.struct, self.length = ndim, struct, length

    def check_int(self, owner: str, name: str, value: Any) -> None:
        if type(value) is not int:
            raise TypeError(f"{owner}.{name}: incompatible type {type(value).__name__}, expected int")
        if self.allowed is not None and value not in self.allowed:
            raise ValueError(f"{owner}.{name}: {value} not in {sorted(self.allowed)}")
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise ValueError(f"{owner}.{name}: {value} outside [{self.lo}, {self.hi}]")

    def convert(self, owner: str, name: str, value: Any) -> Any:
        if self.kind == "bool":
            if type(value) is not bool:
                raise TypeError(f"{owner}.{name}: incompatible type {type(value).__name__}, expected bool")
            return value
        if self.kind == "int":
            self.check_int(owner, name, value)
            return value
        if self.kind == "struct":
            assert self.struct is not None
            expected = type(self.struct())
            if type(value) is not expected:
                raise TypeError(
                    f"{owner}.{name}: incompatible type {type(value).__name__}, expected {expected.__name__}"
                )
            return copy.deepcopy(value)
        if self.kind == "structs":
            assert self.struct is not None
            expected = type(self.struct())
            items = list(value._items) if isinstance(value, FixedList) else value
            if not isinstance(items, list):
                raise TypeError(f"{owner}.{name}: incompatible type {type(value).__name__}, expected list")
            if len(items) != self.length:
                raise ValueError(f"{owner}.{name}: needs exactly {self.length} entries, got {len(items)}")
            for item in items:
                if type(item) is not expected:
                    raise TypeError(
                        f"{owner}.{name}: entry of type {type(item).__name__}, expected {expected.__name__}"
                    )
            return FixedList(f"{owner}.{name}", expected, [copy.deepcopy(i) for i in items])
        if self.kind in ("array", "bool_array"):
            self._check_array(owner, name, value, self.ndim)
            return copy.deepcopy(value)
        raise AssertionError(self.kind)

    def _check_array(self, owner: str, name: str, value: Any, ndim: int) -> None:
        if ndim == 0:
            if self.kind == "bool_array":
                if type(value) is not bool:
                    raise TypeError(f"{owner}.{name}: element of type {type(value).__name__}, expected bool")
            else:
                self.check_int(owner, name, value)
            return
        if not isinstance(value, list):
            raise TypeError(
                f"{owner}.{name}: incompatible type {type(value).__name__}, expected a nested list"
            )
        lengths = {len(v) if isinstance(v, list) else -1 for v in value} if ndim > 1 else set()
        if len(lengths) > 1:
            raise ValueError(f"{owner}.{name}: ragged nested list")
        for v in value:
            self._check_array(owner, name, v, ndim - 1)


class FixedList:
    """A fixed-length list of structs (pybind11-bound ``std::array``): items by reference, no resizing."""

    def __init__(self, owner: str, item_type: type, items: list[Any]) -> None:
        self._owner, self._type, self._items = owner, item_type, items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: int) -> Any:
        return self._items[i]

    def __setitem__(self, i: int, value: Any) -> None:
        if type(value) is not self._type:
            raise TypeError(f"{self._owner}[{i}]: incompatible type {type(value).__name__}")
        self._items[i] = copy.deepcopy(value)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def append(self, value: Any) -> None:  # present on lists, refused here to catch resizing
        raise TypeError(f"{self._owner}: fixed-length list cannot grow")


class Struct:
    """Base of every configuration struct of the double."""

    FIELDS: ClassVar[dict[str, Field]] = {}

    def __init__(self, **kwargs: Any) -> None:
        object.__setattr__(self, "_values", {})
        for name, f in self.FIELDS.items():
            if f.kind == "struct":
                assert f.struct is not None
                self._values[name] = f.struct()
            elif f.kind == "structs":
                assert f.struct is not None
                items = [f.struct() for _ in range(f.length)]
                self._values[name] = FixedList(f"{type(self).__name__}.{name}", type(items[0]), items)
            else:
                self._values[name] = copy.deepcopy(f.default)
        for name, value in kwargs.items():
            setattr(self, name, value)

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name not in values:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        f = self.FIELDS[name]
        value = values[name]
        return copy.deepcopy(value) if f.kind in ("array", "bool_array") else value

    def __setattr__(self, name: str, value: Any) -> None:
        f = self.FIELDS.get(name)
        if f is None:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        self._values[name] = f.convert(type(self).__name__, name, value)

    def __deepcopy__(self, memo: dict[int, Any]) -> Struct:
        new = type(self).__new__(type(self))
        object.__setattr__(new, "_values", copy.deepcopy(self._values, memo))
        return new

    # samna's to_json/from_json: the double's own layout (samna's real layout is undocumented).
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, f in self.FIELDS.items():
            value = self._values[name]
            if f.kind == "struct":
                out[name] = value.to_dict()
            elif f.kind == "structs":
                out[name] = [item.to_dict() for item in value]
            else:
                out[name] = copy.deepcopy(value)
        return out

    def load_dict(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict):
            raise RuntimeError(f"{type(self).__name__}: expected a JSON object")
        for name, value in data.items():
            f = self.FIELDS.get(name)
            if f is None:
                raise RuntimeError(f"{type(self).__name__}: unknown JSON key {name!r}")
            if f.kind == "struct":
                self._values[name].load_dict(value)
            elif f.kind == "structs":
                if len(value) != f.length:
                    raise RuntimeError(f"{type(self).__name__}.{name}: expected {f.length} entries")
                for item, v in zip(self._values[name], value, strict=True):
                    item.load_dict(v)
            else:
                setattr(self, name, value)

    def to_json(self) -> str:
        return json.dumps({"samna_double": type(self).__name__, "value": self.to_dict()})

    def from_json(self, text: str) -> None:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RuntimeError(f"JSON parse error: {exc}") from None
        if not isinstance(data, dict) or data.get("samna_double") != type(self).__name__:
            raise RuntimeError(f"not a {type(self).__name__} JSON document")
        self.load_dict(data["value"])


def _struct(name: str, fields: dict[str, Field]) -> type[Struct]:
    return type(name, (Struct,), {"FIELDS": fields})


def _vec2(name: str, **kw: Any) -> type[Struct]:
    return _struct(
        name,
        {
            "x": Field("int", kw.get("default", 0), **_rng(kw)),
            "y": Field("int", kw.get("default", 0), **_rng(kw)),
        },
    )


def _rng(kw: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if k in ("lo", "hi", "allowed")}


CNN_LAYER_IDS = frozenset(range(9)) | {12}
POOLING = frozenset({1, 2, 4})
STRIDES = frozenset({1, 2, 4, 8})


def build_classes(*, layer_class: str, destination_class: str, kill_bits: bool) -> dict[str, type[Struct]]:
    """Create the configuration classes of one samna chip module (fresh classes per module)."""
    Vec2 = _struct(
        "Vec2", {"x": Field("int", 0), "y": Field("int", 0)}
    )  # unconstrained, samna's generic Vec2
    BoolVec2 = _struct("Vec2_bool", {"x": Field("bool", False), "y": Field("bool", False)})
    Size = _vec2("Vec2_size", lo=1, hi=128, default=1)  # §7.2: input map <= 128x128
    Padding = _vec2("Vec2_padding", lo=0, hi=7)  # §7.2
    Stride = _vec2("Vec2_stride", allowed=STRIDES, default=1)  # §7.2
    IOShape = _struct(
        "IOShape",
        {"size": Field("struct", struct=Size), "feature_count": Field("int", 1, lo=1, hi=1024)},  # §7.2
    )

    def dims_fields() -> dict[str, Field]:
        return {
            "input_shape": Field("struct", struct=IOShape),
            "output_shape": Field("struct", struct=IOShape),
            "padding": Field("struct", struct=Padding),
            "stride": Field("struct", struct=Stride),
            "kernel_size": Field("int", 1, lo=1, hi=16),  # §7.2
        }

    class CnnLayerDimensions(Struct):
        FIELDS: ClassVar[dict[str, Field]] = dims_fields()

        def get_weights_array_dimensions(self) -> list[int]:
            k = self.kernel_size
            return [self.output_shape.feature_count, self.input_shape.feature_count, k, k]

        def get_neuron_states_array_dimensions(self) -> list[int]:
            o = self.output_shape
            return [o.feature_count, o.size.x, o.size.y]

        def get_biases_array_dimensions(self) -> list[int]:
            return [self.output_shape.feature_count]

    Destination = _struct(
        destination_class,
        {
            "enable": Field("bool", False),
            "layer": Field("int", 0, allowed=CNN_LAYER_IDS),  # SAM-cfg: [0, 8] and 12
            "pooling": Field("int", 1, allowed=POOLING),  # SAM-cfg
            "feature_shift": Field("int", 0, lo=0, hi=1023),  # [INF] 10-bit feature field (DS-isi)
        },
    )
    layer_fields: dict[str, Field] = {
        "dimensions": Field("struct", struct=CnnLayerDimensions),
        "weights": Field("array", [[[[0]]]], ndim=4, lo=-128, hi=127),  # §2.1 int8
        "biases": Field("array", [0], ndim=1, lo=-32768, hi=32767),  # §2.1 int16
        "neurons_initial_value": Field("array", [[[0]]], ndim=3, lo=-32768, hi=32767),  # §2.1 int16
        "threshold_high": Field("int", 0, lo=0, hi=32767),  # SAM-cfg
        "threshold_low": Field("int", -1, lo=-32768, hi=-1),  # SAM-cfg
        "return_to_zero": Field("bool", False),
        "leak_enable": Field("bool", False),
        "leak_internal_slow_clk_enable": Field("bool", False),
        "monitor_enable": Field("bool", False),
        "input_congestion_balancer_enable": Field("bool", False),
        "output_decimator_enable": Field("bool", False),
        "output_decimator_interval": Field("int", 0, lo=0, hi=7),  # SAM-cfg
        "destinations": Field("structs", struct=Destination, length=2),
    }
    if kill_bits:
        layer_fields["weights_kill_bit"] = Field("bool_array", [[[[False]]]], ndim=4)
        layer_fields["biases_kill_bit"] = Field("bool_array", [False], ndim=1)
        layer_fields["neurons_value_kill_bit"] = Field("bool_array", [[[False]]], ndim=3)
    CnnLayer = _struct(layer_class, layer_fields)

    DvsDestination = _struct(
        "DvsLayerDestination",
        {"enable": Field("bool", False), "layer": Field("int", 0, lo=0, hi=8)},  # §5: cores 0..8
    )
    Coord = _vec2("Vec2_coord", lo=0, hi=127)  # §5: 128x128 array
    DvsPooling = _vec2("Vec2_dvs_pooling", allowed=POOLING, default=1)
    DvsLayer = _struct(
        "DvsLayerConfig",
        {
            "merge": Field("bool", False),
            "on_channel": Field("bool", True),
            "off_channel": Field("bool", True),
            "pooling": Field("struct", struct=DvsPooling),
            "origin": Field("struct", struct=Coord),
            "cut": Field("struct", struct=lambda: Coord(x=127, y=127)),
            "mirror": Field("struct", struct=BoolVec2),
            "mirror_diagonal": Field("bool", False),
            "monitor_enable": Field("bool", False),
            "raw_monitor_enable": Field("bool", False),
            "pass_sensor_events": Field("bool", False),
            "destinations": Field("structs", struct=DvsDestination, length=2),
        },
    )
    FilterSize = _vec2("Vec2_filter_size", lo=1, hi=15, default=3)  # SPECK_SEMANTICS §5: 1..15
    DvsFilter = _struct(
        "DvsFilterConfig",
        {
            "enable": Field("bool", False),
            "filter_size": Field("struct", struct=FilterSize),
            "threshold": Field("int", 5, lo=0, hi=65535),  # [INF] range undocumented; non-negative
            "hot_pixel_filter_enable": Field("bool", True),
            "low_pass_mode_enable": Field("bool", False),
            "internal_slow_clk": Field("bool", False),
        },
    )
    Readout = _struct(
        "ReadoutConfig",
        {
            "enable": Field("bool", False),
            "internal_slow_clk": Field("bool", False),
            "low_pass_filter_disable": Field("bool", False),
            "low_pass_filter32_not16": Field("bool", False),
            "monitor_enable": Field("bool", False),
            "output_mode_sel": Field("int", 0, lo=0, hi=3),  # §6 modes 0..3
            "output_neuron_num": Field("int", 0, lo=0, hi=15),  # §6: 15 classes + idle
            "override_threshold_max": Field("bool", False),
            "readout_configuration_sel": Field("int", 0, lo=0, hi=3),  # §6 address modes 0..3
            "readout_pin_monitor_enable": Field("bool", False),
            "threshold": Field("int", 0, lo=0, hi=65535),  # §6 16-bit counters
        },
    )
    Factory = _struct(
        "FactoryConfig",
        {
            "internal_slow_clk_divider": Field("int", 17, lo=14, hi=17),  # §2.4
            "monitor_dual_channel": Field("bool", False),
        },
    )
    return {
        "Vec2": Vec2,
        "IOShape": IOShape,
        "CnnLayerDimensions": CnnLayerDimensions,
        destination_class: Destination,
        layer_class: CnnLayer,
        "DvsLayerDestination": DvsDestination,
        "DvsLayerConfig": DvsLayer,
        "DvsFilterConfig": DvsFilter,
        "ReadoutConfig": Readout,
        "FactoryConfig": Factory,
        "_top_fields": {  # type: ignore[dict-item]
            "cnn_layers": Field("structs", struct=CnnLayer, length=9),
            "dvs_layer": Field("struct", struct=DvsLayer),
            "dvs_filter": Field("struct", struct=DvsFilter),
            "readout": Field("struct", struct=Readout),
            "factory_config": Field("struct", struct=Factory),
        },
    }


def array_shape(value: Any) -> list[int]:
    """Shape of a rectangular nested list."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return shape


def validate(config: Any, kill_bits: bool) -> tuple[bool, str]:
    """The double's ``validate_configuration``: array shapes against the dimensions, output-size formula."""
    problems = []
    for i, layer in enumerate(config.cnn_layers):
        dims = layer.dimensions
        checks = [
            ("weights", dims.get_weights_array_dimensions()),
            ("biases", dims.get_biases_array_dimensions()),
            ("neurons_initial_value", dims.get_neuron_states_array_dimensions()),
        ]
        if kill_bits:
            checks += [
                ("weights_kill_bit", dims.get_weights_array_dimensions()),
                ("biases_kill_bit", dims.get_biases_array_dimensions()),
                ("neurons_value_kill_bit", dims.get_neuron_states_array_dimensions()),
            ]
        for name, expected in checks:
            got = array_shape(getattr(layer, name))
            if got != expected:
                problems.append(f"Layer {i}: {name} dimensions {got} do not match expected {expected}")
        for axis in ("x", "y"):
            size_in = getattr(dims.input_shape.size, axis)
            size_out = getattr(dims.output_shape.size, axis)
            k, p, s = dims.kernel_size, getattr(dims.padding, axis), getattr(dims.stride, axis)
            expected_out = (size_in - k + 2 * p) // s + 1
            if size_out != expected_out:
                problems.append(f"Layer {i}: output size {axis} {size_out} should be {expected_out}")
            if size_out > 64:
                problems.append(f"Layer {i}: output size {axis} {size_out} exceeds 64")
    if problems:
        return False, "\n".join(problems)
    return True, ""
