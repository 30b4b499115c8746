#!/usr/bin/env bash
# One virtual environment per multi-fidelity peer under bench/.venvs/mf-<peer>.
# Peers never share tunehooks' environment: bench/multifidelity/peers.py runs
# inside each venv as a subprocess and writes its traces as JSON.
# Idempotent: a venv whose .ok stamp exists is kept. A peer that fails to
# install leaves bench/.venvs/mf-<peer>/FAILED with pip's last lines; the
# results table reports it.
# Usage: bash bench/multifidelity/setup_peers.sh [optuna] [dehb] [synetune] [smac]
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
ROOT=bench/.venvs
mkdir -p "$ROOT"
export PIP_DISABLE_PIP_VERSION_CHECK=1
peers=("$@")
[ ${#peers[@]} -eq 0 ] && peers=(optuna dehb synetune smac)

install_peer() {
  local name=mf-$1; shift
  local dir=$ROOT/$name
  [ -f "$dir/.ok" ] && { echo "setup_peers: $name ready"; return 0; }
  echo "setup_peers: creating $dir"
  rm -rf "$dir"
  "$PY" -m venv "$dir" || return 1
  if "$dir/bin/python" -m pip install -q --upgrade pip >"$dir/pip.log" 2>&1 &&
     nice "$dir/bin/python" -m pip install -q -c constraints.txt "$@" >>"$dir/pip.log" 2>&1; then
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
    optuna) install_peer optuna "optuna>=4.5" numpy ;;
    dehb) install_peer dehb "dehb==0.1.2" numpy ;;
    synetune) install_peer synetune "syne-tune==0.13.0" "numpy<1.27" scipy autograd pandas scikit-learn statsmodels ;;
    smac) install_peer smac smac numpy ;;
    *) echo "setup_peers: unknown peer $p (known: optuna dehb synetune smac)"; exit 2 ;;
  esac
done
