#!/usr/bin/env bash
# Set up the development environment: .venv (torch CPU pinned first, then the
# frameworks and tunehooks itself, editable). With --all also .venv-mxnet (MXNet
# 1.9.1 needs numpy 1.23, so it lives in its own environment) and a PostgreSQL
# server on loopback for the multi-machine storage tests.
# Idempotent: a stamp of the install inputs skips work already done.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
ALL=0
[ "${1:-}" = "--all" ] && ALL=1
export PIP_DISABLE_PIP_VERSION_CHECK=1

stamp_of() { cat pyproject.toml constraints.txt scripts/setup.sh "$@" | sha256sum | cut -c1-16; }

want=$(stamp_of)
if [ ! -f .venv/.stamp ] || [ "$(cat .venv/.stamp)" != "$want" ]; then
  echo "setup: creating .venv (torch CPU, Lightning, Keras/TensorFlow, gpytorch; a few minutes)"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q torch==2.13.0
  .venv/bin/python -m pip install -q -c constraints.txt -e ".[dev,lightning,tensorflow,postgres,analysis,launch,dashboard,migrate,mlflow,tensorboard]"
  # the transformers.Trainer integration's and the Ray executor's tests; torch pinned in the same command
  .venv/bin/python -m pip install -q -c constraints.txt torch==2.13.0 -e ".[transformers,ray]"
  # W&B and SigOpt programs run by `tunehooks launch` (tests/launch/test_client_programs.py);
  # sigopt pins urllib3<2 but what the launcher uses of it runs on urllib3 2: no downgrade
  .venv/bin/python -m pip install -q -c constraints.txt torch==2.13.0 -e ".[wandb]" \
    "backoff>=1.10,<2" "pypng>=0.0.20" "GitPython>=2" "click>=8"
  .venv/bin/python -m pip install -q --no-deps "sigopt==8.8.3"
  echo "$want" > .venv/.stamp
fi

if [ "$ALL" = 1 ]; then
  want_mx=$(stamp_of)
  if [ ! -f .venv-mxnet/.stamp ] || [ "$(cat .venv-mxnet/.stamp)" != "$want_mx" ]; then
    echo "setup: creating .venv-mxnet (MXNet 1.9.1, numpy 1.23.5)"
    [ -x .venv-mxnet/bin/python ] || "$PY" -m venv .venv-mxnet
    .venv-mxnet/bin/python -m pip install -q --upgrade pip
    .venv-mxnet/bin/python -m pip install -q torch==2.13.0
    .venv-mxnet/bin/python -m pip install -q -c constraints.txt "numpy==1.23.5" "mxnet==1.9.1" \
      scipy scikit-learn pytest pytest-timeout hypothesis
    .venv-mxnet/bin/python -m pip install -q -c constraints.txt --no-deps -e .
    .venv-mxnet/bin/python -m pip install -q -c constraints.txt "numpy==1.23.5" gpytorch "sqlalchemy>=2" pyyaml "pydantic>=2" rich
    echo "$want_mx" > .venv-mxnet/.stamp
  fi
fi
