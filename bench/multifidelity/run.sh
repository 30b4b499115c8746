#!/usr/bin/env bash
# The multi-fidelity benchmark (issues 6 and 11): bash bench/multifidelity/run.sh [run.py options]
# Installs the peers' venvs if missing (setup_peers.sh), runs every method on every table
# of bench/data (default --table all; cached, resumable), writes
# bench/results/multifidelity/<table>.md and bench/results/multifidelity.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
bash bench/multifidelity/setup_peers.sh
nice .venv/bin/python -P bench/multifidelity/run.py "$@"
