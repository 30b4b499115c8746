#!/usr/bin/env bash
# Create one virtual environment per black-box peer under bench/.venvs/<peer>.
# Peers never share tunehooks' environment: the benchmark talks to each through
# a subprocess (bench/blackbox/peer_worker.py, JSON lines on stdin/stdout).
# Idempotent: a venv whose .ok stamp exists is kept. A peer that fails to
# install leaves bench/.venvs/<peer>/FAILED with pip's last lines; the results
# table reports it.
# Usage: bash bench/blackbox/setup_peers.sh [optuna] [hebo] [smac] [ax]
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
ROOT=bench/.venvs
mkdir -p "$ROOT"
export PIP_DISABLE_PIP_VERSION_CHECK=1
peers=("$@")
[ ${#peers[@]} -eq 0 ] && peers=(optuna hebo smac ax)

install_peer() {
  local name=$1; shift
  local dir=$ROOT/$name
  [ -f "$dir/.ok" ] && { echo "setup_peers: $name ready"; return 0; }
  echo "setup_peers: creating $dir"
  rm -rf "$dir"
  "$PY" -m venv "$dir" || return 1
  if "$dir/bin/python" -m pip install -q --upgrade pip >"$dir/pip.log" 2>&1 &&
     "$dir/bin/python" -m pip install -q -c constraints.txt "$@" >>"$dir/pip.log" 2>&1; then
    "$dir/bin/python" -m pip freeze > "$dir/freeze.txt"
    touch "$dir/.ok"
    echo "setup_peers: $name ok"
  else
    tail -n 20 "$dir/pip.log" > "$dir/FAILED"
    echo "setup_peers: $name FAILED (see $dir/FAILED)"
  fi
}

for p in "${peers[@]}"; do
  case $p in
    optuna) install_peer optuna torch==2.13.0 "optuna>=4.5" greenlet numpy scipy ;;
    hebo) install_peer hebo torch==2.13.0 hebo ;;
    smac) install_peer smac smac ;;
    ax) install_peer ax torch==2.13.0 ax-platform ;;
    *) echo "setup_peers: unknown peer $p (known: optuna hebo smac ax)"; exit 2 ;;
  esac
done
