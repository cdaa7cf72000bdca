#!/usr/bin/env bash
# Long fuzz run of tests/fuzz (issue 16): 50× the CI examples, random seeds. Usage: scripts/fuzz.sh [N|long]
# (N = multiplier of the CI example counts; default long). Extra pytest arguments follow.
set -euo pipefail
cd "$(dirname "$0")/.."
export SPECK_DEPLOY_FUZZ="${1:-long}"
shift || true
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec .venv/bin/python -m pytest -q tests/fuzz tests/unit/test_hostile_input.py -p no:cacheprovider "$@"
