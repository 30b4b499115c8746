#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --all
bash scripts/system-deps.sh
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TF_ENABLE_ONEDNN_OPTS=0 TF_CPP_MIN_LOG_LEVEL=2 PYTHONHASHSEED=0

echo "== lint: ruff, mypy"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy

if [ -d tests/mxnet ]; then
  echo "== MXNet tests (.venv-mxnet)"
  .venv-mxnet/bin/python -m pytest -q -p no:cacheprovider --run-slow tests/mxnet
fi

echo "== Ray cluster tests (two nodes, in a network namespace with only loopback)"
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  unshare -n sh -c 'ip link set lo up && exec .venv/bin/python -m pytest -q -p no:cacheprovider tests/ray'
else
  echo "skipped: a network namespace (unshare -n) needs root; the Ray tests need it"
fi

echo "== tests (.venv)"
.venv/bin/python -m pytest -q -p no:cacheprovider --run-slow --ignore=tests/mxnet --ignore=tests/ray tests "$@"
