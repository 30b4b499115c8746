#!/usr/bin/env bash
# The black-box benchmark in one command: set up the peers' venvs if missing, run every
# (method, problem, seed) not yet cached, time the asks, write bench/results/*.md.
#
#   bash bench/blackbox/run.sh                 # full: 60 evals, 8 seeds (HEBO 2, SMAC3 4)
#   bash bench/blackbox/run.sh --quick         # smoke: 2 seeds, 20 evals, 3 problems
#   bash bench/blackbox/run.sh --methods bayes --rerun   # rerun tunehooks' GP only
#   bash bench/blackbox/run.sh --overhead-only # only the ask timings
#   bash bench/blackbox/run.sh --score-only --evals 40   # only rewrite the tables (runs of 40 evals)
#   bash bench/blackbox/run.sh --at=HEAD --methods bayes   # tunehooks as committed, not the work tree
#
# Other options go to bench/blackbox/run.py (--seeds, --problems, --jobs, --hebo-seeds, ...).
# Finished runs are kept under bench/results/blackbox/raw/ (committed; rerun the command after a
# stop and it continues); --quick runs under bench/.cache/blackbox/ (gitignored).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} TF_ENABLE_ONEDNN_OPTS=0 PYTHONWARNINGS=ignore
RUN=1 OVERHEAD=1 QUICK=0 AT="" EVALS=60 prev="" args=()
for a in "$@"; do
  [ "$prev" = --evals ] && EVALS=$a
  prev=$a
  case $a in
    --evals=*) EVALS=${a#--evals=}; args+=("$a") ;;
    --overhead-only) RUN=0 ;;
    --score-only) RUN=0 OVERHEAD=0 ;;
    --no-overhead) OVERHEAD=0 ;;
    --at=*) AT=${a#--at=} ;;
    --quick) QUICK=1 OVERHEAD=0; args+=("$a") ;;
    *) args+=("$a") ;;
  esac
done
cmd="bash bench/blackbox/run.sh${*:+ $*}"
[ -d bench/.venvs/optuna ] && [ -d bench/.venvs/hebo ] && [ -d bench/.venvs/smac ] ||
  bash bench/blackbox/setup_peers.sh
if [ -n "$AT" ]; then
  # measure tunehooks as of one commit (e.g. the GP's latest), not the live working tree
  rev=$(git rev-parse --short "$AT")
  snap=bench/.cache/th-$rev
  if [ ! -f "$snap/REV" ]; then
    mkdir -p "$snap" && git archive "$rev" src/tunehooks | tar -x -C "$snap" && echo "$rev" > "$snap/REV"
  fi
  export PYTHONPATH="$PWD/$snap/src${PYTHONPATH:+:$PYTHONPATH}"
fi
if [ "$RUN" = 1 ]; then
  nice -n 10 "$PY" bench/blackbox/run.py ${args[@]+"${args[@]}"}
fi
if [ "$OVERHEAD" = 1 ]; then
  nice -n 10 "$PY" bench/blackbox/overhead.py --command "$cmd"
fi
if [ "$QUICK" = 1 ]; then
  nice -n 10 "$PY" bench/blackbox/score.py --evals 20 --raw bench/.cache/blackbox/raw --out bench/.cache/blackbox/quick.md --command "$cmd"
else
  nice -n 10 "$PY" bench/blackbox/score.py --evals "$EVALS" --command "$cmd"
fi
