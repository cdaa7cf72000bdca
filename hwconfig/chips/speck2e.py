"""Speck2e: same core architecture and datasheet as speck2f (SPECK_SEMANTICS intro, DS-ovw/DS-chg)."""

from __future__ import annotations

from hwconfig.chips._common import COMMON_LIMITS, SPECK_CORES
from hwconfig.spec import ChipSpec

SPEC = ChipSpec(
    name="speck2e",
    description="SynSense Speck2e (DVS + 9 CNN cores + readout)",
    cores=SPECK_CORES,
    has_readout=True,  # §6
    readout_max_classes=15,  # §6
    readout_class_erratum=True,  # §6: the erratum applies to 2e/et and 2f
    has_dvs=True,  # §5
    samna_module="speck2e",  # §8.1 "same class names under samna.speck2e.configuration"
    samna_device_types=("Speck2eDevKit", "Speck2eTestBoard"),  # §8.3
    samna_input_source_node="BasicSourceNode_speck2e_event_speck2e_input_event",  # §8.2 (SB-2e)
    samna_output_sink_node="BasicSinkNode_speck2e_event_output_event",  # §8.2 (SB-2e)
    **COMMON_LIMITS,  # type: ignore[arg-type]
)
