"""deploy.board against the strict samna double: discovery, selection, versions, streaming, timeouts, stub."""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from samna_double import Behaviour, make_samna
from samna_double import neuron_address as double_address

from deploy.board import (
    BoardSelector,
    BoardTarget,
    CollectPolicy,
    export_flash_binary,
    list_boards,
    load_samna,
    neuron_address,
    run_on_board,
    select_board,
)
from deploy.commands import devices as devices_cmd
from deploy.errors import BoardError, EventFormatError, SamnaUnavailableError
from deploy.sim.events import make_events
from deploy.sim.reference import simulate_reference
from deploy.target import Target
from hwconfig import ChipConfig, CnnLayerConfig, CnnLayerDestination, CnnLayerDimensions, IOShape, Vec2
from hwconfig.errors import ConfigError
from hwconfig.samna_env import SamnaStatus

REPO = Path(__file__).resolve().parents[2]

# Boards in USB order; unrelated ones come first so they would shift a naive index.
BOARDS = [
    ("DYNAP-SE2 DevBoard", "SE2-1"),
    ("Speck2eDevKit", "E-1"),
    ("Speck2fDevKit", "F-1"),
    ("Davis 346", "CAM"),
    ("Speck2fModuleDevKit", "M-1"),
    ("Speck2fDevKit", "F-2"),
]


def single_neuron(core: int = 2, weight: int = 127, threshold: int = 127) -> ChipConfig:
    """SPECK_SEMANTICS §12b.2: 1×1 kernel, W=127, thr=127: one input → one output spike."""
    layer = CnnLayerConfig(
        weights=np.full((1, 1, 1, 1), weight),
        threshold_high=threshold,
        threshold_low=-127,
        monitor_enable=True,
    )
    return ChipConfig().with_layer(core, layer)


def chain(rng: np.random.Generator) -> ChipConfig:
    """core 3 (2×8×8 → 4×8×8, k3 p1) → core 5 (4×8×8 → 2×4×4, k3 s2 p1), monitored exit core 5."""
    first = CnnLayerConfig(
        dimensions=CnnLayerDimensions(
            IOShape(Vec2(8, 8), 2), IOShape(Vec2(8, 8), 4), Vec2(1, 1), Vec2(1, 1), 3
        ),
        weights=rng.integers(-20, 60, size=(4, 2, 3, 3)),
        biases=np.zeros(4, int),
        neurons_initial_value=np.zeros((4, 8, 8), int),
        threshold_high=80,
        threshold_low=-80,
        destinations=(CnnLayerDestination(enable=True, layer=5), CnnLayerDestination()),
    )
    second = CnnLayerConfig(
        dimensions=CnnLayerDimensions(
            IOShape(Vec2(8, 8), 4), IOShape(Vec2(4, 4), 2), Vec2(1, 1), Vec2(2, 2), 3
        ),
        weights=rng.integers(-10, 50, size=(2, 4, 3, 3)),
        biases=np.zeros(2, int),
        neurons_initial_value=np.zeros((2, 4, 4), int),
        threshold_high=60,
        threshold_low=-60,
        monitor_enable=True,
    )
    return ChipConfig().with_layer(3, first).with_layer(5, second)


def chain_input(rng: np.random.Generator, n: int = 300) -> Any:
    ts = np.sort(rng.integers(0, 50_000, size=n))
    return make_events(ts, 3, rng.integers(0, 2, n), rng.integers(0, 8, n), rng.integers(0, 8, n))


def target(samna: Any, chip: str = "speck2f", board: str | None = None, **kw: Any) -> BoardTarget:
    return BoardTarget(chip, board, samna=samna, clock=samna.clock, sleep=samna.clock.sleep, **kw)


def identities(events: Any) -> list[tuple[int, int, int, int]]:
    return [(int(e["layer"]), int(e["feature"]), int(e["x"]), int(e["y"])) for e in events]


# ------------------------------------------------------------------------------------ selectors


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, BoardSelector()),
        ("", BoardSelector()),
        ("Speck2fDevKit:1", BoardSelector("Speck2fDevKit", 1)),
        ("Speck2fDevKit", BoardSelector("Speck2fDevKit", None)),
        ("serial=ABC-1", BoardSelector(serial="ABC-1")),
        (" SERIAL = x ", BoardSelector(serial="x")),
    ],
)
def test_selector_forms(text: str | None, expected: BoardSelector) -> None:
    assert BoardSelector.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("serial=", "empty serial number"),
        ("Speck2fDevKit:x", "not understood; use a device type and index such as 'Speck2fDevKit:0'"),
        (":0", "not understood"),
    ],
)
def test_bad_selectors_explain_the_forms(text: str, message: str) -> None:
    with pytest.raises(BoardError, match=message):
        BoardSelector.parse(text)


# ------------------------------------------------------------------------------------ discovery


def test_list_boards_filters_by_chip_and_indexes_per_type() -> None:
    samna = make_samna(BOARDS)
    assert [(b.spec, b.serial_number) for b in list_boards(samna, "speck2f")] == [
        ("Speck2fDevKit:0", "F-1"),
        ("Speck2fDevKit:1", "F-2"),
        ("Speck2fModuleDevKit:0", "M-1"),
    ]
    assert [b.chip for b in list_boards(samna)] == ["speck2e", "speck2f", "speck2f", "speck2f"]
    others = {b.device_type_name: b.chip for b in list_boards(samna, include_other=True)}
    assert others["DYNAP-SE2 DevBoard"] is None and others["Davis 346"] is None


def test_index_orders_by_usb_bus_and_address_not_listing_order() -> None:
    samna = make_samna([("Speck2fDevKit", "late"), ("Speck2fDevKit", "early")])
    infos = samna.device.get_unopened_devices()
    # Swap the USB addresses: the second listed board now has the lower address.
    object.__setattr__(infos[0], "_v", ("Speck2fDevKit", "late", 1, 30, 0))
    assert [b.serial_number for b in list_boards(samna, "speck2f")] == ["early", "late"]


@pytest.mark.parametrize(
    ("spec", "serial"),
    [
        (None, "F-1"),
        ("Speck2fDevKit:1", "F-2"),
        ("speck2fdevkit", "F-1"),
        ("Speck2fModuleDevKit:0", "M-1"),
        ("serial=F-2", "F-2"),
        # sinabs device strings and chip names with an index (issue #12)
        ("speck2fdevkit:1", "F-2"),
        ("speck2fmodule:0", "M-1"),
        ("speck2f:00", "F-1"),
        ("speck2f:2", "M-1"),
    ],
)
def test_select_board_is_unaffected_by_unrelated_boards(spec: str | None, serial: str) -> None:
    assert select_board(make_samna(BOARDS), "speck2f", spec).serial_number == serial
    # The same answer with every unrelated board unplugged.
    related = [b for b in BOARDS if b[0].startswith("Speck2f")]
    assert select_board(make_samna(related), "speck2f", spec).serial_number == serial


@pytest.mark.parametrize(
    ("chip", "spec", "message"),
    [
        (
            "speck2f",
            "Speck2eDevKit:0",
            r"board type 'Speck2eDevKit' does not carry chip 'speck2f'; "
            r"its board types are Speck2fDevKit, Speck2fModuleDevKit",
        ),
        (
            "speck2f",
            "Speck2fDevKit:2",
            r"no board Speck2fDevKit:2: only 2 found; "
            r"available speck2f boards: Speck2fDevKit:0 \(serial F-1\)",
        ),
        (
            "speck2f",
            "serial=E-1",
            r"board serial=E-1 is a Speck2eDevKit, which does not carry chip 'speck2f'",
        ),
        ("speck2f", "speck2e:0", r"board type 'speck2e' does not carry chip 'speck2f'"),
        ("speck2f", "serial=NOPE", r"no unopened board with serial number 'NOPE'"),
        (
            "dynapcnn",
            None,
            r"no dynapcnn board found for the first board .*available dynapcnn boards: none.*udev",
        ),
    ],
)
def test_select_board_errors_list_what_is_available(chip: str, spec: str | None, message: str) -> None:
    with pytest.raises(BoardError, match=message):
        select_board(make_samna(BOARDS), chip, spec)


def test_a_board_opened_elsewhere_is_not_selected() -> None:
    samna = make_samna(BOARDS)
    samna.device.controller.in_other_process.add(2)  # F-1 held by another process
    assert select_board(samna, "speck2f").serial_number == "F-2"


# ------------------------------------------------------------------------------ samna availability


@pytest.mark.parametrize("version", ["0.39.3", "0.50.0", "2.0"])
def test_unsupported_samna_version_is_refused(version: str) -> None:
    with pytest.raises(
        SamnaUnavailableError, match=rf"samna {version} is outside the supported range\. .*>=0\.40,<0\.50"
    ):
        load_samna(make_samna(BOARDS, version=version))
    with pytest.raises(SamnaUnavailableError, match="outside the supported range"):
        run_on_board(
            single_neuron(),
            "speck2f",
            make_events([0], 2, 0, 0, 0),
            samna=make_samna(BOARDS, version=version),
        )


def test_stub_status_gives_the_fix_and_never_imports_samna() -> None:
    before = "samna" in sys.modules
    stub = SamnaStatus(
        "stub",
        "0.48.6",
        "/site/samna",
        "samna 0.48.6 is the PyPI placeholder ... `python -m pip install samna --index-url URL`",
    )
    with pytest.raises(SamnaUnavailableError, match=r"PyPI placeholder .*--index-url URL"):
        load_samna(status=stub)
    assert ("samna" in sys.modules) == before


def test_real_detection_in_this_environment_refuses_the_stub_without_importing_it() -> None:
    """The venv has the PyPI placeholder (a sinabs dependency); nothing may import it. Own interpreter, so
    no other test can have imported samna first."""
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from hwconfig.samna_env import detect_samna
        from deploy.board import run_on_board
        from deploy.errors import SamnaUnavailableError
        from deploy.sim.events import make_events
        from hwconfig import ChipConfig
        status = detect_samna()
        if status.usable:
            print("REAL")
            raise SystemExit(0)
        try:
            run_on_board(ChipConfig(), "speck2f", make_events([0], 2, 0, 0, 0))
        except SamnaUnavailableError as exc:
            print("STATE", status.state)
            print("MSG", exc)
        print("IMPORTED", "samna" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    if out.stdout.startswith("REAL"):
        pytest.skip("a real samna is installed in this environment")
    assert "IMPORTED False" in out.stdout
    assert "STATE stub" in out.stdout or "STATE missing" in out.stdout
    assert "--index-url" in out.stdout


# ---------------------------------------------------------------------------------- end to end


def test_board_target_implements_the_target_protocol() -> None:
    assert isinstance(target(make_samna(BOARDS)), Target)


def test_single_neuron_runs_end_to_end_and_the_board_is_closed() -> None:
    samna = make_samna(BOARDS)
    ev = make_events([0, 100, 250], 2, 0, 0, 0)
    out = run_on_board(
        single_neuron(), "speck2f", ev, samna=samna, clock=samna.clock, sleep=samna.clock.sleep
    )
    assert identities(out) == [(2, 0, 0, 0)] * 3
    assert out["timestamp"].tolist() == [3, 103, 253]  # the double's 3 µs latency: board timestamps
    assert samna.device.controller.close_calls == 1 and samna.device.controller.opened == {}


def test_is_open_follows_open_and_close() -> None:
    board = target(make_samna(BOARDS))
    assert not board.is_open
    with board:
        assert board.is_open
    assert not board.is_open


def test_chain_output_equals_the_simulator_event_for_event(rng: np.random.Generator) -> None:
    samna = make_samna(BOARDS)
    config, ev = chain(rng), chain_input(rng)
    with target(samna, board="Speck2fDevKit:1") as board:
        board.load(config)
        out = board.run(ev)
        assert board.board is not None and board.board.serial_number == "F-2"
        assert board.last_run is not None and board.last_run.events_sent == len(ev)
    expected = simulate_reference(config, ev).events
    assert len(expected) > 20  # the test means something
    assert identities(out) == identities(expected)


def test_state_persists_across_runs_and_reset_restores_initial_values() -> None:
    samna = make_samna(BOARDS)
    config = single_neuron(weight=50, threshold=127)
    with target(samna) as board:
        board.load(config)
        assert len(board.run(make_events([0, 10], 2, 0, 0, 0))) == 0
        assert board.read_neuron_state(2, 0, 0, 0) == 100
        assert identities(board.run(make_events([0], 2, 0, 0, 0))) == [(2, 0, 0, 0)]  # 150 ≥ 127
        assert board.read_neuron_state(2, 0, 0, 0) == 23
        applied = len(samna.device.controller.opened[2].behaviour.applied)
        board.reset()
        assert len(samna.device.controller.opened[2].behaviour.applied) == applied + 1
        assert board.read_neuron_state(2, 0, 0, 0) == 0


def test_leak_at_a_known_slow_clock_reads_back_minus_13_per_tick() -> None:
    """SPECK_SEMANTICS §12b.1: W=127, B=-13, thr=127, v0=127; at 1 Hz the state drops by 13 per period."""
    layer = CnnLayerConfig(
        weights=np.full((1, 1, 1, 1), 127),
        biases=np.array([-13]),
        neurons_initial_value=np.full((1, 1, 1), 127),
        threshold_high=127,
        threshold_low=-127,
        leak_enable=True,
        monitor_enable=True,
    )
    samna = make_samna(BOARDS)
    with target(samna, slow_clock_hz=1, settle_s=0.0) as board:
        io = samna.device.controller.opened[2].io
        assert (io.slow_clk_rate, io.slow_clk_enabled) == (1, True)
        board.load(ChipConfig().with_layer(4, layer))
        assert len(board.run(make_events([], 4, 0, 0, 0))) == 0  # starts the stopwatch; leak spikes nothing
        states = []
        for _ in range(3):
            samna.clock.sleep(1.0)
            states.append(board.read_neuron_state(4, 0, 0, 0))
        assert states == [114, 101, 88]


def test_timeout_raises_with_diagnostics() -> None:
    samna = make_samna([("Speck2fDevKit", "F", Behaviour(chatter=True))])
    with (
        target(samna, timeout_s=2.0) as board,
        pytest.raises(
            BoardError,
            match=(
                r"did not end within 2\.0 s .*events sent 3, events received \d+ \(\d+ spikes\), "
                r"last input timestamp 250 µs, last output timestamp \d+ µs, waited 2\.0\d* s over \d+ polls"
            ),
        ),
    ):
        board.load(single_neuron())
        board.run(make_events([0, 100, 250], 2, 0, 0, 0))
    assert samna.device.controller.close_calls == 1  # closed despite the error


def test_input_longer_than_the_timeout_is_refused_before_streaming() -> None:
    samna = make_samna(BOARDS)
    with target(samna, timeout_s=1.0) as board:
        board.load(single_neuron())
        with pytest.raises(
            BoardError, match=r"the input lasts 2\.020 s .*not less than the timeout 1\.0 s; raise timeout_s"
        ):
            board.run(make_events([0, 2_000_000], 2, 0, 0, 0))
        assert samna.device.controller.opened[2].model.sent_inputs == 0


@pytest.mark.parametrize(("margin_us", "expected"), [(50_000, 4), (1_000, 0)])
def test_end_of_stream_is_margin_then_quiet_polls(margin_us: int, expected: int) -> None:
    """Output 40 ms after the input, one event per poll: a 50 ms margin collects all of it; with 1 ms the
    run ends after 3 quiet polls (15 ms) and the late output is left for the next run's drain."""
    samna = make_samna([("Speck2fDevKit", "F", Behaviour(chunk=1, latency_us=40_000))])
    policy = CollectPolicy(poll_interval_s=0.005, quiet_polls=3, margin_us=margin_us)
    with target(samna, collect=policy) as board:
        board.load(single_neuron())
        out = board.run(make_events([0, 1, 2, 3], 2, 0, 0, 0))
        assert len(out) == expected
        assert board.last_run is not None and board.last_run.waited_s >= margin_us / 1e6
        samna.clock.sleep(0.1)
        board.run(make_events([], 2, 0, 0, 0))
        assert board.last_run.stale_discarded == 4 - expected


def test_protocol_misuse_and_bad_events() -> None:
    samna = make_samna(BOARDS)
    with target(samna) as board:
        with pytest.raises(BoardError, match=r"run\(\) before load\(\): apply a configuration first"):
            board.run(make_events([0], 2, 0, 0, 0))
        with pytest.raises(BoardError, match=r"reset\(\) before load\(\).*call load\(config\) first"):
            board.reset()
        with pytest.raises(BoardError, match=r"read_neuron_state\(\) before load\(\): call load\(config\)"):
            board.read_neuron_state(2, 0, 0, 0)
        board.load(single_neuron())
        with pytest.raises(EventFormatError, match="event 0"):
            board.run(make_events([0], 7, 0, 0, 0))  # core 7 is not used by the configuration
        config = single_neuron().with_layer(
            3, CnnLayerConfig(monitor_enable=True, dimensions=CnnLayerDimensions(IOShape(Vec2(1, 1), 2)))
        )
        with pytest.raises(
            ConfigError, match=r"samna\.speck2f\.validate_configuration: Layer 3: weights dimensions"
        ):
            board.load(config)


def test_dvs_input_is_refused_with_a_reason() -> None:
    from deploy.board import to_samna_spikes

    samna = make_samna()
    with pytest.raises(EventFormatError, match=r"event 1: DVS input events \(layer 13\) cannot be streamed"):
        to_samna_spikes(make_events([0, 1], [2, 13], 0, 0, 0), samna.speck2f.event)


def test_board_errors_from_samna_are_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    samna = make_samna(BOARDS)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("Device is already opened by another process")

    monkeypatch.setattr(samna.device, "open_device", refuse)
    with pytest.raises(
        BoardError,
        match=r"cannot open board Speck2fDevKit:0 \(serial F-1\): Device is already opened.*Close any other",
    ):
        target(samna).open()

    samna = make_samna(BOARDS)
    with target(samna) as board:
        model = samna.device.controller.opened[2].model

        def broken(config: Any, timeout: int | None = 10) -> None:
            raise RuntimeError("apply timed out")

        monkeypatch.setattr(model, "apply_configuration", broken)
        with pytest.raises(BoardError, match="Speck2fDevKit:0 refused the configuration: apply timed out"):
            board.load(single_neuron())


def test_neuron_read_times_out_with_the_address(monkeypatch: pytest.MonkeyPatch) -> None:
    samna = make_samna(BOARDS)
    with target(samna) as board:
        board.load(single_neuron())
        monkeypatch.setattr(samna.device.controller.opened[2].model, "receive", lambda events: None)
        with pytest.raises(
            BoardError, match=r"no NeuronValue for core 2 address 0 \(f=0, x=0, y=0\) within 0\.5 s"
        ):
            board.read_neuron_state(2, 0, 0, 0, timeout_s=0.5)


def test_slow_clock_control_and_bad_rate() -> None:
    samna = make_samna(BOARDS)
    with target(samna) as board:
        io = samna.device.controller.opened[2].io
        board.set_slow_clock(100)
        assert (io.slow_clk_rate, io.slow_clk_enabled) == (100, True)
        board.set_slow_clock(None)
        assert io.slow_clk_enabled is False
        with pytest.raises(BoardError, match=r"cannot set the slow clock to 0 Hz: .*out of range"):
            board.set_slow_clock(0)


# --------------------------------------------------------------------------------- addresses


def test_neuron_address_worked_example() -> None:
    # SPECK_SEMANTICS §12b.10: f=128, 16×16, feature 63, x=3, y=11 → 22975.
    layer = CnnLayerConfig(dimensions=CnnLayerDimensions(output_shape=IOShape(Vec2(16, 16), 128)))
    assert neuron_address(layer, 63, 3, 11) == 22975


def test_neuron_address_non_square_map_shifts_y_by_feature_and_x_bits() -> None:
    layer = CnnLayerConfig(dimensions=CnnLayerDimensions(output_shape=IOShape(Vec2(8, 2), 4)))
    assert neuron_address(layer, 3, 5, 1) == (1 << (2 + 3)) | (5 << 2) | 3
    assert neuron_address(layer, 3, 5, 1) == double_address(3, 5, 1, 4, 8, 2)
    with pytest.raises(ValueError, match="outside the output shape"):
        neuron_address(layer, 0, 8, 0)


# --------------------------------------------------------------------------------- CLI, flash


def _args(device: str | None = None, all_: bool = False) -> argparse.Namespace:
    from hwconfig.chips import get_chip

    return argparse.Namespace(device=get_chip(device) if device else None, all=all_)


def test_devices_command_lists_boards_with_their_selector(capsys: pytest.CaptureFixture[str]) -> None:
    assert devices_cmd.run(_args("speck2f"), samna=make_samna(BOARDS)) == 0
    out = capsys.readouterr().out
    assert "3 board(s), samna 0.48.5" in out
    assert "Speck2fDevKit:1" in out and "F-2" in out and "Speck2eDevKit" not in out
    assert devices_cmd.run(_args(all_=True), samna=make_samna(BOARDS)) == 0
    assert "DYNAP-SE2 DevBoard:0" in capsys.readouterr().out


def test_devices_command_without_boards_says_what_to_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert devices_cmd.run(_args("dynapcnn"), samna=make_samna(BOARDS)) == 0
    assert (
        "no unopened dynapcnn board found (samna 0.48.5). Check the USB 3 cable, the udev rules"
        in capsys.readouterr().out
    )


def test_devices_command_exits_2_with_the_samna_status(capsys: pytest.CaptureFixture[str]) -> None:
    from hwconfig.samna_env import detect_samna

    if detect_samna().usable:
        pytest.skip("a real samna is installed here")
    from deploy.cli import main

    assert main(["devices"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("deploy-model: error: ") and "--index-url" in err


def test_export_flash_binary(tmp_path: Path) -> None:
    samna = make_samna()
    n = export_flash_binary(single_neuron(), "speck2e", tmp_path / "cfg.bin", samna=samna)
    assert n == len((tmp_path / "cfg.bin").read_bytes()) > 0
    with pytest.raises(SamnaUnavailableError, match="offers no configuration_to_flash_binary"):
        export_flash_binary(single_neuron(), "dynapcnn", tmp_path / "x.bin", samna=samna)


def test_double_device_rules_are_enforced() -> None:
    samna = make_samna(BOARDS)
    info = samna.device.get_unopened_devices()[2]
    with pytest.raises(AttributeError, match="read-only"):
        info.serial_number = "x"
    kit = samna.device.open_device(info)
    assert samna.device.open_device("Speck2fDevKit:0") is kit  # same device, same handle
    src = samna.BasicSourceNode_speck2f_event_input_event()
    graph = samna.graph.EventFilterGraph()
    graph.sequential([src, kit.get_model().get_sink_node()])
    with pytest.raises(RuntimeError, match="not part of a started graph"):
        src.write([samna.speck2f.event.Spike()])
    with pytest.raises(TypeError, match="cannot feed a speck2f model"):
        graph.sequential(
            [samna.BasicSourceNode_speck2e_event_speck2e_input_event(), kit.get_model().get_sink_node()]
        )
    samna.device.close_device(kit)
    with pytest.raises(RuntimeError, match="device has been closed"):
        kit.get_model()
    with pytest.raises(ValueError, match=r"Spike\.x: 128 outside \[0, 127\]"):
        samna.speck2f.event.Spike(x=128)


def test_invalid_target_arguments() -> None:
    with pytest.raises(ValueError, match="timeout_s must be positive"):
        BoardTarget("speck2f", timeout_s=0)
    with pytest.raises(ValueError, match="invalid CollectPolicy"):
        CollectPolicy(quiet_polls=0)


def test_samna_failures_while_streaming_are_board_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    samna = make_samna(BOARDS)
    with target(samna) as board:
        board.load(single_neuron())
        kit = samna.device.controller.opened[2]

        def fail(*args: Any) -> Any:
            raise RuntimeError("USB transfer error")

        monkeypatch.setattr(board._source, "write", fail)
        with pytest.raises(BoardError, match="streaming 1 events to the board failed: USB transfer error"):
            board.run(make_events([0], 2, 0, 0, 0))
        monkeypatch.undo()
        calls = {"n": 0}
        original = board._sink.get_events

        def fail_later() -> Any:
            calls["n"] += 1
            if calls["n"] > 1:  # the drain before the run succeeds, the first poll fails
                raise RuntimeError("device disconnected")
            return original()

        monkeypatch.setattr(board._sink, "get_events", fail_later)
        with pytest.raises(
            BoardError, match="reading board output failed after 0 events: device disconnected"
        ):
            board.run(make_events([0], 2, 0, 0, 0))
        monkeypatch.undo()
        assert kit.closed is False


def test_graph_setup_and_close_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    samna = make_samna(BOARDS)

    class BrokenGraph:
        def sequential(self, nodes: Any) -> Any:
            raise RuntimeError("no such node type")

    monkeypatch.setattr(samna.graph, "EventFilterGraph", BrokenGraph)
    with pytest.raises(
        BoardError, match="board Speck2fDevKit:0: cannot set up the event graph: no such node type"
    ):
        target(samna).open()
    assert samna.device.controller.opened == {}  # closed again after the failure

    samna = make_samna(BOARDS)
    board = target(samna).open()
    monkeypatch.setattr(samna.device, "close_device", lambda dev: (_ for _ in ()).throw(RuntimeError("busy")))
    with pytest.raises(BoardError, match="closing board Speck2fDevKit:0 failed: busy"):
        board.close()
    board.close()  # a second close is a no-op


def test_hardware_suite_passes_as_a_dry_run_on_the_double(tmp_path: Path) -> None:
    """The HIL suite's own logic (relocation, comparison, reports, leak/neuron reads) on the samna double,
    in a separate pytest so that its session fixtures and environment stay out of this one.

    Judged from the JUnit report rather than a pass count: nothing fails, every test function of the suite
    ran, and the only skip is the readout test, which needs a real board."""
    import ast
    import os
    import xml.etree.ElementTree as ET

    env = {
        **os.environ,
        "SPECK_DEPLOY_HIL_DOUBLE": "1",
        "SPECK_DEPLOY_HIL_REPORTS": str(tmp_path / "reports"),
    }
    junit = tmp_path / "junit.xml"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--board",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit}",
            "tests/hardware",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:]
    cases = ET.parse(junit).getroot().iter("testcase")
    outcome: dict[str, list[tuple[str, str]]] = {}
    for case in cases:
        kinds = [(c.tag, c.get("message", "")) for c in case if c.tag in ("failure", "error", "skipped")]
        outcome.setdefault(case.get("name", "").split("[")[0], []).extend(kinds or [("passed", "")])
    suite = ast.parse((REPO / "tests" / "hardware" / "test_hil.py").read_text())
    functions = {n.name for n in suite.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}
    assert functions and set(outcome) == functions, sorted(set(outcome) ^ functions)
    bad = {name: kinds for name, kinds in outcome.items() if {k for k, _ in kinds} - {"passed", "skipped"}}
    assert not bad, bad
    skipped = {name: kinds for name, kinds in outcome.items() if any(k == "skipped" for k, _ in kinds)}
    assert list(skipped) == ["test_readout_reports_the_driven_class"], skipped
    (reason,) = {message for _, message in skipped["test_readout_reports_the_driven_class"]}
    assert "the samna double models no readout layer" in reason
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())
