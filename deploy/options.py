"""Options of the compiler that check, compile, run and validate share, and the options of a run (issue #11).

:class:`CompileOptions` is the one frozen value that carries every compiler choice from the command line (or a
Python caller) to :func:`deploy.pipeline.check_model` / :func:`deploy.pipeline.compile_model` and the stages
below them. The model and the target chip are not options: they are the arguments of every call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy.typing as npt

if TYPE_CHECKING:
    from torch import nn

    from deploy.sim.options import SimOptions
    from hwconfig.config import ChipConfig, ReadoutConfig

DEFAULT_CALIBRATION_DT_US = 10_000
"""Time bin (µs) used to turn calibration events into a raster when none is given (10 ms)."""

QUANTIZATION_RULES = ("sinabs", "calibrated")
"""Names accepted by :attr:`CompileOptions.quantization`."""

EXECUTORS = ("process", "thread", "dask")
"""Where ``validate`` and ``sweep`` run samples (:func:`deploy.validation.executors.open_runner`); here, not
there, so that building the command line does not import :mod:`deploy.validation`."""

MonitorSpec = str | int | Sequence[int | str] | None
"""Which layers send their spikes to the host, in sinabs's ``monitor_layers`` forms: None (the exit
layers), ``[]`` (none), ``"all"``, ``"dvs"``, a layer index, or a list of indices, ``-1`` (the exit layers)
and ``"dvs"`` (see :func:`deploy.monitor.resolve_monitor`)."""


@dataclass(frozen=True)
class DvsOptions:
    """The chip's DVS pre-processing layer for a model that has none, as sinabs's ``DVSLayer`` arguments.

    They describe a sinabs ``DVSLayer(input_shape, pool, crop, merge_polarities, flip_x, flip_y, swap_xy)``
    put in front of the model (SB-dvs); the model's input is what that layer outputs. Rules and sinabs
    references: ``docs/dvs-input.md``.

    Attributes:
        merge_polarities: Merge ON/OFF into one feature; None derives it from the model's input channels
            (1 → merged), as sinabs's ``_validate_dvs_setup`` does.
        pooling: ``(py, px)`` sum pooling of the sensor events, each in {1, 2, 4}.
        crop: ``((top, bottom), (left, right))`` region of interest in pooled sensor coordinates, end
            exclusive (sinabs's ``crop``); the chip writes ``origin`` = start and ``cut`` = end − 1. None:
            the model's input size from (0, 0).
        flip_x, flip_y: Mirror along x (width) / y (height) after cropping (samna ``mirror``).
        swap_xy: Swap x and y last (samna ``mirror_diagonal``).
    """

    merge_polarities: bool | None = None
    pooling: tuple[int, int] = (1, 1)
    crop: tuple[tuple[int, int], tuple[int, int]] | None = None
    flip_x: bool = False
    flip_y: bool = False
    swap_xy: bool = False

    @property
    def geometry_is_default(self) -> bool:
        """True when only ``merge_polarities`` may differ from the defaults."""
        return (self.pooling, self.crop, self.flip_x, self.flip_y, self.swap_xy) == (
            (1, 1),
            None,
            False,
            False,
            False,
        )


@dataclass(frozen=True)
class CompileOptions:
    """Every compiler choice besides the model and the chip; the defaults reproduce sinabs's flow.

    Attributes:
        architecture: For state_dict files: a model name in ``models/`` or ``"package.module:function"``
            (or the function itself).
        trust_model_file: Allow unpickling classes outside the safe allowlist (runs code from the file).
        core_map: Manual placement, layer index or torch module path → core; None places automatically.
        quantization: Quantisation rule: ``"sinabs"`` (sinabs's rule, bit for bit) or ``"calibrated"``.
        calibration: For ``quantization="calibrated"``: typical input, a raster ``(T, C, H, W)`` or events
            (:func:`deploy.quantize.calibration_raster`).
        calibration_dt_us: Time bin (µs) for calibration events.
        allow_plain_min_v_mem_none: Accept ``min_v_mem=None`` layers whose scale collapses under the
            sinabs rule (:func:`deploy.quantize.quantize`).
        readout: Route the exit layer to the readout layer (True, or a :class:`ReadoutConfig`); see
            :func:`deploy.emit.emit_config` (class erratum on 2e/2f) and the ``readout`` check rules.
        dvs_input: Take input from the on-chip sensor (sinabs's ``dvs_input=True``): a DVS layer is created
            if the model has none and ``pass_sensor_events`` is set (:mod:`deploy.dvs`).
        dvs: Settings of the DVS layer created for a model without one (:class:`DvsOptions`); giving it
            also creates the DVS layer when ``dvs_input`` is False (host events then enter at layer 13).
        monitor: Monitored layers (:data:`MonitorSpec`, sinabs's ``monitor_layers`` forms).
        config_modifier: Called on the emitted configuration, as sinabs's ``make_config(config_modifier=…)``;
            its result is validated against the chip and replaces the configuration.
    """

    architecture: str | Callable[[], nn.Module] | None = None
    trust_model_file: bool = False
    core_map: Mapping[int | str, int] | None = field(default=None, hash=False)
    quantization: str = "sinabs"
    calibration: npt.NDArray[Any] | None = field(default=None, compare=False, hash=False)
    calibration_dt_us: int = DEFAULT_CALIBRATION_DT_US
    allow_plain_min_v_mem_none: bool = False
    readout: bool | ReadoutConfig | None = None
    dvs_input: bool = False
    dvs: DvsOptions | None = None
    monitor: MonitorSpec = field(default=None, hash=False)
    config_modifier: Callable[[ChipConfig], ChipConfig] | None = field(default=None, compare=False)


DEFAULT_POISSON_RATE_HZ = 50.0
"""Per input pixel and channel; on a 2×34×34 input this is ~11,600 events in the default 100 ms."""
DEFAULT_DURATION_MS = 100.0
"""Length of the Poisson input when none is given."""
DEFAULT_DT_MS = 10.0
"""Time step of the time-stepped (sinabs-style) evaluation used by the agreement check.

10 ms is the bin the bundled models were trained with (30 bins over the 300 ms N-MNIST-style recordings,
``models/digits_snn``), so the float view is the network as trained; set ``dt_ms`` to your model's bin.
"""

DEFAULT_SYNOPS_BUDGET = 1.0e8
"""Default per-core SynOps/s budget for the throughput warning (§7.3 rule 7).

No per-core SynOps/s limit is published (SPECK_SEMANTICS §7.3 rule 7 and open question 11; sinabs' training
tips only say each core has one and that exceeding it stalls the chip). 1e8 SynOps/s is an order-of-magnitude
*assumption*: a SynOp is one kernel-SRAM read plus one neuron-SRAM read-modify-write (SD-tips), i.e. about
10 ns per SynOp at typical on-chip SRAM access times, one at a time per core. It is a warning threshold, not a
chip specification; set ``--synops-budget`` from measurements on your board. Core 0 gets
:data:`deploy.report.summary.LAYER0_THROUGHPUT_FACTOR` × the budget.
"""


@dataclass(frozen=True)
class RunOptions:
    """Every choice of :func:`deploy.runner.run_model` besides the model, chip, input and compiler options.

    One field per ``deploy-model run`` option that is not a compiler option (those are in
    :class:`CompileOptions`) and not about printing or files. Values are checked when the object is made, so
    a bad value fails before anything is compiled.

    Adding an option (``--dvs-input``, ``--monitor``, ``--class-exit``, ...): add a field with a default that
    keeps today's behaviour, check it in :meth:`__post_init__` (raise :class:`deploy.errors.DeployError`
    naming the field and its command-line flag), read it where it acts (:mod:`deploy.runner`,
    :mod:`deploy.inputs` or :mod:`deploy.analysis`), and set it in ``deploy/commands/run.py``
    ``run_options(args)``.

    Attributes:
        dry_run: Run on the bit-accurate simulator (True, the library default) instead of a board (False,
            needs SynSense's samna and a connected board; ``deploy-model run`` without ``--dry-run``).
        board: Board to use when not ``dry_run``: ``TYPE:INDEX`` or ``serial=...``; None for the first board
            of the chip.
        slow_clock_hz: Slow clock that drives leak (bias) on the target; None: no slow clock, so biases have
            no effect on chip (SPECK_SEMANTICS §2.4).
        dt_ms: Time step (ms) of the float/quantised time-stepped evaluation of the agreement check.
        poisson_rate_hz: Rate of the Poisson input per input pixel and channel; None for
            :data:`DEFAULT_POISSON_RATE_HZ`. Setting it (or ``duration_ms``) chooses Poisson input over the
            sample shipped next to the model (:func:`deploy.inputs.resolve_input`).
        duration_ms: Length of the Poisson input; None for :data:`DEFAULT_DURATION_MS`.
        seed: Seed of the Poisson input.
        synops_budget: SynOps/s budget per core for the bandwidth warning (core 0 gets 3.5×).
        class_exit: The exit layer whose output names the class (its index or torch module path); None for
            the last exit (:func:`deploy.report.outputs.resolve_class_exit`).
        torch_threads: Threads torch uses for the float and quantised time-stepped views (None: torch's
            default, one per core). One thread is the default: the views are small, and two threads were
            measured up to 10× slower than one on a busy 2-core machine (they wait for each other).
    """

    dry_run: bool = True
    board: str | None = None
    slow_clock_hz: int | None = None
    dt_ms: float = DEFAULT_DT_MS
    poisson_rate_hz: float | None = None
    duration_ms: float | None = None
    seed: int = 0
    synops_budget: float = DEFAULT_SYNOPS_BUDGET
    class_exit: str | int | None = None
    torch_threads: int | None = 1

    def __post_init__(self) -> None:
        from deploy.errors import DeployError

        if self.slow_clock_hz is not None and not self.slow_clock_hz > 0:
            raise DeployError(f"--slow-clock-hz must be positive, got {self.slow_clock_hz}")
        if not self.dt_ms > 0:
            raise DeployError(f"--dt-ms must be positive, got {self.dt_ms:g}")
        if self.torch_threads is not None and not self.torch_threads >= 1:
            raise DeployError(
                f"torch_threads (--torch-threads) must be at least 1, or None (--torch-threads 0) for "
                f"torch's default; got {self.torch_threads}"
            )

    @property
    def dt_us(self) -> int:
        """:attr:`dt_ms` in whole µs (at least 1)."""
        return max(round(self.dt_ms * 1000), 1)

    @property
    def explicit_poisson(self) -> bool:
        """True when a Poisson rate or duration was given (Poisson input then beats the shipped sample)."""
        return self.poisson_rate_hz is not None or self.duration_ms is not None

    def sim_options(self) -> SimOptions:
        """Simulator options for the target and the analysis run (everything else: SPECK_SEMANTICS
        defaults)."""
        from deploy.sim.options import SimOptions

        return SimOptions(slow_clock_hz=self.slow_clock_hz)
