"""The experiment: a named search over a space, persisted in storage."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import secrets
import socket
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunehooks import _ranks, _trainings
from tunehooks.fidelity import Fidelity
from tunehooks.metrics import Budget, Metric, Strategy, optimized_metrics, validate_metrics
from tunehooks.optimizers import Method, Optimizer, make_optimizer
from tunehooks.optimizers.base import DEFAULT_CONTINUE_CHANCE
from tunehooks.report_buffer import DEFAULT_REPORT_INTERVAL, ReportBuffer
from tunehooks.schedulers import ModelGuidedScheduler, Scheduler, make_scheduler
from tunehooks.space import SearchSpace
from tunehooks.storage import DuplicateExperimentError, StorageUnavailableError, open_storage
from tunehooks.storage._retry import DEFAULT_RETRY_TIMEOUT
from tunehooks.trial import (
    CONFIG_ERROR_PREFIX,
    Decision,
    Suggestion,
    Trial,
    TrialRecord,
    TrialState,
    TrialStateError,
)

if TYPE_CHECKING:
    import pandas as pd

    from tunehooks.storage.sql import SQLStorage

__all__ = ["CONFIG_VERSION", "ConfigMismatchError", "Experiment", "default_worker_id"]

CONFIG_VERSION = 1
_PENDING = (TrialState.QUEUED, TrialState.RUNNING)
_REPORT_RETRY = 1.0  # seconds a write on the report path retries before its reports wait


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class ConfigMismatchError(ValueError):
    """``load_if_exists`` found the experiment stored with other settings than asked.

    ``differ`` names the settings that differ (``space``, ``metrics``, ``method``,
    ``seed``, ``fidelity``, ``optimizer_options``); only the budget may change
    when an experiment is continued.
    """

    def __init__(self, name: str, differ: Sequence[str]) -> None:
        self.name = name
        self.differ = tuple(differ)
        super().__init__(
            f"experiment {name!r} exists with a different {', '.join(differ)}; only the "
            "budget may change when an experiment is continued: choose another name "
            "or restore the stored settings (`tunehooks status` shows them)"
        )


class Experiment:
    """A named search: space, metrics, budget, optimizer and scheduler, stored by name.

    Example:
        >>> import tunehooks as th
        >>> space = th.SearchSpace({"x": th.Float(-2.0, 2.0)})
        >>> exp = th.Experiment.create("doc-quadratic", space,
        ...     metrics=[th.Metric("loss", goal="minimize")], budget=th.Budget(trials=5),
        ...     storage="sqlite://", method="random", seed=1)
        >>> for trial in exp.trials():
        ...     _ = trial.complete({"loss": trial.params["x"] ** 2})
        >>> len(exp.get_trials()), exp.best.value("loss") < 1.0
        (5, True)
    """

    def __init__(
        self,
        name: str,
        experiment_id: int,
        config: Mapping[str, Any],
        storage: SQLStorage,
        *,
        scheduler: Scheduler | None = None,
    ) -> None:
        self.name = name
        self.id = experiment_id
        self.config = dict(config)
        self.storage = storage
        self.space = SearchSpace.from_dict(config["space"])
        self.metrics = [Metric.from_dict(m) for m in config["metrics"]]
        self.budget = Budget.from_dict(config.get("budget"))
        self.method = Method(config.get("method", Method.BAYES.value))
        self.seed = int(config.get("seed", 0))
        fid = config.get("fidelity")
        self.fidelity = Fidelity.from_dict(fid) if fid else None
        self._optimizer: Optimizer | None = None
        self._scheduler: Scheduler | None = scheduler
        self._buffers: dict[int, ReportBuffer] = {}
        self._objectives = tuple(m.name for m in optimized_metrics(self.metrics))
        weakref.finalize(self, _write_at_exit, self._buffers, storage)
        self.report_interval = DEFAULT_REPORT_INTERVAL
        """Seconds a report may wait in memory before it is written (see
        :mod:`tunehooks.report_buffer`); 0 writes every report at once."""
        self.storage_timeout = DEFAULT_RETRY_TIMEOUT
        """Seconds reports may wait in memory while the database is unavailable (a
        server restart, a full disk) before ``report`` raises; training goes on meanwhile
        and the scheduler answers CONTINUE."""

    # -- creation ----------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        name: str,
        space: SearchSpace,
        *,
        metrics: Sequence[Metric],
        budget: Budget | None = None,
        storage: str | None = None,
        method: Method | str = Method.BAYES,
        seed: int | None = None,
        fidelity: Fidelity | None = None,
        optimizer_options: Mapping[str, Any] | None = None,
        load_if_exists: bool = False,
        scheduler: Scheduler | None = None,
    ) -> Experiment:
        """Create and store a new experiment (``load_if_exists``: reuse one of the same name).

        ``storage`` is a SQLAlchemy URL; by default ``$TUNEHOOKS_STORAGE`` or
        ``sqlite:///tunehooks.db``. ``scheduler`` replaces, in this process only,
        the scheduler that ``fidelity`` selects (a custom rule, or a scripted one
        in tests); it is not stored. ``seed``: without one, a new experiment draws a
        random seed and stores it (so two sweeps propose different first trials, and a
        relaunch or :meth:`load` continues the same sequence); ``load_if_exists`` then
        keeps the stored one. An explicit seed reproduces the suggestions.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"name: give the experiment a non-empty name (got {name!r})")
        if not isinstance(space, SearchSpace):
            raise TypeError(f"space: expected a SearchSpace (got {type(space).__name__})")
        metrics = validate_metrics(metrics)
        try:
            kind = method if isinstance(method, Method) else Method(str(method).lower())
        except ValueError:
            choices = ", ".join(m.value for m in Method)
            raise ValueError(f"method: expected one of {choices} (got {method!r})") from None
        if budget is None and kind is not Method.GRID:
            raise ValueError(
                f"budget: method {kind.value!r} needs a budget, e.g. budget=Budget(trials=40)"
            )
        if fidelity is not None and fidelity.metric not in (None, *(m.name for m in metrics)):
            raise ValueError(
                f"fidelity.metric {fidelity.metric!r} is not one of the metrics "
                f"{[m.name for m in metrics]}"
            )
        seed_given = seed
        if seed is None:
            seed = new_seed()
        config: dict[str, Any] = {
            "version": CONFIG_VERSION,
            "space": space.to_dict(),
            "metrics": [m.to_dict() for m in metrics],
            "budget": (budget or Budget()).to_dict(),
            "method": kind.value,
            "seed": int(seed),
            "fidelity": None if fidelity is None else fidelity.to_dict(),
            "optimizer_options": dict(optimizer_options or {}),
        }
        store = open_storage(storage)
        # build the optimizer once so that bad options fail before anything is stored
        make_optimizer(
            kind, space, metrics, seed=seed, options=config["optimizer_options"], fidelity=fidelity
        )
        if _ranks.process_rank() != 0:  # DDP: rank 0 creates it; the other ranks use it
            return _ranks.wait_for_experiment(
                lambda: cls._as_created(
                    name, store, config, scheduler, seed_given=seed_given is not None
                ),
                name=name,
            )
        try:
            exp_id = store.create_experiment(name, config)
        except DuplicateExperimentError:
            if not load_if_exists:
                raise
            exp = cls.load(name, storage=store.url, scheduler=scheduler)
            if seed_given is None:  # no seed asked for: continue with the stored one
                config["seed"] = exp.config.get("seed", 0)
            stored, wanted = _comparable(exp.config), _comparable(config)
            differ = sorted(
                k for k in stored.keys() | wanted.keys() if stored.get(k) != wanted.get(k)
            )
            if not differ:
                return exp
            if differ == ["budget"]:
                # a grown (or shrunk) budget continues the same experiment
                store.update_experiment_config(exp.id, config)
                return cls.load(name, storage=store.url, scheduler=scheduler)
            raise ConfigMismatchError(name, differ) from None
        return cls(name, exp_id, config, store, scheduler=scheduler)

    @classmethod
    def _as_created(
        cls,
        name: str,
        store: SQLStorage,
        config: dict[str, Any],
        scheduler: Scheduler | None,
        *,
        seed_given: bool,
    ) -> Experiment:
        """The stored experiment ``name`` with the settings ``config`` asks for (a DDP rank
        other than 0 uses what rank 0 created; only the budget may differ from what is stored,
        and without a seed asked for, every rank uses the one rank 0 drew)."""
        exp_id, stored = store.get_experiment(name)
        if not seed_given:
            config = {**config, "seed": stored.get("seed", 0)}
        differ = sorted(
            k
            for k in _comparable(stored).keys() | _comparable(config).keys()
            if k != "budget" and _comparable(stored).get(k) != _comparable(config).get(k)
        )
        if differ:
            raise ConfigMismatchError(name, differ)
        return cls(name, exp_id, config, store, scheduler=scheduler)

    @classmethod
    def load(
        cls, name: str, *, storage: str | None = None, scheduler: Scheduler | None = None
    ) -> Experiment:
        """Load a stored experiment by name (``scheduler``: see :meth:`create`)."""
        store = open_storage(storage)
        exp_id, config = store.get_experiment(name)
        if int(config.get("version", 0)) > CONFIG_VERSION:
            raise ValueError(
                f"experiment {name!r} was written by a newer tunehooks (config version "
                f"{config['version']}); upgrade tunehooks"
            )
        return cls(name, exp_id, config, store, scheduler=scheduler)

    # -- components ----------------------------------------------------------------------
    @property
    def optimizer(self) -> Optimizer:
        if self._optimizer is None:
            self._optimizer = make_optimizer(
                self.method,
                self.space,
                self.metrics,
                seed=self.seed,
                options=self.config.get("optimizer_options"),
                fidelity=self.fidelity,
            )
        return self._optimizer

    @property
    def scheduler(self) -> Scheduler:
        if self._scheduler is None:
            self._scheduler = self._default_scheduler()
        return self._scheduler

    def _default_scheduler(self) -> Scheduler:
        """The scheduler ``fidelity`` selects; with the multi-fidelity optimizer, a rung
        rule's STOP is checked with the model first (:class:`ModelGuidedScheduler`)."""
        base = make_scheduler(self.fidelity, self.metrics, seed=self.seed)
        if not getattr(base, "needs_history", True) or not getattr(base, "second_opinion", True):
            return base  # (a rule that declines the model's opinion says so)
        if self.method is not Method.BAYES:
            return base
        options = self.config.get("optimizer_options") or {}
        min_chance = float(options.get("continue_chance", DEFAULT_CONTINUE_CHANCE))
        if min_chance <= 0:
            return base
        # the optimizer (and torch) is only built once a rung rule says STOP
        return ModelGuidedScheduler(base, self._chance_to_win, min_chance=min_chance)

    def _chance_to_win(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> float | None:
        judge = getattr(self.optimizer, "chance_to_win", None)  # the multi-fidelity optimizer's
        chance = None if judge is None else judge(trial, history)
        return None if chance is None else float(chance)

    @property
    def objectives(self) -> list[Metric]:
        return optimized_metrics(self.metrics)

    # -- ask / tell ----------------------------------------------------------------------
    def ask(self, *, worker_id: str | None = None) -> Trial | None:
        """Start the next trial (queued ones first); ``None`` once the budget is spent."""
        self._flush_all()
        record = self.storage.ask(
            self.id, self._propose, worker_id=worker_id or default_worker_id()
        )
        return None if record is None else Trial(self, record)

    def _propose(self, history: Sequence[TrialRecord]) -> Suggestion | None:
        n, cost = self.budget_used(history)
        if self.budget.cost is not None and cost >= self.budget.cost:
            return None
        more = self.budget.trials is None or n < self.budget.trials
        promote = getattr(self.scheduler, "promote", None)  # promotion schedulers resume
        if promote is not None:
            promotion = promote(history, more_trials=more)
            if promotion is not None:
                return Suggestion(promotion.params, promotion.fidelity, resume=promotion.id)
        if not more:
            return None
        suggestion = self.optimizer.suggest(history)
        if suggestion is None:
            return None
        if suggestion.fidelity is None and self.fidelity is not None:
            fid = self.scheduler.new_trial_fidelity(history)
            suggestion = Suggestion(
                suggestion.params, fid if fid is not None else self.fidelity.max
            )
        return suggestion

    def trials(self, *, worker_id: str | None = None) -> Iterator[Trial]:
        """Trials until the budget is spent.

        A trial the loop body finished without calling ``complete()`` is completed
        with its last reports (FAILED when it reported no optimized metric, or when
        an integration saw its training raise). A trial still running when the loop
        is left early, by an exception or a ``break``, is FAILED: its reports describe
        a training that did not finish, so they never count as a result (Python does
        not tell a generator which of the two it was).

        Under DDP every rank runs this loop and gets the trial rank 0 asked for; only
        rank 0 asks and finishes trials (see :mod:`tunehooks._ranks`). With
        ``TUNEHOOKS_TRIAL_ID`` set for this experiment (``tunehooks launch``) the
        loop yields that trial alone.
        """
        hand = _ranks.TrialHandoff(
            self,
            worker_id=worker_id or default_worker_id(),
            assigned=_ranks.assigned_trial(self),
        )
        while True:
            trial = hand.next_trial()
            if trial is None:
                return
            _trainings.hold(trial.id)  # integrations leave COMPLETED to this loop
            try:
                yield trial
            except GeneratorExit:
                failure = _trainings.release(trial.id)
                if hand.writes:
                    self._abandon(trial, failure)
                raise
            failure = _trainings.release(trial.id)
            if hand.writes:
                self._settle(trial, failure)

    def _settle(self, trial: Trial, failure: str | None = None) -> None:
        record = self._record(trial.id)
        if record.state is not TrialState.RUNNING:
            return
        if failure is not None:  # a training in the body raised (seen by an integration)
            self._finish(trial.id, TrialState.FAILED, None, failure)
        elif all(record.last_reported(m.name) is not None for m in self.objectives):
            self._finish(trial.id, TrialState.COMPLETED, None, None)
        else:
            self._finish(
                trial.id,
                TrialState.FAILED,
                None,
                "the loop body neither completed nor reported this trial",
            )

    def _abandon(self, trial: Trial, failure: str | None = None) -> None:
        with contextlib.suppress(TrialStateError):  # finished elsewhere: nothing to write
            self._flush(trial.id)
        record = self.storage.get_trial(trial.id)
        if record.state is TrialState.RUNNING:
            self._finish(
                trial.id,
                TrialState.FAILED,
                None,
                failure
                or "the trials() loop was left (an exception or break) before this trial "
                "was completed; call trial.complete() or trial.fail() inside the loop",
            )

    def tell(
        self,
        trial: Trial | TrialRecord | int,
        values: Mapping[str, float] | None = None,
        *,
        state: TrialState = TrialState.COMPLETED,
        error: str | None = None,
    ) -> TrialRecord:
        """Finish a trial by handle, record or id (for ask/tell from another process)."""
        trial_id = trial if isinstance(trial, int) else trial.id
        clean = None if values is None else {k: float(v) for k, v in values.items()}
        return self._finish(trial_id, state, clean, error)

    def enqueue(self, params: Mapping[str, Any], *, fidelity: float | None = None) -> TrialRecord:
        """Queue a configuration to be evaluated before any suggestion."""
        cfg = self.space.validate(params)
        if fidelity is None and self.fidelity is not None:
            fidelity = self.fidelity.max
        return self.storage.enqueue(self.id, cfg, fidelity)

    def trial(self, trial_id: int) -> Trial:
        """A handle on an existing trial (e.g. one a launcher started)."""
        record = self.storage.get_trial(trial_id)
        if self.storage._experiment_of(trial_id) != self.id:
            raise ValueError(f"trial id {trial_id} does not belong to experiment {self.name!r}")
        return Trial(self, record)

    # -- TrialSink -----------------------------------------------------------------------
    def _record(self, trial_id: int) -> TrialRecord:
        self._flush(trial_id)
        return self.storage.get_trial(trial_id)

    def _report(self, record: TrialRecord, step: int, metrics: Mapping[str, float]) -> Decision:
        trial_id = record.id
        buf = self._buffers.get(trial_id)
        if buf is None:  # the handle's record is what storage held when it was handed out
            buf = ReportBuffer(record.number, record.last_step, knows_all=not record.reports)
            self._buffers[trial_id] = buf
        previous = buf.last_step
        buf.add(step, metrics)
        diverged = None
        for name in self._objectives:  # a plain loop: this runs every epoch
            if not math.isfinite(metrics.get(name, 0.0)):
                diverged = name
                break
        if diverged is not None:
            self._finish(
                trial_id,
                TrialState.FAILED,
                None,
                f"metric {diverged!r} is {metrics[diverged]} at step {step}; the training diverged",
            )
            return Decision.STOP
        sched = self.scheduler
        decides = getattr(sched, "decides", None)  # optional: skip the history load
        if not getattr(sched, "needs_history", True) or (
            decides is not None and not decides(buf.trial_number, step, previous)
        ):
            if buf.is_due(self.report_interval):
                self._write_soon(trial_id, buf)
            return Decision.CONTINUE
        # a decision point: every report of this process is in storage first (this
        # trial's own write raises when it was finished elsewhere; the others' never do)
        if not self._write_soon(trial_id, buf):
            return Decision.CONTINUE  # the database is unavailable: decide at the next point
        self._flush_all()
        history = self.storage.get_trials(self.id)
        current = next(t for t in history if t.id == trial_id)
        return sched.decide(current, history)

    def _write_soon(self, trial_id: int, buf: ReportBuffer) -> bool:
        """Write the trial's waiting reports; while the database is unavailable keep them
        (tried again after a backoff) and return False, for ``storage_timeout`` seconds."""
        now = time.monotonic()
        if now < buf.next_try:
            return False
        try:
            self._flush(trial_id, retry_for=_REPORT_RETRY)
        except StorageUnavailableError as e:
            if buf.write_failed(now, e.cause) >= self.storage_timeout:
                raise StorageUnavailableError(
                    f"{e}; {len(buf.pending)} reports of trial {buf.trial_number} could not "
                    f"be written for {self.storage_timeout:.0f}s",
                    transient=e.transient,
                    cause=e.cause,
                ) from None
            return False
        buf.write_worked()
        return True

    def _flush(self, trial_id: int, *, retry_for: float | None = None) -> None:
        """Write the trial's reports that wait in memory (see :mod:`tunehooks.report_buffer`)."""
        buf = self._buffers.get(trial_id)
        if buf is None or not buf.pending:
            return
        waiting = buf.take()
        try:
            self.storage.add_reports(trial_id, waiting, retry_for=retry_for)
        except TrialStateError:
            raise  # finished elsewhere: it accepts no more reports
        except BaseException as e:
            if _worth_retrying(e):  # the database is away: the next write retries them
                buf.put_back(waiting)
            raise  # anything else would fail again: it is raised once, never kept
        buf.write_worked()

    def _flush_all(self) -> None:
        """Write every trial's waiting reports; a trial finished elsewhere keeps them (its
        own next report or end is told so)."""
        for trial_id in list(self._buffers):
            with contextlib.suppress(TrialStateError):
                self._flush(trial_id)

    def _finish(
        self,
        trial_id: int,
        state: TrialState,
        values: Mapping[str, float] | None,
        error: str | None,
        *,
        known: TrialRecord | None = None,
    ) -> TrialRecord:
        """Finish the trial; ``known`` is the handle's snapshot of it (nothing is read back
        when every report went through this process)."""
        if state is TrialState.PRUNED and getattr(self.scheduler, "pauses", False):
            state = TrialState.PAUSED  # stopped at a rung: a promotion may resume it
        buf = self._buffers.pop(trial_id, None)
        waiting = buf.take() if buf is not None else []  # written with the trial's end
        if state is TrialState.COMPLETED or (
            state in (TrialState.PRUNED, TrialState.PAUSED) and values is None
        ):
            if buf is not None and buf.knows_all:  # every report went through this process
                last = buf.latest
            else:
                record = self.storage.get_trial(trial_id)
                if record.state.is_finished:
                    raise TrialStateError(
                        f"trial {record.number} is already {record.state.value}; "
                        f"it cannot become {state.value}"
                    )
                last = {
                    m.name: v
                    for m in self.metrics
                    if (v := record.last_reported(m.name)) is not None
                }
                for rep in waiting:  # newer than what is stored
                    last.update(rep.metrics)
            merged = {m.name: last[m.name] for m in self.metrics if m.name in last}
            merged.update(values or {})
            values = merged
            if state is TrialState.COMPLETED:
                problem = self._invalid_final(values)
                if problem:
                    state, error = TrialState.FAILED, problem
        snapshot = None
        if known is not None and buf is not None and buf.knows_all:
            # every report went through this process: the curve it kept is the stored one
            snapshot = dataclasses.replace(known, reports=tuple(buf.curve))
        try:
            return self.storage.finish(
                trial_id, state, values, error, reports=waiting, known=snapshot
            )
        except TrialStateError:
            raise  # finished elsewhere: it accepts no more reports
        except BaseException as e:
            if buf is not None and _worth_retrying(e):  # the database is away: keep them
                buf.put_back(waiting)
                self._buffers[trial_id] = buf
            raise

    def _invalid_final(self, values: Mapping[str, float]) -> str | None:
        for m in self.objectives:
            if m.name not in values:
                return (
                    f"completed without a value for the optimized metric {m.name!r} "
                    f"(got {sorted(values)}); pass it to complete() or report it"
                )
            if not math.isfinite(values[m.name]):
                return f"metric {m.name!r} is {values[m.name]}; a non-finite result cannot be best"
        return None

    # -- budget --------------------------------------------------------------------------
    def trial_cost(self, t: TrialRecord) -> float:
        """Cost of a trial in full-training equivalents (a configuration error costs none)."""
        if t.state is TrialState.QUEUED:
            return 0.0
        if t.state is TrialState.FAILED and (t.error or "").startswith(CONFIG_ERROR_PREFIX):
            return 0.0
        if self.fidelity is None:
            return 1.0
        full = self.fidelity.max
        if self.fidelity.tasks is not None:  # a task costs its fraction, whatever it reports
            return min(t.fidelity if t.fidelity is not None else full, full) / full
        if t.state is TrialState.RUNNING:
            used = t.fidelity if t.fidelity is not None else full
        elif t.reports:
            used = float(t.reports[-1].step)
        else:
            used = t.fidelity if t.fidelity is not None else full
        return min(used, full) / full

    def budget_used(self, history: Sequence[TrialRecord] | None = None) -> tuple[int, float]:
        """(first attempts started or queued, cost spent or committed)."""
        history = self.get_trials() if history is None else history
        n = sum(1 for t in history if t.attempt == 0)
        return n, sum(self.trial_cost(t) for t in history)

    def budget_exhausted(self, history: Sequence[TrialRecord] | None = None) -> bool:
        n, cost = self.budget_used(history)
        if self.budget.trials is not None and n >= self.budget.trials:
            return True
        return self.budget.cost is not None and cost >= self.budget.cost

    @property
    def is_done(self) -> bool:
        """The budget is spent and no trial is pending."""
        history = self.get_trials(with_reports=False)
        if not self.budget_exhausted(history) or any(t.state in _PENDING for t in history):
            return False
        if not any(t.state is TrialState.PAUSED for t in history):
            return True
        return self._propose(self.get_trials()) is None  # a paused trial may be promoted

    # -- results -------------------------------------------------------------------------
    def get_trials(
        self, *, states: Sequence[TrialState] | None = None, with_reports: bool = True
    ) -> list[TrialRecord]:
        """Every trial (or those in ``states``), in trial-number order."""
        self._flush_all()
        return self.storage.get_trials(self.id, states=states, with_reports=with_reports)

    def _eligible(self, history: Sequence[TrialRecord]) -> list[TrialRecord]:
        done = [t for t in history if t.state is TrialState.COMPLETED]
        if self.fidelity is not None:
            done = [t for t in done if (t.fidelity is None or t.fidelity >= self.fidelity.max)]
        constraints = [m for m in self.metrics if m.strategy is Strategy.CONSTRAINT]
        return [t for t in done if all(c.is_met(t.value(c.name)) for c in constraints)]

    @property
    def best(self) -> TrialRecord | None:
        """The best COMPLETED full-fidelity trial that meets every constraint."""
        objectives = self.objectives
        if len(objectives) > 1:
            raise ValueError(
                f"experiment {self.name!r} optimizes several metrics; use pareto_front()"
            )
        m = objectives[0]
        candidates = [
            t
            for t in self._eligible(self.get_trials(with_reports=False))
            if t.value(m.name) is not None
        ]
        if not candidates:
            return None
        return max(candidates, key=lambda t: (m.sign * float(t.values[m.name]), -t.number))

    def pareto_front(self) -> list[TrialRecord]:
        """Non-dominated COMPLETED trials over the optimized metrics (constraints met)."""
        objectives = self.objectives
        pts = [
            (t, [m.sign * float(t.values[m.name]) for m in objectives])
            for t in self._eligible(self.get_trials(with_reports=False))
            if all(m.name in t.values for m in objectives)
        ]
        front = []
        for t, y in pts:
            dominated = any(
                all(a >= b for a, b in zip(z, y, strict=True))
                and any(a > b for a, b in zip(z, y, strict=True))
                for _, z in pts
            )
            if not dominated:
                front.append(t)
        return front

    def to_records(self) -> list[dict[str, Any]]:
        """One flat dict per trial: number, state, params, final metrics, cost, error."""
        rows = []
        for t in self.get_trials():
            row: dict[str, Any] = {
                "number": t.number,
                "state": t.state.value,
                "fidelity": t.fidelity,
                "steps": len(t.reports),
                "last_step": t.last_step,
                "cost": self.trial_cost(t),
                "duration_s": t.duration,
                "worker": t.worker_id,
                "attempt": t.attempt,
            }
            row.update({f"param_{k}": v for k, v in t.params.items()})
            row.update({f"metric_{k}": v for k, v in t.values.items()})
            row["error"] = t.error
            rows.append(row)
        return rows

    def to_dataframe(self) -> pd.DataFrame:
        """The trials as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ModuleNotFoundError:
            raise ModuleNotFoundError(
                'to_dataframe needs pandas: pip install "tunehooks[analysis]"'
            ) from None
        return pd.DataFrame(self.to_records())

    def to_csv(self, path: str | os.PathLike[str]) -> int:
        """Write the trials to a CSV file; return the number of rows."""
        import csv

        rows = self.to_records()
        columns: list[str] = []
        for r in rows:
            columns.extend(k for k in r if k not in columns)
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        return len(rows)

    def to_json(self, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """The experiment's configuration and every trial with its curve (``reports``:
        ``{"step": ..., <metric>: ...}``), as JSON-ready data; written to ``path`` if given.
        Non-finite numbers become ``null``."""
        import json

        def num(v: Any) -> Any:
            return v if not isinstance(v, float) or math.isfinite(v) else None

        trials = [
            {
                "number": t.number,
                "state": t.state.value,
                "params": dict(t.params),
                "fidelity": t.fidelity,
                "values": {k: num(v) for k, v in t.values.items()},
                "cost": self.trial_cost(t),
                "error": t.error,
                "worker": t.worker_id,
                "attempt": t.attempt,
                "started_at": t.started_at,
                "finished_at": t.finished_at,
                "reports": [
                    {"step": r.step, **{k: num(v) for k, v in r.metrics.items()}} for r in t.reports
                ],
            }
            for t in self.get_trials()
        ]
        data = {"experiment": self.name, "config": self.config, "trials": trials}
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1, default=str)
        return data

    def __repr__(self) -> str:
        return f"Experiment({self.name!r}, method={self.method.value}, storage={self.storage.shown_url!r})"


def _worth_retrying(error: BaseException) -> bool:
    """Whether reports a write could not store are kept for the next write: when the
    database is unavailable (or the write was interrupted), never for an error that the
    same write would meet again, so a bad report can never block every later call."""
    return isinstance(error, StorageUnavailableError) or not isinstance(error, Exception)


def new_seed() -> int:
    """A random seed for an experiment created without one (from the OS's entropy)."""
    return secrets.randbelow(2**31)


def _comparable(config: Mapping[str, Any]) -> dict[str, Any]:
    import json

    return dict(json.loads(json.dumps(config, sort_keys=True)))


def _write_at_exit(buffers: dict[int, ReportBuffer], storage: SQLStorage) -> None:
    """Write the reports still in memory when an experiment object goes away (or the
    interpreter exits); a failure is logged, never raised from a finalizer."""
    for trial_id, buf in list(buffers.items()):
        if buf.pending:
            try:
                storage.add_reports(trial_id, buf.take())
            except Exception as e:  # a finished trial, a closed database
                logging.getLogger("tunehooks").warning(
                    "reports of trial %s could not be written at exit: %s", buf.trial_number, e
                )
