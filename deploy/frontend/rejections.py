"""Handlers for constructs the chip cannot run: each reports one problem naming the fix.

:func:`module_rejections` maps module classes to their rejection; :mod:`deploy.frontend.handlers` merges it
into the module table (a class's most specific entry wins). A module class with no entry anywhere gets
:func:`unsupported_module`.
"""

from __future__ import annotations

from torch import nn

from deploy.frontend.values import Bad, Call, Handler, State, Value, consume

CONVERT_HINT = (
    "convert the ANN with `sinabs.from_torch.from_model(model, input_shape=..., batch_size=...)"
    ".spiking_model`, or replace it with `sinabs.layers.IAFSqueeze`"
)

NON_SPIKING_MODULES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.Sigmoid, nn.Tanh, nn.Softmax, nn.SiLU,
    nn.Hardtanh, nn.PReLU,
)  # fmt: skip

LEAKY = (
    "leaky neurons are not supported: chip neurons integrate without decay (only a constant "
    "per-channel leak from the bias); use sinabs.layers.IAFSqueeze and retrain"
)
CHANNEL_SHIFT = (
    "channel shifting is not supported as a module; to concatenate the outputs of spiking layers along "
    "the channels use `torch.cat([a, b], dim=1)` in forward(), which the compiler supports (each source "
    "lands at a feature offset on chip)"
)
UNSUPPORTED = (
    "is not supported by the chip compiler (supported: Conv2d, Linear, sinabs IAFSqueeze, SumPool2d, "
    "AvgPool2d, BatchNorm2d after a conv, Flatten, Dropout, Identity, Merge/+); remove or replace it"
)


def reject(text: str, *, leaky_by_name: bool = False) -> Handler:
    """A module handler reporting ``text`` (the weight layer feeding the module counts as used).

    Args:
        text: The problem and its fix.
        leaky_by_name: Report a class whose name contains "LIF" (a leaky neuron from outside sinabs) as
            leaky instead.
    """

    def handler(call: Call, st: State) -> Bad:
        consume(call.arg())
        named_leaky = leaky_by_name and "LIF" in type(call.target).__name__
        return st.problem(call.name, call.target, LEAKY if named_leaky else text)

    return handler


unsupported_module = reject(UNSUPPORTED, leaky_by_name=True)
"""The rejection of a module class that has no entry in the module table."""


def module_rejections() -> dict[type[nn.Module], Handler]:
    """Rejections by module class (sinabs is imported here, not at module import)."""
    import sinabs.layers as sl

    non_spiking = reject(f"non-spiking activation; the chip only has IAF neurons: {CONVERT_HINT}")
    recurrent = reject(
        "recurrent connections (loops) are not supported on chip; use a feed-forward IAFSqueeze"
    )
    max_pool = reject(
        "max pooling is not available on chip (pooling is sum pooling); use sinabs.layers.SumPool2d "
        "or nn.AvgPool2d with stride = kernel size and retrain",
        leaky_by_name=True,
    )
    adaptive = reject(
        "adaptive pooling is not supported; use nn.AvgPool2d with a fixed kernel = stride", leaky_by_name=True
    )
    return {
        sl.NeuromorphicReLU: non_spiking,
        **dict.fromkeys(NON_SPIKING_MODULES, non_spiking),
        **dict.fromkeys((sl.IAFRecurrent, sl.LIFRecurrent, sl.ALIFRecurrent, nn.RNNBase), recurrent),
        sl.LIF: reject(LEAKY),
        sl.ExpLeak: reject(LEAKY),
        sl.StatefulLayer: reject(
            "this neuron type is not supported on chip; use sinabs.layers.IAFSqueeze", leaky_by_name=True
        ),
        nn.MaxPool2d: max_pool,
        sl.SpikingMaxPooling2dLayer: max_pool,
        nn.ConvTranspose2d: reject(
            "transposed convolution is not available on chip; use nn.Conv2d (upsampling is not possible)",
            leaky_by_name=True,
        ),
        nn.AdaptiveAvgPool2d: adaptive,
        nn.AdaptiveMaxPool2d: adaptive,
        sl.ChannelShift: reject(CHANNEL_SHIFT),
    }


PLAIN_IAF = (
    "plain sinabs IAF is not accepted by the chip flow (sinabs requires the squeezed layout); "
    "use `sinabs.layers.IAFSqueeze(batch_size=..., ...)` with the same threshold, min_v_mem "
    "and reset"
)
"""Reported for ``sinabs.layers.IAF`` itself (an exact-class entry; its subclasses are leaky LIFs)."""


# --- functions and tensor methods -----------------------------------------------------------------


def non_spiking_function(call: Call, st: State) -> Bad:
    """``torch.relu(x)`` and friends in forward()."""
    consume(call.arg())
    name = getattr(call.target, "__name__", str(call.target))
    return st.problem(call.name, call.target, f"non-spiking activation `{name}` in forward(); {CONVERT_HINT}")


def unsupported_function(call: Call, st: State) -> Value:
    """Any other function in forward()."""
    x = call.arg()
    consume(x)
    if isinstance(x, Bad):
        return x
    name = getattr(call.target, "__name__", str(call.target))
    return st.problem(
        call.name,
        call.target,
        f"the operation `{name}` in forward() is not supported on chip (supported: modules, `+` of spike "
        "trains, flatten); express it with supported layers",
    )


def non_spiking_method(call: Call, st: State) -> Bad:
    """``x.relu()`` and friends in forward()."""
    consume(call.arg())
    return st.problem(call.name, call.target, f"non-spiking activation in forward(); {CONVERT_HINT}")


def unsupported_method(call: Call, st: State) -> Value:
    """Any other tensor method in forward()."""
    x = call.arg()
    consume(x)
    if isinstance(x, Bad):
        return x
    return st.problem(
        call.name, call.target, "this tensor method in forward() is not supported on chip; remove it"
    )
