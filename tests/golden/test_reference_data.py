"""The reference data is committed with the tests, intact, and nothing reads data from outside the repository.

``tests/data/sinabs_reference/SHA256SUMS`` was written when the sinabs 3.1.3 cases were copied in (see the
folder's README.md); a changed or missing file fails here, and a missing file fails the test that reads it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from helpers.reference_data import (
    ACCEPTED_CASES,
    REJECTED_CASES,
    REPO,
    SIM_OUTPUT_CASES,
    SINABS_REFERENCE,
    reference_case,
    reference_file,
)


def _listed() -> dict[str, str]:
    sums = SINABS_REFERENCE / "SHA256SUMS"
    assert sums.is_file(), f"{sums} is missing (restore it with git checkout)"
    lines = sums.read_text().splitlines()
    return {name.removeprefix("./"): digest for digest, name in (line.split(maxsplit=1) for line in lines)}


def test_every_reference_file_is_present_and_unchanged() -> None:
    listed = _listed()
    present = {
        str(p.relative_to(SINABS_REFERENCE))
        for p in SINABS_REFERENCE.rglob("*")
        if p.is_file() and p.name not in ("README.md", "SHA256SUMS")
    }
    assert sorted(set(listed) - present) == [], "listed in SHA256SUMS but missing"
    assert sorted(present - set(listed)) == [], "present but not listed in SHA256SUMS"
    digest = {n: hashlib.sha256((SINABS_REFERENCE / n).read_bytes()).hexdigest() for n in listed}
    assert [n for n in listed if digest[n] != listed[n]] == [], "changed since they were copied in"


def test_every_case_has_the_files_its_readme_promises() -> None:
    common = ("model.pt", "state_dict.pt", "input_shape.json", "result.json")
    accepted = ("config.json", "input_raster.npy", "input_events.npy", "output.npy")
    listed = set(_listed())
    for case in ACCEPTED_CASES + REJECTED_CASES:
        want = common + (accepted if case in ACCEPTED_CASES else ())
        want += ("expected_sim_output.npz",) if case in SIM_OUTPUT_CASES else ()
        assert {f"{case}/{name}" for name in want} <= listed, case
    assert "sinabs 3.1.3" in (SINABS_REFERENCE / "README.md").read_text()


def test_a_missing_reference_file_fails_the_test_naming_the_path() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"tests/data/sinabs_reference/tiny_2layer/nope\.npy"):
        reference_file("tiny_2layer", "nope.npy")
    with pytest.raises(pytest.fail.Exception, match=r"reference case folder .*no_such_case is missing"):
        reference_case("no_such_case")


SHARED_PATTERN = re.compile(r"""["'/]shared["'/]|\.\./shared|/work/shared""")
"""A path into a ``shared`` folder beside the checkout (``REPO.parent / "shared"``, ``../shared``...)."""


@pytest.mark.parametrize("folder", ["tests", "scripts", "deploy", "hwconfig", "models"])
def test_no_code_reads_data_from_outside_the_repository(folder: str) -> None:
    hits = [
        f"{path.relative_to(REPO)}:{i}: {line.strip()}"
        for path in sorted((REPO / folder).rglob("*.py"))
        if path != Path(__file__).resolve()
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SHARED_PATTERN.search(line)
    ]
    assert hits == []
