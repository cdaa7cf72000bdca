"""Benchmark of the event-driven simulator against the time-stepped (sinabs-style) forward in torch.

Two networks as sinabs users build them, as ChipConfigs with random integer weights:

- N-MNIST-like: 2×34×34 → conv 8 k3 p1 → pool 2 → conv 16 k3 p1 → pool 2 → Linear 16·8·8 → 10 (conv k8).
- DVS-gesture-like (7 cores): 2×128×128 → conv 8 k3 s2 p1 (64×64) → pool 2 → conv 16 k3 p1 → pool 2 →
  conv 32 k3 p1 → pool 2 → conv 64 k3 p1 → pool 2 → conv 64 k3 p1 → pool 2 → Linear 64·2·2 → 32 (conv k2)
  → Linear 32 → 11 (conv k1). Every core fits its memory (SPECK_SEMANTICS §7.1).

Input: independent Bernoulli pixels at 1, 2, 5 and 10 % density per bin, 100 bins of 1 ms; then one
second of a 1 M events/s stream (uniform random times, pixels and polarities) into the gesture-like net.
The time-stepped side is :func:`deploy.sim.timestepped.run_timestepped` (the same quantised network, sinabs's
discretized ``DynapcnnNetwork`` forward semantics) on the same input binned at 1 ms. Both run in this thread
(``torch.set_num_threads(1)``, flush-denormal on), after a warm-up; the median thread CPU time of the repeats
is reported. The cold compile time of the kernels (fresh process, empty ``NUMBA_CACHE_DIR``, CPU seconds) is
printed first. Usage: ``python scripts/bench_sim.py [--repeats 3] [--threads N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from deploy.sim.events import raster_to_events
from deploy.sim.options import SimOptions
from deploy.sim.simulator import simulate, simulate_batch
from deploy.sim.timestepped import run_timestepped
from hwconfig.config import (
    ChipConfig,
    CnnLayerConfig,
    CnnLayerDestination,
    CnnLayerDimensions,
    IOShape,
    Vec2,
)
from hwconfig.spec import conv_output_size

# (in_c, out_c, k, stride, pad, pool to the next layer)
NMNIST = [(2, 8, 3, 1, 1, 2), (8, 16, 3, 1, 1, 2), (16, 10, 8, 1, 0, 1)]
GESTURE = [
    (2, 8, 3, 2, 1, 2),
    (8, 16, 3, 1, 1, 2),
    (16, 32, 3, 1, 1, 2),
    (32, 64, 3, 1, 1, 2),
    (64, 64, 3, 1, 1, 2),
    (64, 32, 2, 1, 0, 1),
    (32, 11, 1, 1, 0, 1),
]
DENSITIES = (0.01, 0.02, 0.05, 0.10)
GESTURE_CORES = [0, 3, 4, 5, 6, 1, 7]


def build(
    spec: list[tuple[int, int, int, int, int, int]], size: int, cores: list[int], seed: int, gain: float = 1.0
) -> ChipConfig:
    """A chain of cores with random weights (mostly positive) and thresholds that let activity propagate."""
    rng = np.random.default_rng(seed)
    config = ChipConfig()
    wh = size
    pool_in = 1
    for i, (c, f, k, s, p, pool) in enumerate(spec):
        out = conv_output_size(wh, k, s, p)
        w = np.clip(np.round(rng.normal(3.0, 30.0, size=(f, c, k, k))), -128, 127).astype(np.int64)
        # A neuron sees c·k² input positions, each carrying pool_in² × the previous layer's event density;
        # a threshold of c·k²·pool_in²·mean(w) keeps each layer's spike density near the input's.
        thr = int(min(32000, max(60, gain * c * k * k * pool_in**2 * w.mean())))
        pool_in = pool
        last = i == len(spec) - 1
        dests = (CnnLayerDestination(enable=not last, layer=cores[i + 1] if not last else 0, pooling=pool),)
        config = config.with_layer(
            cores[i],
            CnnLayerConfig(
                dimensions=CnnLayerDimensions(
                    input_shape=IOShape(Vec2(wh, wh), c),
                    output_shape=IOShape(Vec2(out, out), f),
                    padding=Vec2(p, p),
                    stride=Vec2(s, s),
                    kernel_size=k,
                ),
                weights=w,
                biases=np.zeros(f, np.int64),
                neurons_initial_value=np.zeros((f, out, out), np.int64),
                threshold_high=thr,
                threshold_low=-thr,
                monitor_enable=last,
                destinations=(*dests, CnnLayerDestination()),
            ),
        )
        wh = out // pool
    return config


def calibrate(config: ChipConfig, cores: list[int], size: int, target: float, bins: int = 100) -> ChipConfig:
    """Scale each core's threshold (front to back) until its spike density is near ``target``.

    Density = spikes per neuron per 1 ms bin, measured with the event-driven simulator on random input of
    density ``target``. Random weights give no natural operating point; this gives every layer the sparse
    activity of a trained network (each layer about as active as the input), so the benchmark measures the
    simulator, not an exploding or silent random network.
    """
    rng = np.random.default_rng(123)
    raster = (rng.random((bins, 2, size, size)) < target).astype(np.int64)
    events = raster_to_events(raster, layer=cores[0], dt_us=1000)
    opts = SimOptions(record_traces=True)
    for core in cores:
        for _ in range(30):
            layer = config.cnn_layers[core]
            res = simulate(config, events, opts)
            n_neurons = layer.neurons_initial_value.size
            density = res.spikes_generated[core] / (n_neurons * bins)
            if 0.8 * target <= density <= 1.25 * target:
                break
            factor = min(8.0, max(0.125, ((density + 1e-4) / target) ** 0.7))
            thr = int(min(32600, max(8, layer.threshold_high * factor)))
            if thr == layer.threshold_high:
                break
            config = config.with_layer(core, replace(layer, threshold_high=thr, threshold_low=-thr))
    return config


def median_time(
    fn: Callable[[], object], repeats: int, clock: Callable[[], float] = time.thread_time
) -> float:
    """Median over ``repeats`` of ``fn``'s duration; by default the calling thread's CPU time, which other
    processes on a shared machine do not inflate (both simulators run single-threaded in this thread)."""
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)


def cold_compile_seconds() -> float:
    """CPU seconds to compile the kernels in a fresh process on an empty numba cache."""
    code = "import time; t = time.process_time(); import deploy.sim.kernel; print(time.process_time() - t)"
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        cmd = [sys.executable, "-c", code]
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def stream_events(rate: int, seconds: float, size: int, entry: int, seed: int = 7) -> np.ndarray:
    """``rate × seconds`` events at uniform random times (µs), pixels and polarities, into core ``entry``."""
    rng = np.random.default_rng(seed)
    n = int(rate * seconds)
    rows = np.zeros((n, 5), np.int64)
    rows[:, 0] = np.sort(rng.integers(0, int(seconds * 1e6), n))
    rows[:, 1] = entry
    rows[:, 2] = rng.integers(0, 2, n)
    rows[:, 3] = rng.integers(0, size, n)
    rows[:, 4] = rng.integers(0, size, n)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bins", type=int, default=100)
    parser.add_argument(
        "--threads", type=int, default=0, help="also time simulate_batch with this many threads"
    )
    args = parser.parse_args()
    print(f"cold compile of the simulator kernels (empty numba cache): {cold_compile_seconds():.2f} s CPU")
    import torch

    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    nets = {
        "nmnist-like": (calibrate(build(NMNIST, 34, [0, 1, 2], seed=1), [0, 1, 2], 34, 0.02), 34),
        "gesture-like": (
            calibrate(build(GESTURE, 128, GESTURE_CORES, seed=2), GESTURE_CORES, 128, 0.02),
            128,
        ),
    }
    for name, (config, _) in nets.items():
        thr = [config.cnn_layers[c].threshold_high for c in config.used_cores()]
        print(f"{name}: thresholds per core {dict(zip(config.used_cores(), thr, strict=True))}")
    print(
        f"{'network':<13} {'density':>7} {'in events':>10} {'synops':>11} {'out':>6} {'event-driven s':>14} "
        f"{'synops/s':>10} {'events/s':>10} {'time-stepped s':>14} {'speed-up':>8}"
    )
    for name, (config, size) in nets.items():
        entry = config.used_cores()[0]
        for density in DENSITIES:
            rng = np.random.default_rng(int(density * 1000))
            raster = (rng.random((args.bins, 2, size, size)) < density).astype(np.int64)
            events = raster_to_events(raster, layer=entry, dt_us=1000)
            res = simulate(config, events)  # warm-up (numba cache load)
            t_ev = median_time(lambda ev=events, cfg=config: simulate(cfg, ev), args.repeats)
            x = torch.as_tensor(raster, dtype=torch.float32)
            run_timestepped(config, {entry: x[:2]})
            t_ts = median_time(lambda cfg=config, e=entry, x=x: run_timestepped(cfg, {e: x}), args.repeats)
            synops = int(res.synops.sum())
            print(
                f"{name:<13} {density:>7.0%} {len(events):>10} {synops:>11} {len(res.events):>6} "
                f"{t_ev:>14.4f} {synops / t_ev:>10.3g} {len(events) / t_ev:>10.3g} "
                f"{t_ts:>14.4f} {t_ts / t_ev:>7.1f}x"
            )
            if args.threads > 1 and density == 0.02:
                batch = [events] * (2 * args.threads)
                simulate_batch(config, batch[:2], workers=args.threads)
                t1 = median_time(
                    lambda b=batch, cfg=config: simulate_batch(cfg, b, workers=1), 3, time.perf_counter
                )
                tn = median_time(
                    lambda b=batch, cfg=config: simulate_batch(cfg, b, workers=args.threads),
                    3,
                    time.perf_counter,
                )
                print(
                    f"{'':<13} batch of {len(batch)} (wall): 1 thread {t1:.3f} s, "
                    f"{args.threads} threads {tn:.3f} s"
                )

    config, size = nets["gesture-like"]
    entry = config.used_cores()[0]
    rows = stream_events(1_000_000, 1.0, size, entry)
    res = simulate(config, rows)
    t_ev = median_time(lambda: simulate(config, rows), args.repeats)
    binned = np.zeros((1000, 2, size, size), np.float32)
    np.add.at(binned, (rows[:, 0] // 1000, rows[:, 2], rows[:, 3], rows[:, 4]), 1)
    x = torch.as_tensor(binned)
    t_ts = median_time(lambda: run_timestepped(config, {entry: x}), 1)
    synops = int(res.synops.sum())
    print(
        f"1 s of a 1 M ev/s stream into the gesture-like net: {len(rows)} events, {synops} synops, "
        f"event-driven {t_ev:.3f} s ({synops / t_ev:.3g} synops/s, {1.0 / t_ev:.2f}x real time), "
        f"time-stepped (1 ms bins) {t_ts:.3f} s ({t_ts / t_ev:.1f}x)"
    )


if __name__ == "__main__":
    main()
