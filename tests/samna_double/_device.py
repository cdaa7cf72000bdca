"""Strict imitation of samna's events, graph nodes, device controller and dev kits (SPECK_SEMANTICS §8.2–8.3).

The fake dev kit runs the project's reference simulator (:mod:`deploy.sim.reference`) on the events written
to it, so a board target talking to it is exercised end to end. Time is a :class:`FakeClock` shared with the
code under test (its ``sleep`` advances it), so polling loops run instantly and deterministically.

Behaviour modelled after the samna 0.48.5 reference and SPECK_SEMANTICS §8.3:

- ``samna.device.get_unopened_devices()`` lists ``DeviceInfo`` s not yet opened; ``open_device`` accepts a
  ``DeviceInfo`` or a ``"Name:index"`` string, returns the already-open kit on repeated calls, and refuses a
  device opened by "another process"; ``close_device`` invalidates the kit (any later call raises).
- An input event is applied once the stopwatch has passed its timestamp; output spikes carry the stopwatch
  time at which they left the chip (here: the causing input's timestamp + ``latency_us``) and reach the host
  sink only once the clock has passed that time.
- Events are forwarded only through a started ``EventFilterGraph``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from samna_double._schema import Field, Struct, _struct


class FakeClock:
    """Monotonic seconds; ``sleep`` advances time instead of waiting."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        self.sleeps.append(seconds)
        self.now += seconds


def event_classes(module: str) -> dict[str, type[Struct]]:
    """Event classes of one chip module (``samna.<module>.event``)."""
    layer = Field("int", 0, lo=0, hi=15)  # 4-bit layer field (DS-isi); 13 = DVS monitor on output
    spike = _struct(
        "Spike",
        {
            "layer": layer,
            "feature": Field("int", 0, lo=0, hi=1023),  # 10-bit (DS-isi)
            "x": Field("int", 0, lo=0, hi=127),  # 7-bit
            "y": Field("int", 0, lo=0, hi=127),  # 7-bit
            "timestamp": Field("int", 0, lo=0, hi=2**64 - 1),  # µs
        },
    )
    address = Field("int", 0, lo=0, hi=2**18 - 1)  # [INF] neuron address width (§2.5, ≤ 18 bits)
    state = Field("int", 0, lo=-32768, hi=32767)
    read = _struct("ReadNeuronValue", {"layer": Field("int", 0, lo=0, hi=8), "address": address})
    value = _struct(
        "NeuronValue", {"layer": Field("int", 0, lo=0, hi=8), "address": address, "neuron_state": state}
    )
    write = _struct(
        "WriteNeuronValue", {"layer": Field("int", 0, lo=0, hi=8), "address": address, "neuron_state": state}
    )
    classes = {"Spike": spike, "ReadNeuronValue": read, "NeuronValue": value, "WriteNeuronValue": write}
    for cls in classes.values():
        cls.__qualname__ = f"{module}.event.{cls.__name__}"
    return classes


def neuron_address(feature: int, x: int, y: int, features: int, size_x: int, size_y: int) -> int:
    """Neuron SRAM address ``[y | x | feature]`` with ceil(log2) field widths (§2.5, DS-mem)."""
    fb = (features - 1).bit_length()
    xb = (size_x - 1).bit_length()
    return (y << (fb + xb)) | (x << fb) | feature


def decode_address(address: int, features: int, size_x: int, size_y: int) -> tuple[int, int, int]:
    fb = (features - 1).bit_length()
    xb = (size_x - 1).bit_length()
    return address & ((1 << fb) - 1), (address >> fb) & ((1 << xb) - 1), address >> (fb + xb)


# ------------------------------------------------------------------------------------------ graph


class BasicSourceNode:
    """Host → device buffer (``samna.BasicSourceNode_<module>_event_input_event``)."""

    accepted: ClassVar[tuple[type, ...]] = ()

    def __init__(self) -> None:
        self._downstream: Any = None
        self._graph: EventFilterGraph | None = None

    def write(self, events: list[Any]) -> None:
        if not isinstance(events, list):
            raise TypeError(f"write() expects a list of events, got {type(events).__name__}")
        for ev in events:
            if not isinstance(ev, self.accepted):
                raise TypeError(f"write(): incompatible event type {type(ev).__qualname__}")
        if self._graph is None or not self._graph.running:
            raise RuntimeError("the source node is not part of a started graph")
        self._downstream.receive(events)


class BasicSinkNode:
    """Device → host buffer (``samna.BasicSinkNode_<module>_event_output_event``)."""

    def __init__(self) -> None:
        self._upstream: Any = None
        self._graph: EventFilterGraph | None = None

    def get_events(self) -> list[Any]:
        if self._upstream is None or self._graph is None or not self._graph.running:
            return []
        return self._upstream.deliver()


class EventFilterGraph:
    """``samna.graph.EventFilterGraph``: ``sequential([a, b])`` connects two nodes; ``start``/``stop``."""

    def __init__(self) -> None:
        self.running = False

    def sequential(self, nodes: list[Any]) -> list[Any]:
        if len(nodes) != 2:
            raise ValueError("the double supports sequential() of exactly two nodes")
        a, b = nodes
        if isinstance(a, BasicSourceNode) and isinstance(b, ModelSinkNode):
            if not isinstance(a, b.model.source_class):
                raise TypeError(f"{type(a).__name__} cannot feed a {b.model.module} model")
            a._downstream, a._graph = b, self
        elif isinstance(a, ModelSourceNode) and isinstance(b, BasicSinkNode):
            if not isinstance(b, a.model.sink_class):
                raise TypeError(f"{type(b).__name__} cannot read a {a.model.module} model")
            b._upstream, b._graph = a, self
        else:
            raise TypeError(f"cannot connect {type(a).__name__} to {type(b).__name__}")
        return [a, b]

    def start(self) -> bool:
        self.running = True
        return True

    def stop(self) -> None:
        self.running = False


class ModelSinkNode:
    def __init__(self, model: FakeModel) -> None:
        self.model = model

    def receive(self, events: list[Any]) -> None:
        self.model.receive(events)


class ModelSourceNode:
    def __init__(self, model: FakeModel) -> None:
        self.model = model

    def deliver(self) -> list[Any]:
        return self.model.deliver()


# ------------------------------------------------------------------------------------------ dev kit


class StopWatch:
    """The dev kit's FPGA stopwatch (µs)."""

    def __init__(self, kit: FakeDevKit) -> None:
        self._kit = kit
        self.started_at: float | None = None
        self.resets = 0

    def start(self) -> None:
        self._kit.check_open()
        if self.started_at is None:
            self.started_at = self._kit.clock()

    def stop(self) -> None:
        self._kit.check_open()
        self.started_at = None

    def reset(self) -> None:
        self._kit.check_open()
        self.resets += 1
        if self.started_at is not None:
            self.started_at = self._kit.clock()

    def set_enable_value(self, enable: bool) -> None:
        if type(enable) is not bool:
            raise TypeError("set_enable_value expects a bool")
        self.start() if enable else self.stop()

    def now_us(self) -> int | None:
        return None if self.started_at is None else int((self._kit.clock() - self.started_at) * 1e6)


class IoModule:
    """``dk.get_io_module()``: the external slow clock (SPECK_SEMANTICS §2.4)."""

    def __init__(self, kit: FakeDevKit) -> None:
        self._kit = kit
        self.slow_clk_rate: int | None = None
        self.slow_clk_enabled = False

    def set_slow_clk_rate(self, hz: int) -> None:
        self._kit.check_open()
        if type(hz) is not int:
            raise TypeError(f"set_slow_clk_rate: incompatible type {type(hz).__name__}, expected int")
        if not 1 <= hz <= 10_000_000:
            raise ValueError(f"set_slow_clk_rate: {hz} Hz out of range")
        self.slow_clk_rate = hz

    def set_slow_clk(self, enable: bool) -> None:
        self._kit.check_open()
        if type(enable) is not bool:
            raise TypeError("set_slow_clk expects a bool")
        self.slow_clk_enabled = enable


@dataclass
class Behaviour:
    """How a fake kit misbehaves (for error-path tests)."""

    latency_us: int = 3
    chunk: int = 7  # output events handed out per get_events() call at most
    chatter: bool = False  # emit a noise spike on every poll forever (sink never goes quiet)
    responder: Callable[[Any, list[Any]], list[tuple[int, int, int, int, int]]] | None = None
    applied: list[Any] = field(default_factory=list)


class FakeModel:
    """``dk.get_model()``: applies configurations, runs the reference simulator, answers neuron reads."""

    def __init__(self, kit: FakeDevKit) -> None:
        self.kit = kit
        mod = kit.samna_module
        self.module = mod.__name__
        self.source_class = mod.input_source_node
        self.sink_class = mod.output_sink_node
        self.events = mod.event
        self.configuration: Any = None
        self.sim: Any = None
        self.pending_out: list[Any] = []
        self.sent_inputs = 0
        self.noise = 0

    def _config_class(self) -> type:
        return getattr(self.kit.samna_module.configuration, self.kit.samna_module.config_class_name)  # type: ignore[no-any-return]

    def apply_configuration(self, config: Any, timeout: int | None = 10) -> None:
        self.kit.check_open()
        if type(config) is not self._config_class():
            raise TypeError(f"apply_configuration: incompatible type {type(config).__qualname__}")
        ok, message = self.kit.samna_module.validate_configuration(config)
        if not ok:
            raise RuntimeError(f"Invalid configuration: {message}")
        import copy

        self.configuration = copy.deepcopy(config)
        self.kit.behaviour.applied.append(self.configuration)
        self.sim = None
        self.pending_out = []

    def get_configuration(self) -> Any:
        import copy

        return copy.deepcopy(self.configuration)

    def reset(self) -> None:
        self.kit.check_open()
        self.sim = None

    def get_sink_node(self) -> ModelSinkNode:
        return self.kit.sink_node

    def get_source_node(self) -> ModelSourceNode:
        return self.kit.source_node

    def _simulator(self) -> Any:
        if self.sim is None:
            from deploy.sim.options import SimOptions
            from deploy.sim.reference import ReferenceSimulator
            from hwconfig.samna_bridge import from_samna

            chip = self.kit.chip
            io = self.kit.io
            hz = io.slow_clk_rate if io.slow_clk_enabled else None
            options = SimOptions(slow_clock_hz=hz, validate=False)
            self.sim = ReferenceSimulator(from_samna(self.configuration, chip), options, chip)
        return self.sim

    def receive(self, events: list[Any]) -> None:
        self.kit.check_open()
        if self.configuration is None:
            raise RuntimeError("no configuration applied")
        spikes = [e for e in events if type(e).__name__ == "Spike"]
        self.sent_inputs += len(spikes)
        if spikes:
            if self.kit.behaviour.responder is not None:
                rows = self.kit.behaviour.responder(self.configuration, spikes)
            else:
                from deploy.sim.events import make_events

                ev = make_events(
                    [s.timestamp for s in spikes],
                    [s.layer for s in spikes],
                    [s.feature for s in spikes],
                    [s.x for s in spikes],
                    [s.y for s in spikes],
                )
                result = self._simulator().run(ev)
                rows = [tuple(int(v) for v in r) for r in result.events.tolist()]
            for t, layer, f, x, y in rows:
                self.pending_out.append(
                    self.events.Spike(
                        layer=layer, feature=f, x=x, y=y, timestamp=t + self.kit.behaviour.latency_us
                    )
                )
        for e in events:
            name = type(e).__name__
            if name == "ReadNeuronValue":
                self.pending_out.append(self._read(e))
            elif name == "WriteNeuronValue":
                self._write(e)

    def _locate(self, layer: int, address: int) -> tuple[list[Any], int, int, int]:
        dims = self.configuration.cnn_layers[layer].dimensions
        o = dims.output_shape
        f, x, y = decode_address(address, o.feature_count, o.size.x, o.size.y)
        sim = self._simulator()
        if layer not in sim.V:
            raise RuntimeError(f"layer {layer} is not used by the configuration")
        return sim.V[layer], f, x, y

    def _read(self, ev: Any) -> Any:
        now = self.kit.stopwatch.now_us() or 0
        from deploy.sim.events import empty_events

        self._simulator().run(empty_events(), end_time_us=now)  # apply slow-clock ticks up to now
        V, f, x, y = self._locate(ev.layer, ev.address)
        return self.events.NeuronValue(layer=ev.layer, address=ev.address, neuron_state=int(V[f][x][y]))

    def _write(self, ev: Any) -> None:
        V, f, x, y = self._locate(ev.layer, ev.address)
        V[f][x][y] = ev.neuron_state

    def deliver(self) -> list[Any]:
        self.kit.check_open()
        now = self.kit.stopwatch.now_us()
        out: list[Any] = []
        if self.kit.behaviour.chatter:
            self.noise += 1
            out.append(self.events.Spike(layer=13, feature=0, x=0, y=0, timestamp=max(now or 0, 0)))
        if now is None:
            return out
        ready = [
            e
            for e in self.pending_out
            if getattr(e, "timestamp", 0) <= now or type(e).__name__ == "NeuronValue"
        ]
        ready = ready[: self.kit.behaviour.chunk]
        for e in ready:
            self.pending_out.remove(e)
        return out + ready


class FakeDevKit:
    """A dev kit (``samna.speck2fBoards.Speck2fDevKit`` and friends)."""

    def __init__(
        self, info: Any, samna_module: Any, chip: str, clock: FakeClock, behaviour: Behaviour
    ) -> None:
        self.info = info
        self.samna_module = samna_module
        self.chip = chip
        self.clock = clock
        self.behaviour = behaviour
        self.closed = False
        self.stopwatch = StopWatch(self)
        self.io = IoModule(self)
        self.model = FakeModel(self)
        self.sink_node = ModelSinkNode(self.model)
        self.source_node = ModelSourceNode(self.model)

    def check_open(self) -> None:
        if self.closed:
            raise RuntimeError("device has been closed")

    def get_model(self) -> FakeModel:
        self.check_open()
        return self.model

    def get_stop_watch(self) -> StopWatch:
        self.check_open()
        return self.stopwatch

    def get_io_module(self) -> IoModule:
        self.check_open()
        return self.io

    def get_model_sink_node(self) -> ModelSinkNode:
        self.check_open()
        return self.sink_node

    def get_model_source_node(self) -> ModelSourceNode:
        self.check_open()
        return self.source_node


class DeviceInfo:
    """``samna.device.DeviceInfo`` (read-only properties)."""

    def __init__(
        self,
        device_type_name: str,
        serial_number: str,
        usb_bus_number: int,
        usb_device_address: int,
        logic_version: int = 0,
    ) -> None:
        object.__setattr__(
            self, "_v", (device_type_name, serial_number, usb_bus_number, usb_device_address, logic_version)
        )

    device_type_name = property(lambda self: self._v[0])
    serial_number = property(lambda self: self._v[1])
    usb_bus_number = property(lambda self: self._v[2])
    usb_device_address = property(lambda self: self._v[3])
    logic_version = property(lambda self: self._v[4])

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"DeviceInfo.{name} is read-only")

    def __repr__(self) -> str:
        t, s, b, a, lv = self._v
        return (
            f"device::DeviceInfo(serial_number={s}, usb_bus_number={b}, usb_device_address={a}, "
            f"logic_version={lv}, device_type_name={t})"
        )


class DeviceController:
    """``samna.device``: the module-level functions of the device controller."""

    def __init__(self, boards: list[tuple[DeviceInfo, Any, str, Behaviour]], clock: FakeClock) -> None:
        self._boards = boards
        self._clock = clock
        self.opened: dict[int, FakeDevKit] = {}
        self.in_other_process: set[int] = set()
        self.open_calls = 0
        self.close_calls = 0

    def get_all_devices(self) -> list[DeviceInfo]:
        return [b[0] for b in self._boards]

    def get_unopened_devices(self) -> list[DeviceInfo]:
        return [
            b[0]
            for i, b in enumerate(self._boards)
            if i not in self.opened and i not in self.in_other_process
        ]

    def get_opened_devices(self) -> list[DeviceInfo]:
        return [self._boards[i][0] for i in self.opened]

    def open_device(self, target: Any, default_config: Any = None) -> Any:
        self.open_calls += 1
        index = self._resolve(target)
        if index in self.in_other_process:
            raise RuntimeError("Device is already opened by another process")
        if index not in self.opened:
            info, module, chip, behaviour = self._boards[index]
            if module is None:
                raise RuntimeError(f"the double has no model for {info.device_type_name}")
            self.opened[index] = FakeDevKit(info, module, chip, self._clock, behaviour)
        return self.opened[index]

    def _resolve(self, target: Any) -> int:
        if isinstance(target, DeviceInfo):
            for i, b in enumerate(self._boards):
                if b[0] is target:
                    return i
            raise RuntimeError("unknown DeviceInfo")
        if isinstance(target, str):
            name, _, idx = target.partition(":")
            matches = [i for i, b in enumerate(self._boards) if b[0].device_type_name == name]
            k = int(idx) if idx else 0
            if k >= len(matches):
                raise RuntimeError(f"No device of type {name} with index {k}")
            return matches[k]
        raise TypeError(f"open_device: incompatible argument {type(target).__name__}")

    def close_device(self, device: Any) -> None:
        self.close_calls += 1
        for i, kit in list(self.opened.items()):
            if kit is device:
                kit.closed = True
                del self.opened[i]
                return
        raise RuntimeError("close_device: device is not open")
