"""Versioned JSON files for chip configurations, and a stable content hash.

A file is one JSON object (the format is documented in ``docs/config-format.md``)::

    {
      "schema_version": 1,
      "chip": "speck2f",
      "provenance": {"tool": "speck-deploy", "tool_version": "0.1.0", "created": "2026-11-28T17:00:00+00:00",
                     "source_model_sha256": null, "extra": {}},
      "config": {"cnn_layers": [...], "dvs_layer": {...}, "dvs_filter": {...}, "readout": {...},
                 "factory_config": {...}}
    }

``config`` uses samna's field names and nesting exactly as :mod:`hwconfig.config` (arrays as nested lists in
samna order: ``weights[f][c][x][y]``, ``biases[f]``, ``neurons_initial_value[f][x][y]``). The conversion walks
the dataclass fields (:func:`hwconfig.validate.field_types`), so a field added to the model is serialised
without touching this module (and needs a ``SCHEMA_VERSION`` bump, see the docs).

Reading is strict: unknown, missing and mistyped fields are reported with their path, all at once.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hwconfig.chips import UnknownChipError, get_chip
from hwconfig.config import ChipConfig
from hwconfig.errors import ConfigError
from hwconfig.spec import ChipSpec
from hwconfig.validate import FieldType, field_types, is_bool, is_int, type_name

SCHEMA_VERSION = 1
"""Version written by this module; it reads every version from 1 up to this one."""

TOOL = "speck-deploy"
_TOP_LEVEL = ("schema_version", "chip", "provenance", "config")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_INT64 = np.iinfo(np.int64)


@dataclass(frozen=True)
class Provenance:
    """Where a configuration file comes from. Not part of :func:`config_hash`.

    Attributes:
        tool: Name of the program that wrote the file.
        tool_version: Its version; empty means "fill in the hwconfig version when saving".
        created: ISO 8601 time the file was written; empty means "now (UTC) when saving".
        source_model_sha256: sha256 (64 lowercase hex digits) of the model file the configuration was
            compiled from, or None.
        extra: Free JSON-serialisable information (e.g. command line, quantisation scales).
    """

    tool: str = TOOL
    tool_version: str = ""
    created: str = ""
    source_model_sha256: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedConfig:
    """What :func:`load_config` returns.

    Attributes:
        config: The chip configuration.
        chip: Canonical chip name (a key of :data:`hwconfig.CHIPS`).
        provenance: Provenance recorded in the file.
        schema_version: Version the file was written with.
    """

    config: ChipConfig
    chip: str
    provenance: Provenance
    schema_version: int


# --------------------------------------------------------------------------------------------------
# Configuration <-> plain dict
# --------------------------------------------------------------------------------------------------


def config_to_dict(config: ChipConfig) -> dict[str, Any]:
    """The configuration as plain JSON-ready data: dicts in field order, lists, ints and bools.

    Numpy scalars become Python ints/bools and arrays nested lists in samna order. No validation.
    """
    out = _to_plain(config)
    assert isinstance(out, dict)
    return out


def _to_plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return [_to_plain(v) for v in value]
    if is_bool(value):
        return bool(value)
    if is_int(value):
        return int(value)
    if hasattr(value, "__dataclass_fields__"):
        return {name: _to_plain(getattr(value, name)) for name, _ in field_types(type(value))}
    return value  # str, or a mistyped value: json.dumps reports it if it is not serialisable


def config_from_dict(data: Any) -> ChipConfig:
    """Build a :class:`ChipConfig` from :func:`config_to_dict` output (or parsed JSON), strictly.

    Raises:
        ConfigError: listing every unknown, missing or mistyped field with its path, e.g.
            ``cnn_layers[2].dimensions.stride.x: expected int, got str``.
    """
    problems: list[str] = []
    config = _parse(data, FieldType("node", node=ChipConfig), "", problems)
    if problems:
        raise ConfigError(problems)
    assert isinstance(config, ChipConfig)
    return config


def _json_type(value: Any) -> str:
    """JSON names for parsed values (dict → object, list → array), Python names otherwise."""
    names = {dict: "object", list: "array", str: "str", bool: "bool", int: "int", float: "float"}
    return names.get(type(value), type_name(value))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _parse(data: Any, ftype: FieldType, path: str, problems: list[str]) -> Any:
    """Parse one JSON value; append problems and return None for anything wrong."""
    if ftype.kind in ("int", "bool", "str"):
        expected = {"int": int, "bool": bool, "str": str}[ftype.kind]
        if type(data) is not expected:
            problems.append(f"{path}: expected {ftype.kind}, got {_json_type(data)}")
            return None
        return data
    if ftype.kind == "array":
        return _parse_array(data, ftype.ndim, path, problems)
    if ftype.kind == "seq":
        assert ftype.item is not None
        if not isinstance(data, list):
            problems.append(f"{path}: expected array, got {_json_type(data)}")
            return None
        items = [_parse(v, ftype.item, f"{path}[{i}]", problems) for i, v in enumerate(data)]
        return tuple(items)
    assert ftype.node is not None
    if not isinstance(data, dict):
        problems.append(f"{path or '<root>'}: expected object, got {_json_type(data)}")
        return None
    fields = field_types(ftype.node)
    names = {name for name, _ in fields}
    n_before = len(problems)
    for key in data:
        if key not in names:
            problems.append(f"{_join(path, str(key))}: unknown field")
    kwargs = {}
    for name, sub in fields:
        sub_path = _join(path, name)
        if name not in data:
            problems.append(f"{sub_path}: missing")
            continue
        kwargs[name] = _parse(data[name], sub, sub_path, problems)
    if len(problems) > n_before:
        return None
    return ftype.node(**kwargs)


def _parse_array(data: Any, ndim: int, path: str, problems: list[str]) -> npt.NDArray[np.int64] | None:
    """A rectangular nested list of ints, ``ndim`` deep, as an int64 array."""
    shape: list[int] = []
    flat: list[int] = []

    def walk(node: Any, depth: int, where: str) -> bool:
        if depth == ndim:
            if type(node) is not int:
                problems.append(f"{where}: expected int, got {_json_type(node)}")
                return False
            if not _INT64.min <= node <= _INT64.max:
                problems.append(f"{where}: {node} does not fit in 64 bits")
                return False
            flat.append(node)
            return True
        if not isinstance(node, list):
            problems.append(f"{where}: expected array, got {_json_type(node)}")
            return False
        if depth == len(shape):
            shape.append(len(node))
        elif len(node) != shape[depth]:
            problems.append(f"{where}: length {len(node)} != {shape[depth]} (arrays must be rectangular)")
            return False
        return all(walk(v, depth + 1, f"{where}[{i}]") for i, v in enumerate(node))

    if not walk(data, 0, path):
        return None
    shape += [0] * (ndim - len(shape))  # an empty dimension hides the ones below it
    return np.array(flat, dtype=np.int64).reshape(shape)


# --------------------------------------------------------------------------------------------------
# Hash
# --------------------------------------------------------------------------------------------------


def canonical_json(config: ChipConfig) -> str:
    """The canonical text of a configuration: compact JSON of :func:`config_to_dict`, keys sorted."""
    return json.dumps(config_to_dict(config), sort_keys=True, separators=(",", ":"), allow_nan=False)


def config_hash(config: ChipConfig) -> str:
    """sha256 (hex) of :func:`canonical_json`: the configuration values only.

    It covers every field of the configuration tree (arrays by value, not dtype) and nothing else: not the
    chip name, the provenance (creation time, tool version) or the schema version. Equal configurations
    (``==``) have equal hashes in every process, independent of ``PYTHONHASHSEED``.
    """
    return hashlib.sha256(canonical_json(config).encode("ascii")).hexdigest()


# --------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------


def _int_list(value: list[Any] | tuple[Any, ...]) -> str | None:
    """``json.dumps(value)`` for a list of plain ints, built without the encoder; None for anything else."""
    if not all(type(v) is int for v in value):
        return None
    return "[" + ", ".join(map(str, value)) + "]"


def pretty_json(value: Any, indent: int = 2, _level: int = 0) -> str:
    """JSON indented like ``json.dumps(indent=2)``, but with lists of scalars kept on one line.

    Weight rows then read as ``[1, -3, 0]`` instead of one number per line, which keeps golden files
    reviewable. Raises ``TypeError`` / ``ValueError`` like :func:`json.dumps` for values it cannot encode.
    Rows of plain ints (almost all of a configuration's text) skip the encoder: the same bytes, several
    times faster.
    """
    pad, inner = " " * (indent * _level), " " * (indent * (_level + 1))
    if isinstance(value, dict) and value:
        items = [
            f"{inner}{json.dumps(str(k))}: {pretty_json(v, indent, _level + 1)}" for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, (list, tuple)):
        if any(isinstance(v, (dict, list, tuple)) for v in value):
            items = [f"{inner}{pretty_json(v, indent, _level + 1)}" for v in value]
            return "[\n" + ",\n".join(items) + f"\n{pad}]"
        fast = _int_list(value)
        if fast is not None:
            return fast
    return json.dumps(value, allow_nan=False)


def document(
    config: ChipConfig, chip: str | ChipSpec, provenance: Provenance | None = None
) -> dict[str, Any]:
    """The whole file content as plain data; empty provenance fields are filled in (:class:`Provenance`)."""
    import hwconfig

    prov = provenance if provenance is not None else Provenance()
    created = prov.created or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return {
        "schema_version": SCHEMA_VERSION,
        "chip": get_chip(chip).name,
        "provenance": {
            "tool": prov.tool,
            "tool_version": prov.tool_version or hwconfig.__version__,
            "created": created,
            "source_model_sha256": prov.source_model_sha256,
            "extra": dict(prov.extra),
        },
        "config": config_to_dict(config),
    }


def save_config(
    path: str | os.PathLike[str],
    config: ChipConfig,
    chip: str | ChipSpec,
    provenance: Provenance | None = None,
    *,
    validate: bool = True,
) -> Path:
    """Write ``config`` for ``chip`` as pretty-printed JSON, atomically.

    The whole text is built first; it is then written to a temporary file in the same directory, flushed
    to disk and moved over ``path`` with :func:`os.replace`. On any failure the previous file (if any) is
    left untouched and no temporary file remains.

    Args:
        path: Destination file.
        config: The configuration.
        chip: Chip name, alias or spec; the canonical name is stored.
        provenance: Provenance; None records this tool, its version and the current time.
        validate: Check the configuration against the chip first (:meth:`ChipConfig.validate`).

    Returns:
        The path written.

    The file gets the permissions of the file it replaces, or ``0o644`` if it is new.

    Raises:
        ConfigError: naming the file, if validation fails or the provenance is malformed or not
            JSON-serialisable.
    """
    target = Path(path)
    if validate:
        try:
            config.validate(chip)
        except ConfigError as exc:
            raise ConfigError(exc.problems, source=str(target)) from exc
    doc = document(config, chip, provenance)
    problems = list(_provenance_problems(doc["provenance"]))
    if problems:
        raise ConfigError(problems, source=str(target))
    try:
        text = pretty_json(doc) + "\n"
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"not JSON-serialisable: {exc}", source=str(target)) from exc
    # mkstemp creates the file private (0600): give it the mode of the file it replaces, or rw-r--r--.
    mode = stat.S_IMODE(target.stat().st_mode) if target.is_file() else 0o644
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


MAX_CONFIG_BYTES = 64 * 2**20
"""Largest configuration file :func:`load_config` reads (64 MiB).

The largest legal configuration — every core's kernel, neuron and bias memory full (SPECK_SEMANTICS §7.1,
about 10⁶ words on speck2f) written by :func:`save_config` — is under 10 MB; a bigger file is not a
configuration, and reading it whole would only spend memory.
"""


def load_config(path: str | os.PathLike[str], *, validate: bool = True) -> LoadedConfig:
    """Read a file written by :func:`save_config`.

    Args:
        path: The file.
        validate: Also check the configuration against the chip named in the file.

    Raises:
        ConfigError: naming the file, for unreadable or non-JSON content, a non-object document, an
            unsupported ``schema_version``, an unknown chip, malformed provenance, unknown / missing /
            mistyped fields, or (with ``validate``) an invalid configuration; a file larger than
            :data:`MAX_CONFIG_BYTES` is refused before it is read.
    """
    source = str(path)
    try:
        size = Path(path).stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"{size:,} bytes is larger than any chip configuration (at most {MAX_CONFIG_BYTES:,} bytes "
                "are read); this is not a configuration written by deploy-model",
                source=source,
            )
        text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text, parse_constant=_reject_constant)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"cannot read a JSON configuration: {exc}", source=source) from exc
    except RecursionError:
        raise ConfigError(
            "cannot read a JSON configuration: it is nested too deeply (a configuration is a few levels "
            "deep; the file is corrupt or not a deploy-model configuration)",
            source=source,
        ) from None
    try:
        loaded = loaded_from_document(data)
        if validate:
            loaded.config.validate(loaded.chip)
    except ConfigError as exc:
        raise ConfigError(exc.problems, source=source) from exc
    except RecursionError:
        raise ConfigError("a value is nested too deeply for its field", source=source) from None
    return loaded


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loaded_from_document(data: Any) -> LoadedConfig:
    """Parse a whole file's JSON value (what :func:`document` produces), strictly.

    Raises:
        ConfigError: listing every problem with its path.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"<root>: expected a JSON object, got {_json_type(data)}")
    version = data.get("schema_version")
    if type(version) is not int:
        got = "missing" if "schema_version" not in data else f"expected int, got {_json_type(version)}"
        raise ConfigError(f"schema_version: {got}")
    if not 1 <= version <= SCHEMA_VERSION:
        newer = " (written by a newer speck-deploy)" if version > SCHEMA_VERSION else ""
        raise ConfigError(
            f"schema_version: {version} is not supported{newer}; this version reads 1..{SCHEMA_VERSION}"
        )
    problems = [f"{key}: unknown field" for key in data if key not in _TOP_LEVEL]
    problems += [f"{key}: missing" for key in _TOP_LEVEL if key not in data]
    chip = data.get("chip")
    if "chip" in data:
        if not isinstance(chip, str):
            problems.append(f"chip: expected str, got {_json_type(chip)}")
        else:
            try:
                chip = get_chip(chip).name
            except UnknownChipError as exc:
                problems.append(f"chip: {exc}")
    if "provenance" in data:
        problems += _provenance_problems(data["provenance"])
    config = None
    if "config" in data:
        try:
            config = config_from_dict(data["config"])
        except ConfigError as exc:
            problems += [f"config.{p}" for p in exc.problems]
    if problems:
        raise ConfigError(problems)
    assert isinstance(config, ChipConfig) and isinstance(chip, str)
    return LoadedConfig(config, chip, Provenance(**data["provenance"]), version)


def _provenance_problems(prov: Any) -> list[str]:
    if not isinstance(prov, dict):
        return [f"provenance: expected object, got {_json_type(prov)}"]
    problems = [f"provenance.{key}: unknown field" for key in prov if key not in _PROVENANCE_TYPES]
    for key, expected in _PROVENANCE_TYPES.items():
        if key not in prov:
            problems.append(f"provenance.{key}: missing")
            continue
        value = prov[key]
        if key == "source_model_sha256" and value is None:
            continue
        if not isinstance(value, expected):
            problems.append(f"provenance.{key}: expected {expected.__name__}, got {_json_type(value)}")
        elif key == "source_model_sha256" and not _SHA256_RE.fullmatch(str(value)):
            problems.append(f"provenance.source_model_sha256: {value!r} is not 64 lowercase hex digits")
    return problems


_PROVENANCE_TYPES: dict[str, type] = {
    "tool": str,
    "tool_version": str,
    "created": str,
    "source_model_sha256": str,
    "extra": dict,
}
