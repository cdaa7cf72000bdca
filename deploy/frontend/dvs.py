"""The model input and the chip's DVS layer: a sinabs ``DVSLayer`` at the input, or input pooling.

Everything about the sensor side of a model lives here: recognising a ``DVSLayer`` (:func:`is_dvs_layer`,
the hook :mod:`deploy.frontend.handlers` checks before its table), its settings (:func:`dvs_layer`), and
the :class:`~deploy.graph.DvsInput` built from the input edges once the graph is known (:func:`dvs_input`).
"""

from __future__ import annotations

from torch import nn

from deploy.frontend.values import INPUT, Bad, Call, DvsSettings, InputEdge, Spikes, Src, State, Value, pair
from deploy.graph import DvsInput, Shape3


def is_dvs_layer(m: nn.Module) -> bool:
    """A sinabs ``DVSLayer`` (from ``sinabs.backend.dynapcnn``, which we never import: it needs samna)."""
    return type(m).__name__ == "DVSLayer" and all(
        hasattr(m, a) for a in ("pool_layer", "crop_layer", "flip_layer", "merge_polarities")
    )


def dvs_layer(call: Call, st: State) -> Value:
    """A ``DVSLayer`` fed by the model input: records its settings; its output is the pooled input."""
    path, m, x = call.name, call.target, call.arg()
    if isinstance(x, Bad):
        return x
    if not (isinstance(x, Spikes) and x.srcs == (Src(INPUT),) and len(x.shape) == 3):
        return st.problem(path, m, "a DVS layer must be the first module, fed directly by the model input")
    c, h, w = x.shape
    declared = tuple(getattr(m, "input_shape", ()) or ())
    if len(declared) == 3 and tuple(declared[1:]) != (h, w):
        return st.problem(
            path,
            m,
            f"expects {declared[1]}×{declared[2]} input but the input shape is {x.shape}; make them agree",
        )
    py, px = pair(m.pool_layer.kernel_size)
    merge = bool(m.merge_polarities)
    ph, pw = h // py, w // px
    crop_layer = m.crop_layer
    crop = (
        (int(crop_layer.top_crop), int(crop_layer.bottom_crop)),
        (int(crop_layer.left_crop), int(crop_layer.right_crop)),
    )
    crop_or_none = None if crop == ((0, ph), (0, pw)) else crop
    flip = m.flip_layer
    st.dvs = DvsSettings(
        merge_polarities=merge,
        crop=crop_or_none,
        flip_x=bool(flip.flip_x),
        flip_y=bool(flip.flip_y),
        swap_xy=bool(flip.swap_xy),
    )
    oc = 1 if merge else c
    oh, ow = (crop[0][1] - crop[0][0], crop[1][1] - crop[1][0]) if crop_or_none else (ph, pw)
    if flip.swap_xy:
        oh, ow = ow, oh
    shape = (oc, oh, ow)
    return Spikes((Src(INPUT, (py, px), (path,)),), shape, shape)


def dvs_input(in_shape: Shape3, st: State) -> DvsInput | None:
    """The chip's DVS layer for the input edges found (None when the input goes unpooled to the layers)."""
    input_edges = [e for e in st.edges if e.src == INPUT]
    pairs = {e.pair if isinstance(e, InputEdge) else (e.pooling, e.pooling) for e in input_edges}
    if st.dvs is None and all(p == (1, 1) for p in pairs):
        return None
    if len(pairs) > 1:
        st.add_problem(
            "pooling",
            f"'input': the input is pooled differently on its way to different layers "
            f"({sorted(pairs)}); the chip's DVS layer has one pooling for all destinations: use the "
            "same pooling on every branch",
        )
        return None
    if not pairs:
        return None
    (pooling,) = pairs
    modules = tuple(dict.fromkeys(m for e in input_edges for m in e.pool_modules))
    settings = st.dvs or DvsSettings(False, None, False, False, False)
    if st.dvs is not None and settings.crop is not None and len(modules) > 1:
        st.add_problem(
            "pooling",
            f"'{'+'.join(modules[1:])}' (pooling): pooling after a cropping DVS layer cannot be folded into "
            "the DVS pooling (the chip pools before it crops); move the pooling into the DVSLayer (pool=...)",
        )
        return None
    return DvsInput(
        input_shape=in_shape,
        pooling=pooling,
        merge_polarities=settings.merge_polarities,
        crop=settings.crop,
        flip_x=settings.flip_x,
        flip_y=settings.flip_y,
        swap_xy=settings.swap_xy,
        destinations=tuple(sorted({e.dst for e in input_edges})),
        module_path="+".join(modules),
    )
