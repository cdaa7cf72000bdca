"""Resource limits checked *before* anything is allocated from an untrusted file.

A few hundred bytes of file can declare gigabytes: a ``.npy`` header claiming 5×10⁹ elements, a torch file
whose pickle declares a storage of 10⁹ floats (the legacy format allocates it before reading), or a tensor
view with a huge size over a tiny storage. These checks read only headers and pickle opcodes (never
unpickling) and refuse anything above :func:`max_memory_bytes`, naming the file and the field.

The cap defaults to :data:`DEFAULT_MAX_MEMORY` and can be changed with the ``SPECK_DEPLOY_MAX_MEMORY``
environment variable (bytes, or with a ``K``/``M``/``G`` suffix) or the CLI option ``--max-memory``.
"""

from __future__ import annotations

import io
import math
import os
import pickletools
import struct
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from deploy.errors import DeployError, EventFormatError, ModelLoadError

DEFAULT_MAX_MEMORY = 4 << 30
"""Default cap (bytes) on any single array or tensor declared by an input file: 4 GiB."""

MAX_MEMORY_ENV = "SPECK_DEPLOY_MAX_MEMORY"

MAX_INPUT_ELEMENTS = 1 << 26
"""Largest input frame C·H·W the loader accepts (64 Mi elements). Chips accept at most 1024 features of
128×128 (hwconfig chip specs); this bound only stops allocation before the chip check names the layer."""

_ITEM_BYTES = 8  # the widest element a torch storage or event column declares (int64/float64)

_override: int | None = None


class ResourceLimitError(DeployError):
    """An input file declares more memory than the cap (``--max-memory``)."""


def parse_size(text: str) -> int:
    """``"4G"``, ``"512M"``, ``"100000"`` → bytes.

    Raises:
        ValueError: not a positive size.
    """
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    factor = 1
    for suffix, f in (("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("T", 1 << 40)):
        if t.endswith(suffix):
            t, factor = t[:-1], f
            break
    value = int(float(t) * factor)
    if value <= 0:
        raise ValueError(f"size must be positive, got {text!r}")
    return value


def set_max_memory(n_bytes: int | None) -> None:
    """Set the cap for this process (None: back to the environment variable / default)."""
    global _override
    _override = n_bytes


def max_memory_bytes() -> int:
    """The current cap in bytes (``--max-memory``, else ``SPECK_DEPLOY_MAX_MEMORY``, else 4 GiB).

    Raises:
        DeployError: ``SPECK_DEPLOY_MAX_MEMORY`` is not a size.
    """
    if _override is not None:
        return _override
    env = os.environ.get(MAX_MEMORY_ENV)
    if env:
        try:
            return parse_size(env)
        except ValueError:
            raise DeployError(f"{MAX_MEMORY_ENV}={env!r} is not a size; use e.g. 4G or 512M") from None
    return DEFAULT_MAX_MEMORY


def _too_big(what: str, n_bytes: int) -> ResourceLimitError:
    cap = max_memory_bytes()
    return ResourceLimitError(
        f"{what} declares {n_bytes:,} bytes, more than the memory cap of {cap:,} bytes; the file is corrupt "
        f"or hostile, or, if it is genuine, raise the cap with --max-memory (or {MAX_MEMORY_ENV})"
    )


def check_elements(what: str, shape: tuple[int, ...] | list[int], item_bytes: int = _ITEM_BYTES) -> None:
    """Refuse a declared shape whose array would exceed the cap (negative dimensions are refused too).

    Raises:
        ResourceLimitError: naming ``what``.
    """
    if any(int(d) < 0 for d in shape):
        raise ResourceLimitError(f"{what} declares a negative dimension in shape {tuple(shape)}")
    n = math.prod(int(d) for d in shape) * item_bytes
    if n > max_memory_bytes():
        raise _too_big(f"{what} (shape {tuple(shape)})", n)


# --------------------------------------------------------------------------------------------- numpy


def _check_npy_stream(fh: IO[bytes], what: str, total: int) -> None:
    """Check the header at the start of ``fh`` (a stream of ``total`` bytes) against the cap and the data
    that follows it."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    except (ValueError, OSError, EOFError, struct.error, SyntaxError) as exc:
        raise EventFormatError(
            f"{what} is not a valid .npy array ({exc}); re-save it with numpy.save"
        ) from None
    if dtype.hasobject:
        raise EventFormatError(f"{what} holds Python objects (dtype {dtype}); save plain numeric arrays")
    check_elements(what, shape, max(dtype.itemsize, 1))
    needed = math.prod(shape) * dtype.itemsize
    available = total - fh.tell()
    if needed > available:
        raise EventFormatError(
            f"{what} is truncated: its header declares shape {shape} of {dtype} ({needed:,} bytes) but only "
            f"{available:,} bytes of data follow; re-save it with numpy.save"
        )


def check_numpy_file(path: Path) -> None:
    """Check a ``.npy`` file's header, or every member header of an ``.npz`` archive, before loading.

    A file that cannot be opened is left to the caller's own reader (which names it in its own words).

    Raises:
        DeployError: unreadable/corrupt file (``BadZipFile`` included), object arrays, truncated data, or
            a declared size above the cap; the message names the file (and the array).
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(6)
            fh.seek(0)
            if head.startswith(b"PK"):
                _check_npz(path)
                return
            _check_npy_stream(fh, f"'{path}'", os.fstat(fh.fileno()).st_size)
    except OSError:
        return


def _check_npz(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                what = f"array '{info.filename.removesuffix('.npy')}' in '{path}'"
                if info.file_size > max_memory_bytes():
                    raise _too_big(what, info.file_size)
                with z.open(info) as fh:
                    header = fh.read(1 << 16)
                    if not info.filename.endswith(".npy"):
                        continue
                    _check_npy_stream(io.BytesIO(header), what, info.file_size)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, RuntimeError) as exc:
        raise EventFormatError(
            f"'{path}' is not a readable .npz archive ({type(exc).__name__}: {exc}); it is corrupt or "
            "truncated: re-save it with numpy.savez"
        ) from None


# --------------------------------------------------------------------------------------------- torch

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
"""First value pickled by torch's legacy (non-zip, torch < 1.6) format."""

_INT_OPS = frozenset({"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"})


def torch_pickles(path: Path) -> tuple[bool, list[bytes]]:
    """``(is_legacy, pickles)``: the pickle streams of a torch file (``data.pkl`` of a zip file; the
    pickles before the raw storage bytes of a legacy file).

    Raises:
        ModelLoadError: a zip entry declares more than the cap.
    """
    raw = path.read_bytes()
    if zipfile.is_zipfile(io.BytesIO(raw)):
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as z:
                for info in z.infolist():
                    if info.file_size > max_memory_bytes():
                        raise _too_big(f"entry '{info.filename}' of '{path}'", info.file_size)
                names = [n for n in z.namelist() if n.endswith("data.pkl")]
                return False, [z.read(names[0])] if names else []
        except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError, ValueError):
            return False, []
    stream = io.BytesIO(raw)
    pickles: list[bytes] = []
    for _ in range(5):  # magic, protocol, sys_info, the object, the storage keys
        start = stream.tell()
        try:
            for _op in pickletools.genops(stream):
                pass
        except Exception:
            break
        pickles.append(raw[start : stream.tell()])
    legacy = bool(pickles) and _first_int(pickles[0]) == LEGACY_MAGIC
    return legacy, pickles


def _first_int(data: bytes) -> int | None:
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name in _INT_OPS:
                return int(arg)  # type: ignore[arg-type]
    except Exception:
        return None
    return None


def check_torch_file(path: Path) -> bool:
    """Refuse a torch file whose pickle declares storages or tensor shapes above the cap, before loading.

    Storages are declared in persistent ids ``('storage', type, key, location, numel[, view])``; the tensor
    built on one is ``_rebuild_tensor_v2(storage, offset, size, stride, ...)``, so the first tuple after a
    persistent id is the tensor's size. Read from the opcodes, never by unpickling.

    Returns:
        True for a legacy-format (non-zip) file.

    Raises:
        ModelLoadError: a declared storage or tensor larger than the cap (naming the file).
    """
    legacy, pickles = torch_pickles(path)
    for data in pickles:
        _scan_sizes(path, data)
    return legacy


def _scan_sizes(path: Path, data: bytes) -> None:
    ints: list[int] = []  # integer pushes since the last persistent id
    marks: list[int] = []
    last_tuple: list[int] = []  # integers of the most recently closed tuple
    after_persid = False
    try:
        ops = list(pickletools.genops(data))
    except Exception:  # malformed: torch.load reports it
        return
    for op, arg, _ in ops:
        name = op.name
        if name in _INT_OPS:
            ints.append(int(arg))  # type: ignore[arg-type]
        elif name == "MARK":
            marks.append(len(ints))
        elif name in ("BINPERSID", "PERSID"):
            if last_tuple:  # ('storage', type, key, location, numel[, view]): numel is its only large int
                check_elements(f"'{path}': a tensor storage", [max(last_tuple)])
            ints, marks, last_tuple, after_persid = [], [], [], True
        elif name in ("TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "EMPTY_TUPLE"):
            n = {"TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3, "EMPTY_TUPLE": 0}.get(name)
            if n is None:
                start = marks.pop() if marks else 0
                last_tuple = ints[start:]
            else:
                last_tuple = ints[len(ints) - n :] if n and len(ints) >= n else []
            if after_persid:  # the first tuple after a storage is the tensor's size
                _check_model_shape(path, last_tuple)
                after_persid = False


def _check_model_shape(path: Path, shape: list[int]) -> None:
    if any(d < 0 for d in shape):
        raise ModelLoadError(
            f"'{path}': a tensor declares a negative size {tuple(shape)}; the file is corrupt"
        )
    check_elements(f"'{path}': a tensor", shape)


def describe(value: Any) -> str:
    """A short repr for messages (at most 60 characters)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
