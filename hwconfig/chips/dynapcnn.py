"""DYNAP-CNN stand-alone devkit.

Same core architecture and memory table as Speck in sinabs (SPECK_SEMANTICS intro: ``get_constraints``).
It has no on-chip DVS sensor array of its own; DVS events come from an external sensor through the same
pre-processing layer, so the DVS layer is kept. The readout erratum is documented for 2e/2f only (§6), so it
is off here. sinabs 3.1.3 does not support this device (SB-fac); the samna names follow samna's
``dynapcnn`` module and ``DynapcnnDevKit`` device type.
"""

from __future__ import annotations

from hwconfig.chips._common import COMMON_LIMITS, SPECK_CORES
from hwconfig.spec import ChipSpec

SPEC = ChipSpec(
    name="dynapcnn",
    description="SynSense DYNAP-CNN development kit (9 CNN cores)",
    cores=SPECK_CORES,
    has_readout=True,
    readout_max_classes=15,
    readout_class_erratum=False,
    has_dvs=True,
    samna_module="dynapcnn",
    samna_device_types=("DynapcnnDevKit",),
    samna_input_source_node="BasicSourceNode_dynapcnn_event_input_event",
    samna_output_sink_node="BasicSinkNode_dynapcnn_event_output_event",
    **COMMON_LIMITS,  # type: ignore[arg-type]
)
