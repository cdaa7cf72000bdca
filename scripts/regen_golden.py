"""Regenerate the golden configuration files in tests/golden/data/ (the only way they are written).

Usage: ``.venv/bin/python scripts/regen_golden.py [CASE ...]`` (default: every case). Review the diff before
committing: a changed golden file means the compiler's output changed.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "golden"))
sys.path.insert(0, str(REPO))

from golden_models import CASES, GOLDEN_DIR, compile_case, golden_document  # noqa: E402

from hwconfig.json_io import pretty_json  # noqa: E402


def main(names: list[str]) -> int:
    known = {c.name: c for c in CASES}
    unknown = [n for n in names if n not in known]
    if unknown:
        print(f"unknown case(s) {unknown}; cases: {sorted(known)}", file=sys.stderr)
        return 2
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for case in [known[n] for n in names] if names else CASES:
        doc = golden_document(case, compile_case(case))
        path = GOLDEN_DIR / f"{case.name}.json"
        path.write_text(pretty_json(doc) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(REPO)} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
