#!/usr/bin/env bash
# Runs every peer on every table (resumable: cached runs are kept), cheapest first:
# 1 worker x 10 seeds, then 4 workers x 10 seeds, then SMAC3 (slow: a random forest
# refit per ask) with 5 seeds, 1 and 4 workers. Writes the result tables after each step.
# Usage: bash bench/multifidelity/run_peers.sh [python]
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
PY=${1:-.venv/bin/python}
CHEAP=random-search,optuna-tpe-hyperband,optuna-random-sha,synetune-asha-stop,synetune-asha-promo,synetune-hyperband,synetune-bohb,synetune-bohb-async,dehb
nice "$PY" -P bench/multifidelity/run.py --table all --workers 1 --seeds 10 --jobs 3 --methods "$CHEAP"
nice "$PY" -P bench/multifidelity/run.py --table all --workers 4 --seeds 10 --jobs 3 --methods "$CHEAP"
nice "$PY" -P bench/multifidelity/run.py --table all --workers 1 --seeds 5 --jobs 3 --methods smac-hyperband
nice "$PY" -P bench/multifidelity/run.py --table all --workers 4 --seeds 5 --jobs 3 --methods smac-hyperband
