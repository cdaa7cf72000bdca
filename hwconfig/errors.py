"""Errors raised by :mod:`hwconfig`."""

from __future__ import annotations

from collections.abc import Sequence


class ConfigError(ValueError):
    """A chip configuration (object or JSON file) is invalid.

    ``problems`` lists every problem found, each starting with the field path, e.g.
    ``cnn_layers[3].destinations[1].pooling: 3 not in {1, 2, 4}``.
    """

    def __init__(self, problems: Sequence[str] | str, *, source: str | None = None) -> None:
        self.problems: tuple[str, ...] = (problems,) if isinstance(problems, str) else tuple(problems)
        self.source = source
        head = f"invalid chip configuration{f' in {source}' if source else ''}"
        if len(self.problems) == 1:
            msg = f"{head}: {self.problems[0]}"
        else:
            msg = f"{head} ({len(self.problems)} problems):\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(msg)


class SamnaError(RuntimeError):
    """samna cannot be used for a request: it is missing, the PyPI placeholder, an unsupported version, or
    lacks a function or class the request needs.

    The message says what was found and what to do. :mod:`deploy` turns it into
    :class:`deploy.errors.SamnaUnavailableError` (a ``DeployError``, CLI exit code 2).

    Attributes:
        state: The ``SamnaStatus.state`` that caused the error (``"real"``, ``"stub"`` or ``"missing"``),
            or None when samna itself was usable but lacked something.
    """

    def __init__(self, message: str, *, state: str | None = None) -> None:
        self.state = state
        super().__init__(message)
