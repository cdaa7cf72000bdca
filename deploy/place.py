"""Core placement: assign every chip layer to its own core (SPECK_SEMANTICS §7.3 rule 1, §9.3).

A layer may go to any core whose kernel, neuron and bias memories hold it (the :class:`FitMatrix`). Finding an
assignment is a bipartite maximum matching, solved here with augmenting paths (Kuhn's algorithm, the
unit-capacity case of the max-flow sinabs runs with Edmonds–Karp).

Determinism and preferences:

- The result is the lexicographically smallest valid assignment: layer 0 gets the lowest core id with which
  all remaining layers can still be placed, then layer 1, and so on. It only depends on the fit matrix, and
  for a chain that fits everywhere it is sinabs's ``0, 1, 2, ...``.
- Leak-enabled layers (non-zero bias) first try to avoid the cores with the leak erratum (cores 0/1, §2.4
  DS-bug): the matching is first solved with those cores removed for leak layers; only if that leaves a layer
  unplaced is the unrestricted matching used (then :func:`deploy.check.check_placement` warns). This is the
  one deliberate difference from sinabs, which ignores the erratum and puts a biased first layer on core 0.

When no assignment exists, :class:`PlacementError` gives a Hall's-theorem witness: a set of k layers that
together fit fewer than k cores, with each layer's memory and its cores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from deploy.errors import PlacementError
from deploy.graph import Placement, QuantizedGraph
from deploy.memory import FitMatrix, fit_matrix
from hwconfig.spec import ChipSpec

CoreMap = Mapping[int | str, int]
"""Manual placement: layer index or torch module path → core id."""


def _match(
    adjacency: Sequence[Sequence[int]], pinned: Mapping[int, int]
) -> tuple[list[int | None], dict[int, int]]:
    """Maximum bipartite matching with pinned pairs fixed.

    Args:
        adjacency: ``adjacency[i]`` cores layer i may take, in preference order.
        pinned: Layer → core pairs that are fixed (their cores are unavailable to others).

    Returns:
        ``(core_of, layer_of)`` where ``core_of[i]`` is None for an unmatched layer.
    """
    n = len(adjacency)
    core_of: list[int | None] = [None] * n
    layer_of: dict[int, int] = {}
    for i, c in pinned.items():
        core_of[i] = c
        layer_of[c] = i

    def augment(i: int, seen: set[int]) -> bool:
        for c in adjacency[i]:
            if c in seen:
                continue
            seen.add(c)
            j = layer_of.get(c)
            if j is None or (j not in pinned and augment(j, seen)):
                core_of[i] = c
                layer_of[c] = i
                return True
        return False

    for i in range(n):
        if i not in pinned:
            augment(i, set())
    return core_of, layer_of


def _complete(adjacency: Sequence[Sequence[int]], pinned: Mapping[int, int]) -> bool:
    core_of, _ = _match(adjacency, pinned)
    return all(c is not None for c in core_of)


def _lexicographic(adjacency: Sequence[Sequence[int]], pinned: Mapping[int, int]) -> list[int] | None:
    """The lexicographically smallest complete assignment (by layer index, then core id), or None."""
    if not _complete(adjacency, pinned):
        return None
    fixed = dict(pinned)
    for i in range(len(adjacency)):
        if i in fixed:
            continue
        taken = set(fixed.values())
        for c in sorted(adjacency[i]):
            if c not in taken and _complete(adjacency, {**fixed, i: c}):
                fixed[i] = c
                break
    return [fixed[i] for i in range(len(adjacency))]


def _hall_witness(
    adjacency: Sequence[Sequence[int]], layer_of: Mapping[int, int], start: int, pinned: Mapping[int, int]
) -> tuple[list[int], list[int]]:
    """Layers reachable from unmatched ``start`` by alternating paths, and the cores they fit.

    By Kőnig's argument every core reached is matched to a layer in the set or to a pinned layer, so the set
    of k layers fits only k − 1 cores that are not pinned: a Hall violator. Pinned layers cannot move, so
    the search does not continue through them (their other cores are no help).
    """
    layers = {start}
    cores: set[int] = set()
    frontier = [start]
    while frontier:
        i = frontier.pop()
        for c in adjacency[i]:
            if c in cores:
                continue
            cores.add(c)
            j = layer_of.get(c)
            if j is not None and j not in layers and j not in pinned:
                layers.add(j)
                frontier.append(j)
    return sorted(layers), sorted(cores)


def _layer_line(fit: FitMatrix, i: int) -> str:
    m = fit.memory[i]
    cores = list(fit.cores_for(i))
    return (
        f"'{fit.layer_names[i]}' ({fit.layer_descriptions[i]}: kernel {m.kernel}, neuron {m.neuron}, "
        f"bias {m.bias} words) fits cores {cores}"
    )


def _resolve_core_map(core_map: CoreMap, fit: FitMatrix) -> dict[int, int]:
    """Validate a manual core map and return it as layer index → core id."""
    problems: list[str] = []
    resolved: dict[int, int] = {}
    names = {name: i for i, name in enumerate(fit.layer_names)}
    for key, core in core_map.items():
        if isinstance(key, int) and not isinstance(key, bool):
            if not 0 <= key < fit.n_layers:
                problems.append(f"layer index {key} does not exist (layers are 0..{fit.n_layers - 1})")
                continue
            i = key
        elif isinstance(key, str) and key in names:
            i = names[key]
        elif isinstance(key, str) and key.isdigit() and int(key) < fit.n_layers:
            i = int(key)  # a position, as the tables print it before the name, when no layer has that name
        else:
            problems.append(f"unknown layer {key!r}; layers are {list(fit.layer_names)}")
            continue
        if i in resolved:
            problems.append(f"layer '{fit.layer_names[i]}' is given twice")
            continue
        if core not in fit.core_ids:
            problems.append(
                f"layer '{fit.layer_names[i]}': core {core} does not exist (cores {list(fit.core_ids)})"
            )
            continue
        resolved[i] = core
    by_core: dict[int, list[int]] = {}
    for i, c in resolved.items():
        by_core.setdefault(c, []).append(i)
    for c, layers in sorted(by_core.items()):
        if len(layers) > 1:
            problems.append(
                f"core {c} is given to {len(layers)} layers "
                f"({', '.join(repr(fit.layer_names[i]) for i in layers)}); each core holds one layer"
            )
    for i, c in sorted(resolved.items()):
        j = fit.core_ids.index(c)
        if not fit.fits[i][j]:
            m = fit.memory[i]
            over = [
                f"{what} {need} > {cap}"
                for what, need, cap in (
                    ("kernel", m.kernel, fit.kernel_capacity[j]),
                    ("neuron", m.neuron, fit.neuron_capacity[j]),
                    ("bias", m.bias, fit.bias_capacity[j]),
                )
                if need > cap
            ]
            problems.append(
                f"layer '{fit.layer_names[i]}' does not fit core {c}: {', '.join(over)} words; "
                f"it fits cores {list(fit.cores_for(i))}"
            )
    if problems:
        raise PlacementError("invalid core map: " + "; ".join(problems))
    return resolved


def place(source: QuantizedGraph | FitMatrix, chip: ChipSpec, core_map: CoreMap | None = None) -> Placement:
    """Assign each layer its own core.

    Args:
        source: The quantised graph, or its fit matrix (:func:`deploy.memory.fit_matrix`; pass the one
            built with ``readout=True`` when the readout is used, so that the expanded exit layer fits).
        chip: The target chip.
        core_map: Optional manual placement (layer index or torch module path → core). Layers not named are
            placed automatically on the remaining cores.

    Returns:
        The placement (``manual`` is True when a core map was given).

    Raises:
        PlacementError: If the core map is invalid (unknown layer, core out of range, duplicate core, layer
            does not fit the core), or no assignment exists; then the message names a set of layers that
            together fit fewer cores than there are layers in it, with their memory and cores.
    """
    fit = source if isinstance(source, FitMatrix) else fit_matrix(source, chip)
    n = fit.n_layers
    if n > len(fit.core_ids):
        raise PlacementError(
            f"{n} layers but {chip.name} has {len(fit.core_ids)} cores: no placement exists; "
            f"remove {n - len(fit.core_ids)} layer(s)"
        )
    pinned = _resolve_core_map(core_map, fit) if core_map else {}
    erratum = {c.core_id for c in chip.cores if c.leak_erratum}
    full = [list(fit.cores_for(i)) for i in range(n)]
    preferred = [[c for c in cores if not (fit.leak[i] and c in erratum)] for i, cores in enumerate(full)]

    chosen = _lexicographic(preferred, pinned) or _lexicographic(full, pinned)
    if chosen is None:
        core_of, layer_of = _match(full, pinned)
        unmatched = [i for i, c in enumerate(core_of) if c is None]
        raise PlacementError(_explain(fit, full, layer_of, unmatched[0], pinned))
    return Placement(
        core_of=tuple(chosen),
        fit=fit.fits,
        manual=bool(core_map),
    )


def _explain(
    fit: FitMatrix,
    adjacency: Sequence[Sequence[int]],
    layer_of: Mapping[int, int],
    start: int,
    pinned: Mapping[int, int],
) -> str:
    layers, cores = _hall_witness(adjacency, layer_of, start, pinned)
    lines = "; ".join(_layer_line(fit, i) for i in layers)
    taken = [c for c in cores if layer_of.get(c) in pinned]
    free = [c for c in cores if c not in taken]
    if not cores:
        head = f"layer '{fit.layer_names[start]}' fits no core"
    elif taken:
        head = (
            f"no valid core assignment: these {len(layers)} layer(s) together fit only {len(free)} free "
            f"core(s) {free}; cores {taken} are taken by the manual core map"
        )
    else:
        head = (
            f"no valid core assignment: these {len(layers)} layers together fit only {len(cores)} core(s) "
            f"{cores}"
        )
    pin_fix = " or pin the manually placed layers elsewhere" if taken else ""
    return (
        f"{head}: {lines}. Make {len(layers) - len(free)} of them smaller so they fit other cores{pin_fix} "
        "(see the fit matrix of `deploy-model check`)"
    )
