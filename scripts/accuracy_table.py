"""Accuracy table of the reference models: float, quantised time-stepped, and bit-accurate simulated.

A thin call of :func:`deploy.validation.validate` (``deploy-model validate`` in Python) for each model in
``models/`` (its committed ``model.pt``) on the test split of the digit events (``digits:test``,
:func:`deploy.datasets.digits_dataset`):

- **float**: the normalised float graph run time-stepped on ``T = 30`` bins of 10 ms (sinabs semantics);
- **quantised (time-stepped)**: the compiled integer graph run the same way;
- **simulated**: every sample's events injected in time order into the compiled chip configuration on the
  bit-accurate event-driven simulator, each sample from the initial (zero) state.

Class decision everywhere: the output feature with the most output spikes; ties go to the lowest class
index; no output spike at all counts as wrong (as :func:`models.training.predict`).

SynOps are the simulator's synaptic-update counts (taps that hit a neuron, SPECK_SEMANTICS §3.2), summed
over cores, per sample. Energy per inference is an *estimate*: SynOps × :data:`E_SYNOP_PJ`; see
``models/README.md`` for where the figure comes from and what it leaves out.

Usage::

    .venv/bin/python scripts/accuracy_table.py                # full test split, rewrites models/README.md
    .venv/bin/python scripts/accuracy_table.py --subset 40    # quick check, prints only
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deploy.energy import ENERGY_PER_SYNOP, RESTING_POWER

REPO = Path(__file__).resolve().parents[1]
README = REPO / "models" / "README.md"
MARK_START = "<!-- accuracy-table:start (written by scripts/accuracy_table.py) -->"
MARK_END = "<!-- accuracy-table:end -->"
MODELS = ("digits_snn", "digits_ann2snn")

E_SYNOP_PJ = ENERGY_PER_SYNOP.value * 1e12
"""Energy per synaptic operation, pJ: the figure the report uses (:data:`deploy.energy.ENERGY_PER_SYNOP`, an
assumption with its source)."""

P_RESTING_MW = RESTING_POWER.value * 1e3
"""Speck processor resting power, mW (:data:`deploy.energy.RESTING_POWER`)."""


@dataclass
class Row:
    """One model's line of the table (accuracies as fractions)."""

    model: str
    n: int
    float_acc: float
    quant_acc: float
    sim_acc: float
    sim_vs_float_agree: float
    synops: float
    input_events: float
    output_spikes: float
    seconds: float

    @property
    def energy_uj(self) -> float:
        """Estimated dynamic energy per inference, µJ."""
        return self.synops * E_SYNOP_PJ * 1e-6


def evaluate_model(name: str, subset: int | None, chip: str, workers: int | None, log=print) -> Row:
    """Float, quantised and simulated accuracy of ``models/<name>/model.pt`` on the test split."""
    from deploy.datasets import digits_dataset
    from deploy.validation import ExecutorSpec, validate

    start = time.perf_counter()
    package = __import__(f"models.{name}", fromlist=["CHECKPOINT"])
    r = validate(
        package.CHECKPOINT, digits_dataset("test", limit=subset), chip, parallel=ExecutorSpec(workers=workers)
    )
    log(
        f"{name}: float {100 * r.accuracy['float']:.2f} %, quantised {100 * r.accuracy['quantised']:.2f} %, "
        f"simulated {100 * r.accuracy['simulated']:.2f} %  ({time.perf_counter() - start:.0f} s)"
    )
    return Row(
        model=name,
        n=r.n_samples,
        float_acc=r.accuracy["float"],
        quant_acc=r.accuracy["quantised"],
        sim_acc=r.accuracy["simulated"],
        sim_vs_float_agree=r.agreement["float vs simulated"],
        synops=r.synops.mean,
        input_events=r.input_events.mean,
        output_spikes=float(np.mean([s.layer_spikes[2][-1] for s in r.samples])),
        seconds=time.perf_counter() - start,
    )


def markdown(rows: list[Row], chip: str) -> str:
    """The table, with a caption saying what each column is."""
    lines = [
        f"Test split of the digit events, chip `{chip}`; accuracies in %; Δ = simulated − float (points).",
        "",
        "| model | n | float | quantised (time-stepped) | simulated (bit-accurate) | Δ | "
        "same class sim/float | SynOps / sample | est. energy / inference |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.model} | {r.n} | {100 * r.float_acc:.2f} | {100 * r.quant_acc:.2f} "
            f"| {100 * r.sim_acc:.2f} "
            f"| {100 * (r.sim_acc - r.float_acc):+.2f} | {100 * r.sim_vs_float_agree:.1f} % "
            f"| {r.synops:,.0f} | {r.energy_uj:.2f} µJ |"
        )
    lines += [
        "",
        f"Energy = SynOps × {E_SYNOP_PJ:g} pJ (an assumption, see the energy figure below): "
        "dynamic synaptic energy only. "
        f"For scale, the processor's resting power ({P_RESTING_MW:g} mW) over one 300 ms sample is "
        f"{P_RESTING_MW * 0.3 * 1e3:.0f} µJ.",
    ]
    return "\n".join(lines) + "\n"


def write_readme(table: str, path: Path = README) -> None:
    """Replace the text between the markers of ``path`` with ``table``."""
    text = path.read_text()
    pattern = re.compile(re.escape(MARK_START) + r".*?" + re.escape(MARK_END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{path}: markers {MARK_START!r} … {MARK_END!r} not found")
    path.write_text(pattern.sub(lambda _: f"{MARK_START}\n{table}{MARK_END}", text))


def run(
    models: list[str], subset: int | None = None, chip: str = "speck2f", workers: int | None = None, log=print
) -> list[Row]:
    """Evaluate every model; see :func:`evaluate_model`."""
    return [evaluate_model(m, subset, chip, workers, log) for m in models]


def main(argv: list[str] | None = None) -> int:
    """Command line; returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--subset", type=int, default=None, help="first N test samples (class-balanced)")
    ap.add_argument("--chip", default="speck2f")
    ap.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    ap.add_argument(
        "--readme",
        choices=("auto", "yes", "no"),
        default="auto",
        help="rewrite the table in models/README.md (auto: only for the full test split)",
    )
    args = ap.parse_args(argv)
    rows = run(args.models, args.subset, args.chip, args.workers)
    table = markdown(rows, args.chip)
    print(table)
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(r) | {"energy_uj": r.energy_uj} for r in rows], indent=2))
    if args.readme == "yes" or (args.readme == "auto" and args.subset is None):
        write_readme(table)
        print(f"updated {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
