"""The DDP hand-over of ask_loop() without processes: the rank from the environment, and the
storage channel played by one process as rank 0, then as rank 1 (the same job token)."""

from __future__ import annotations

import os

import pytest

from tunehooks import _ranks
from tunehooks.trial import TrialState

RANK_VARS = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "LOCAL_WORLD_SIZE")


@pytest.fixture
def clean_env(monkeypatch):
    for name in (*RANK_VARS, _ranks.ENV_DDP_JOB, "TORCHELASTIC_USE_AGENT_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(_ranks, "_index", {})
    return monkeypatch


@pytest.mark.parametrize(
    ("env", "rank"),
    [
        ({}, 0),
        ({"RANK": "3", "LOCAL_RANK": "1"}, 3),
        ({"LOCAL_RANK": "1"}, 1),
        ({"LOCAL_RANK": "0", "NODE_RANK": "1", "LOCAL_WORLD_SIZE": "2"}, 2),
    ],
)
def test_process_rank_reads_the_environment(clean_env, env, rank) -> None:
    for name, value in env.items():
        clean_env.setenv(name, value)
    assert _ranks.process_rank() == rank


def test_rank1_gets_rank0s_trials_through_the_storage(clean_env, make_exp) -> None:
    exp = make_exp(trials=2)
    zero = _ranks.TrialHandoff(exp, worker_id="h:1", assigned=None)
    job = os.environ[_ranks.ENV_DDP_JOB]
    assert job.startswith(f"{os.getpid()}-")
    asked = [zero.next_trial(), zero.next_trial()]
    asked[0].complete({"val_acc": 0.5})  # trained before rank 1 existed: rank 1 skips it
    assert zero.next_trial() is None  # the budget is spent
    clean_env.setattr(_ranks, "_index", {})
    clean_env.setenv("LOCAL_RANK", "1")
    one = _ranks.TrialHandoff(exp, worker_id="h:2", assigned=None)
    assert not one.writes and os.environ[_ranks.ENV_DDP_JOB] == job
    got = one.next_trial()
    assert got.id == asked[1].id and got.params == asked[1].params
    assert one.next_trial() is None
    assert [t.state for t in exp.get_trials()] == [TrialState.COMPLETED, TrialState.RUNNING]


def test_a_rank_without_any_channel_says_how_to_give_it_one(clean_env, make_exp) -> None:
    from tunehooks.context import NoTrialError

    exp = make_exp()
    clean_env.setenv("LOCAL_RANK", "1")
    with pytest.raises(NoTrialError, match="set TUNEHOOKS_DDP_JOB"):
        _ranks.TrialHandoff(exp, worker_id="h:2", assigned=None).next_trial()
    assert exp.get_trials() == []


def test_an_inherited_job_token_is_replaced_by_rank0(clean_env, make_exp) -> None:
    clean_env.setenv(_ranks.ENV_DDP_JOB, "1-abcd")  # another rank 0 (pid 1) set it
    _ranks.TrialHandoff(make_exp(), worker_id="h:1", assigned=None)
    assert os.environ[_ranks.ENV_DDP_JOB].startswith(f"{os.getpid()}-")
