#!/usr/bin/env bash
# The README's test command: set up .venv, then lint, type-check and run the test suite. Fails on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
echo "== ruff"
.venv/bin/ruff check hwconfig deploy tests scripts models
.venv/bin/ruff format --check hwconfig deploy tests scripts models
echo "== mypy"
.venv/bin/mypy hwconfig deploy
echo "== pytest"
.venv/bin/python -m pytest -q "$@"
