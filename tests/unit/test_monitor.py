"""monitor= (sinabs's monitor_layers forms) and the config_modifier hook (issue #12).

Expected monitor sets follow sinabs 3.1.3 ``dynapcnn_network.py::_make_config`` (None → exit layers,
"all" → every non-DVS layer, -1 → exit layers, "dvs" → ``dvs_layer.monitor_enable``) and
``chips/dynapcnn.py::monitor_layers`` (warn when a monitored layer has a destination with pooling ≠ 1).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from helpers.snn_models import build_conv_pool_linear, seeded
from torch import nn

from deploy.errors import DeployError
from deploy.options import CompileOptions, MonitorSpec
from deploy.pipeline import compile_model
from deploy.sim.events import make_events
from deploy.sim.simulator import simulate
from hwconfig.config import ChipConfig
from hwconfig.errors import ConfigError


def model() -> nn.Module:
    """Three layers; layer 0 pools by 2 on its way to layer 1."""
    m = seeded(build_conv_pool_linear, 3)
    with torch.no_grad():
        for conv in m:
            if isinstance(conv, (nn.Conv2d, nn.Linear)):
                conv.weight.abs_()
    return m


def compiled(**kw: object):  # type: ignore[no-untyped-def]
    return compile_model(model(), "speck2f", (2, 16, 16), CompileOptions(**kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("monitor", "layers"),
    [
        (None, [2]),
        ([], []),
        ("all", [0, 1, 2]),
        ([-1], [2]),
        ([0, -1], [0, 2]),
        (1, [1]),
        (["all"], [0, 1, 2]),
    ],
)
def test_monitor_forms_select_the_cores_sinabs_selects(monitor: MonitorSpec, layers: list[int]) -> None:
    r = compiled(monitor=monitor)
    assert r.config.monitored_cores() == tuple(sorted(r.placement.core_of[i] for i in layers))
    assert r.config.dvs_layer.monitor_enable is False


def test_monitoring_a_pooled_layer_warns() -> None:
    warned = [w for w in compiled(monitor=[0, 1]).warnings if w.rule == "monitor_pooling"]
    assert [w.layer for w in warned] == ["0"]
    assert "before pooling" in warned[0].message
    assert not [w for w in compiled().warnings if w.rule == "monitor_pooling"]


def test_monitor_dvs() -> None:
    r = compiled(monitor=["dvs"], dvs_input=True)
    assert r.config.dvs_layer.monitor_enable is True and r.config.monitored_cores() == ()
    with pytest.raises(DeployError, match="'dvs' asks for the DVS layer but the model has none"):
        compiled(monitor="dvs")


@pytest.mark.parametrize("bad", [[7], ["conv"], [-2], True])
def test_unknown_monitor_entries_are_named(bad: MonitorSpec) -> None:
    with pytest.raises(DeployError, match=r"monitor: .* not understood; use layer indices 0\.\.2"):
        compiled(monitor=bad)


def test_simulator_returns_the_events_of_every_monitored_core() -> None:
    r = compiled(monitor="all")
    rng = np.random.default_rng(0)
    n = 3000
    entry = r.placement.core_of[0]
    ev = make_events(
        np.sort(rng.integers(0, 50_000, n)), entry, rng.integers(0, 2, n), *rng.integers(0, 16, (2, n))
    )
    out = simulate(r.config, ev)
    assert set(np.unique(out.events["layer"])) == set(r.config.monitored_cores())
    # Monitoring does not change the computation: the exit core's events are the same with default monitor.
    exit_core = r.placement.core_of[2]
    default = simulate(compiled().config, ev).events
    assert np.array_equal(out.events[out.events["layer"] == exit_core], default)


def test_config_modifier_runs_last_and_is_validated() -> None:
    def raise_threshold(config: ChipConfig) -> ChipConfig:
        core = config.monitored_cores()[0]
        layer = dataclasses.replace(config.cnn_layers[core], threshold_high=1000)
        return config.with_layer(core, layer)

    r = compiled(config_modifier=raise_threshold)
    assert r.config.cnn_layers[r.config.monitored_cores()[0]].threshold_high == 1000

    def break_it(config: ChipConfig) -> ChipConfig:
        core = config.monitored_cores()[0]
        return config.with_layer(core, dataclasses.replace(config.cnn_layers[core], threshold_low=0))

    with pytest.raises(ConfigError, match=r"after config_modifier: cnn_layers\[\d\]\.threshold_low"):
        compiled(config_modifier=break_it)
    with pytest.raises(DeployError, match="config_modifier returned NoneType, not a ChipConfig"):
        compiled(config_modifier=lambda c: None)
