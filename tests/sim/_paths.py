"""Paths the sim tests read, computed here rather than imported from the root ``conftest`` module.

Importing ``conftest`` by module name breaks collection as soon as a second ``conftest.py`` exists anywhere.
"""

from __future__ import annotations

from pathlib import Path

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
"""``/work/shared``: the folder beside the repository checkout."""

SINABS_REFERENCE = SHARED / "sinabs_reference"
"""The shared sinabs reference cases (``<case>/expected_sim_output.npz`` etc.)."""
