"""Convert :class:`~hwconfig.config.ChipConfig` to and from samna's configuration objects.

This is the only module of :mod:`hwconfig` that touches samna, and it never imports it at module level.
Every public function takes the samna module object as an optional ``samna`` argument: tests pass a strict
test double, and real use leaves it out, in which case samna is imported only after
:func:`hwconfig.samna_env.detect_samna` has confirmed that the real package (not the PyPI placeholder,
which would run ``pip`` when imported) is installed, in a supported version.

Classes per chip (``ChipSpec.samna_module``; SPECK_SEMANTICS §8.1, samna 0.48.5 reference):

============  ===========================================================  ==========================
samna module  configuration class                                          flash export
============  ===========================================================  ==========================
speck2f       ``samna.speck2f.configuration.SpeckConfiguration``           ``configuration_to_flash_binary``
speck2e       ``samna.speck2e.configuration.SpeckConfiguration``           ``configuration_to_flash_binary``
dynapcnn      ``samna.dynapcnn.configuration.DynapcnnConfiguration``       none documented
============  ===========================================================  ==========================

Field names and nesting are samna's and identical to :mod:`hwconfig.config` (that module mirrors the
tree), so the conversion walks the ChipConfig dataclasses generically: every field of every node is
written, and read back. Arrays go to samna as nested Python lists in samna's order (``weights[f][c][x][y]``,
``neurons_initial_value[f][x][y]``, ``biases[f]``); scalars as Python ``int``/``bool``.

Each struct is written copy-modify-assign (``sub = obj.field; ...; obj.field = sub``), which is correct
whether samna's pybind11 properties hand out references or copies, and :func:`to_samna` reads the object
back and compares it with the input, so a field samna silently drops is an error, not a surprise on chip.

DYNAP-CNN: the public sinabs code that targets ``samna.dynapcnn`` also writes per-value "kill bits"
(``weights_kill_bit``, ``biases_kill_bit``, ``neurons_value_kill_bit``), whose semantics are not documented in
any source this project has. :func:`to_samna` writes them all ``False`` (nothing killed, so every kernel tap
is processed, matching the simulator's zero-weight default, SPECK_SEMANTICS §2.2); :func:`from_samna`
accepts a kill bit only on a zero value (a killed zero contributes nothing either way) and rejects the
configuration otherwise. The rest of the DYNAP-CNN tree is assumed to carry speck2f's field names; this is
unverified (samna 0.48.5 documents no ``dynapcnn`` module) and a real board will report any difference
as an error from :func:`to_samna` naming the field.

samna's ``to_json()`` format is undocumented (SPECK_SEMANTICS §13 q. 13), so this module does not parse it;
:func:`from_samna_json` hands the string to samna's own ``from_json`` and converts the resulting object.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwconfig.chips import get_chip
from hwconfig.config import ChipConfig
from hwconfig.errors import ConfigError, SamnaError
from hwconfig.samna_env import SamnaStatus, detect_samna
from hwconfig.spec import ChipSpec

# Supported samna versions: ``SUPPORTED_SAMNA_MIN <= version < SUPPORTED_SAMNA_BELOW``. The project was
# written against the samna 0.48.5 reference (SPECK_SEMANTICS §0) and the 0.48.6 placeholder that sinabs
# 3.1.3 installs; 0.40 is the floor of the ``board`` extra in pyproject.toml. samna changes its Python API
# between minor releases, so the next minor series after the documented one is excluded until tested.
SUPPORTED_SAMNA_MIN: tuple[int, int, int] = (0, 40, 0)
SUPPORTED_SAMNA_BELOW: tuple[int, int, int] = (0, 50, 0)
SUPPORTED_SAMNA_RANGE = ">=0.40,<0.50"


@dataclass(frozen=True)
class _ModuleSchema:
    """What differs between samna chip modules."""

    config_class: str
    kill_bits: bool


# Keyed by ChipSpec.samna_module (a samna name, i.e. data, not a chip-name branch).
_SCHEMAS: dict[str, _ModuleSchema] = {
    "speck2f": _ModuleSchema("SpeckConfiguration", kill_bits=False),
    "speck2e": _ModuleSchema("SpeckConfiguration", kill_bits=False),
    "dynapcnn": _ModuleSchema("DynapcnnConfiguration", kill_bits=True),
}

# Kill-bit array of samna's DYNAP-CNN CNN layer → the value array it masks.
_KILL_BITS: dict[str, str] = {
    "weights_kill_bit": "weights",
    "biases_kill_bit": "biases",
    "neurons_value_kill_bit": "neurons_initial_value",
}


# --------------------------------------------------------------------------------------------- samna


def parse_version(version: str) -> tuple[int, int, int]:
    """``"0.48.5"`` → ``(0, 48, 5)``; missing parts are 0, suffixes such as ``rc1`` or ``+local`` ignored.

    Raises:
        ValueError: if the string does not start with a number.
    """
    parts = re.findall(r"\d+", version.split("+")[0])[:3]
    if not parts or not re.match(r"\s*v?\d", version):
        raise ValueError(f"not a version number: {version!r}")
    nums = [int(p) for p in parts] + [0] * (3 - len(parts))
    return nums[0], nums[1], nums[2]


def check_samna_version(version: str | None) -> None:
    """Raise unless ``version`` lies in the supported range :data:`SUPPORTED_SAMNA_RANGE`.

    Raises:
        SamnaError: for an unknown, unparsable or out-of-range version, with what to install instead.
    """
    fix = (
        f"speck-deploy supports samna {SUPPORTED_SAMNA_RANGE}; install one with `python -m pip install "
        f"--force-reinstall 'samna{SUPPORTED_SAMNA_RANGE}' --index-url <SynSense index>` "
        "(see docs/hardware.md)."
    )
    if version is None:
        raise SamnaError(
            f"the installed samna reports no version, so it cannot be checked. {fix}", state="real"
        )
    try:
        parsed = parse_version(version)
    except ValueError:
        raise SamnaError(f"cannot parse the samna version {version!r}. {fix}", state="real") from None
    if not SUPPORTED_SAMNA_MIN <= parsed < SUPPORTED_SAMNA_BELOW:
        raise SamnaError(f"samna {version} is outside the supported range. {fix}", state="real")


def import_samna(status: SamnaStatus | None = None) -> Any:
    """Import the real samna after checking, without importing it, that it is real and supported.

    Args:
        status: A detection result to use instead of calling :func:`detect_samna` (for tests).

    Returns:
        The ``samna`` module.

    Raises:
        SamnaError: with the detection message (which says how to install the real samna) when samna is
            missing or the PyPI placeholder, or when its version is unsupported.
    """
    status = detect_samna() if status is None else status
    if not status.usable:
        raise SamnaError(status.message, state=status.state)
    check_samna_version(status.version)
    return importlib.import_module("samna")


def resolve_samna(samna: Any = None) -> Any:
    """Return ``samna`` if given (a module object or test double), else :func:`import_samna`."""
    return import_samna() if samna is None else samna


def chip_module(samna: Any, chip: ChipSpec) -> Any:
    """``samna.<chip.samna_module>``, or a :class:`SamnaError` saying this samna lacks it."""
    mod = getattr(samna, chip.samna_module, None)
    if mod is None:
        version = getattr(samna, "__version__", "of unknown version")
        raise SamnaError(
            f"samna {version} has no module samna.{chip.samna_module}, which chip {chip.name!r} needs "
            f"(the samna 0.48.5 reference documents samna.speck2e and samna.speck2f only); install a samna "
            f"release that ships samna.{chip.samna_module}."
        )
    return mod


def _schema(chip: ChipSpec) -> _ModuleSchema:
    try:
        return _SCHEMAS[chip.samna_module]
    except KeyError:
        raise SamnaError(
            f"no samna configuration schema is known for samna module {chip.samna_module!r} "
            f"(chip {chip.name!r}); known modules: {', '.join(sorted(_SCHEMAS))}"
        ) from None


def configuration_class(samna: Any, chip: ChipSpec) -> Any:
    """The samna configuration class of ``chip``, e.g. ``samna.speck2f.configuration.SpeckConfiguration``."""
    name = _schema(chip).config_class
    cls = getattr(getattr(chip_module(samna, chip), "configuration", None), name, None)
    if cls is None:
        version = getattr(samna, "__version__", "of unknown version")
        raise SamnaError(
            f"samna has no class samna.{chip.samna_module}.configuration.{name} (samna {version}); "
            f"install a samna release in the supported range {SUPPORTED_SAMNA_RANGE}"
        )
    return cls


# ------------------------------------------------------------------------------------------- writing


def _to_samna_value(value: Any) -> Any:
    """numpy scalars and arrays → Python ints, bools and nested lists; anything else unchanged.

    Values of a wrong type (a float threshold, a string) are passed on unchanged on purpose, so that samna
    rejects them with its own message instead of this module converting them silently.
    """
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _samna_error(path: str, exc: Exception) -> ConfigError:
    return ConfigError(f"{path}: samna rejected the value ({type(exc).__name__}: {exc})")


def _assign_back(target: Any, name: str, value: Any) -> None:
    """Store a modified struct or list back; a read-only container means samna handed out a reference.

    Whether the write reached samna either way is checked by :func:`to_samna`'s read-back.
    """
    with contextlib.suppress(AttributeError):
        setattr(target, name, value)


def _write_node(target: Any, node: Any, path: str) -> None:
    """Write every field of dataclass ``node`` onto samna struct ``target`` (copy-modify-assign)."""
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        sub_path = f"{path}.{f.name}" if path else f.name
        try:
            if dataclasses.is_dataclass(value):
                sub = getattr(target, f.name)
                _write_node(sub, value, sub_path)
                _assign_back(target, f.name, sub)
            elif isinstance(value, tuple):
                items = getattr(target, f.name)
                if len(items) != len(value):
                    raise ConfigError(
                        f"{sub_path}: samna has {len(items)} entries, the configuration {len(value)}"
                    )
                for i, item_value in enumerate(value):
                    item = items[i]
                    _write_node(item, item_value, f"{sub_path}[{i}]")
                    with contextlib.suppress(TypeError):  # an immutable sequence of references
                        items[i] = item
                _assign_back(target, f.name, items)
            else:
                setattr(target, f.name, _to_samna_value(value))
        except ConfigError:
            raise
        except (AttributeError, TypeError, ValueError, RuntimeError) as exc:
            raise _samna_error(sub_path, exc) from exc


def _write_kill_bits(layer: Any, path: str) -> None:
    for kill_name, value_name in _KILL_BITS.items():
        shape = np.asarray(getattr(layer, value_name)).shape
        try:
            setattr(layer, kill_name, np.zeros(shape, dtype=bool).tolist())
        except (AttributeError, TypeError, ValueError, RuntimeError) as exc:
            raise _samna_error(f"{path}.{kill_name}", exc) from exc


def to_samna(config: ChipConfig, chip: str | ChipSpec, samna: Any = None) -> Any:
    """Build the samna configuration object for ``config``.

    Args:
        config: The chip configuration.
        chip: Chip name or spec; selects the samna module and configuration class.
        samna: The samna module (or a test double); imported safely when omitted.

    Returns:
        A new ``samna.<module>.configuration.<Class>`` with every field of ``config`` set.

    Raises:
        SamnaError: samna is unusable or lacks the chip's module/class.
        ConfigError: samna rejected a value (the message names the field path and carries samna's own
            message; the original exception is the ``__cause__``), or samna did not keep a written value.
    """
    spec = get_chip(chip)
    samna = resolve_samna(samna)
    schema = _schema(spec)
    obj = configuration_class(samna, spec)()
    _write_node(obj, config, "")
    if schema.kill_bits:
        layers = obj.cnn_layers
        for i in range(len(layers)):
            layer = layers[i]
            _write_kill_bits(layer, f"cnn_layers[{i}]")
            layers[i] = layer
        _assign_back(obj, "cnn_layers", layers)
    back = from_samna(obj, spec)
    if back != config:
        raise ConfigError(
            f"samna did not keep the configuration as written: {', '.join(_differences(config, back)) or '?'}"
        )
    return obj


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Field paths where two ChipConfig trees differ (for error messages)."""
    if dataclasses.is_dataclass(a) and type(a) is type(b):
        out: list[str] = []
        for f in dataclasses.fields(a):
            out += _differences(
                getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}" if path else f.name
            )
        return out
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        pairs = enumerate(zip(a, b, strict=True))
        return [d for i, (x, y) in pairs for d in _differences(x, y, f"{path}[{i}]")]
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return [] if a.shape == b.shape and np.array_equal(a, b) else [path]
    return [] if a == b and type(a) is type(b) else [path]


# ------------------------------------------------------------------------------------------- reading


def _read_scalar(value: Any, default: Any, path: str) -> Any:
    if isinstance(default, bool):
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise ConfigError(f"{path}: expected a bool from samna, got {type(value).__name__} {value!r}")
    if isinstance(default, int):
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            return int(value)
        raise ConfigError(f"{path}: expected an int from samna, got {type(value).__name__} {value!r}")
    raise AssertionError(f"unhandled field type at {path}: {type(default).__name__}")  # internal invariant


def _read_array(value: Any, ndim: int, path: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except ValueError as exc:  # ragged nested lists
        raise ConfigError(f"{path}: samna returned a ragged array ({exc})") from None
    if arr.size == 0:
        return np.zeros((0,) * ndim, dtype=np.int64)
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu" or arr.ndim != ndim:
        raise ConfigError(
            f"{path}: expected a {ndim}-dimensional integer array from samna, got shape {arr.shape} "
            f"dtype {arr.dtype}"
        )
    return arr


def _read_node(source: Any, cls: type, path: str) -> Any:
    """Build dataclass ``cls`` from samna struct ``source``, guided by the types of ``cls()``'s values."""
    default = cls()
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(default):
        dval = getattr(default, f.name)
        sub_path = f"{path}.{f.name}" if path else f.name
        try:
            raw = getattr(source, f.name)
        except AttributeError as exc:
            raise ConfigError(f"{sub_path}: missing in the samna object ({exc})") from None
        if dataclasses.is_dataclass(dval):
            kwargs[f.name] = _read_node(raw, type(dval), sub_path)
        elif isinstance(dval, tuple):
            if len(raw) != len(dval):
                raise ConfigError(f"{sub_path}: samna has {len(raw)} entries, expected {len(dval)}")
            item_cls = type(dval[0])
            kwargs[f.name] = tuple(_read_node(raw[i], item_cls, f"{sub_path}[{i}]") for i in range(len(dval)))
        elif isinstance(dval, np.ndarray):
            kwargs[f.name] = _read_array(raw, dval.ndim, sub_path)
        else:
            kwargs[f.name] = _read_scalar(raw, dval, sub_path)
    return cls(**kwargs)


def _check_kill_bits(obj: Any) -> None:
    problems: list[str] = []
    for i in range(len(obj.cnn_layers)):
        layer = obj.cnn_layers[i]
        for kill_name, value_name in _KILL_BITS.items():
            path = f"cnn_layers[{i}].{kill_name}"
            try:
                kill = np.asarray(getattr(layer, kill_name), dtype=bool)
            except AttributeError as exc:
                raise ConfigError(f"{path}: missing in the samna object ({exc})") from None
            values = np.asarray(getattr(layer, value_name))
            if kill.size == 0 or not kill.any():
                continue
            if kill.shape != values.shape:
                problems.append(f"{path}: shape {kill.shape} differs from {value_name} {values.shape}")
            elif (values[kill] != 0).any():
                n = int((values[kill] != 0).sum())
                problems.append(
                    f"{path}: {n} non-zero {value_name} value(s) are killed; kill-bit semantics are not "
                    "modelled, so such a configuration cannot be converted (set the values to 0 instead)"
                )
    if problems:
        raise ConfigError(problems)


def from_samna(obj: Any, chip: str | ChipSpec) -> ChipConfig:
    """Convert a samna configuration object (e.g. saved by another tool) to a :class:`ChipConfig`.

    Only attribute access is used, so any object with samna's field names works (no samna import).

    Args:
        obj: A ``SpeckConfiguration`` / ``DynapcnnConfiguration`` or an object with the same fields.
        chip: Chip name or spec.

    Raises:
        ConfigError: a field is missing or of the wrong kind, or (DYNAP-CNN) a non-zero value is killed.
    """
    spec = get_chip(chip)
    if _schema(spec).kill_bits:
        _check_kill_bits(obj)
    config = _read_node(obj, ChipConfig, "")
    assert isinstance(config, ChipConfig)
    return config


def from_samna_json(text: str, chip: str | ChipSpec, samna: Any = None) -> ChipConfig:
    """Convert a string written by a samna configuration's ``to_json()`` to a :class:`ChipConfig`.

    samna's JSON layout is undocumented, so samna itself parses it (``Class().from_json(text)``).

    Raises:
        SamnaError: samna is unusable.
        ConfigError: samna could not parse the text (its message is included), or as :func:`from_samna`.
    """
    spec = get_chip(chip)
    obj = configuration_class(resolve_samna(samna), spec)()
    try:
        obj.from_json(text)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise ConfigError(f"samna could not read the JSON text: {exc}") from exc
    return from_samna(obj, spec)


def to_samna_json(config: ChipConfig, chip: str | ChipSpec, samna: Any = None) -> str:
    """``to_samna(config, chip).to_json()``: samna's own JSON form, loadable by samna-based tools."""
    return str(to_samna(config, chip, samna).to_json())


# ---------------------------------------------------------------------------------- checks and export


def validate_with_samna(config: ChipConfig, chip: str | ChipSpec, samna: Any = None) -> Any:
    """Run samna's own ``samna.<module>.validate_configuration`` on ``config``.

    Returns:
        The samna configuration object (valid according to samna).

    Raises:
        ConfigError: samna found the configuration invalid; its message is included verbatim.
        SamnaError: samna is unusable or has no ``validate_configuration`` for this chip.
    """
    spec = get_chip(chip)
    samna = resolve_samna(samna)
    obj = to_samna(config, spec, samna)
    validate = getattr(chip_module(samna, spec), "validate_configuration", None)
    if validate is None:
        version = getattr(samna, "__version__", "of unknown version")
        raise SamnaError(
            f"samna.{spec.samna_module} has no validate_configuration function (samna {version}); install a "
            f"samna release in the supported range {SUPPORTED_SAMNA_RANGE}"
        )
    ok, message = validate(obj)
    if not ok:
        raise ConfigError(f"samna.{spec.samna_module}.validate_configuration: {message}")
    return obj


def to_flash_binary(config: ChipConfig, chip: str | ChipSpec, samna: Any = None) -> bytes:
    """The external-flash image of ``config``, from ``samna.<module>.configuration_to_flash_binary``.

    samna 0.48.5 documents this function for speck2e and speck2f ("binary format to be used in an external
    flash memory", returning a list of ints); nothing is documented for DYNAP-CNN.

    Raises:
        SamnaError: samna is unusable, has no flash export for this chip, or returned non-byte values.
        ConfigError: as :func:`to_samna`.
    """
    spec = get_chip(chip)
    samna = resolve_samna(samna)
    export = getattr(chip_module(samna, spec), "configuration_to_flash_binary", None)
    if export is None:
        raise SamnaError(
            f"samna.{spec.samna_module} offers no configuration_to_flash_binary, so chip {spec.name!r} has "
            "no flash export (samna documents it for speck2e and speck2f only)"
        )
    data: Sequence[int] = export(to_samna(config, spec, samna))
    try:
        return bytes(data)
    except (ValueError, TypeError) as exc:
        raise SamnaError(f"samna's flash export returned values that are not bytes: {exc}") from exc
