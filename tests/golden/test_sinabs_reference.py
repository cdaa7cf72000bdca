"""Our compiled configurations against what sinabs 3.1.3 wrote for the reference models (tests/data).

For each accepted case the fields sinabs writes must be equal, core by core, after mapping sinabs's core
placement (result.json ``layer2core_map``) onto ours. Rejected cases must be rejected with the numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers.reference_data import ACCEPTED_CASES, reference_file

from deploy.errors import ChipConstraintError, PlacementError, UnsupportedLayerError
from deploy.pipeline import compile_model
from hwconfig.json_io import config_to_dict

ACCEPTED = ACCEPTED_CASES
FIELDS = (
    "dimensions",
    "weights",
    "biases",
    "neurons_initial_value",
    "threshold_high",
    "threshold_low",
    "return_to_zero",
    "leak_enable",
)


def load(case: str) -> tuple[Path, tuple[int, int, int], dict[str, Any]]:
    """The case folder (its ``model.pt`` checked to exist), its input shape and sinabs's ``result.json``."""
    d = reference_file(case, "model.pt").parent
    shape = tuple(json.loads(reference_file(case, "input_shape.json").read_text())["input_shape"])
    result = json.loads(reference_file(case, "result.json").read_text())
    return d, shape, result  # type: ignore[return-value]


@pytest.mark.parametrize("case", ACCEPTED)
def test_config_equals_sinabs(case: str) -> None:
    d, shape, result = load(case)
    theirs = json.loads(reference_file(case, "config.json").read_text())
    ours_result = compile_model(d / "model.pt", "speck2f", shape)
    ours = config_to_dict(ours_result.config)
    their_core = {int(k): v for k, v in result["layer2core_map"].items()}
    our_core = dict(enumerate(ours_result.placement.core_of))
    assert sorted(their_core) == sorted(our_core)
    layer_of_their_core = {c: i for i, c in their_core.items()}
    for i, core in our_core.items():
        a, b = ours["cnn_layers"][core], theirs["cnn_layers"][their_core[i]]
        for field in FIELDS:
            assert a[field] == b[field], f"{case} layer {i}: {field} differs"
        ours_dest = [(x["enable"], x["pooling"]) for x in a["destinations"] if x["enable"]]
        theirs_dest = [(x["enable"], x["pooling"]) for x in b["destinations"] if x["enable"]]
        assert ours_dest == theirs_dest
        # Destination layers: sinabs's core → its layer → our core for that layer.
        mapped = [our_core[layer_of_their_core[x["layer"]]] for x in b["destinations"] if x["enable"]]
        assert [x["layer"] for x in a["destinations"] if x["enable"]] == mapped
    # Memory per layer as sinabs computes it.
    for kind in ("kernel", "neuron", "bias"):
        want = [result["memory_summary"][kind][str(i)] for i in range(len(our_core))]
        got = [getattr(m, kind) for m in ours_result.check.fit_matrix.memory]
        assert got == want, kind
    # sinabs leaves monitor_enable false; we monitor the exit layers.
    assert ours_result.config.monitored_cores() == tuple(our_core[i] for i in result["exit_layers"])


def test_placement_deviates_from_sinabs_only_for_leak_layers() -> None:
    """sinabs puts every chain on cores 0, 1, 2, ...; we do too, except leak layers avoid cores 0/1 (§2.4)."""
    for case in ACCEPTED:
        d, shape, result = load(case)
        r = compile_model(d / "model.pt", "speck2f", shape)
        sinabs = tuple(result["layer2core_map"][str(i)] for i in range(len(r.placement.core_of)))
        if any(q.has_bias for q in r.qgraph.layers):
            assert r.placement.core_of == (2, 3, 4) and sinabs == (0, 1, 2), case
            assert not [w for w in r.warnings if w.rule == "leak_erratum"]
        else:
            assert r.placement.core_of == sinabs, case


def test_too_big_neurons_is_rejected_with_numbers() -> None:
    d, shape, result = load("too_big_neurons")
    assert result["memory_summary"]["neuron"]["0"] == 262144
    with pytest.raises(ChipConstraintError, match=r"layer '0'.*neuron memory 262144 words > 65536") as info:
        compile_model(d / "model.pt", "speck2f", shape)
    rules = [v.rule for v in info.value.violations]  # type: ignore[attr-defined]
    assert rules == ["memory_fit", "output_map"]
    assert "reduce out_channels from 16 to ≤ 4" in str(info.value)
    assert not isinstance(info.value, PlacementError)


def test_unsupported_relu_is_rejected() -> None:
    d, shape, _ = load("unsupported_relu")
    with pytest.raises(UnsupportedLayerError, match=r"'1' \(ReLU\).*IAFSqueeze"):
        compile_model(d / "model.pt", "speck2f", shape)
