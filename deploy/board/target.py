"""The board target: run a :class:`~hwconfig.ChipConfig` on a connected dev kit through samna.

Same protocol as the simulator (:class:`deploy.target.Target`: ``name``, ``load``, ``run``, ``reset``), same
configuration, same event dtype, so ``board.run(ev)`` can be compared with ``simulator.run(ev)``.

How a run works (SPECK_SEMANTICS §8.3):

1. ``open`` selects the board (:mod:`deploy.board.discovery`), opens it with ``samna.device.open_device`` and
   builds one event graph: ``BasicSourceNode_<module>_event_input_event → model sink`` and
   ``model source → BasicSinkNode_<module>_event_output_event``.
2. ``load`` converts the configuration (:func:`hwconfig.samna_bridge.to_samna`), has samna validate it
   (its message is passed on verbatim) and applies it; the kit then needs ``settle_s`` (sinabs waits 1 s).
3. ``run`` drains stale output, resets and starts the dev kit's stopwatch, writes all input ``Spike`` s with
   their timestamps (the FPGA releases each one when the stopwatch reaches it) and collects the output.
4. End of stream: there is no end-of-stream marker in samna, so :class:`CollectPolicy` decides: keep polling
   every ``poll_interval_s`` until the host clock says the stopwatch has passed the last input timestamp
   plus ``margin_us`` *and* the sink has returned nothing for ``quiet_polls`` consecutive polls. If that
   does not happen within ``timeout_s`` (e.g. a recurrent network or sensor events keep the chip talking),
   :class:`~deploy.errors.BoardError` is raised with events sent, received, the last input and output
   timestamps and the time waited. Every wait is one bounded poll interval; nothing sleeps open-endedly.
5. ``reset`` re-applies the configuration, which rewrites every neuron from ``neurons_initial_value``
   (what sinabs does, SPECK_SEMANTICS §2.5).

Output timestamps are the board's (time the spike left the chip, µs since the stopwatch reset); the
simulator reports the causing input's timestamp, so compare event identities, not timestamps.

Slow clock (leak, readout, DVS filter; §2.4, §6): ``slow_clock_hz`` / :meth:`BoardTarget.set_slow_clock` drive
the dev kit's external slow clock through ``get_io_module().set_slow_clk_rate / set_slow_clk``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from deploy.board.discovery import BoardInfo, BoardSelector, select_board
from deploy.board.events import neuron_address, split_output, to_samna_spikes
from deploy.board.samna_access import load_samna
from deploy.errors import BoardError
from deploy.sim.events import Events, as_events, validate_events
from hwconfig.chips import get_chip
from hwconfig.config import ChipConfig
from hwconfig.samna_bridge import chip_module, validate_with_samna
from hwconfig.spec import ChipSpec

# samna reports device and graph failures as RuntimeError (pybind11's mapping of C++ exceptions).
_SAMNA_ERRORS = (RuntimeError, OSError)


@dataclass(frozen=True)
class CollectPolicy:
    """When the output stream of one run is considered complete.

    Attributes:
        poll_interval_s: Wait between two polls of the output sink.
        quiet_polls: Consecutive empty polls required after the input has been played.
        margin_us: Extra stopwatch time after the last input timestamp before the quiet count may end
            the run (covers the chip's latency, µs per event, SPECK_SEMANTICS §11).
    """

    poll_interval_s: float = 0.02
    quiet_polls: int = 10
    margin_us: int = 20_000

    def __post_init__(self) -> None:
        if self.poll_interval_s <= 0 or self.quiet_polls < 1 or self.margin_us < 0:
            raise ValueError(f"invalid CollectPolicy {self}")


@dataclass(frozen=True)
class RunDiagnostics:
    """What the last run did (also in the message of a timeout)."""

    events_sent: int
    events_received: int
    spikes_received: int
    last_input_timestamp_us: int | None
    last_output_timestamp_us: int | None
    waited_s: float
    polls: int
    stale_discarded: int

    def describe(self) -> str:
        return (
            f"events sent {self.events_sent}, events received {self.events_received} "
            f"({self.spikes_received} spikes), last input timestamp {self.last_input_timestamp_us} µs, "
            f"last output timestamp {self.last_output_timestamp_us} µs, waited {self.waited_s:.3f} s "
            f"over {self.polls} polls, stale events discarded before the run {self.stale_discarded}"
        )


class BoardTarget:
    """A dev kit as a :class:`deploy.target.Target`.

    Use as a context manager (``with BoardTarget("speck2f") as board: ...``) so the device is always
    closed; :meth:`load` opens it if needed.

    Args:
        chip: Chip name or spec (selects the samna module and board types).
        board: Board selector: None (first board of the chip), ``"Speck2fDevKit:0"``, ``"Speck2fDevKit"``
            or ``"serial=XYZ"``.
        samna: samna module or test double; imported safely (see :mod:`deploy.board.samna_access`) if None.
        timeout_s: Longest a run may take from the first event written to the end of the output stream.
        collect: End-of-stream policy.
        slow_clock_hz: Start the external slow clock at this rate when the board is opened (None: leave it).
        settle_s: Wait after applying a configuration.
        clock: Monotonic clock in seconds (injectable for tests).
        sleep: Sleep function (injectable for tests).
    """

    def __init__(
        self,
        chip: str | ChipSpec,
        board: str | BoardSelector | None = None,
        *,
        samna: Any = None,
        timeout_s: float = 30.0,
        collect: CollectPolicy | None = None,
        slow_clock_hz: int | None = None,
        settle_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.chip = get_chip(chip)
        self.selector = board if isinstance(board, BoardSelector) else BoardSelector.parse(board)
        self._samna_arg = samna
        self.timeout_s = timeout_s
        self.collect = collect or CollectPolicy()
        self.slow_clock_hz = slow_clock_hz
        self.settle_s = settle_s
        self._clock = clock
        self._sleep = sleep
        self.name = f"board:{self.chip.name}"
        self.samna: Any = None
        self.board: BoardInfo | None = None
        self._device: Any = None
        self._graph: Any = None
        self._source: Any = None
        self._sink: Any = None
        self._config: ChipConfig | None = None
        self._samna_config: Any = None
        self.last_run: RunDiagnostics | None = None
        self.other_events: list[Any] = []

    # ------------------------------------------------------------------------------------ lifecycle

    def __enter__(self) -> BoardTarget:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def is_open(self) -> bool:
        """Whether a board is open (between :meth:`open` and :meth:`close`)."""
        return self._device is not None

    def open(self) -> BoardTarget:
        """Select and open the board and build the event graph (idempotent).

        Raises:
            SamnaUnavailableError: samna unusable (with the fix).
            BoardError: no matching board, or samna could not open it or build the graph.
        """
        if self._device is not None:
            return self
        self.samna = load_samna(self._samna_arg)
        self._events = chip_module(self.samna, self.chip).event
        self.board = select_board(self.samna, self.chip, self.selector)
        try:
            self._device = self.samna.device.open_device(self.board.device_info)
        except _SAMNA_ERRORS as exc:
            raise BoardError(
                f"cannot open board {self.board.spec} (serial {self.board.serial_number}): {exc}. Close any "
                "other process using it (another samna session or deploy-model), or unplug and replug it"
            ) from exc
        try:
            model = self._device.get_model()
            graph = self.samna.graph.EventFilterGraph()
            source, _ = graph.sequential(
                [getattr(self.samna, self.chip.samna_input_source_node)(), model.get_sink_node()]
            )
            _, sink = graph.sequential(
                [model.get_source_node(), getattr(self.samna, self.chip.samna_output_sink_node)()]
            )
            graph.start()
            self._graph, self._source, self._sink = graph, source, sink
            if self.slow_clock_hz is not None:
                self.set_slow_clock(self.slow_clock_hz)
        except BaseException as exc:
            self.close()
            if isinstance(exc, _SAMNA_ERRORS):
                raise BoardError(f"board {self.board.spec}: cannot set up the event graph: {exc}") from exc
            raise
        return self

    def close(self) -> None:
        """Stop the graph and close the device (safe to call twice)."""
        device, graph = self._device, self._graph
        self._device = self._graph = self._source = self._sink = None
        try:
            if graph is not None:
                graph.stop()
        finally:
            if device is not None:
                try:
                    self.samna.device.close_device(device)
                except _SAMNA_ERRORS as exc:
                    raise BoardError(
                        f"closing board {self.board.spec if self.board else '?'} failed: {exc}"
                    ) from exc

    def _require_open(self) -> Any:
        if self._device is None:
            self.open()
        return self._device

    # ---------------------------------------------------------------------------------- protocol

    def load(self, config: ChipConfig) -> None:
        """Validate ``config`` with samna and apply it (neurons start from ``neurons_initial_value``).

        Raises:
            ConfigError: samna (or the bridge) rejects the configuration; samna's message verbatim.
            BoardError: the board refused to apply it.
        """
        device = self._require_open()
        samna_config = validate_with_samna(config, self.chip, self.samna)
        self._apply(device, samna_config)
        self._config, self._samna_config = config, samna_config

    def _apply(self, device: Any, samna_config: Any) -> None:
        try:
            device.get_model().apply_configuration(samna_config)
        except _SAMNA_ERRORS as exc:
            raise BoardError(
                f"board {self.board.spec if self.board else '?'} refused the configuration: {exc}"
            ) from exc
        if self.settle_s > 0:
            self._sleep(self.settle_s)

    def reset(self) -> None:
        """Neurons back to ``neurons_initial_value`` by re-applying the configuration; stale output dropped.

        Raises:
            BoardError: nothing loaded yet, or the board refused the configuration.
        """
        if self._samna_config is None:
            raise BoardError("reset() before load(): no configuration to restore; call load(config) first")
        self._apply(self._require_open(), self._samna_config)
        self._drain()

    def run(self, events: Events) -> Events:
        """Play input events on the board and return the output spikes (arrival order, board timestamps).

        Other output (``NeuronValue``, readout events) is kept in :attr:`other_events`; the run's
        statistics in :attr:`last_run`.

        Raises:
            EventFormatError: events malformed or outside the configured cores' input shapes.
            BoardError: nothing loaded; the input is longer than the timeout; samna failed; or the output
                did not end within ``timeout_s`` (message with diagnostics).
        """
        if self._config is None:
            raise BoardError("run() before load(): apply a configuration first")
        ev = as_events(events)
        validate_events(ev, self._config, self.chip.dvs_size)
        spikes = to_samna_spikes(ev, self._events)
        last_in = int(ev["timestamp"][-1]) if len(ev) else None
        play_s = ((last_in or 0) + self.collect.margin_us) / 1e6
        if play_s >= self.timeout_s:
            raise BoardError(
                f"the input lasts {play_s:.3f} s (last timestamp {last_in} µs + margin "
                f"{self.collect.margin_us} µs), not less than the timeout {self.timeout_s} s; raise timeout_s"
            )
        device = self._require_open()
        stale = self._drain()
        try:
            watch = device.get_stop_watch()
            watch.reset()
            watch.start()
            t0 = self._clock()
            if spikes:
                self._source.write(spikes)
        except _SAMNA_ERRORS as exc:
            raise BoardError(f"streaming {len(spikes)} events to the board failed: {exc}") from exc
        received, polls = self._collect(t0, len(spikes), last_in, stale)
        out, other = split_output(received, self._events)
        self.other_events = other
        self.last_run = self._diagnostics(len(spikes), received, out, last_in, t0, polls, stale)
        return out

    # ---------------------------------------------------------------------------------- internals

    def _drain(self) -> int:
        """Discard output left over from before this run (bounded: at most 1000 polls)."""
        n = 0
        for _ in range(1000):
            batch = self._sink.get_events()
            if not batch:
                break
            n += len(batch)
        return n

    def _collect(self, t0: float, sent: int, last_in: int | None, stale: int) -> tuple[list[Any], int]:
        policy = self.collect
        received: list[Any] = []
        quiet = polls = 0
        deadline = t0 + self.timeout_s
        until_us = (last_in or 0) + policy.margin_us
        while True:
            try:
                batch = self._sink.get_events()
            except _SAMNA_ERRORS as exc:
                raise BoardError(f"reading board output failed after {len(received)} events: {exc}") from exc
            polls += 1
            if batch:
                received.extend(batch)
                quiet = 0
            else:
                quiet += 1
            now = self._clock()
            if (now - t0) * 1e6 >= until_us and quiet >= policy.quiet_polls:
                return received, polls
            if now >= deadline:
                out, _ = split_output(received, self._events)
                diag = self._diagnostics(sent, received, out, last_in, t0, polls, stale)
                self.last_run = diag
                raise BoardError(
                    f"board output did not end within {self.timeout_s} s (the sink never stayed quiet for "
                    f"{policy.quiet_polls} polls after the input was played): {diag.describe()}"
                )
            self._sleep(policy.poll_interval_s)

    def _diagnostics(
        self,
        sent: int,
        received: list[Any],
        out: Events,
        last_in: int | None,
        t0: float,
        polls: int,
        stale: int,
    ) -> RunDiagnostics:
        return RunDiagnostics(
            events_sent=sent,
            events_received=len(received),
            spikes_received=len(out),
            last_input_timestamp_us=last_in,
            last_output_timestamp_us=int(out["timestamp"].max()) if len(out) else None,
            waited_s=self._clock() - t0,
            polls=polls,
            stale_discarded=stale,
        )

    # ------------------------------------------------------------------------------ board extras

    def set_slow_clock(self, hz: int | None) -> None:
        """Run the dev kit's external slow clock at ``hz`` (leak once per period, §2.4), or stop it (None).

        Raises:
            BoardError: samna refused the rate.
        """
        device = self._require_open()
        try:
            io = device.get_io_module()
            if hz is None:
                io.set_slow_clk(False)
            else:
                io.set_slow_clk_rate(int(hz))
                io.set_slow_clk(True)
        except (*_SAMNA_ERRORS, ValueError, TypeError) as exc:
            raise BoardError(f"cannot set the slow clock to {hz} Hz: {exc}") from exc
        self.slow_clock_hz = hz

    def wait(self, seconds: float) -> None:
        """Wait ``seconds`` with the target's sleep function (e.g. between slow-clock periods in a test)."""
        self._sleep(seconds)

    def read_neuron_state(self, core: int, feature: int, x: int, y: int, timeout_s: float = 2.0) -> int:
        """Read one membrane state with ``ReadNeuronValue`` (SPECK_SEMANTICS §2.5, SD-mon).

        Spikes arriving while waiting are appended to :attr:`other_events` unchanged.

        Raises:
            BoardError: nothing loaded, or no ``NeuronValue`` answer within ``timeout_s``.
        """
        if self._config is None:
            raise BoardError("read_neuron_state() before load(): call load(config) first")
        address = neuron_address(self._config.cnn_layers[core], feature, x, y)
        self._require_open()
        request = self._events.ReadNeuronValue()
        request.layer, request.address = int(core), int(address)
        try:
            self._source.write([request])
        except _SAMNA_ERRORS as exc:
            raise BoardError(f"ReadNeuronValue(core {core}, address {address}) failed: {exc}") from exc
        t0 = self._clock()
        polls = 0
        while True:
            polls += 1
            for obj in self._sink.get_events():
                if (
                    isinstance(obj, self._events.NeuronValue)
                    and int(obj.layer) == core
                    and int(obj.address) == address
                ):
                    return int(obj.neuron_state)
                self.other_events.append(obj)
            if self._clock() - t0 >= timeout_s:
                raise BoardError(
                    f"no NeuronValue for core {core} address {address} (f={feature}, x={x}, y={y}) within "
                    f"{timeout_s} s ({polls} polls)"
                )
            self._sleep(self.collect.poll_interval_s)


def run_on_board(
    config: ChipConfig,
    chip: str | ChipSpec,
    events: Events,
    board_spec: str | None = None,
    timeout_s: float = 30.0,
    *,
    slow_clock_hz: int | None = None,
    samna: Any = None,
    **options: Any,
) -> Events:
    """Deploy ``config`` on a board, play ``events`` and return the output spikes; the board is closed after.

    This is what ``deploy-model run --device <chip> --board <spec>`` calls.

    Args:
        config: The chip configuration (monitor the cores whose output you want).
        chip: Chip name or spec.
        events: Input events (``EVENT_DTYPE`` or anything :func:`deploy.sim.events.as_events` accepts).
        board_spec: ``None`` (first board of the chip), ``"Speck2fDevKit:0"``, ``"Speck2fDevKit"`` or
            ``"serial=XYZ"``.
        timeout_s: Longest time for the run (input playback plus output collection).
        slow_clock_hz: External slow-clock rate for leak/readout, or None.
        samna: samna module or test double (imported safely if None).
        **options: Further :class:`BoardTarget` keyword arguments (``collect``, ``settle_s``, ``clock``,
            ``sleep``).

    Returns:
        Output spikes as ``EVENT_DTYPE`` in arrival order, board timestamps (µs since the stopwatch reset).

    Raises:
        SamnaUnavailableError: samna missing, the PyPI placeholder, or an unsupported version.
        BoardError: no such board, open/apply/stream failure, or timeout (with diagnostics).
        ConfigError: the configuration is invalid for samna (samna's message verbatim).
        EventFormatError: malformed input events.
    """
    target = BoardTarget(
        chip, board_spec, samna=samna, timeout_s=timeout_s, slow_clock_hz=slow_clock_hz, **options
    )
    with target as board:
        board.load(config)
        return board.run(events)


__all__ = ["BoardTarget", "CollectPolicy", "RunDiagnostics", "run_on_board"]
