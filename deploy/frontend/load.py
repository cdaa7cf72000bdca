"""Safe model loading: whole-module ``.pt`` files, state_dict + architecture, NIR, in-memory modules.

A ``.pt`` file is a pickle, and unpickling runs whatever code the file names. Whole-module files are
therefore loaded with ``torch.load(..., weights_only=True)`` and an explicit allowlist of the torch.nn and
sinabs classes the compiler understands (:data:`SAFE_GLOBALS`); anything else is refused, naming the
class, unless the user passes ``trust_model_file=True`` (CLI ``--trust-model-file``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import io
import keyword
import math
import pickle
import pickletools
import pkgutil
import re
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.fx
from torch import nn

from deploy.errors import ModelLoadError
from deploy.graph import Shape3
from deploy.limits import MAX_INPUT_ELEMENTS, check_elements, check_torch_file, describe

MODEL_SUFFIXES = (".pt", ".pth")
NIR_SUFFIXES = (".nir",)
ARCH_HINT = (
    "save a state_dict instead (`torch.save(model.state_dict(), path)`) and pass the architecture "
    "(`--arch NAME` for a model in models/, or `--arch path/to/file.py:function`)"
)
TRUST_HINT = (
    "or, only if you trust the file completely, pass `--trust-model-file` "
    "(Python: `trust_model_file=True`), which unpickles it with weights_only=False and can run arbitrary code"
)


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A model in memory, ready for :func:`deploy.frontend.normalize`.

    Attributes:
        module: The torch module (for NIR sources, a ``torch.fx.GraphModule`` built from the NIR graph).
        nir_graph: The NIR graph when the source was NIR, else None.
        input_shape: ``(C, H, W)`` from the argument or inferred (NIR input node, DVS layer), or None.
        source: Where the model came from (file path or a description).
        sha256: Hex digest of the model file, or None for in-memory sources.
        notes: Facts the loader adds to the compiled graph's notes (e.g. NIR's implied min_v_mem).
    """

    module: nn.Module | None
    nir_graph: Any
    input_shape: Shape3 | None
    source: str
    sha256: str | None
    notes: tuple[str, ...] = ()


def _safe_classes() -> list[Any]:
    """The classes a whole-module file may reference (constructed only via ``__new__``/``__setstate__``).

    Unsupported-but-harmless torch.nn and sinabs classes (ReLU, MaxPool2d, LIF, ...) are allowed too, so
    that :func:`deploy.frontend.normalize` can report them by module path instead of a load failure.
    """
    import sinabs.activation as sa
    import sinabs.layers as sl

    torch_names = [
        "Sequential", "ModuleList", "ModuleDict", "Conv1d", "Conv2d", "ConvTranspose2d", "Linear",
        "Flatten", "Unflatten", "AvgPool2d", "MaxPool2d", "AdaptiveAvgPool2d", "BatchNorm1d",
        "BatchNorm2d", "Dropout", "Dropout2d", "Identity", "ReLU", "ReLU6", "LeakyReLU", "ELU", "GELU",
        "Sigmoid", "Tanh", "Softmax", "RNN", "LSTM", "GRU", "ZeroPad2d",
    ]  # fmt: skip
    sinabs_layer_names = [
        "IAF", "IAFSqueeze", "IAFRecurrent", "LIF", "LIFSqueeze", "LIFRecurrent", "ALIF",
        "ALIFRecurrent", "ExpLeak", "ExpLeakSqueeze", "SumPool2d", "Merge", "NeuromorphicReLU",
        "FlattenTime", "UnflattenTime", "Cropping2dLayer", "ChannelShift", "SpikingMaxPooling2dLayer",
    ]  # fmt: skip
    activation_names = [
        "MultiSpike", "SingleSpike", "MaxSpike", "MembraneSubtract", "MembraneReset", "SingleExponential",
        "PeriodicExponential", "Heaviside", "Gaussian", "MultiGaussian",
    ]  # fmt: skip
    classes: list[Any] = [getattr(nn, n) for n in torch_names if hasattr(nn, n)]
    classes += [getattr(sl, n) for n in sinabs_layer_names if hasattr(sl, n)]
    classes += [getattr(sa, n) for n in activation_names if hasattr(sa, n)]
    import sinabs.network

    classes += [sinabs.network.Network, torch.Size]
    return classes


class _ConstructorGuard:
    """Stands in for an allowlisted ``nn.Module`` class while unpickling.

    ``torch.save`` stores a module as ``NEWOBJ(cls, ())`` + ``BUILD(state)``: the class's ``__init__`` is
    never called. A hostile pickle can instead ``REDUCE`` the class with its own arguments
    (``Linear(10**5, 10**5)`` allocates 40 GB from a 300-byte file). The guard lets ``cls.__new__(cls)``
    through and refuses every constructor call and every ``__new__`` with arguments.
    """

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.__new__ = self._new  # type: ignore[method-assign,assignment]  # the weights_only unpickler's NEWOBJ calls ``cls.__new__(cls, *args)``

    def _new(self, _cls: Any, *args: Any) -> Any:
        if args:
            raise pickle.UnpicklingError(f"Unsafe constructor call: GLOBAL {self._name()} with arguments")
        return self.cls.__new__(self.cls)  # type: ignore[call-overload]

    def _name(self) -> str:
        return f"{self.cls.__module__}.{self.cls.__qualname__}"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise pickle.UnpicklingError(f"Unsafe constructor call: GLOBAL {self._name()} called with arguments")


def _guarded_safe_globals() -> list[Any]:
    """The allowlist for ``torch.serialization.safe_globals``: module classes by name resolve to a
    :class:`_ConstructorGuard`; the real classes stay allowlisted (under a private name) so that ``BUILD``
    can restore their state."""
    out: list[Any] = []
    for c in _safe_classes():
        name = f"{c.__module__}.{c.__qualname__}"
        if isinstance(c, type) and issubclass(c, nn.Module):
            out.append((_ConstructorGuard(c), name))
            out.append((c, f"speck_deploy_build_only.{name}"))
        else:
            out.append(c)
    return out


def safe_global_names() -> frozenset[str]:
    """Fully qualified names (``module.Class``) of the allowlisted classes."""
    return frozenset(f"{c.__module__}.{c.__qualname__}" for c in _safe_classes())


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pickle_globals(path: Path) -> list[str]:
    """The globals (``module.name``) a torch file's pickle references, read without unpickling.

    Returns an empty list when the file cannot be scanned (the real load then reports the problem).
    """
    try:
        raw = path.read_bytes()
        if zipfile.is_zipfile(io.BytesIO(raw)):
            with zipfile.ZipFile(io.BytesIO(raw)) as z:
                names = [n for n in z.namelist() if n.endswith("data.pkl")]
                if not names:
                    return []
                raw = z.read(names[0])
        found: list[str] = []
        strings: list[str] = []  # string pushes, enough to resolve STACK_GLOBAL's (module, name)
        memo: dict[int, str] = {}
        last: str | None = None
        for op, arg, _ in pickletools.genops(raw):
            if op.name == "GLOBAL" and isinstance(arg, str):
                found.append(arg.replace(" ", "."))
                last = None
            elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
                last = str(arg)
                strings.append(last)
            elif op.name in ("BINPUT", "LONG_BINPUT", "PUT", "MEMOIZE"):
                index = len(memo) if op.name == "MEMOIZE" else int(arg)  # type: ignore[arg-type]
                if last is not None:
                    memo[index] = last
                elif op.name == "MEMOIZE":
                    memo[index] = ""
            elif op.name in ("BINGET", "LONG_BINGET", "GET"):
                last = memo.get(int(arg)) or None  # type: ignore[arg-type]
                if last is not None:
                    strings.append(last)
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
                last = None
            else:
                last = None
        return list(dict.fromkeys(found))
    except Exception:  # a scan is advisory only; torch.load decides
        return []


_TORCH_DEFAULT_OK = re.compile(r"^(torch\.|collections\.OrderedDict$|builtins\.set$|__builtin__\.set$)")


def _disallowed_globals(path: Path) -> list[str]:
    allowed = safe_global_names()
    refs = [g.replace("__builtin__.", "builtins.") for g in pickle_globals(path)]
    out = []
    for g in refs:
        if g in allowed:
            continue
        if _TORCH_DEFAULT_OK.match(g) and not g.startswith("torch.nn."):
            continue
        out.append(g)
    return out


_UNSUPPORTED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def _is_refusal(path: Path, exc: BaseException) -> bool:
    """True when the safe unpickler stopped at a disallowed global (not at a malformed file)."""
    return bool(_UNSUPPORTED_GLOBAL.search(str(exc))) or bool(_disallowed_globals(path))


def _weights_unpickler_detail(exc: BaseException) -> BaseException:
    """The informative line of torch's long weights_only error (e.g. "Unsupported operand 255")."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for i, ln in enumerate(lines):
        if ln.startswith("Please file an issue") and i + 1 < len(lines):
            return type(exc)(lines[i + 1])
        if "WeightsUnpickler error:" in ln:
            tail = ln.split("WeightsUnpickler error:", 1)[1].strip()
            if tail:
                return type(exc)(tail)
            if i + 1 < len(lines):
                return type(exc)(lines[i + 1])
    return exc


def _refusal_message(path: Path, exc: BaseException) -> str:
    names = _disallowed_globals(path)
    m = _UNSUPPORTED_GLOBAL.search(str(exc))
    if m and m.group(1) not in names:
        names.insert(0, m.group(1))
    if not names:
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        what = f"it needs something outside the allowlist ({detail})"
    else:
        listed = ", ".join(f"`{n}`" for n in names)
        what = (
            f"it references {listed}, which the safe loader does not allow "
            "(only torch.nn and sinabs layer classes are allowed; unpickling any other class or function "
            "would run code from the file or from your package)"
        )
    return f"refusing to unpickle '{path}': {what}. Ways forward: {ARCH_HINT}; {TRUST_HINT}."


_TORCHSCRIPT_MSG = (
    "'{path}' is a TorchScript archive, which the compiler cannot read: it needs the module structure. "
    "Save the eager model instead (`torch.save(model, path)`), or {hint}."
)


def _is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("/constants.pkl") or "/code/" in n for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


_LEGACY_MSG = (
    "'{path}' is a legacy-format PyTorch file (the non-zip format of torch < 1.6) holding a whole model, "
    "which embeds the model's source code and cannot be loaded safely. Re-save it with a current torch "
    "(`torch.save(model.state_dict(), path)` and `--arch`, or `torch.save(model, path)`), {trust}."
)


def _torch_load(path: Path, trust_model_file: bool) -> Any:
    if _is_torchscript(path):
        raise ModelLoadError(_TORCHSCRIPT_MSG.format(path=path, hint=ARCH_HINT))
    legacy = check_torch_file(path)
    try:
        with torch.serialization.safe_globals(_guarded_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsafe constructor call" in str(exc):
            raise ModelLoadError(
                f"refusing to load '{path}': its pickle calls a layer constructor with arguments from the "
                "file "
                f"({_weights_unpickler_detail(exc)}), which torch.save never does and which can allocate "
                "unbounded memory; re-save the model with torch.save"
            ) from None
        if legacy and not trust_model_file and "persistent_load" in str(exc):
            raise ModelLoadError(_LEGACY_MSG.format(path=path, trust=TRUST_HINT)) from None
        if not _is_refusal(path, exc) and not (legacy and trust_model_file):
            raise ModelLoadError(_corrupt(path, _weights_unpickler_detail(exc))) from None
        if not trust_model_file:
            raise ModelLoadError(_refusal_message(path, exc)) from None
        warnings.warn(
            f"loading '{path}' with weights_only=False because --trust-model-file was given: "
            "unpickling can execute arbitrary code from the file; only do this for files you created "
            "or fully trust",
            UserWarning,
            stacklevel=3,
        )
        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc2:
            raise ModelLoadError(
                f"could not load '{path}' even with --trust-model-file: {type(exc2).__name__}: {exc2}. "
                "If the file needs your own classes, make their package importable (e.g. install it or "
                f"set PYTHONPATH), or {ARCH_HINT}."
            ) from None
    except RuntimeError as exc:
        text = str(exc)
        if "TorchScript" in text or "torch.jit" in text:
            raise ModelLoadError(_TORCHSCRIPT_MSG.format(path=path, hint=ARCH_HINT)) from None
        raise ModelLoadError(_corrupt(path, exc)) from None
    except MemoryError:
        raise ModelLoadError(
            f"'{path}' needs more memory than is available; raise --max-memory only for trusted files"
        ) from None
    except Exception as exc:  # a damaged legacy-format file can fail anywhere in torch's reader
        raise ModelLoadError(_corrupt(path, exc)) from None


def _corrupt(path: Path, exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return (
        f"'{path}' is not a readable PyTorch file ({type(exc).__name__}: {first}); it may be truncated or "
        "corrupt, or not made by torch.save. Re-save it with `torch.save(model, path)` or "
        "`torch.save(model.state_dict(), path)`."
    )


def _check_path(path: Path) -> None:
    if not path.exists():
        raise ModelLoadError(
            f"model file '{path}' does not exist; check the path (relative paths are taken from the current "
            f"directory, {Path.cwd()})"
        )
    if path.is_dir():
        raise ModelLoadError(
            f"'{path}' is a directory, not a model file; pass the .pt/.pth/.nir file inside it"
        )
    suffix = path.suffix.lower()
    if suffix not in MODEL_SUFFIXES + NIR_SUFFIXES:
        raise ModelLoadError(
            f"'{path}' has the extension '{path.suffix}', which is not a supported model format; "
            "use a PyTorch file (.pt or .pth: a whole module, or a state_dict with --arch) or a NIR "
            "graph (.nir)"
        )
    if path.stat().st_size == 0:
        raise ModelLoadError(f"'{path}' is empty (0 bytes); re-save the model")


def _available_models() -> list[str]:
    try:
        spec = importlib.util.find_spec("models")
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    return sorted(m.name for m in pkgutil.iter_modules(spec.submodule_search_locations) if m.ispkg)


_FILE_ARCH = re.compile(r"^(?P<file>.+\.py):(?P<fn>[A-Za-z_]\w*)$")
_BUNDLED = "models"


def _bundled_hint() -> str:
    names = _available_models()
    listed = f"bundled models: {', '.join(names)}" if names else "no bundled models package was found"
    return (
        f"{listed}; or name your own function as `--arch path/to/file.py:function`, or as "
        "`--arch package.module:function` together with `--trust-model-file`"
    )


def _import_file(path_text: str, architecture: str) -> Any:
    """Import the Python file a user named (``--arch path/to/file.py:function``)."""
    path = Path(path_text)
    if not path.is_file():
        raise ModelLoadError(f"--arch '{architecture}': the file '{path}' does not exist")
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"_speck_deploy_arch_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"--arch '{architecture}': '{path}' cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ModelLoadError(
            f"--arch '{architecture}': importing '{path}' failed ({type(exc).__name__}: {exc})"
        ) from None
    return module


def _import_module(mod_name: str, architecture: str, bundled: bool) -> Any:
    try:
        return importlib.import_module(mod_name)
    except Exception as exc:  # ImportError, or TypeError/ValueError for relative or empty names
        hint = (
            _bundled_hint()
            if bundled
            else "check the module path and that its package is importable (installed or on PYTHONPATH)"
        )
        raise ModelLoadError(
            f"cannot import the architecture '{architecture}' ({mod_name or '<empty>'}: {exc}); {hint}"
        ) from None


def _architecture_function(architecture: str, trust: bool) -> tuple[Callable[[], Any], Any, str]:
    """``(function, module, label)`` for an ``--arch`` string, enforcing what may run without trust."""
    m = _FILE_ARCH.match(architecture)
    if m:
        origin = _import_file(m.group("file"), architecture)
        mod_name, fn_name = origin.__name__, m.group("fn")
    elif ":" in architecture:
        mod_name, _, fn_name = architecture.partition(":")
        in_bundle = mod_name == _BUNDLED or mod_name.startswith(f"{_BUNDLED}.")
        if not trust and not in_bundle:
            raise ModelLoadError(
                f"--arch '{architecture}' would import the module '{mod_name}' and call '{fn_name}', which "
                "runs code from outside the bundled models/ package; pass `--trust-model-file` if you trust "
                f"that module (Python: `trust_model_file=True`). {_bundled_hint().capitalize()}"
            )
        origin = _import_module(mod_name, architecture, bundled=False)
    else:
        if not architecture.isidentifier() or architecture not in _available_models():
            raise ModelLoadError(
                f"cannot import the architecture '{architecture}': it is not a bundled model; "
                + _bundled_hint()
            )
        mod_name, fn_name = f"{_BUNDLED}.{architecture}", "build_model"
        origin = _import_module(mod_name, architecture, bundled=True)
    fn = getattr(origin, fn_name, None)
    if not callable(fn):
        raise ModelLoadError(
            f"architecture module '{mod_name}' has no function '{fn_name}'; define "
            f"`def {fn_name}() -> torch.nn.Module` there, or name the right function with "
            "`--arch module:function`"
        )
    if not trust and not (inspect.isfunction(fn) and fn.__module__ == origin.__name__):
        raise ModelLoadError(
            f"--arch '{architecture}': '{fn_name}' is not a function defined in '{mod_name}' (it is "
            f"{describe(fn)}); only functions defined in the named module are called without "
            "`--trust-model-file`"
        )
    return fn, origin, f"{mod_name}:{fn_name}"


def resolve_architecture(
    architecture: str | Callable[[], nn.Module], trust: bool = False
) -> tuple[nn.Module, Any]:
    """Build the model an architecture names. Naming an architecture runs its code.

    Args:
        architecture: A bundled model name (``models.<name>.build_model()``), a ``"path/to/file.py:function"``
            reference, a ``"package.module:function"`` reference (a module outside ``models`` only with
            ``trust``), or a callable returning an ``nn.Module``.
        trust: Allow importing any module and calling any callable in it (``--trust-model-file``).

    Returns:
        The freshly built module and the Python module it came from (None for a callable), which may
        define ``INPUT_SHAPE``.

    Raises:
        ModelLoadError: The name is not allowed, cannot be imported, has no such function, the function
            fails, or it does not build a module.
    """
    origin: Any = None
    if callable(architecture):
        fn: Callable[[], Any] = architecture
        label = getattr(architecture, "__qualname__", repr(architecture))
    else:
        fn, origin, label = _architecture_function(architecture, trust)
    try:
        built = fn()
    except Exception as exc:
        raise ModelLoadError(
            f"architecture '{label}' failed to build the model ({type(exc).__name__}: {exc}); it must be "
            "callable without arguments and return the model"
        ) from None
    if not isinstance(built, nn.Module):
        raise ModelLoadError(
            f"architecture '{label}' returned {type(built).__name__}, not a torch.nn.Module; "
            "it must build and return the model"
        )
    return built, origin


_STATE_KEYS = ("state_dict", "model_state_dict", "model")


def _check_keys(state: Mapping[Any, torch.Tensor], path: Path) -> Mapping[str, torch.Tensor]:
    bad = [k for k in state if not isinstance(k, str)]
    if bad:
        raise ModelLoadError(
            f"the state_dict in '{path}' has a key that is not a string: {describe(bad[0])} "
            f"({type(bad[0]).__name__}); state_dict keys are parameter names such as '0.weight', so re-save "
            "it with `torch.save(model.state_dict(), path)`"
        )
    return state


def _as_state_dict(obj: Any) -> Mapping[str, torch.Tensor] | None:
    if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    if isinstance(obj, Mapping):
        for k in _STATE_KEYS:
            inner = obj.get(k)
            if (
                isinstance(inner, Mapping)
                and inner
                and all(isinstance(v, torch.Tensor) for v in inner.values())
            ):
                return inner
    return None


_STATE_BUFFERS = ("v_mem", "i_syn", "activations")


def load_state_into(module: nn.Module, state: Mapping[str, torch.Tensor], source: str, arch: str) -> None:
    """Load ``state`` into ``module``, naming every missing, unexpected or mis-shaped key.

    sinabs neuron-state buffers (``v_mem`` ...) may differ in shape: an untouched layer stores an empty
    state, a layer that has run stores ``(batch, ...)``; sinabs resizes them itself.

    Raises:
        ModelLoadError: The state_dict does not match the architecture.
    """
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k}: file {tuple(state[k].shape)} vs architecture {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state
        and tuple(state[k].shape) != tuple(v.shape)
        and k.rsplit(".", 1)[-1] not in _STATE_BUFFERS
    ]
    problems = []
    if missing:
        problems.append(f"missing keys (in the architecture, not in the file): {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected keys (in the file, not in the architecture): {', '.join(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatches: {'; '.join(mismatched)}")
    if problems:
        raise ModelLoadError(
            f"the state_dict in '{source}' does not fit the architecture '{arch}': "
            + " | ".join(problems)
            + ". Pass the architecture the weights were trained with, or rebuild it with the same "
            "layer sizes and names."
        )
    for key, value in expected.items():
        if key in state and tuple(state[key].shape) != tuple(value.shape):
            # A neuron state saved after a run: resize the (registered) buffer so it can be loaded.
            owner_path, _, buffer = key.rpartition(".")
            owner = module.get_submodule(owner_path) if owner_path else module
            setattr(owner, buffer, torch.zeros_like(state[key]))
    try:
        module.load_state_dict(dict(state), strict=True)
    except RuntimeError as exc:
        raise ModelLoadError(
            f"the state_dict in '{source}' does not fit the architecture '{arch}': {exc}"
        ) from None


def _shape_from(value: Any, what: str) -> Shape3:
    try:
        shape = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ModelLoadError(f"{what} {value!r} is not a shape; give three integers C,H,W") from None
    if len(shape) != 3 or any(s <= 0 for s in shape):
        raise ModelLoadError(f"{what} {value!r} must be three positive integers C,H,W (e.g. 2,34,34)")
    if shape[0] * shape[1] * shape[2] > MAX_INPUT_ELEMENTS:
        raise ModelLoadError(
            f"{what} {shape} has {shape[0] * shape[1] * shape[2]:,} elements per frame, far beyond any chip "
            "(at most 1024 features of 128×128); give the real input shape"
        )
    return (shape[0], shape[1], shape[2])


def infer_input_shape(module: nn.Module) -> Shape3 | None:
    """The input shape a module declares: a leading DVS layer's ``input_shape`` or an ``input_shape``
    attribute on the model; None when unknown."""
    declared = getattr(module, "input_shape", None)
    if declared is not None:
        try:
            return _shape_from(declared, "the model's input_shape attribute")
        except ModelLoadError:
            pass
    for sub in module.modules():
        if sub is module:
            continue
        if type(sub).__name__ == "DVSLayer":
            shape = tuple(int(v) for v in getattr(sub, "input_shape", ()) or ())
            if len(shape) == 3:
                # sinabs stores (1, H, W) when merging polarities; the sensor still sends 2 channels.
                return (2, shape[1], shape[2])
            if len(shape) == 2:
                return (2, shape[0], shape[1])
        break
    return None


def unwrap_network(module: nn.Module) -> nn.Module:
    """The spiking model inside a ``sinabs.network.Network`` (what ``sinabs.from_torch.from_model``
    returns); any other module unchanged."""
    inner = getattr(module, "spiking_model", None)
    if type(module).__module__ == "sinabs.network" and isinstance(inner, nn.Module):
        return inner
    return module


def _module_model(module: nn.Module, shape: Shape3 | None, source: str, digest: str | None) -> LoadedModel:
    inferred = shape or infer_input_shape(module)
    inner = unwrap_network(module)
    check_finite(inner, source)
    check_layer_geometry(inner, source)
    return LoadedModel(
        module=inner,
        nir_graph=None,
        input_shape=inferred or infer_input_shape(inner),
        source=source,
        sha256=digest,
    )


def load_model(
    source: str | Path | nn.Module | Any,
    *,
    architecture: str | Callable[[], nn.Module] | None = None,
    input_shape: tuple[int, int, int] | None = None,
    trust_model_file: bool = False,
) -> LoadedModel:
    """Load a model safely from a file, an in-memory module or a NIR graph.

    Args:
        source: A ``.pt``/``.pth`` file (whole module, or a state_dict with ``architecture``), a ``.nir``
            file, an ``nn.Module``, or a ``nir.NIRGraph``.
        architecture: For state_dict files: a model name in ``models/`` or ``"package.module:function"``
            (or a callable returning the module).
        input_shape: ``(C, H, W)`` of one input frame; inferred when the model declares it.
        trust_model_file: Allow unpickling classes outside the allowlist (runs code from the file;
            a ``UserWarning`` is issued).

    Returns:
        The loaded model.

    Raises:
        ModelLoadError: Missing/empty/corrupt file, wrong extension, refused pickle, bad architecture or
            state_dict mismatch.
        UnsupportedLayerError: A NIR graph contains node types the chip cannot run.
    """
    shape = _shape_from(input_shape, "input_shape") if input_shape is not None else None

    if isinstance(source, nn.Module):
        return _module_model(source, shape, f"<in-memory {type(source).__name__}>", None)
    if _is_nir_graph(source):
        from deploy.frontend.nir_import import NIR_MIN_V_MEM_NOTE, nir_input_shape

        return LoadedModel(
            module=_nir_module(source, "<in-memory NIRGraph>"),
            nir_graph=source,
            input_shape=shape or nir_input_shape(source),
            source="<in-memory NIRGraph>",
            sha256=None,
            notes=(NIR_MIN_V_MEM_NOTE,),
        )
    if not isinstance(source, (str, Path)):
        raise ModelLoadError(
            f"cannot load a {type(source).__name__}: pass a file path (.pt, .pth, .nir), an nn.Module "
            "or a nir.NIRGraph"
        )

    path = Path(source)
    _check_path(path)
    digest = file_sha256(path)

    if path.suffix.lower() in NIR_SUFFIXES:
        from deploy.frontend.nir_import import NIR_MIN_V_MEM_NOTE, nir_input_shape, read_nir

        graph = read_nir(path)
        return LoadedModel(
            module=_nir_module(graph, str(path)),
            nir_graph=graph,
            input_shape=shape or nir_input_shape(graph),
            source=str(path),
            sha256=digest,
            notes=(NIR_MIN_V_MEM_NOTE,),
        )

    obj = _torch_load(path, trust_model_file)
    if isinstance(obj, nn.Module):
        if architecture is not None:
            raise ModelLoadError(
                f"'{path}' holds a whole model ({type(obj).__name__}), so the architecture "
                f"'{architecture}' is not needed; drop `--arch`, or pass a state_dict file with it"
            )
        return _module_model(obj, shape, str(path), digest)
    state = _as_state_dict(obj)
    if state is not None:
        state = _check_keys(state, path)
    if state is None:
        raise ModelLoadError(
            f"'{path}' holds a {type(obj).__name__}, neither a torch.nn.Module nor a state_dict "
            "(a mapping of names to tensors); save one of those"
        )
    if architecture is None:
        raise ModelLoadError(
            f"'{path}' is a state_dict (weights only, {len(state)} tensors); the compiler also needs the "
            "architecture: pass `--arch NAME` for a bundled model in models/ or "
            "`--arch path/to/file.py:function` "
            "(or `--arch package.module:function` with --trust-model-file; Python: `architecture=...`)"
        )
    module, origin = resolve_architecture(architecture, trust=trust_model_file)
    arch_label = architecture if isinstance(architecture, str) else getattr(architecture, "__qualname__", "?")
    load_state_into(module, state, str(path), str(arch_label))
    if shape is None and origin is not None and getattr(origin, "INPUT_SHAPE", None) is not None:
        shape = _shape_from(origin.INPUT_SHAPE, f"{origin.__name__}.INPUT_SHAPE")
    return _module_model(module, shape, str(path), digest)


_SPIKING_FIELDS = ("spike_threshold", "min_v_mem")


def _non_finite(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return bool(value.is_floating_point() and not torch.isfinite(value).all())
    if isinstance(value, float):
        return not math.isfinite(value)
    return False


def check_finite(module: nn.Module, source: str) -> None:
    """Refuse NaN or infinite weights, biases, BatchNorm statistics, thresholds or ``min_v_mem``.

    Quantisation would turn them into silently wrong chip integers (Inf weights became −128 everywhere)
    or crash converting NaN to an integer.

    Raises:
        ModelLoadError: naming the first non-finite tensor by its module path.
    """
    state: list[tuple[str, Any]] = [(n, t) for n, t in module.named_parameters()]
    state += [(n, t) for n, t in module.named_buffers() if n.rsplit(".", 1)[-1] not in _STATE_BUFFERS]
    for sub_name, sub in module.named_modules():
        for field in _SPIKING_FIELDS:
            if field in sub.__dict__ or hasattr(type(sub), field):
                try:
                    value = getattr(sub, field)
                except Exception:
                    continue
                state.append((f"{sub_name}.{field}" if sub_name else field, value))
    for name, value in state:
        if _non_finite(value):
            raise ModelLoadError(
                f"model '{source}': {name} contains NaN or infinite values, which have no chip integer; "
                "fix the training (or clamp/replace them) and re-save the model"
            )


def _reserved_names() -> frozenset[str]:
    """Attribute names of torch modules that a NIR node name (a module path) must not shadow."""
    return frozenset(dir(torch.fx.GraphModule)) | frozenset(vars(nn.Module()))


def check_nir_graph(graph: Any, source: str) -> None:
    """Check a NIR graph before it is turned into torch modules: node names are non-empty strings,
    positive ``groups`` that divide the channels, finite parameter arrays, and array sizes under the cap.

    Raises:
        ModelLoadError: naming the node and the field.
    """
    import numpy as np

    nodes = getattr(graph, "nodes", None)
    if not isinstance(nodes, Mapping):
        raise ModelLoadError(f"'{source}' is not a NIR graph with named nodes")
    for name, node in nodes.items():
        if not isinstance(name, str) or not name:
            raise ModelLoadError(
                f"NIR graph '{source}': node name {describe(name)} is not a non-empty string"
            )
        for field, value in getattr(node, "__dict__", {}).items():
            if isinstance(value, np.ndarray) and value.dtype.kind in "fc":
                check_elements(f"NIR graph '{source}': node '{name}' field '{field}'", list(value.shape))
                if not np.isfinite(value).all():
                    raise ModelLoadError(
                        f"NIR graph '{source}': node '{name}' field '{field}' contains NaN or infinite "
                        "values, which have no chip integer; fix the model and re-export it"
                    )
        groups = getattr(node, "groups", None)
        if groups is not None:
            weight = np.asarray(getattr(node, "weight", np.zeros((1, 1))))
            if (
                not isinstance(groups, (int, np.integer))
                or groups < 1
                or weight.ndim < 2
                or weight.shape[0] % groups
            ):
                raise ModelLoadError(
                    f"NIR graph '{source}': node '{name}' has groups = {groups!s}; groups must be a "
                    "positive integer that divides the output channels"
                )


def _nir_module(graph: Any, source: str) -> nn.Module:
    """``nir_to_module(graph)`` after :func:`check_nir_graph`; a failure while building is named."""
    from deploy.errors import DeployError
    from deploy.frontend.nir_import import nir_to_module

    check_nir_graph(graph, source)
    try:
        module = nir_to_module(graph)
    except DeployError:
        raise
    except Exception as exc:  # malformed node parameters or names surface as torch/fx errors
        reserved = _reserved_names()
        odd = [
            n
            for n in graph.nodes
            if any(not p or keyword.iskeyword(p) or p.startswith("__") or p in reserved for p in n.split("."))
        ]
        if odd:
            raise ModelLoadError(
                f"NIR graph '{source}': node name '{odd[0]}' cannot be a module path (it is or contains an "
                "empty part, a Python keyword or a reserved attribute of torch modules such as 'forward' or "
                f"'training'); rename the node ({type(exc).__name__}: {exc})"
            ) from None
        raise ModelLoadError(
            f"NIR graph '{source}' cannot be turned into layers ({type(exc).__name__}: {exc}); check the "
            "node parameters (shapes, strides, groups) or re-export the model"
        ) from None
    check_finite(module, source)
    return module


MAX_LAYER_GEOMETRY = 128
"""Largest kernel size, stride, padding or dilation accepted at load (chips: kernels ≤ 16, inputs ≤ 128 px).
Beyond it a layer cannot run on any chip, and a hostile value (padding = 10⁵ in a 300-byte file) would make
tracing allocate hundreds of GiB."""

_GEOMETRY = ("kernel_size", "stride", "padding", "dilation")


def _geometry_problem(attr: str, value: Any) -> str | None:
    if value is None or (attr == "padding" and value in ("same", "valid")):
        return None
    items = value if isinstance(value, (tuple, list)) else (value,)
    lo = 0 if attr == "padding" else 1
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= MAX_LAYER_GEOMETRY:
            return f"{attr} = {describe(value)} (each must be an integer in {lo}..{MAX_LAYER_GEOMETRY})"
    return None


def check_layer_geometry(module: nn.Module, source: str) -> None:
    """Refuse layer attributes no chip can run and that would make tracing allocate without bound: kernel
    size, stride, padding and dilation outside ``0/1..MAX_LAYER_GEOMETRY``, or a convolution whose
    ``kernel_size`` disagrees with its weight.

    Raises:
        ModelLoadError: naming the layer (module path) and the attribute.
    """
    for name, sub in module.named_modules():
        label = name or type(sub).__name__
        for attr in _GEOMETRY:
            if attr in sub.__dict__:
                problem = _geometry_problem(attr, sub.__dict__[attr])
                if problem:
                    raise ModelLoadError(
                        f"model '{source}': layer '{label}' ({type(sub).__name__}) has {problem}; the file "
                        "is corrupt or hostile, or the layer cannot run on any chip"
                    )
        weight = getattr(sub, "weight", None)
        kernel = sub.__dict__.get("kernel_size")
        if (
            isinstance(sub, nn.modules.conv._ConvNd)
            and isinstance(weight, torch.Tensor)
            and tuple(weight.shape[2:]) != tuple(kernel or ())
        ):
            raise ModelLoadError(
                f"model '{source}': layer '{label}' ({type(sub).__name__}) has kernel_size "
                f"{describe(kernel)} but a weight of shape {tuple(weight.shape)}; the file is corrupt"
            )


def _is_nir_graph(obj: Any) -> bool:
    try:
        import nir
    except ImportError:  # pragma: no cover - nir is a hard dependency
        return False
    return isinstance(obj, nir.NIRGraph)
