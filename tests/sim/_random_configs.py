"""Random chip configurations and event streams for differential tests (fast vs reference simulator).

Everything is drawn from one ``np.random.default_rng(seed)``, so a failing hypothesis example is reproduced
by its seed and flags. Networks are small acyclic graphs of 1–4 cores on random core ids with strides,
padding, pooling 1/2/4, feature shifts, two destinations, merges (two sources into one core), readout,
leak, decimators, DVS input and mismatched shapes (which exercise the out-of-range policy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deploy.sim.events import Events, make_events
from deploy.sim.options import SimOptions
from hwconfig.config import (
    BoolVec2,
    ChipConfig,
    CnnLayerConfig,
    CnnLayerDestination,
    CnnLayerDimensions,
    DvsDestination,
    DvsLayerConfig,
    IOShape,
    ReadoutConfig,
    Vec2,
)


@dataclass
class Case:
    config: ChipConfig
    events: Events
    options: SimOptions
    split: int


def _out_size(n: int, k: int, s: int, p: int) -> int:
    return (n - k + 2 * p) // s + 1


def random_case(seed: int, big_values: bool = False) -> Case:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5))
    cores = [int(c) for c in rng.permutation(9)[:n]]
    parents: list[list[tuple[int, int]]] = [[] for _ in range(n)]  # (parent index, slot)
    slots_used = [0] * n
    for i in range(1, n):
        cands = [j for j in range(i) if slots_used[j] < 2]
        if not cands:
            break
        j = int(rng.choice(cands))
        parents[i].append((j, slots_used[j]))
        slots_used[j] += 1
        cands = [q for q in range(i) if slots_used[q] < 2 and q != j]
        if cands and rng.random() < 0.35:  # merge
            q = int(rng.choice(cands))
            parents[i].append((q, slots_used[q]))
            slots_used[q] += 1
    # Shapes, layer by layer (parents come first).
    in_c = [0] * n
    in_wh = [(0, 0)] * n
    out_f = [0] * n
    out_wh = [(0, 0)] * n
    dims: list[tuple[int, int, int, int, int, int]] = []  # k, sx, sy, px, py
    pool: dict[tuple[int, int], int] = {}
    shift: dict[tuple[int, int], int] = {}
    for i in range(n):
        if not parents[i]:
            in_c[i] = int(rng.integers(1, 4))
            in_wh[i] = (int(rng.integers(1, 11)), int(rng.integers(1, 11)))
        else:
            cs = []
            for j, s in parents[i]:
                p = int(rng.choice([1, 1, 2, 4]))
                pool[(j, s)] = p
                shift[(j, s)] = int(rng.integers(0, 3))
                cs.append(out_f[j] + shift[(j, s)])
            j0, s0 = parents[i][0]
            w0, h0 = out_wh[j0]
            p0 = pool[(j0, s0)]
            in_wh[i] = (
                max(1, w0 // p0 + int(rng.integers(-1, 2))),
                max(1, h0 // p0 + int(rng.integers(-1, 2))),
            )
            in_c[i] = max(1, max(cs) - int(rng.random() < 0.15))
        W, H = in_wh[i]
        k = int(rng.integers(1, 5))
        sx, sy = (int(rng.choice([1, 1, 2, 4, 3])) for _ in range(2))  # 3: not a chip stride, still simulated
        px, py = (int(rng.integers(0, k)) for _ in range(2))
        if _out_size(W, k, sx, px) < 1:
            px = k
        if _out_size(H, k, sy, py) < 1:
            py = k
        out_wh[i] = (_out_size(W, k, sx, px), _out_size(H, k, sy, py))
        out_f[i] = int(rng.integers(1, 7))
        dims.append((k, sx, sy, px, py, 0))
    layers = {}
    monitored_any = False
    for i in range(n):
        k, sx, sy, px, py, _ = dims[i]
        F, C = out_f[i], in_c[i]
        w_scale = int(rng.choice([3, 20, 127]))
        weights = rng.integers(-w_scale, w_scale + 1, size=(F, C, k, k))
        weights[rng.random(weights.shape) < 0.2] = 0
        if rng.random() < 0.3:
            weights = np.abs(weights)
        weights = np.clip(weights, -128, 127)
        thr = int(rng.choice([0, int(rng.integers(1, 30)), int(rng.integers(1, 300))]))
        thr_lo = -int(rng.choice([1, int(rng.integers(1, 40)), int(rng.integers(1, 400))]))
        if big_values:
            thr = int(rng.choice([thr, 32767, 32700]))
            thr_lo = int(rng.choice([thr_lo, -32768, -32700]))
        lo, hi = max(thr_lo - 5, -32768), min(thr + 5, 32767)
        init = rng.integers(lo, hi + 1, size=(F, *out_wh[i]))
        if rng.random() < 0.5:
            init[:] = 0
        biases = rng.integers(-15, 16, size=F)
        dests = []
        for s in range(2):
            child = [c for c in range(n) if (i, s) in parents[c]]
            if child:
                c = child[0]
                dests.append(CnnLayerDestination(True, cores[c], pool[(i, s)], shift[(i, s)]))
            elif s == slots_used[i] and rng.random() < 0.2:
                dests.append(CnnLayerDestination(True, 12, int(rng.choice([1, 2])), int(rng.integers(0, 3))))
            else:
                dests.append(CnnLayerDestination())
        monitor = bool(rng.random() < 0.6) or (i == n - 1 and not monitored_any)
        monitored_any |= monitor
        layers[cores[i]] = CnnLayerConfig(
            dimensions=CnnLayerDimensions(
                input_shape=IOShape(Vec2(*in_wh[i]), C),
                output_shape=IOShape(Vec2(*out_wh[i]), F),
                padding=Vec2(px, py),
                stride=Vec2(sx, sy),
                kernel_size=k,
            ),
            weights=weights,
            biases=biases,
            neurons_initial_value=init,
            threshold_high=thr,
            threshold_low=thr_lo,
            return_to_zero=bool(rng.random() < 0.4),
            leak_enable=bool(rng.random() < 0.3),
            monitor_enable=monitor,
            output_decimator_enable=bool(rng.random() < 0.2),
            output_decimator_interval=int(rng.integers(0, 3)),
            destinations=tuple(dests),
        )
    config = ChipConfig()
    for core, layer in layers.items():
        config = config.with_layer(core, layer)
    roots = [i for i in range(n) if not parents[i]]
    # DVS layer feeding up to two root cores.
    use_dvs = rng.random() < 0.3
    if use_dvs:
        dvs_targets = [cores[i] for i in roots][:2]
        px_, py_ = (int(rng.choice([1, 2, 4])) for _ in range(2))
        ox, oy = int(rng.integers(0, 3)), int(rng.integers(0, 3))
        config = ChipConfig(
            cnn_layers=config.cnn_layers,
            dvs_layer=DvsLayerConfig(
                merge=bool(rng.random() < 0.5),
                on_channel=bool(rng.random() < 0.85),
                off_channel=bool(rng.random() < 0.85),
                pooling=Vec2(px_, py_),
                origin=Vec2(ox, oy),
                cut=Vec2(ox + int(rng.integers(0, 10)), oy + int(rng.integers(0, 10))),
                mirror=BoolVec2(bool(rng.random() < 0.3), bool(rng.random() < 0.3)),
                mirror_diagonal=bool(rng.random() < 0.3),
                monitor_enable=bool(rng.random() < 0.5),
                destinations=tuple(DvsDestination(True, c) for c in dvs_targets)
                + tuple(DvsDestination() for _ in range(2 - len(dvs_targets))),
            ),
            readout=ReadoutConfig(enable=True),
        )
    else:
        config = ChipConfig(cnn_layers=config.cnn_layers, readout=ReadoutConfig(enable=True))
    # Events.
    n_ev = int(rng.integers(0, 60))
    ts = np.sort(rng.integers(0, 3000, size=n_ev))
    if rng.random() < 0.3:
        ts = np.sort(rng.integers(0, 5, size=n_ev)) * 500  # many equal timestamps (ticks tie with events)
    layer_col = np.zeros(n_ev, np.int64)
    f = np.zeros(n_ev, np.int64)
    x = np.zeros(n_ev, np.int64)
    y = np.zeros(n_ev, np.int64)
    targets = [cores[i] for i in range(n)] if rng.random() < 0.3 else [cores[i] for i in roots]
    for e in range(n_ev):
        if use_dvs and rng.random() < 0.5:
            layer_col[e], f[e] = 13, rng.integers(0, 2)
            x[e], y[e] = rng.integers(0, 24), rng.integers(0, 24)
            continue
        if rng.random() < 0.03:
            layer_col[e], f[e] = 12, rng.integers(0, 20)
            continue
        c = int(rng.choice(targets))
        shape = config.cnn_layers[c].dimensions.input_shape
        layer_col[e] = c
        f[e] = rng.integers(0, shape.feature_count)
        x[e] = rng.integers(0, shape.size.x)
        y[e] = rng.integers(0, shape.size.y)
    events = make_events(ts, layer_col, f, x, y)
    # Options.
    ticks: tuple[int, ...] | None = None
    hz: float | None = None
    r = rng.random()
    if r < 0.3:
        ticks = tuple(int(t) for t in np.sort(rng.integers(0, 3500, size=int(rng.integers(0, 6)))))
    elif r < 0.45:
        hz = float(rng.choice([1000.0, 3000.0, 700.0]))
    defaults = rng.random() < 0.4  # the default semantics take the kernel's fastest paths
    options = SimOptions(
        clamp_on_synapse=defaults or bool(rng.random() < 0.7),
        process_zero_weights=defaults or bool(rng.random() < 0.7),
        leak_spikes=bool(rng.random() < 0.4),
        overflow="error" if defaults else str(rng.choice(["error", "wrap", "saturate"])),  # type: ignore[arg-type]
        overflow_check="sum" if defaults else str(rng.choice(["sum", "result"])),  # type: ignore[arg-type]
        decimator_phase=None if rng.random() < 0.5 else int(rng.integers(0, 5)),
        out_of_range="error" if rng.random() < 0.15 else "drop",
        readout_erratum=bool(rng.random() < 0.5),
        slow_clock_hz=hz,
        slow_clock_ticks_us=ticks,
        dvs_merged_polarity=int(rng.integers(0, 2)),
        record_traces=True,
    )
    split = int(rng.integers(0, n_ev + 1))
    return Case(config, events, options, split)
