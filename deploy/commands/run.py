"""``deploy-model [run] MODEL --device speck [--dry-run]``: compile, check, place, emit, run, report.

Stages: load → normalise → quantise → check → place → emit (:func:`deploy.pipeline.compile_model`), then the
target: a connected board (needs the real samna), or with ``--dry-run`` the bit-accurate simulator. Then the
agreement check (float ↔ quantised ↔ simulated, :mod:`deploy.agreement`) and the reports.

The input shape is ``--input-shape``, else the ``INPUT_SHAPE`` a bundled model's package declares
(``models/<name>/__init__.py``, read without importing), else what the front end infers from the model.
Biases become leak on the chip and only act with a slow clock (``--slow-clock-hz``, SPECK_SEMANTICS §2.4).

Input events, first match wins:

1. ``--input FILE`` (``.npy``/``.npz``): tonic-style events (fields ``x, y, t, p``; fed to the entry core(s),
   or to the DVS layer for models with a DVS input), chip events (``EVENT_DTYPE``) or N×5 integer rows
   ``[timestamp_us, layer, feature, x, y]``; an ``.npz`` uses its ``events`` array and an optional ``label``
   (or ``labels[0]``);
2. ``--poisson-rate``/``--duration-ms`` given explicitly: Poisson events (below);
3. ``sample_input.npz`` next to the model file (shipped with the bundled models);
4. Poisson events: every input pixel and channel fires independently at ``--poisson-rate`` Hz (default
   50 Hz) for ``--duration-ms`` (default 100 ms), seeded with ``--seed`` (default 0).

An ``.npz`` that also holds ``sample_events``, ``offsets`` and ``labels`` (the bundled models'
``sample_input.npz``) adds a multi-sample class check: every sample is classified by the float, quantised and
simulated views, with accuracies and pairwise agreement in the report.

Output directory (``-o DIR``, default ``deploy-out/<model>``, where ``<model>`` is the model file's stem, or
its folder's name for files called ``model.*``): ``config.json``, ``input_events.npy``,
``output_events.npy``, ``summary.json``, ``report.md``, ``report.html``. Everything is written into a
temporary directory beside DIR and renamed into place at the end, so a failed run leaves nothing behind; an
existing DIR is only replaced with ``--force``.

Exit codes: 0 success; 2 a problem with the model, input, output directory or environment (no board, no
samna); 1 a bug.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from deploy.commands import _common
from deploy.errors import BoardError, DeployError, EventFormatError, SamnaUnavailableError

if TYPE_CHECKING:
    from rich.console import Console

    from deploy.agreement import AgreementResult, ClassAgreement
    from deploy.pipeline import CompileResult
    from deploy.report.summary import InputInfo, RunSummary, SpikeData
    from deploy.sim.options import SimOptions
    from deploy.sim.result import SimResult
    from hwconfig.config import ChipConfig
    from hwconfig.spec import ChipSpec

HELP = (
    "compile a model, check and place it on the chip, write the configuration and run it on a board or, "
    "with --dry-run, on the bit-accurate simulator; writes config, events and reports to -o DIR"
)

DEFAULT_POISSON_RATE_HZ = 50.0
"""Per input pixel and channel; on a 2×34×34 input this is ~11,600 events in the default 100 ms."""
DEFAULT_DURATION_MS = 100.0
DEFAULT_DT_MS = 10.0
"""Time step of the time-stepped (sinabs-style) evaluation used by the agreement check.

10 ms is the bin the bundled models were trained with (30 bins over the 300 ms N-MNIST-style recordings,
``models/digits_snn``), so the float view is the network as trained; set ``--dt-ms`` to your model's bin.
"""
SAMPLE_INPUT = "sample_input.npz"
EVENT_SUFFIXES = (".npy", ".npz")
OUTPUT_ROOT = Path("deploy-out")

T = TypeVar("T")


# ----------------------------------------------------------------------------------------------------
# Arguments


def add_arguments(p: argparse.ArgumentParser) -> None:
    from deploy.commands import _common
    from deploy.report.summary import DEFAULT_SYNOPS_BUDGET

    _common.add_model_arguments(p)
    _common.add_core_map_argument(p)
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="use the bit-accurate simulator as the target instead of a board (no samna needed)",
    )
    p.add_argument(
        "--board",
        metavar="TYPE:INDEX",
        default=None,
        help="board to run on, e.g. Speck2fDevKit:0 or serial=XYZ (default: the first board of the chip)",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        metavar="DIR",
        help="output directory (default: deploy-out/<model name>); written atomically",
    )
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    g = p.add_argument_group("input events (first match wins: --input, explicit Poisson, sample, Poisson)")
    g.add_argument(
        "--input",
        type=Path,
        default=None,
        metavar="EVENTS",
        help="events file (.npy/.npz): tonic-style (x, y, t, p), chip events, or N×5 rows",
    )
    g.add_argument(
        "--poisson-rate",
        type=float,
        default=None,
        metavar="HZ",
        help=f"Poisson input rate per input pixel and channel (default {DEFAULT_POISSON_RATE_HZ:g} Hz)",
    )
    g.add_argument(
        "--duration-ms",
        type=float,
        default=None,
        metavar="MS",
        help=f"duration of the Poisson input (default {DEFAULT_DURATION_MS:g} ms)",
    )
    g.add_argument("--seed", type=int, default=0, help="seed of the Poisson input (default 0)")
    g.add_argument(
        "--dt-ms",
        type=float,
        default=DEFAULT_DT_MS,
        metavar="MS",
        help=f"time step of the float/quantised time-stepped evaluation (default {DEFAULT_DT_MS:g} ms)",
    )
    p.add_argument(
        "--synops-budget",
        type=float,
        default=DEFAULT_SYNOPS_BUDGET,
        metavar="N",
        help=(
            f"SynOps/s budget per core for the bandwidth warning (default {DEFAULT_SYNOPS_BUDGET:.0e}, an "
            "order-of-magnitude assumption: no per-core limit is published; core 0 gets 3.5×)"
        ),
    )
    p.add_argument(
        "--slow-clock-hz",
        type=int,
        default=None,
        metavar="HZ",
        help=(
            "slow clock driving leak (bias) on the target; default none, so biases have no effect on chip "
            "(SPECK_SEMANTICS §2.4)"
        ),
    )
    p.add_argument(
        "--json", action="store_true", help="print summary.json to stdout and nothing else on stdout"
    )
    verbosity = p.add_mutually_exclusive_group()
    verbosity.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    verbosity.add_argument("-v", "--verbose", action="store_true", help="print timings, warnings and notes")


# ----------------------------------------------------------------------------------------------------
# Console


class Reporter:
    """Progress on stderr, summary on stdout; silent with ``-q``; with ``--json`` stdout holds only JSON."""

    def __init__(self, quiet: bool, verbose: bool, json_mode: bool) -> None:
        from rich.console import Console

        self.verbose = verbose and not quiet
        self.err: Console = Console(stderr=True, quiet=quiet, highlight=False, soft_wrap=True)
        self.out: Console = Console(quiet=quiet or json_mode, highlight=False, soft_wrap=True)

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        t0 = time.perf_counter()
        with self.err.status(f"{label}…", spinner="dots"):
            yield
        self.err.print(f"[green]✓[/] {label} [dim]({time.perf_counter() - t0:.2f} s)[/]")

    def info(self, text: str) -> None:
        if self.verbose:
            self.err.print(text)


STEP_LABELS = {
    "samples": "classify every shipped sample (float, quantised, simulated)",
    "compile": "compile (load, normalise, quantise, check, place, emit)",
    "target_simulator": "run on the simulator (the target)",
    "target_board": "run on the board (the target)",
    "simulate_all_layers": "simulate with every layer monitored",
    "timestep_float": "time-stepped float model",
    "timestep_quantised": "time-stepped quantised model",
}
"""Step key (as in ``summary.json`` ``timings_s``) → progress label."""


def timed(reporter: Reporter, key: str, timings: dict[str, float], fn: Callable[[], T]) -> T:
    """Run ``fn`` under a progress line; record its duration under ``key``."""
    t0 = time.perf_counter()
    with reporter.step(STEP_LABELS[key]):
        value = fn()
    timings[key] = time.perf_counter() - t0
    return value


# ----------------------------------------------------------------------------------------------------
# Board / samna


def require_board(chip: ChipSpec, board: str | None) -> str:
    """Check that a board can be used before compiling; return the chosen board's ``TYPE:INDEX``.

    Raises:
        SamnaUnavailableError: samna is missing or only the PyPI placeholder is installed.
        BoardError: the real samna is installed but no board of the chip is connected.
    """
    from hwconfig.samna_env import detect_samna

    status = detect_samna()
    hint = "To run on the bit-accurate simulator instead, add --dry-run."
    if status.state == "missing":
        raise SamnaUnavailableError(f"cannot run on a board: samna is not installed. {status.message} {hint}")
    if status.state == "stub":
        raise SamnaUnavailableError(
            f"cannot run on a board: only the PyPI placeholder of samna is installed, not SynSense's samna. "
            f"{status.message} {hint}"
        )
    from deploy.board.discovery import select_board
    from deploy.board.samna_access import load_samna

    samna = load_samna(status=status)
    try:
        return select_board(samna, chip, board).spec
    except BoardError as exc:
        raise BoardError(f"cannot run on a board: the real samna is installed but {exc}. {hint}") from None


def run_board(
    config: ChipConfig, events: npt.NDArray[Any], chip: ChipSpec, board: str, slow_clock_hz: int | None
) -> npt.NDArray[Any]:
    """Run ``events`` on the board; output events as :data:`deploy.sim.events.EVENT_DTYPE`."""
    from deploy.board import run_on_board

    return run_on_board(config, chip, events, board, slow_clock_hz=slow_clock_hz)


def sim_options(args: argparse.Namespace) -> SimOptions:
    """Simulator options from the command line (everything else: SPECK_SEMANTICS defaults)."""
    from deploy.sim.options import SimOptions

    if args.slow_clock_hz is not None and not args.slow_clock_hz > 0:
        raise DeployError(f"--slow-clock-hz must be positive, got {args.slow_clock_hz}")
    return SimOptions(slow_clock_hz=args.slow_clock_hz)


# ----------------------------------------------------------------------------------------------------
# Input


@dataclass(frozen=True)
class ResolvedInput:
    """Input events for the chip, the same events in model-input space, and their description.

    Attributes:
        events: Chip events (``EVENT_DTYPE``) to feed the target.
        model_events: The events the model's input sees (``layer`` ignored), for the time-stepped raster.
        info: Provenance and duration for the report.
        samples: Further labelled samples shipped in the same archive (``sample_events``, ``offsets``,
            ``labels``, as ``models/training.py`` writes ``sample_input.npz``): ``(chip events, model events,
            label)`` each, for the multi-sample class check.
    """

    events: npt.NDArray[Any]
    model_events: npt.NDArray[Any]
    info: InputInfo
    samples: tuple[tuple[npt.NDArray[Any], npt.NDArray[Any], int | None], ...] = ()


def entry_targets(result: CompileResult) -> list[int]:
    """Layer ids input events go to: 13 (DVS layer) for a DVS model, else the entry layers' cores."""
    from deploy.sim.events import DVS_LAYER

    if result.graph.dvs is not None:
        return [DVS_LAYER]
    return sorted({result.placement.core_of[i] for i in result.graph.entry_layers})


def poisson_events(
    shape: tuple[int, int, int], rate_hz: float, duration_ms: float, seed: int
) -> npt.NDArray[np.void]:
    """Independent Poisson spike trains, one per input channel and pixel, as tonic-style events.

    Args:
        shape: ``(C, H, W)``; the channel becomes the polarity/feature ``p``.
        rate_hz: Rate of every train.
        duration_ms: Length; timestamps are integer µs in ``[0, duration)``.
        seed: Seed of ``np.random.default_rng``.

    Returns:
        Events sorted by time (ties by channel, y, x), dtype ``deploy.sim.events.TONIC_DTYPE``.
    """
    from deploy.sim.events import TONIC_DTYPE

    if not rate_hz > 0 or not duration_ms > 0:
        raise DeployError(
            f"Poisson input needs a positive rate and duration, got --poisson-rate {rate_hz:g} Hz and "
            f"--duration-ms {duration_ms:g} ms"
        )
    rng = np.random.default_rng(seed)
    c, h, w = shape
    duration_us = max(round(duration_ms * 1000), 1)
    counts = rng.poisson(rate_hz * duration_us / 1e6, size=(c, h, w))
    pixel = np.repeat(np.arange(c * h * w), counts.ravel())
    t = rng.integers(0, duration_us, size=pixel.size)
    order = np.lexsort((pixel, t))
    pixel, t = pixel[order], t[order]
    ch, y, x = np.unravel_index(pixel, (c, h, w))
    out = np.zeros(pixel.size, dtype=TONIC_DTYPE)
    out["x"], out["y"], out["t"], out["p"] = x, y, t, ch
    return out


def _read_event_file(path: Path) -> tuple[npt.NDArray[Any], int | None]:
    """Raw event array and optional label from ``.npy``/``.npz`` (no conversion yet)."""
    from deploy.limits import check_numpy_file
    from deploy.sim.events import check_event_columns

    if not path.exists():
        raise EventFormatError(f"input events file '{path}' does not exist")
    if path.is_dir():
        raise EventFormatError(f"input events path '{path}' is a directory, not an .npy/.npz file")
    if path.suffix.lower() not in EVENT_SUFFIXES:
        raise EventFormatError(
            f"input events file '{path}' has the extension '{path.suffix}'; expected .npy or .npz holding "
            "tonic-style events (x, y, t, p), chip events or N×5 rows [timestamp_us, layer, feature, x, y]"
        )
    check_numpy_file(path)  # header sizes and archive integrity before anything is allocated
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise EventFormatError(
            f"input events file '{path}' cannot be read as {path.suffix} ({exc}); it is corrupt or not a "
            "numpy file"
        ) from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        check_event_columns(np.asarray(loaded), f"input events file '{path}'")
        return np.asarray(loaded), None
    with loaded:
        files = list(loaded.files)
        key = "events" if "events" in files else (files[0] if files else None)
        if key is None:
            raise EventFormatError(f"input events file '{path}' is an empty .npz archive")
        try:
            arr = np.asarray(loaded[key])
            label = _label(loaded, files, key)
        except (OSError, ValueError, EOFError) as exc:
            raise EventFormatError(
                f"input events file '{path}': array '{key}' cannot be read ({exc})"
            ) from None
    check_event_columns(arr, f"input events file '{path}'")
    return arr, label


def _label(archive: Any, files: list[str], key: str) -> int | None:
    """The known class of the events: ``label`` (a scalar), or ``labels[0]`` for the ``events`` array of a
    multi-sample archive (as ``models/training.py`` writes ``sample_input.npz``)."""
    if "label" in files and np.size(archive["label"]) == 1:
        return int(np.asarray(archive["label"]).reshape(-1)[0])
    if key == "events" and "labels" in files and np.size(archive["labels"]) >= 1:
        return int(np.asarray(archive["labels"]).reshape(-1)[0])
    return None


def _is_tonic(arr: npt.NDArray[Any]) -> bool:
    names = arr.dtype.names or ()
    return {"x", "y", "t", "p"} <= set(names) and "layer" not in names


def _tonic_to_chip(xytp: npt.NDArray[Any], targets: list[int], source: str) -> npt.NDArray[Any]:
    from deploy.sim.events import from_tonic

    t = np.asarray(xytp["t"]).reshape(-1)
    back = np.nonzero(np.diff(t) < 0)[0]
    if len(back):
        i = int(back[0]) + 1
        raise EventFormatError(
            f"{source}: event {i}: timestamp t = {int(t[i])} µs is before the previous event's "
            f"{int(t[i - 1])} µs (events must be sorted by time)"
        )
    per_target = [from_tonic(xytp.reshape(-1), layer=t) for t in targets]
    events = np.concatenate(per_target) if len(per_target) > 1 else per_target[0]
    return events[np.argsort(events["timestamp"], kind="stable")]


def _duration_s(events: npt.NDArray[Any], dt_us: int) -> float:
    """Time the input spans, from the start of its first time bin to its last event."""
    t0, _ = time_bins(events, dt_us)
    if not len(events):
        return dt_us / 1e6
    return (int(events["timestamp"].max()) + 1 - t0) / 1e6


MAX_RASTER_ELEMENTS = 200_000_000
"""Largest time-stepped input raster (T·C·H·W counts, 8 bytes each) the agreement check builds."""


def time_bins(events: npt.NDArray[Any], dt_us: int) -> tuple[int, int]:
    """``(t0_us, n_bins)`` of the time-stepped views: bins of ``dt_us`` aligned to multiples of ``dt_us``,
    from the bin of the first event to the bin of the last (recordings need not start at 0)."""
    if not len(events):
        return 0, 1
    first, last = int(events["timestamp"].min()), int(events["timestamp"].max())
    t0 = first // dt_us * dt_us
    return t0, (last - t0) // dt_us + 1


def input_raster(
    model_events: npt.NDArray[Any], shape: tuple[int, int, int], dt_us: int, t0_us: int, n_bins: int
) -> npt.NDArray[np.int64]:
    """The ``(T, C, H, W)`` raster the time-stepped views see.

    Raises:
        DeployError: The raster would be too large (long input, small ``--dt-ms``).
    """
    from deploy.sim.events import events_to_raster

    size = n_bins * shape[0] * shape[1] * shape[2]
    if size > MAX_RASTER_ELEMENTS:
        raise DeployError(
            f"the input spans {n_bins} time steps of {dt_us / 1000:g} ms; a "
            f"{n_bins}×{'×'.join(map(str, shape))} raster ({size:,} counts) is too large for the "
            "time-stepped agreement check: use a larger --dt-ms or a shorter input"
        )
    return events_to_raster(model_events, dt_us, shape, t0_us=t0_us, n_bins=n_bins)


def resolve_input(args: argparse.Namespace, result: CompileResult, model_path: Path | None) -> ResolvedInput:
    """Pick the input events (see the module docstring for the order) and convert them for the chip.

    Raises:
        EventFormatError: unreadable or malformed event file (naming the file and the problem).
    """
    from deploy.report.summary import InputInfo
    from deploy.sim.events import as_events

    targets = entry_targets(result)
    dt_us = _dt_us(args)
    explicit_poisson = args.poisson_rate is not None or args.duration_ms is not None
    sample = model_path.parent / SAMPLE_INPUT if model_path is not None else None
    path: Path | None = None
    kind = "poisson"
    if args.input is not None:
        path, kind = args.input, "file"
    elif not explicit_poisson and sample is not None and sample.is_file():
        path, kind = sample, "sample"

    if path is None:
        rate = DEFAULT_POISSON_RATE_HZ if args.poisson_rate is None else args.poisson_rate
        duration = DEFAULT_DURATION_MS if args.duration_ms is None else args.duration_ms
        xytp = poisson_events(result.graph.input_shape, rate, duration, args.seed)
        events = _tonic_to_chip(xytp, targets, "Poisson input")
        model_events = as_events(xytp)
        info = InputInfo(
            "poisson",
            f"Poisson {rate:g} Hz per input pixel, {duration:g} ms, seed {args.seed}",
            len(events),
            duration / 1000,
        )
        return ResolvedInput(events, model_events, info)

    raw, label = _read_event_file(path)
    if _is_tonic(raw):
        events = _tonic_to_chip(raw, targets, f"input events file '{path}'")
        model_events = as_events(raw.reshape(-1))
        fmt = "tonic-style events"
    else:
        events = as_events(raw, source=f"input events file '{path}'")
        stray = np.nonzero(~np.isin(events["layer"], targets))[0]
        if len(stray):
            i = int(stray[0])
            raise EventFormatError(
                f"input events file '{path}': event {i} is sent to layer {int(events['layer'][i])}, but this "
                f"model's input enters the chip at layer(s) {targets} (chip events carry the core they are "
                "injected into, which depends on the placement); store the events tonic-style (fields x, y, "
                "t, p) to have them routed to the entry core automatically, or pin the placement with "
                "--core-map"
            )
        model_events = events[np.isin(events["layer"], targets[:1])]
        fmt = "chip events"
    what = "sample shipped with the model" if kind == "sample" else "file"
    info = InputInfo(
        kind,
        f"{what} {path} ({fmt})" + (f", label {label}" if label is not None else ""),
        len(events),
        _duration_s(events, dt_us),
        label,
    )
    samples = tuple(
        (_tonic_to_chip(xytp, targets, f"input events file '{path}', sample {i}"), as_events(xytp), lab)
        for i, (xytp, lab) in enumerate(read_samples(path))
    )
    return ResolvedInput(events, model_events, info, samples)


def read_samples(path: Path) -> list[tuple[npt.NDArray[Any], int | None]]:
    """Labelled tonic-style samples of a multi-sample ``.npz`` (keys ``sample_events``, ``offsets``,
    ``labels``); empty for any other file.

    Raises:
        EventFormatError: The keys are present but inconsistent.
    """
    if path.suffix.lower() != ".npz":
        return []
    with np.load(path, allow_pickle=False) as archive:
        if not {"sample_events", "offsets", "labels"} <= set(archive.files):
            return []
        try:
            events = np.asarray(archive["sample_events"])
            offsets = np.asarray(archive["offsets"], dtype=np.int64).reshape(-1)
            labels = np.asarray(archive["labels"]).reshape(-1)
        except (OSError, ValueError, EOFError) as exc:
            raise EventFormatError(f"input events file '{path}': samples cannot be read ({exc})") from None
    n = len(offsets) - 1
    if (
        not _is_tonic(events)
        or n < 1
        or len(labels) != n
        or offsets[0] != 0
        or offsets[-1] != len(events)
        or np.any(np.diff(offsets) < 0)
    ):
        raise EventFormatError(
            f"input events file '{path}': 'sample_events' (tonic-style), 'offsets' (n + 1 increasing, "
            f"from 0 to the number of events) and 'labels' (n) do not fit together: {len(events)} events, "
            f"{len(offsets)} offsets, {len(labels)} labels"
        )
    return [(events[offsets[i] : offsets[i + 1]], int(labels[i])) for i in range(n)]


def _dt_us(args: argparse.Namespace) -> int:
    if not args.dt_ms > 0:
        raise DeployError(f"--dt-ms must be positive, got {args.dt_ms:g}")
    return max(round(args.dt_ms * 1000), 1)


# ----------------------------------------------------------------------------------------------------
# Analysis


def monitor_all(config: ChipConfig, cores: list[int] | tuple[int, ...]) -> ChipConfig:
    """A copy of ``config`` that sends every spike of ``cores`` to the host (for per-layer counts)."""
    for core in cores:
        config = config.with_layer(core, dataclasses.replace(config.cnn_layers[core], monitor_enable=True))
    return config


@dataclass(frozen=True)
class Analysis:
    """Results of the analysis run and the agreement check."""

    sim: SimResult
    agreement: AgreementResult
    spikes_over_time: dict[str, list[npt.NDArray[np.int64]]]
    output_rasters: dict[str, npt.NDArray[np.int64]]
    n_bins: int


def analyse(
    result: CompileResult,
    inp: ResolvedInput,
    dt_us: int,
    options: SimOptions,
    reporter: Reporter,
    timings: dict[str, float],
) -> Analysis:
    """Simulate with every used core monitored, evaluate float and quantised models time-stepped, compare."""
    from deploy.agreement import compare, monitored_counts, reduce_counts
    from deploy.report.build import time_counts_from_events, time_counts_from_rasters
    from deploy.sim.simulator import simulate
    from deploy.timestep import evaluate

    graph, core_of = result.graph, result.placement.core_of
    analysis_config = monitor_all(result.config, core_of)
    sim = timed(
        reporter,
        "simulate_all_layers",
        timings,
        lambda: simulate(analysis_config, inp.events, options, chip=result.chip),
    )
    t0, n_bins = time_bins(inp.events, dt_us)
    raster = input_raster(inp.model_events, graph.input_shape, dt_us, t0, n_bins)
    float_out = timed(reporter, "timestep_float", timings, lambda: evaluate(graph, raster))
    quant_out = timed(reporter, "timestep_quantised", timings, lambda: evaluate(result.qgraph, raster))
    float_layers, quant_layers = list(float_out.spikes), list(quant_out.spikes)
    out_shapes = [layer.out_shape for layer in graph.layers]
    counts = {
        "float": reduce_counts(float_layers),
        "quantised": reduce_counts(quant_layers),
        "simulated": monitored_counts(sim.events, core_of, out_shapes),
    }
    exits = graph.exit_layers
    agreement = compare(
        counts,
        [layer.name for layer in graph.layers],
        cores=list(core_of),
        output_layer=exits[-1] if exits else None,
    )
    over_time = {
        "float": time_counts_from_rasters(float_layers),
        "quantised": time_counts_from_rasters(quant_layers),
        "simulated": time_counts_from_events(sim.events, core_of, n_bins, dt_us, t0),
    }
    out = agreement.output_layer
    n_out = graph.layers[out].out_features
    rasters = {
        "float": _feature_raster(float_layers[out]),
        "quantised": _feature_raster(quant_layers[out]),
        "simulated": output_raster_from_events(sim.events, core_of[out], n_out, n_bins, dt_us, t0),
    }
    return Analysis(sim, agreement, over_time, rasters, n_bins)


def evaluate_samples(
    result: CompileResult, inp: ResolvedInput, dt_us: int, out_layer: int, options: SimOptions
) -> ClassAgreement:
    """Output class of every shipped sample in the float, quantised and simulated views, and accuracies."""
    from deploy.agreement import class_agreement, output_class
    from deploy.report.build import predicted_class
    from deploy.sim.events import validate_events
    from deploy.sim.simulator import simulate_batch
    from deploy.timestep import evaluate

    graph = result.graph
    out_core = result.placement.core_of[out_layer]
    n_out = graph.layers[out_layer].out_features
    preds: dict[str, list[int | None]] = {"float": [], "quantised": [], "simulated": []}
    for chip_events, model_events, _ in inp.samples:
        validate_events(chip_events, result.config, dvs_size=result.chip.dvs_size)
        t0, n_bins = time_bins(chip_events, dt_us)
        raster = input_raster(model_events, graph.input_shape, dt_us, t0, n_bins)
        for src, g in (("float", graph), ("quantised", result.qgraph)):
            preds[src].append(output_class(evaluate(g, raster).spikes[out_layer].sum(axis=0))[0])
    for sim in simulate_batch(result.config, [s[0] for s in inp.samples], options, chip=result.chip):
        ev = sim.events[np.asarray(sim.events["layer"]) == out_core]
        counts = np.bincount(np.asarray(ev["feature"], dtype=np.int64), minlength=n_out)[:n_out]
        preds["simulated"].append(predicted_class(counts.tolist()))
    return class_agreement(preds, [s[2] for s in inp.samples])


def _feature_raster(spikes: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """``(T, F, H, W)`` spikes → ``(T, F)`` spikes per time step and feature."""
    a = np.asarray(spikes)
    return np.rint(a.reshape(a.shape[0], a.shape[1], -1).sum(axis=2)).astype(np.int64)


def output_raster_from_events(
    events: npt.NDArray[Any], core: int, n_features: int, n_bins: int, dt_us: int, t0_us: int = 0
) -> npt.NDArray[np.int64]:
    """``(T, F)`` spikes per time bin and feature of one core's monitored events."""
    raster = np.zeros((n_bins, n_features), dtype=np.int64)
    sel = events[np.asarray(events["layer"]) == core] if len(events) else events
    if len(sel):
        bins = (np.asarray(sel["timestamp"], dtype=np.int64) - t0_us) // dt_us
        feat = np.asarray(sel["feature"], dtype=np.int64)
        keep = (bins >= 0) & (bins < n_bins) & (feat >= 0) & (feat < n_features)
        np.add.at(raster, (bins[keep], feat[keep]), 1)
    return raster


# ----------------------------------------------------------------------------------------------------
# Summary


def build_summary(
    args: argparse.Namespace,
    result: CompileResult,
    inp: ResolvedInput,
    analysis: Analysis,
    target_name: str,
    output_events: npt.NDArray[Any],
    timings: dict[str, float],
    notes: list[str],
    files: tuple[str, ...],
    samples: ClassAgreement | None = None,
) -> tuple[RunSummary, SpikeData]:
    from deploy import __version__
    from deploy.report import build
    from deploy.report.summary import RunSummary, SpikeData, estimate_energy
    from hwconfig.json_io import config_hash

    graph, placement = result.graph, result.placement
    exits = graph.exit_layers
    out_layer = exits[-1] if exits else len(graph.layers) - 1
    out_core = placement.core_of[out_layer]
    n_out = graph.layers[out_layer].out_features
    sel = (
        output_events[np.asarray(output_events["layer"]) == out_core] if len(output_events) else output_events
    )
    target_counts = np.bincount(np.asarray(sel["feature"], dtype=np.int64), minlength=n_out)[:n_out].tolist()
    activity = build.core_activity(
        graph, placement, analysis.sim.counters(), inp.info.duration_s, args.synops_budget
    )
    summary = RunSummary(
        model=str(args.model),
        chip=result.chip.name,
        target=target_name,
        input=inp.info,
        placement=build.layer_infos(graph, placement),
        fit=result.check.fit_matrix.fits,
        core_memory=build.core_memory(result.check.fit_matrix, placement),
        quantisation=build.quant_rows(result.qgraph),
        activity=activity,
        energy=estimate_energy(int(sum(a.synops for a in activity)), inp.info.duration_s),
        agreement=analysis.agreement,
        samples=samples,
        n_output_events=len(output_events),
        predicted_class=build.predicted_class(target_counts),
        synops_budget=args.synops_budget,
        checker_warnings=build.checker_warning_lines(result.warnings),
        notes=tuple(graph.notes) + tuple(notes),
        timings={**{f"compile.{k}": v for k, v in result.timings.items()}, **timings},
        config_hash=config_hash(result.config),
        tool_version=__version__,
        files=files,
    )
    spikes = SpikeData(
        layer_names=tuple(layer.name for layer in graph.layers),
        time_counts=analysis.spikes_over_time,
        dt_us=_dt_us(args),
        input_events=inp.events,
        output_events=output_events,
        output_features=n_out,
        output_rasters=analysis.output_rasters,
        t0_us=time_bins(inp.events, _dt_us(args))[0],
    )
    return summary, spikes


# ----------------------------------------------------------------------------------------------------
# Command


def bundled_input_shape(model_path: Path) -> tuple[int, int, int] | None:
    """``INPUT_SHAPE`` declared by a bundled model's package (``models/<name>/__init__.py``) for a model file
    inside that package's folder; None for any other file.

    The literal is read with :mod:`ast` (nothing is imported or executed), following ``from models.<other>
    import INPUT_SHAPE``, so this also works when the ``models`` package is not importable (an older
    editable install).
    """
    folder = model_path.resolve().parent
    if folder.parent.name != "models" or not (folder.parent / "__init__.py").is_file():
        return None
    return _declared_input_shape(folder, depth=0)


def _declared_input_shape(package: Path, depth: int) -> tuple[int, int, int] | None:
    import ast

    init = package / "__init__.py"
    if depth > 3 or not init.is_file():
        return None
    try:
        tree = ast.parse(init.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and any(
            a.name == "INPUT_SHAPE" and a.asname is None for a in node.names
        ):
            parts = (node.module or "").split(".")
            if node.level == 0 and len(parts) == 2 and parts[0] == "models":
                return _declared_input_shape(package.parent / parts[1], depth + 1)
            return None
        if isinstance(node, ast.Assign):
            targets, value = list(node.targets), node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "INPUT_SHAPE" for t in targets):
            try:
                shape = ast.literal_eval(value)
            except ValueError:
                return None
            if (
                isinstance(shape, tuple)
                and len(shape) == 3
                and all(isinstance(v, int) and v > 0 for v in shape)
            ):
                return (shape[0], shape[1], shape[2])
            return None
    return None


def default_output_dir(model: Path) -> Path:
    """``deploy-out/<stem>``, or ``deploy-out/<folder>`` for files named ``model.*``."""
    name = model.parent.name if model.stem == "model" and model.parent.name else model.stem
    return OUTPUT_ROOT / (name or "model")


OUTPUT_FILES = (
    "config.json",
    "input_events.npy",
    "output_events.npy",
    "summary.json",
    "report.md",
    "report.html",
)


def run(args: argparse.Namespace) -> int:
    from rich.markup import escape  # user paths and names may contain [brackets]

    from deploy.outdir import atomic_output_dir, check_output_dir
    from deploy.pipeline import compile_model
    from deploy.report import summary_json as to_json
    from deploy.report import write_reports
    from deploy.sim.events import save_events, validate_events
    from hwconfig.json_io import Provenance, save_config

    reporter = Reporter(args.quiet, args.verbose, args.json)
    chip: ChipSpec = args.device
    model_path = Path(args.model)
    out_dir: Path = args.output if args.output is not None else default_output_dir(model_path)
    check_output_dir(out_dir.absolute(), args.force, protect=[model_path])
    options = sim_options(args)
    board = None if args.dry_run else require_board(chip, args.board)
    timings: dict[str, float] = {}
    notes: list[str] = []

    result = timed(
        reporter,
        "compile",
        timings,
        lambda: compile_model(
            model_path,
            args.device,
            args.input_shape or bundled_input_shape(model_path),
            _common.compile_options(args),
        ),
    )
    reporter.info(f"placement: {dict(enumerate(result.placement.core_of))}")
    leaky = [q.name for q in result.qgraph.layers if q.has_bias]
    if leaky:
        clock = (
            f"the simulation applied them once per slow-clock tick at {args.slow_clock_hz} Hz"
            if args.slow_clock_hz
            else "no slow clock was given (--slow-clock-hz), so on the chip and in the simulation they have "
            "no effect, while the time-stepped views add them every step"
        )
        notes.append(
            f"{'layers' if len(leaky) > 1 else 'layer'} {', '.join(repr(n) for n in leaky)} "
            f"{'have' if len(leaky) > 1 else 'has'} biases, which the chip applies as leak once "
            f"per slow-clock period (SPECK_SEMANTICS §2.4, §10.3); {clock}"
        )
    dvs = result.graph.dvs
    if dvs is not None:
        cores = ", ".join(str(result.placement.core_of[i]) for i in dvs.destinations)
        notes.append(
            f"input goes through the chip's DVS pre-processing layer (layer 13): input "
            f"{'×'.join(map(str, dvs.input_shape))}, sum pooling {dvs.pooling[0]}×{dvs.pooling[1]}"
            f"{', polarities merged' if dvs.merge_polarities else ''}, to core(s) {cores}"
        )
    inp = resolve_input(args, result, model_path)
    validate_events(inp.events, result.config, dvs_size=chip.dvs_size)
    reporter.info(f"input: {escape(inp.info.description)}: {inp.info.n_events} events")

    if board is None:
        from deploy.sim.simulator import Simulator

        target = Simulator(options, chip=chip)
        target.load(result.config)
        output_events = timed(reporter, "target_simulator", timings, lambda: target.run(inp.events))
        target_name = "simulator"
    else:
        output_events = timed(
            reporter,
            "target_board",
            timings,
            lambda: run_board(result.config, inp.events, chip, board, args.slow_clock_hz),
        )
        target_name = f"board {board}"

    dt_us = _dt_us(args)
    analysis = analyse(result, inp, dt_us, options, reporter, timings)
    samples = (
        timed(
            reporter,
            "samples",
            timings,
            lambda: evaluate_samples(result, inp, dt_us, analysis.agreement.output_layer, options),
        )
        if inp.samples
        else None
    )
    monitored = set(result.config.monitored_cores())
    expected = analysis.sim.events[np.isin(analysis.sim.events["layer"], sorted(monitored))]
    if target_name == "simulator" and not np.array_equal(expected, output_events):
        notes.append(
            "the simulator's output with only the exit layer monitored differs from the analysis run with "
            "every layer monitored; monitoring should not change the computation (please report this)"
        )

    summary, spikes = build_summary(
        args, result, inp, analysis, target_name, output_events, timings, notes, OUTPUT_FILES, samples
    )
    with (
        reporter.step(f"write {escape(str(out_dir))}"),
        atomic_output_dir(out_dir, force=args.force, protect=[model_path]) as tmp,
    ):
        provenance = Provenance(
            tool_version=summary.tool_version,
            source_model_sha256=result.loaded.sha256,
            extra={"command": ["deploy-model", *sys.argv[1:]], "input": inp.info.description},
        )
        save_config(tmp / "config.json", result.config, chip, provenance)
        save_events(tmp / "input_events.npy", inp.events)
        save_events(tmp / "output_events.npy", output_events)
        write_reports(tmp, summary, spikes)

    if args.json:
        sys.stdout.write(to_json(summary))
    else:
        print_summary(reporter, summary, out_dir)
    return 0


def print_summary(reporter: Reporter, s: RunSummary, out_dir: Path) -> None:
    """Compact summary table on stdout (plus warnings with ``-v``)."""
    from rich.markup import escape
    from rich.table import Table

    t = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    t.add_column("layer")
    t.add_column("core", justify="right")
    t.add_column("neurons F×H×W")
    for src in ("float", "quantised", "simulated"):
        t.add_column(src, justify="right")
    t.add_column("SynOps/s", justify="right")
    act = {a.core: a for a in s.activity}
    totals = {la.index: la.totals for la in s.agreement.layers} if s.agreement else {}
    for layer in s.placement:
        tot = totals.get(layer.index, {})
        a = act.get(layer.core)
        rate = f"{max(a.synops_rate, a.predicted_rate):.3g}" if a else "—"
        t.add_row(
            escape(layer.name),
            str(layer.core),
            "×".join(map(str, layer.out_shape)),
            *(f"{tot.get(src, 0):,}" for src in ("float", "quantised", "simulated")),
            f"[red]{rate}[/]" if a and a.over_budget else rate,
        )
    out = reporter.out
    out.print(f"[bold]{escape(s.model)}[/] → {s.chip} ({s.target}); input: {escape(s.input.description)}")
    out.print(t)
    pred = "none (no output spikes)" if s.predicted_class is None else str(s.predicted_class)
    label = f" (label {s.input.label})" if s.input.label is not None else ""
    line = f"predicted class: [bold]{pred}[/]{label}; {s.n_output_events:,} output events"
    if s.agreement is not None:
        from deploy.report.tables import class_cell

        classes = ", ".join(
            f"{k} {class_cell(v, s.agreement.output_counts[k])}"
            for k, v in s.agreement.output_classes.items()
        )
        agree = "[green]agree[/]" if s.agreement.classes_agree else "[yellow]disagree[/]"
        line += f"; views {agree} ({classes})"
    out.print(line)
    if s.samples is not None:
        acc = ", ".join(
            f"{k} {'—' if v is None else f'{100 * v:.1f} %'}" for k, v in s.samples.accuracy.items()
        )
        out.print(f"{s.samples.n_samples} shipped samples: accuracy {acc}")
    n_warn = len(s.checker_warnings) + len(s.bandwidth_warnings)
    if n_warn:
        out.print(f"[yellow]{n_warn} warning(s)[/] (see report)")
    if reporter.verbose:
        for w in (*s.checker_warnings, *s.bandwidth_warnings):
            reporter.err.print("warning: " + w, markup=False)
        for n in s.notes:
            reporter.err.print("note: " + n, markup=False)
    out.print(f"wrote {out_dir}/ ({', '.join(s.files)})", markup=False)
