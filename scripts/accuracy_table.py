"""Accuracy table of the reference models: float, quantised time-stepped, and bit-accurate simulated.

For each model in ``models/`` (its committed ``model.pt``, loaded with ``weights_only=True``) on the test
split of the digit events (:mod:`models.digits_events`):

- **float**: the sinabs model run time-stepped on ``T`` time bins of event counts (sinabs semantics);
- **quantised (time-stepped)**: the compiled integer graph (``deploy.pipeline.compile_model``: sinabs's
  8-bit discretisation) run time-stepped on the same bins (``deploy.timestep.evaluate``);
- **simulated**: every sample's events injected one by one, in time order, into the compiled chip
  configuration on the bit-accurate event-driven simulator (``deploy.sim.simulator.simulate_batch``), each
  sample from the initial (zero) state.

Class decision everywhere (:func:`models.training.predict`): the output feature with the most output
spikes; ties go to the lowest class index; no output spike at all counts as wrong.

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
import numpy.typing as npt
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deploy.energy import ENERGY_PER_SYNOP, RESTING_POWER
from models import digits_events, training

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


def chip_events(xytp: npt.NDArray[np.void], core: int) -> npt.NDArray[np.void]:
    """Tonic-style events → chip input events for ``core`` (feature = polarity, as sinabs)."""
    from deploy.sim.events import make_events

    return make_events(xytp["t"], core, xytp["p"].astype(np.int16), xytp["x"], xytp["y"])


def evaluate_model(name: str, subset: int | None, chip: str, workers: int | None, log=print) -> Row:
    """Float, quantised and simulated accuracy of ``models/<name>/model.pt`` on the test split."""
    from deploy.pipeline import compile_model
    from deploy.sim.simulator import simulate_batch
    from deploy.timestep import evaluate as timestep_evaluate

    start = time.perf_counter()
    package = __import__(f"models.{name}", fromlist=["CHECKPOINT"])
    model = training.load_module(package.CHECKPOINT)
    n_bins, input_shape = package.N_BINS, package.INPUT_SHAPE
    _, test = digits_events.split_indices()
    idx = test if subset is None else training.balanced_subset(test, subset)
    events, labels = digits_events.build_dataset(idx)
    rasters = np.stack([digits_events.rasterize(e, n_bins) for e in events])

    float_acc, float_counts = training.evaluate(model, torch.from_numpy(rasters), torch.from_numpy(labels))
    log(f"{name}: float {100 * float_acc:.2f} %  ({time.perf_counter() - start:.0f} s)")

    # Compile a freshly loaded copy: the float run above left neuron states in ``model``, and the compiler,
    # like sinabs, takes an initialised IAF state as the chip's ``neurons_initial_value``.
    result = compile_model(training.load_module(package.CHECKPOINT), chip, input_shape)
    if any(np.any(q.initial_state) for q in result.graph.layers if q.initial_state is not None):
        raise RuntimeError(f"{name}: the committed model carries a non-zero neuron state")
    graph = result.graph
    (entry,) = graph.entry_layers
    (exit_layer,) = graph.exit_layers
    core_in, core_out = result.placement.core_of[entry], result.placement.core_of[exit_layer]
    n_classes = graph.layers[exit_layer].out_shape[0]

    quant_counts = np.stack([timestep_evaluate(result.qgraph, r).output.sum(axis=(0, 2, 3)) for r in rasters])
    quant_acc = float((training.predict(quant_counts) == labels).mean())
    log(f"{name}: quantised time-stepped {100 * quant_acc:.2f} %  ({time.perf_counter() - start:.0f} s)")

    sims = simulate_batch(
        result.config, [chip_events(e, core_in) for e in events], workers=workers, chip=chip
    )
    sim_counts = np.stack(
        [
            np.bincount(s.events["feature"][s.events["layer"] == core_out], minlength=n_classes)[:n_classes]
            for s in sims
        ]
    )
    sim_pred = training.predict(sim_counts)
    sim_acc = float((sim_pred == labels).mean())
    log(f"{name}: simulated {100 * sim_acc:.2f} %  ({time.perf_counter() - start:.0f} s)")
    return Row(
        model=name,
        n=len(labels),
        float_acc=float_acc,
        quant_acc=quant_acc,
        sim_acc=sim_acc,
        sim_vs_float_agree=float((sim_pred == training.predict(float_counts)).mean()),
        synops=float(np.mean([int(s.synops.sum()) for s in sims])),
        input_events=float(np.mean([len(e) for e in events])),
        output_spikes=float(sim_counts.sum(1).mean()),
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
    ap.add_argument("--workers", type=int, default=None, help="simulator threads (default: all cores)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    ap.add_argument(
        "--readme",
        choices=("auto", "yes", "no"),
        default="auto",
        help="rewrite the table in models/README.md (auto: only for the full test split)",
    )
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the time-stepped runs")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
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
