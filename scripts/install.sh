#!/usr/bin/env bash
# Create (or reuse) .venv, install speck-deploy with its dev tools (torch pinned by constraints.txt) and
# compile the simulator kernels.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[dev]"
# Compile the simulator's numba kernels once now (numba caches them), so a user's first run is warm.
.venv/bin/python -m deploy.sim.warmup
