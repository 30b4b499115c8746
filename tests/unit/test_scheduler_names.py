"""One way to name a scheduler: the registry (``fidelity.scheduler``'s names). One of
tunehooks' schedulers is stored by its registry name; a user's class by its import path;
the import paths stored before (``tunehooks.schedulers.asha:ASHAScheduler``) still load."""

from __future__ import annotations

import pytest

import tunehooks as th
from tunehooks.fidelity import SchedulerKind
from tunehooks.scheduler_config import rebuild_scheduler, scheduler_spec
from tunehooks.schedulers import ASHAScheduler, HyperbandScheduler, NoScheduler
from tunehooks.schedulers.registry import SCHEDULERS, scheduler_class, scheduler_name

FID = th.Fidelity(min=1, max=9, eta=3)
METRICS = [th.Metric("acc", goal="maximize")]


def test_every_registered_scheduler_is_named_by_the_registry() -> None:
    for kind, cls in SCHEDULERS.items():
        assert scheduler_name(cls) == kind.value
        assert scheduler_class(kind.value) is cls


def test_tunehooks_schedulers_are_stored_by_name() -> None:
    assert scheduler_spec(ASHAScheduler(FID, METRICS, seed=4))["class"] == "asha"
    assert scheduler_spec(NoScheduler()) == {"class": "none", "settings": {}}


@pytest.mark.parametrize(
    "stored",
    ["hyperband", "tunehooks.schedulers.hyperband:HyperbandScheduler"],  # today's, and before
)
def test_a_stored_name_or_import_path_rebuilds_the_scheduler(stored: str) -> None:
    rebuilt = rebuild_scheduler(
        {"class": stored, "settings": {"brackets": 2}},
        fidelity=FID,
        metrics=METRICS,
        seed=3,
        experiment="names",
    )
    assert isinstance(rebuilt, HyperbandScheduler)
    assert rebuilt.levels == HyperbandScheduler(FID, METRICS, seed=3, brackets=2).levels


def test_a_users_class_keeps_its_import_path() -> None:
    class Local:  # not importable: the path says where it was defined
        pass

    assert scheduler_name(Local).endswith(
        ":test_a_users_class_keeps_its_import_path.<locals>.Local"
    )
    assert scheduler_class("tunehooks.schedulers.base:NoScheduler") is NoScheduler


def test_an_unknown_name_lists_the_registered_ones() -> None:
    with pytest.raises(ValueError, match=r"scheduler 'ashaa' .*asha, hyperband") as e:
        scheduler_class("ashaa")
    assert "module:Class" in str(e.value)
    assert all(k.value in str(e.value) for k in SchedulerKind)
