"""The console of the commands: progress on stderr, results on stdout.

:class:`Reporter` implements :class:`deploy.progress.Progress`, so a command passes it to a library call
(:func:`deploy.runner.run_model`) to show a spinner and a tick with the duration of each step.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


class Reporter:
    """Progress on stderr, summary on stdout; silent with ``-q``; with ``--json`` stdout holds only JSON."""

    def __init__(self, quiet: bool, verbose: bool, json_mode: bool) -> None:
        from rich.console import Console

        self.verbose = verbose and not quiet
        self.json_mode = json_mode
        self.err: Console = Console(stderr=True, quiet=quiet, highlight=False, soft_wrap=True)
        self.out: Console = Console(quiet=quiet or json_mode, highlight=False, soft_wrap=True)

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        """Spinner with ``label`` (plain text) while the block runs, then a tick and its duration."""
        from rich.markup import escape  # user paths and names may contain [brackets]

        t0 = time.perf_counter()
        with self.err.status(f"{escape(label)}…", spinner="dots"):
            yield
        self.err.print(f"[green]✓[/] {escape(label)} [dim]({time.perf_counter() - t0:.2f} s)[/]")

    def info(self, text: str) -> None:
        """Print ``text`` (plain text) on stderr with ``-v``."""
        if self.verbose:
            self.err.print(text, markup=False)

    def note(self, text: str) -> None:
        """Print ``text`` (plain text) on stderr unless ``-q``: what the user should know about how the
        command read its input (the input shape's source, how events were interpreted)."""
        self.err.print(text, markup=False)

    def line(self, text: str) -> None:
        """Print ``text`` (plain text) on stdout, unless ``-q`` or ``--json``."""
        self.out.print(text, markup=False)

    def json(self, doc: Any) -> None:
        """Write ``doc`` as the one JSON document of ``--json`` on stdout (also with ``-q``)."""
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Reporter:
        """The console for parsed arguments with :func:`deploy.commands._common.add_output_arguments`."""
        return cls(
            getattr(args, "quiet", False), getattr(args, "verbose", False), getattr(args, "json", False)
        )
