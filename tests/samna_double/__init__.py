"""A strict test double of the parts of samna that speck-deploy uses. Test-only: never importable from the
``deploy`` or ``hwconfig`` packages.

``make_samna(...)`` returns a fresh module-like object, so tests never share state::

    samna = make_samna(boards=[("Speck2fDevKit", "SN-A"), ("DYNAP-SE2 DevBoard", "X")])
    cfg = samna.speck2f.configuration.SpeckConfiguration()
    cfg.cnn_layers[0].threshold_high = 1.5     # TypeError
    cfg.cnn_layers[0].threshold_high = 40000   # ValueError
    cfg.cnn_layers[0].treshold_high = 1        # AttributeError

What it mirrors (names from SPECK_SEMANTICS §8 and the samna 0.48.5 reference):
``samna.<module>.configuration.{SpeckConfiguration|DynapcnnConfiguration}``, ``samna.<module>.event.{Spike,
ReadNeuronValue, NeuronValue, WriteNeuronValue}``, ``samna.<module>.validate_configuration``,
``samna.<module>.configuration_to_flash_binary`` (speck2e/2f only), ``samna.device.*``,
``samna.graph.EventFilterGraph``, ``samna.BasicSourceNode_*`` / ``samna.BasicSinkNode_*`` and dev kits with
stopwatch, io module and model.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import Any

from hwconfig.chips import CHIPS
from samna_double._device import (
    BasicSinkNode,
    BasicSourceNode,
    Behaviour,
    DeviceController,
    DeviceInfo,
    EventFilterGraph,
    FakeClock,
    FakeDevKit,
    event_classes,
    neuron_address,
)
from samna_double._schema import Field, Struct, build_classes, validate

__all__ = ["Behaviour", "DeviceInfo", "FakeClock", "FakeDevKit", "make_samna", "neuron_address"]

# Per samna chip module: configuration class, CNN layer / destination class names, kill bits.
MODULES: dict[str, tuple[str, str, str, bool]] = {
    "speck2f": ("SpeckConfiguration", "CnnLayerConfig", "CnnLayerDestination", False),
    "speck2e": ("SpeckConfiguration", "CnnLayerConfig", "CnnLayerDestination", False),
    "dynapcnn": ("DynapcnnConfiguration", "CNNLayerConfig", "CNNLayerDestination", True),
}
FLASH_MODULES = ("speck2f", "speck2e")  # samna 0.48.5 documents configuration_to_flash_binary for these


def _chip_module(name: str) -> types.ModuleType:
    config_name, layer_name, dest_name, kill_bits = MODULES[name]
    classes = build_classes(layer_class=layer_name, destination_class=dest_name, kill_bits=kill_bits)
    top_fields: dict[str, Field] = classes.pop("_top_fields")  # type: ignore[assignment]
    config_cls = type(config_name, (Struct,), {"FIELDS": top_fields})
    config_cls.__qualname__ = f"{name}.configuration.{config_name}"

    mod = types.ModuleType(f"samna.{name}")
    conf = types.ModuleType(f"samna.{name}.configuration")
    for cls_name, cls in classes.items():
        setattr(conf, cls_name, cls)
    setattr(conf, config_name, config_cls)
    ev = types.ModuleType(f"samna.{name}.event")
    for cls_name, cls in event_classes(name).items():
        setattr(ev, cls_name, cls)
    mod.configuration = conf  # type: ignore[attr-defined]
    mod.event = ev  # type: ignore[attr-defined]
    mod.config_class_name = config_name  # type: ignore[attr-defined]
    mod.__name__ = name

    def validate_configuration(config: Any) -> tuple[bool, str]:
        if type(config) is not config_cls:
            raise TypeError(f"validate_configuration: incompatible type {type(config).__qualname__}")
        return validate(config, kill_bits)

    mod.validate_configuration = validate_configuration  # type: ignore[attr-defined]
    if name in FLASH_MODULES:

        def configuration_to_flash_binary(config: Any) -> list[int]:
            if type(config) is not config_cls:
                raise TypeError(
                    f"configuration_to_flash_binary: incompatible type {type(config).__qualname__}"
                )
            return list(config.to_json().encode())  # the double's image: its JSON bytes

        mod.configuration_to_flash_binary = configuration_to_flash_binary  # type: ignore[attr-defined]

    spec = CHIPS[name]
    spike = ev.Spike
    read, write = ev.ReadNeuronValue, ev.WriteNeuronValue
    source = type(spec.samna_input_source_node, (BasicSourceNode,), {"accepted": (spike, read, write)})
    sink = type(spec.samna_output_sink_node, (BasicSinkNode,), {})
    mod.input_source_node = source  # type: ignore[attr-defined]
    mod.output_sink_node = sink  # type: ignore[attr-defined]
    return mod


def _device_module(type_name: str, modules: dict[str, types.ModuleType]) -> tuple[Any, str]:
    for chip in CHIPS.values():
        if type_name in chip.samna_device_types:
            return modules[chip.samna_module], chip.name
    return None, ""


def make_samna(
    boards: Sequence[tuple[str, str] | tuple[str, str, Behaviour]] = (),
    *,
    version: str = "0.48.5",
    clock: FakeClock | None = None,
    without: Sequence[str] = (),
) -> types.ModuleType:
    """Build a fresh samna double.

    Args:
        boards: Connected boards as ``(device_type_name, serial_number[, Behaviour])``; USB addresses are
            assigned in order. Types of no supported chip (e.g. ``"DYNAP-SE2 DevBoard"``) are listed but
            cannot be opened as a chip.
        version: ``samna.__version__``.
        clock: Shared fake clock (a new one by default; available as ``samna.clock``).
        without: Chip modules to leave out (e.g. ``("dynapcnn",)`` like samna 0.48).
    """
    samna = types.ModuleType("samna")
    samna.__version__ = version  # type: ignore[attr-defined]
    clock = clock or FakeClock()
    samna.clock = clock  # type: ignore[attr-defined]
    modules = {name: _chip_module(name) for name in MODULES if name not in without}
    for name, mod in modules.items():
        setattr(samna, name, mod)
        setattr(samna, mod.input_source_node.__name__, mod.input_source_node)
        setattr(samna, mod.output_sink_node.__name__, mod.output_sink_node)
    graph = types.ModuleType("samna.graph")
    graph.EventFilterGraph = EventFilterGraph  # type: ignore[attr-defined]
    samna.graph = graph  # type: ignore[attr-defined]
    entries = []
    for i, board in enumerate(boards):
        type_name, serial = board[0], board[1]
        behaviour = board[2] if len(board) > 2 else Behaviour()  # type: ignore[misc]
        info = DeviceInfo(type_name, serial, usb_bus_number=1 + i // 4, usb_device_address=10 + i)
        module, chip = _device_module(type_name, modules)
        entries.append((info, module, chip, behaviour))
    controller = DeviceController(entries, clock)
    device = types.ModuleType("samna.device")
    device.DeviceInfo = DeviceInfo  # type: ignore[attr-defined]
    for fn in (
        "get_all_devices",
        "get_unopened_devices",
        "get_opened_devices",
        "open_device",
        "close_device",
    ):
        setattr(device, fn, getattr(controller, fn))
    device.controller = controller  # type: ignore[attr-defined]
    samna.device = device  # type: ignore[attr-defined]
    return samna


# Re-exported for tests that reach into the fake kit.
FakeKit = FakeDevKit
Graph = EventFilterGraph
