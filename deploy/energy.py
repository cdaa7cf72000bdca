"""Cited figures for energy estimates from synaptic operations.

One place for the numbers the report (:mod:`deploy.report.summary`) and the accuracy table
(``scripts/accuracy_table.py``) use, each with its source and whether it is an assumption.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """A cited number.

    Attributes:
        value: The number, in SI units (W, J).
        source: Where it comes from.
        assumption: True when the number is not a documented figure for this chip.
    """

    value: float
    source: str
    assumption: bool


RESTING_POWER = Figure(
    0.42e-3,
    "processor resting power 0.42 mW, Yao, Richter et al., Nature Communications 15:4464 (2024), abstract "
    "(SPECK_SEMANTICS §11, P-nc)",
    assumption=False,
)

ENERGY_PER_SYNOP = Figure(
    23.6e-12,
    "ASSUMPTION: no energy per SynOp is published for Speck (SPECK_SEMANTICS §11 has power figures only; "
    "open question 11). 23.6 pJ is the minimum synaptic-spike-operation energy of a different chip, Intel "
    "Loihi (Davies et al., 'Loihi: A Neuromorphic Manycore Processor with On-Chip Learning', IEEE Micro "
    "38(1), 2018), used as a stand-in for an asynchronous digital "
    "SNN core; treat the dynamic energy as an order of magnitude only",
    assumption=True,
)
