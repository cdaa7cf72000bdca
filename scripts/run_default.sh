#!/usr/bin/env bash
# The README's main command: set up .venv, then deploy the bundled default model as a simulated dry run.
# Writes deploy-out/default/ (config.json, output events, report.html, report.md, summary.json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/deploy-model models/digits_snn/model.pt --device speck --dry-run -o deploy-out/default --force "$@"
