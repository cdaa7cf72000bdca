"""Cold-start cost of the simulator kernels: numba compile on an empty cache, old commit against this tree.

Each side runs in a fresh subprocess with its own empty ``NUMBA_CACHE_DIR``: it imports the simulator and
simulates a tiny two-core network once (which compiles every kernel, or loads them from the cache), then a
second subprocess on the now-filled cache measures the warm start. The old side is the whole ``deploy`` and
``hwconfig`` tree of ``--old`` (default: the commit before the kernel work) extracted with ``git archive``
into a temp directory, so its ``deploy/sim/kernel.py`` runs exactly as it was.

Usage: ``.venv/bin/python scripts/bench_cold.py [--old COMMIT] [--repeats 1]``.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START_COMMIT = "9abedb740260b746629ac9ba5431844749c2caf2"

# Runs in the child: CPU time (compiling is single-threaded; other processes on a shared machine do not
# inflate it) to import the simulator and to finish the first simulate() call.
_CHILD = """
import time
t0 = time.process_time()
import numpy as np
from deploy.sim.simulator import simulate
from hwconfig.config import ChipConfig, CnnLayerConfig, CnnLayerDestination, CnnLayerDimensions, IOShape, Vec2
t1 = time.process_time()
def core(c, f, wh, dest):
    return CnnLayerConfig(
        dimensions=CnnLayerDimensions(
            input_shape=IOShape(Vec2(wh, wh), c), output_shape=IOShape(Vec2(wh, wh), f),
            padding=Vec2(1, 1), stride=Vec2(1, 1), kernel_size=3),
        weights=np.ones((f, c, 3, 3), np.int64), biases=np.zeros(f, np.int64),
        neurons_initial_value=np.zeros((f, wh, wh), np.int64), threshold_high=2, threshold_low=-2,
        monitor_enable=dest is None,
        destinations=(CnnLayerDestination(enable=dest is not None, layer=dest or 0), CnnLayerDestination()))
cfg = ChipConfig().with_layer(0, core(1, 2, 4, 1)).with_layer(1, core(2, 2, 4, None))
ev = np.zeros((3, 5), np.int64); ev[:, 0] = (1, 2, 3); ev[:, 3] = (0, 1, 2)
res = simulate(cfg, ev)
t2 = time.process_time()
print(f"{t1 - t0:.4f} {t2 - t1:.4f} {len(res.events)}")
"""


def _extract(commit: str, dest: Path) -> None:
    """``deploy`` and ``hwconfig`` of ``commit`` into ``dest``."""
    tar = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit, "deploy", "hwconfig"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        tf.extractall(dest, filter="data")


def _child(tree: Path, cache: Path) -> tuple[float, float, int]:
    env = {**os.environ, "PYTHONPATH": str(tree), "NUMBA_CACHE_DIR": str(cache)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], env=env, check=True, capture_output=True, text=True, cwd=tree
    ).stdout.split()
    return float(out[0]), float(out[1]), int(out[2])


def measure(tree: Path, repeats: int) -> tuple[float, float, float, int]:
    """(import s, cold first-simulate s, warm first-simulate s, output events), medians over ``repeats``."""
    imports, colds, warms = [], [], []
    n_out = 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as cache:
            imp, cold, n_out = _child(tree, Path(cache))
            _, warm, _ = _child(tree, Path(cache))
        imports.append(imp)
        colds.append(cold)
        warms.append(warm)
    return statistics.median(imports), statistics.median(colds), statistics.median(warms), n_out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default=START_COMMIT, help="commit whose kernel is the baseline")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old_tree = Path(tmp)
        _extract(args.old, old_tree)
        rows = {
            f"old ({args.old[:9]})": measure(old_tree, args.repeats),
            "new (this tree)": measure(REPO, args.repeats),
        }
    print("CPU seconds in a fresh process (median):")
    print(f"{'kernel':<20} {'import s':>9} {'cold first run s':>17} {'warm first run s':>17} {'out ev':>7}")
    for name, (imp, cold, warm, n) in rows.items():
        print(f"{name:<20} {imp:>9.3f} {cold:>17.3f} {warm:>17.3f} {n:>7}")
    (_, old_cold, _, n_old), (_, new_cold, _, n_new) = rows.values()
    print(f"cold compile speed-up: {old_cold / new_cold:.1f}x (same output: {n_old == n_new})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
