"""Speck2f: 128×128 DVS + 9 CNN cores + readout (SPECK_SEMANTICS §1, §7; samna names §8)."""

from __future__ import annotations

from hwconfig.chips._common import COMMON_LIMITS, SPECK_CORES
from hwconfig.spec import ChipSpec

SPEC = ChipSpec(
    name="speck2f",
    description="SynSense Speck2f (DVS + 9 CNN cores + readout)",
    cores=SPECK_CORES,
    has_readout=True,  # §6
    readout_max_classes=15,  # §6: up to 15 classes (+1 idle)
    readout_class_erratum=True,  # §6: SD-err, DS-bug apply to 2e and 2f
    has_dvs=True,  # §5
    samna_module="speck2f",  # §8.1
    samna_device_types=("Speck2fDevKit", "Speck2fModuleDevKit"),  # §8.3
    samna_input_source_node="BasicSourceNode_speck2f_event_input_event",  # §8.2 (SB-2f)
    samna_output_sink_node="BasicSinkNode_speck2f_event_output_event",  # §8.2 (SB-2f)
    **COMMON_LIMITS,  # type: ignore[arg-type]
)
