"""Warm wall-clock and CPU time of the ``deploy-model`` commands, each run a fresh subprocess.

Commands timed (the bundled ``models/digits_snn``; "warm" = numba's kernel cache and the OS file cache are
filled by one untimed run of each command first):

- ``run``: ``deploy-model models/digits_snn/model.pt --device speck --dry-run -o DIR --force``
- ``simulate``: ``deploy-model simulate DIR/config.json --input DIR/input_events.npy -o DIR2 --force`` (the
  configuration and input written by the first ``run``)
- ``check``: ``deploy-model check models/digits_snn/model.pt --device speck --input-shape 2,34,34``
- ``compile``: ``deploy-model compile models/digits_snn/model.pt --device speck --input-shape 2,34,34 -o FILE
  --force``

Each ``--tree`` is a source tree put first on ``PYTHONPATH``; with several trees the runs alternate between
them (A B A B ...), so that on a shared machine every tree sees the same load and their ratio is fair. To
compare against an older commit::

    mkdir /tmp/base && git archive REV | tar -x -C /tmp/base
    python scripts/bench_cli.py --tree /tmp/base --tree . --runs 7

Prints, per command and tree, the median and minimum wall time and the median CPU time (user + system of
the subprocess), the ratio of the median wall time to the first tree's, and the load average before and after
(the machine is shared: CPU seconds move less with the load than wall seconds). Then, for ``run``, the median
duration of each step the console ticks off (``✓ step (1.23 s)`` on stderr), per tree, and the rest of the
wall time (interpreter start, argument parsing, printing, exit).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "digits_snn" / "model.pt"
INPUT_SHAPE = "2,34,34"
"""``check`` and ``compile`` take it explicitly (``run`` reads it from the bundled model's package)."""
COMMANDS = ("run", "simulate", "check", "compile")


STEP_LINE = re.compile(r"^✓ (?P<label>.+) \((?P<seconds>[0-9.]+) s\)$", re.MULTILINE)
"""A step the console ticked off (``deploy/commands/_console.py``), as printed without a terminal."""


@dataclass(frozen=True)
class Sample:
    """One timed subprocess: wall seconds, CPU seconds (user + system) and its console steps (label →
    seconds, in order)."""

    wall: float
    cpu: float
    steps: dict[str, float]


def argv_of(command: str, work: Path) -> list[str]:
    """The ``deploy-model`` arguments of ``command``; ``work`` holds its outputs."""
    if command == "run":
        return [str(MODEL), "--device", "speck", "--dry-run", "-o", str(work / "run"), "--force"]
    if command == "simulate":
        first = work / "run"
        return [
            "simulate",
            str(first / "config.json"),
            "--input",
            str(first / "input_events.npy"),
            "-o",
            str(work / "sim"),
            "--force",
        ]
    if command == "check":
        return ["check", str(MODEL), "--device", "speck", "--input-shape", INPUT_SHAPE]
    out = str(work / "config.json")
    return ["compile", str(MODEL), "--device", "speck", "--input-shape", INPUT_SHAPE, "-o", out, "--force"]


def run_once(python: str, tree: Path, args: list[str]) -> Sample:
    """Run ``python -m deploy.cli ARGS`` with ``tree`` first on ``PYTHONPATH``; stop on a non-zero exit."""
    env = {**os.environ, "PYTHONPATH": str(tree), "COLUMNS": "200", "PYTHONWARNINGS": "ignore"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [python, "-m", "deploy.cli", *args], env=env, cwd=tree, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(
            f"deploy-model {' '.join(args)} failed in {tree} (exit {proc.returncode}):\n{proc.stderr}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    ticks = STEP_LINE.finditer(proc.stderr)  # the write step names its directory, which differs by tree
    steps = {re.sub(r"^write \S+", "write DIR", m["label"]): float(m["seconds"]) for m in ticks}
    return Sample(wall, cpu, steps)


def print_steps(command: str, samples: dict[Path, list[Sample]]) -> None:
    """Median seconds of each console step of ``command`` per tree, and of the wall time outside them."""
    trees = list(samples)
    labels = list(dict.fromkeys(label for rows in samples.values() for s in rows for label in s.steps))
    if not labels:
        return
    print(f"\nsteps of `{command}` (median s, from the console's ticks)\n")
    print("| step | " + " | ".join(t.name or str(t) for t in trees) + " |")
    print("|---|" + "---:|" * len(trees))
    for label in labels:
        cells = [statistics.median(s.steps.get(label, 0.0) for s in samples[t]) for t in trees]
        print(f"| {label} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    rest = [statistics.median(s.wall - sum(s.steps.values()) for s in samples[t]) for t in trees]
    print("| rest (start, parsing, printing, exit) | " + " | ".join(f"{c:.2f}" for c in rest) + " |")


def imported_from(python: str, tree: Path) -> str:
    """Where ``deploy`` is imported from with ``tree`` on ``PYTHONPATH`` (to show the trees differ)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [python, "-c", "import deploy; print(deploy.__file__)"],
        env=env,
        cwd=tree,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or out.stderr.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command and tree (default 5)")
    parser.add_argument(
        "--tree", type=Path, action="append", default=None, help="source tree (repeatable; default: this one)"
    )
    parser.add_argument("--commands", nargs="+", choices=COMMANDS, default=list(COMMANDS))
    parser.add_argument("--python", default=sys.executable, help="interpreter (default: this one)")
    args = parser.parse_args()
    trees = [t.resolve() for t in (args.tree or [REPO])]
    commands = list(args.commands)
    if "simulate" in commands and "run" not in commands:
        commands.insert(0, "run")  # simulate needs the configuration a run writes
    for tree in trees:
        print(f"tree {tree}: deploy from {imported_from(args.python, tree)}")
    load_before = os.getloadavg()
    print(
        f"\n{args.runs} warm runs per command and tree, each a fresh subprocess, on {os.cpu_count()} cores\n"
    )
    print("| command | tree | median wall (s) | min wall (s) | median CPU (s) | wall vs first tree |")
    print("|---|---|---:|---:|---:|---:|", flush=True)
    step_samples: dict[str, dict[Path, list[Sample]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench_cli_") as tmp:
        work = {tree: Path(tmp) / f"tree{i}" for i, tree in enumerate(trees)}
        for w in work.values():
            w.mkdir()
        for command in commands:
            for tree in trees:  # untimed warm-up: numba cache, file cache, the run's outputs for simulate
                run_once(args.python, tree, argv_of(command, work[tree]))
            samples: dict[Path, list[Sample]] = {tree: [] for tree in trees}
            for _ in range(args.runs):
                for tree in trees:
                    samples[tree].append(run_once(args.python, tree, argv_of(command, work[tree])))
            step_samples[command] = samples
            base = statistics.median(s.wall for s in samples[trees[0]])
            for tree in trees:
                rows = samples[tree]
                wall = statistics.median(s.wall for s in rows)
                print(
                    f"| {command} | {tree.name or tree} | {wall:.2f} | {min(s.wall for s in rows):.2f} | "
                    f"{statistics.median(s.cpu for s in rows):.2f} | {wall / base:.2f}× |",
                    flush=True,
                )
    load_after = os.getloadavg()
    if "run" in step_samples:
        print_steps("run", step_samples["run"])
    print(f"\nload average (1 min): {load_before[0]:.1f} before, {load_after[0]:.1f} after")


if __name__ == "__main__":
    main()
