"""Sweep files: models × compiler options (× data sets) validated as one job on one executor.

A sweep file is JSON (or YAML when PyYAML is installed)::

    {
      "dataset": "digits:test",          # default data set (path or built-in name)
      "chip": "speck2f",                 # default chip
      "samples": 100,                    # optional: first N samples of each data set
      "input_shape": [2, 34, 34],        # optional
      "gates": {"max_drop": 1.0},        # optional, as the CLI's --min-accuracy/--max-drop/--min-agreement
      "models": ["models/digits_snn/model.pt", "models/digits_ann2snn/model.pt"],
      "options": [{"quantization": "sinabs"}, {"quantization": "sinabs", "readout": true}]
    }

Every model is combined with every entry of ``options`` (default one empty entry). An options entry holds
:class:`deploy.options.CompileOptions` fields that JSON can carry (``quantization``, ``readout``,
``core_map``, ``architecture``, ``allow_plain_min_v_mem_none``, ``calibration_dt_us``, and ``calibration``
as a path to a ``.npy``/``.npz``), plus optional ``name``, ``dataset``, ``chip`` and ``gates`` overrides.
Relative paths are resolved against the sweep file's folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from deploy.datasets import BUILTIN, input_shape_of, load_dataset
from deploy.errors import DeployError
from deploy.options import CompileOptions
from deploy.validation.core import DEFAULT_DT_US, prepare, validate_many
from deploy.validation.executors import Progress
from deploy.validation.result import Gates, ValidationResult


class SweepError(DeployError):
    """A sweep file cannot be read or has an unknown key (named with its position)."""


OPTION_KEYS = frozenset(
    {"quantization", "readout", "core_map", "architecture", "allow_plain_min_v_mem_none", "calibration_dt_us"}
)
ENTRY_KEYS = OPTION_KEYS | {"calibration", "name", "dataset", "chip", "gates"}
TOP_KEYS = frozenset({"dataset", "chip", "samples", "input_shape", "gates", "models", "options", "dt_us"})


@dataclass(frozen=True, eq=False)
class SweepRun:
    """One model × options combination of a sweep.

    Attributes:
        name: ``<model>`` or ``<model> [<options name>]``, for the results table.
        model: Model path.
        options: Compiler options.
        dataset: Data set path or built-in name.
        chip: Chip name.
        gates: CI gates.
    """

    name: str
    model: str
    options: CompileOptions
    dataset: str
    chip: str
    gates: Gates


@dataclass(frozen=True, eq=False)
class Sweep:
    """A parsed sweep file: the runs and the settings they share."""

    runs: tuple[SweepRun, ...]
    samples: int | None
    input_shape: tuple[int, int, int] | None
    dt_us: int


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SweepError(f"sweep file '{path}' cannot be read ({exc})") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise SweepError(
                f"sweep file '{path}' is YAML, which needs PyYAML: pip install pyyaml (or write it as JSON)"
            ) from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SweepError(f"sweep file '{path}' is not valid YAML ({exc})") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SweepError(f"sweep file '{path}' is not valid JSON ({exc})") from None


def _path(base: Path, value: str) -> str:
    if value in BUILTIN or Path(value).is_absolute():
        return value
    return str(base / value)


def _gates(raw: Any, where: str) -> Gates:
    if raw is None:
        return Gates()
    known = {f.name for f in fields(Gates)}
    if not isinstance(raw, dict) or set(raw) - known:
        raise SweepError(f"{where}: 'gates' must be an object with keys among {sorted(known)}, got {raw!r}")
    return Gates(**{k: float(v) for k, v in raw.items()})


def _options(entry: dict[str, Any], base: Path, where: str) -> CompileOptions:
    kwargs = {k: v for k, v in entry.items() if k in OPTION_KEYS}
    if "core_map" in kwargs:
        pairs = dict(kwargs["core_map"]).items()
        kwargs["core_map"] = {(int(k) if str(k).isdigit() else k): int(v) for k, v in pairs}
    if "calibration" in entry:
        try:
            loaded = np.load(_path(base, str(entry["calibration"])), allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise SweepError(f"{where}: calibration file cannot be read ({exc})") from None
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                key = next((k for k in ("raster", "events") if k in loaded.files), loaded.files[0])
                kwargs["calibration"] = np.asarray(loaded[key])
        else:
            kwargs["calibration"] = np.asarray(loaded)
    return CompileOptions(**kwargs)


def load_sweep(path: str | Path) -> Sweep:
    """Parse a sweep file (see the module docstring).

    Raises:
        SweepError: Unreadable file, unknown keys, no models.
    """
    p = Path(path)
    raw = _read(p)
    if not isinstance(raw, dict) or set(raw) - TOP_KEYS:
        extra = sorted(set(raw) - TOP_KEYS) if isinstance(raw, dict) else type(raw).__name__
        raise SweepError(f"sweep file '{p}': unknown keys {extra}; allowed: {sorted(TOP_KEYS)}")
    models = raw.get("models")
    if not isinstance(models, list) or not models:
        raise SweepError(f"sweep file '{p}': 'models' must be a non-empty list of model paths")
    entries = raw.get("options") or [{}]
    base = p.parent
    runs = []
    for j, entry in enumerate(entries):
        where = f"sweep file '{p}', options[{j}]"
        if not isinstance(entry, dict) or set(entry) - ENTRY_KEYS:
            bad = sorted(set(entry) - ENTRY_KEYS) if isinstance(entry, dict) else entry
            raise SweepError(f"{where}: unknown keys {bad}; allowed: {sorted(ENTRY_KEYS)}")
        options = _options(entry, base, where)
        dataset = entry.get("dataset", raw.get("dataset"))
        if dataset is None:
            raise SweepError(f"{where}: no 'dataset' (set it at the top or in the entry)")
        gates = _gates(entry.get("gates", raw.get("gates")), where)
        for m in models:
            name = str(m) + (f" [{entry['name']}]" if "name" in entry else f" [options {j}]" if j else "")
            chip = str(entry.get("chip", raw.get("chip", "speck2f")))
            runs.append(SweepRun(name, _path(base, str(m)), options, _path(base, str(dataset)), chip, gates))
    shape = raw.get("input_shape")
    return Sweep(
        tuple(runs),
        raw.get("samples"),
        None if shape is None else (int(shape[0]), int(shape[1]), int(shape[2])),
        int(raw.get("dt_us", DEFAULT_DT_US)),
    )


def run_sweep(
    sweep: Sweep,
    *,
    workers: int | None = 1,
    executor: str = "process",
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> list[tuple[SweepRun, ValidationResult]]:
    """Compile every run, then validate all of them as one job (one pool or one dask client).

    Raises:
        DeployError: from compiling a model or reading a data set (the message names which).
    """
    datasets: dict[str, Any] = {}
    prepared = []
    for run in sweep.runs:
        ds = datasets.setdefault(run.dataset, load_dataset(run.dataset))
        p = prepare(
            run.model,
            run.chip,
            run.options,
            input_shape=sweep.input_shape or input_shape_of(ds),
            dt_us=sweep.dt_us,
            duration_us=getattr(ds, "duration_us", None),
            raster_dt_us=getattr(ds, "dt_us", None),
        )
        prepared.append((p, ds, run.gates))
    results = validate_many(
        prepared, sweep.samples, workers=workers, executor=executor, scheduler=scheduler, progress=progress
    )
    return list(zip(sweep.runs, results, strict=True))
