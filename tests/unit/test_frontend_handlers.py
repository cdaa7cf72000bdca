"""deploy.frontend.handlers: module lookup along the MRO, exact entries, notes carried by LoadedModel."""

from __future__ import annotations

import pytest
import sinabs.layers as sl
import torch
from helpers.snn_models import iaf
from torch import nn

from deploy.errors import UnsupportedLayerError
from deploy.frontend import LoadedModel, load_model, normalize
from deploy.frontend import layers as frontend_layers
from deploy.frontend.handlers import function_handler, method_handler, module_handler
from deploy.frontend.rejections import unsupported_function, unsupported_method, unsupported_module
from deploy.frontend.spiking import spiking


class _MyConv(nn.Conv2d):
    """A user subclass of a supported torch layer."""


class _MySqueeze(sl.IAFSqueeze):
    """A user subclass of IAFSqueeze: it may change the neuron model, so it is not taken as IAFSqueeze."""


class _MyLIF(nn.Module):
    """A leaky neuron from outside sinabs, recognised by its name only."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_subclass_of_a_supported_layer_gets_its_handler() -> None:
    assert module_handler(_MyConv(2, 2, 1)) is frontend_layers.conv
    # sinabs's own subclasses of torch layers are traced as leaves: their most specific entry wins.
    assert module_handler(sl.FlattenTime()) is frontend_layers.passthrough  # not its base nn.Flatten
    assert module_handler(sl.SumPool2d(2)) is frontend_layers.pool  # not its base nn.LPPool2d
    assert module_handler(nn.LPPool2d(2, 2)) is unsupported_module


def test_exact_entries_do_not_apply_to_subclasses() -> None:
    assert module_handler(iaf()) is spiking
    assert module_handler(_MySqueeze(batch_size=1)) is not spiking
    with pytest.raises(UnsupportedLayerError, match=r"'1' \(IAF\): plain sinabs IAF is not accepted"):
        normalize(nn.Sequential(nn.Conv2d(2, 2, 1), sl.IAF()), (2, 4, 4))
    # sinabs's LIFSqueeze is no IAF subclass: its base LIF's entry applies.
    with pytest.raises(UnsupportedLayerError, match=r"'1' \(LIFSqueeze\): leaky neurons are not supported"):
        normalize(nn.Sequential(nn.Conv2d(2, 2, 1), sl.LIFSqueeze(tau_mem=5.0, batch_size=1)), (2, 4, 4))


def test_unknown_classes_fall_back() -> None:
    assert module_handler(nn.Upsample(scale_factor=2)) is unsupported_module
    assert module_handler(_MyLIF()) is unsupported_module  # reported as leaky by its name


def test_function_and_method_tables() -> None:
    assert function_handler(torch.cat) is frontend_layers.concat
    assert function_handler(torch.mul) is unsupported_function
    assert method_handler("view") is frontend_layers.flatten_method
    assert method_handler("permute") is unsupported_method


def test_notes_come_from_the_loaded_model() -> None:
    loaded = load_model(nn.Sequential(nn.Conv2d(2, 2, 1), iaf()), input_shape=(2, 4, 4))
    assert loaded.notes == ()
    noted = LoadedModel(
        loaded.module, None, loaded.input_shape, loaded.source, None, notes=("a loader fact",)
    )
    assert normalize(noted).notes == ("a loader fact",)
    assert normalize(loaded).notes == ()


def test_input_reaching_output_is_dropped_only_when_there_is_no_chip_layer() -> None:
    class _Skip(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c, self.s = nn.Conv2d(2, 2, 1), iaf()

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return self.s(self.c(x)), x

    with pytest.raises(UnsupportedLayerError) as err:
        normalize(_Skip(), (2, 4, 4))
    assert list(err.value.problems) == [
        "'output': the model input reaches the output without passing a chip layer; remove that path"
    ]
    with pytest.raises(UnsupportedLayerError) as err:
        normalize(nn.Sequential(nn.Identity()), (2, 4, 4))
    assert list(err.value.problems) == [
        "'<in-memory Sequential>': contains no Conv2d/Linear followed by IAFSqueeze, so there is nothing to "
        "put on the chip"
    ]
