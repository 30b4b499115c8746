"""The experiment: a named search over a space, persisted in storage."""

from __future__ import annotations

import os
import secrets
import socket
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from typing_extensions import deprecated

from tunehooks import _export, _ranks, _trainings, asking, budgets, reporting
from tunehooks._deprecation import warn_renamed
from tunehooks.fidelity import Fidelity
from tunehooks.metrics import Budget, Metric, optimized_metrics, validate_metrics
from tunehooks.optimizers import Method, Optimizer, make_optimizer
from tunehooks.report_buffer import DEFAULT_REPORT_INTERVAL, ReportBuffer
from tunehooks.scheduler_config import rebuild_scheduler, scheduler_spec
from tunehooks.schedulers import Scheduler, as_scheduler, make_scheduler
from tunehooks.schedulers._common import best_paused
from tunehooks.space import SearchSpace
from tunehooks.storage import DuplicateExperimentError, open_storage
from tunehooks.storage._retry import DEFAULT_RETRY_TIMEOUT
from tunehooks.trial import (
    Decision,
    Suggestion,
    Trial,
    TrialRecord,
    TrialState,
)

if TYPE_CHECKING:
    import pandas as pd

    from tunehooks.storage import Storage

__all__ = ["CONFIG_VERSION", "ConfigMismatchError", "Experiment", "default_worker_id"]

CONFIG_VERSION = 1
_PENDING = (TrialState.QUEUED, TrialState.RUNNING)


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


def _in_memory(url: str) -> bool:
    """Whether ``url`` names this process's in-memory database (one per URL and process)."""
    u = url.strip().lower()
    return u.startswith("memory:") or u in ("sqlite://", "sqlite:///:memory:")


class Experiment:
    """A named search: space, metrics, budget, optimizer and scheduler, stored by name.

    Example:
        >>> import tunehooks as th
        >>> space = th.SearchSpace({"x": th.Float(-2.0, 2.0)})
        >>> exp = th.Experiment.create("doc-quadratic", space,
        ...     metrics=[th.Metric("loss", goal="minimize")], budget=th.Budget(trials=5),
        ...     storage="sqlite://", method="random", seed=1)
        >>> for trial in exp.ask_loop():
        ...     _ = trial.complete({"loss": trial.params["x"] ** 2})
        >>> len(exp.get_trials()), exp.best.value("loss") < 1.0
        (5, True)
    """

    def __init__(
        self,
        name: str,
        experiment_id: int,
        config: Mapping[str, Any],
        storage: Storage,
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
        self._scheduler: Scheduler | None = None if scheduler is None else as_scheduler(scheduler)
        self._buffers: dict[int, ReportBuffer] = {}
        self._objectives = tuple(m.name for m in optimized_metrics(self.metrics))
        weakref.finalize(self, reporting.write_at_exit, self._buffers, storage)
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
        ``sqlite:///tunehooks.db``. ``scheduler`` replaces the scheduler that
        ``fidelity`` selects (a custom rule, or a scripted one in tests); a new
        experiment stores its class and settings, so a process that loads it (a
        launched trial, another worker) decides with the same rule (see
        :mod:`tunehooks.scheduler_config`). ``seed``: without one, a new experiment draws a
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
        if scheduler is not None:  # stored: a process that loads it decides the same way
            config["scheduler"] = scheduler_spec(scheduler)
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
        except DuplicateExperimentError as e:
            if not load_if_exists:
                if _in_memory(store.url):
                    raise DuplicateExperimentError(
                        f"{e}; {store.url} is one in-memory database per process, shared by "
                        "every experiment created in it: give each experiment its own name"
                    ) from None
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
                config.pop("scheduler", None)
                if "scheduler" in exp.config:  # the one stored at creation stays
                    config["scheduler"] = exp.config["scheduler"]
                store.update_experiment_config(exp.id, config)
                return cls.load(name, storage=store.url, scheduler=scheduler)
            raise ConfigMismatchError(name, differ) from None
        return cls(name, exp_id, config, store, scheduler=scheduler)

    @classmethod
    def _as_created(
        cls,
        name: str,
        store: Storage,
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
                scheduler=self.scheduler,
            )
        return self._optimizer

    @property
    def scheduler(self) -> Scheduler:
        """The rule that stops (or pauses) trials: the one passed to :meth:`create` or
        :meth:`load`, else the one stored with the experiment, else the default of
        ``fidelity`` (see :mod:`tunehooks.scheduler_config`)."""
        if self._scheduler is None:
            spec = self.config.get("scheduler")
            if spec:
                rebuilt = rebuild_scheduler(
                    spec,
                    fidelity=self.fidelity,
                    metrics=self.metrics,
                    seed=self.seed,
                    experiment=self.name,
                )
                self._scheduler = None if rebuilt is None else as_scheduler(rebuilt)
        if self._scheduler is None:
            self._scheduler = self._default_scheduler()
        return self._scheduler

    def _default_scheduler(self) -> Scheduler:
        """The scheduler ``fidelity`` selects; with the Bayesian optimizer, a rung rule's
        STOP is checked with the model first (the model-guided scheduler)."""
        options = self.config.get("optimizer_options") or {}
        settings: dict[str, Any] = {}
        if "continue_chance" in options:  # deprecated there: the scheduler's setting
            settings["continue_chance"] = options["continue_chance"]
        return make_scheduler(
            self.fidelity,
            self.metrics,
            seed=self.seed,
            settings=settings,
            judge=self._chance_to_win if self.method is Method.BAYES else None,
        )

    def _chance_to_win(self, trial: TrialRecord, history: Sequence[TrialRecord]) -> float | None:
        chance = self.optimizer.chance_to_win(trial, history)
        return None if chance is None else float(chance)

    @property
    def objectives(self) -> list[Metric]:
        return optimized_metrics(self.metrics)

    # -- ask / tell ----------------------------------------------------------------------
    def ask(self, *, worker_id: str | None = None) -> Trial | None:
        """Start the next trial (queued ones first); ``None`` once the budget is spent."""
        self._flush_all()
        record = asking.ask(
            self.storage, self.id, self._propose, worker_id=worker_id or default_worker_id()
        )
        return None if record is None else Trial(self, record)

    def _propose(self, history: Sequence[TrialRecord]) -> Suggestion | None:
        for t in history:  # an interrupted trial resumes first (its cost is already counted)
            if t.interrupted:
                return Suggestion(t.params, t.fidelity, resume=t.id)
        n, cost = self.budget_used(history)
        if self.budget.cost is not None and cost >= self.budget.cost:
            return None
        more = self.budget.trials is None or n < self.budget.trials
        promotion = self.scheduler.promote(history, more_trials=more)
        if promotion is not None:  # a pausing scheduler resumes a trial
            return Suggestion(promotion.params, promotion.fidelity, resume=promotion.id)
        if not more:
            return None
        suggestion = self.optimizer.suggest(history)
        if suggestion is None:  # nothing new to try (a finite space, every configuration tried)
            last = self.scheduler.promote(history, more_trials=False)
            if last is None and self.fidelity is not None:  # the budget's rest: the best paused
                last = best_paused(history, self.fidelity.decision_metric(self.metrics))
            return None if last is None else Suggestion(last.params, last.fidelity, resume=last.id)
        if suggestion.fidelity is None and self.fidelity is not None:
            suggestion = Suggestion(suggestion.params, self.fidelity.max_resource)
        return suggestion

    def ask_loop(self, *, worker_id: str | None = None) -> Iterator[Trial]:
        """Ask for trials until the budget is spent (``for trial in exp.ask_loop():``).

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

    @deprecated("Experiment.trials() is deprecated: use Experiment.ask_loop()", category=None)
    def trials(self, *, worker_id: str | None = None) -> Iterator[Trial]:
        """Deprecated name of :meth:`ask_loop` (warns once)."""
        warn_renamed("Experiment.trials()", "Experiment.ask_loop()")
        return self.ask_loop(worker_id=worker_id)

    def _settle(self, trial: Trial, failure: str | None = None) -> None:
        reporting.settle_trial(self, trial, failure)

    def _abandon(self, trial: Trial, failure: str | None = None) -> None:
        reporting.abandon_trial(self, trial, failure)

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
        return self.finish_trial(trial_id, state, clean, error)

    def enqueue(self, params: Mapping[str, Any], *, fidelity: float | None = None) -> TrialRecord:
        """Queue a configuration to be evaluated before any suggestion."""
        cfg = self.space.validate(params)
        if fidelity is None and self.fidelity is not None:
            fidelity = self.fidelity.max_resource
        return self.storage.enqueue(self.id, cfg, fidelity)

    def trial_handle(self, trial_id: int) -> Trial:
        """A handle on an existing trial (e.g. one a launcher started), to report to and
        finish it; :meth:`get_trials` lists the stored records."""
        record = self.storage.get_trial(trial_id)
        if self.storage.experiment_of(trial_id) != self.id:
            raise ValueError(f"trial id {trial_id} does not belong to experiment {self.name!r}")
        return Trial(self, record)

    @deprecated(
        "Experiment.trial(id) is deprecated: use Experiment.trial_handle(id)", category=None
    )
    def trial(self, trial_id: int) -> Trial:
        """Deprecated name of :meth:`trial_handle` (warns once)."""
        warn_renamed("Experiment.trial(id)", "Experiment.trial_handle(id)")
        return self.trial_handle(trial_id)

    # -- TrialSink: the report path (tunehooks.reporting) ------------------------------------
    def read_trial(self, trial_id: int) -> TrialRecord:
        """The stored trial, after this process's waiting reports of it are written."""
        return reporting.read_trial(self, trial_id)

    def report_trial(
        self, record: TrialRecord, step: int, metrics: Mapping[str, float]
    ) -> Decision:
        """Take a report of a trial handed out as ``record``; the scheduler's decision."""
        return reporting.report_trial(self, record, step, metrics)

    def finish_trial(
        self,
        trial_id: int,
        state: TrialState,
        values: Mapping[str, float] | None,
        error: str | None,
        *,
        known: TrialRecord | None = None,
    ) -> TrialRecord:
        """Finish a trial (its waiting reports written with the end)."""
        return reporting.finish_trial(self, trial_id, state, values, error, known=known)

    # the old private names (other modules and branches call them)
    _record = read_trial
    _report = report_trial
    _finish = finish_trial

    def _flush(self, trial_id: int, *, retry_for: float | None = None) -> None:
        reporting.flush_trial(self, trial_id, retry_for=retry_for)

    def _flush_all(self) -> None:
        reporting.flush_all(self)

    # -- budget --------------------------------------------------------------------------
    def trial_cost(self, t: TrialRecord) -> float:
        """Cost of a trial in full-training equivalents (see :mod:`tunehooks.budgets`)."""
        return budgets.trial_cost(t, self.fidelity)

    def budget_used(self, history: Sequence[TrialRecord] | None = None) -> budgets.BudgetUse:
        """(first attempts started or queued, cost spent or committed)."""
        history = self.get_trials() if history is None else history
        return budgets.budget_used(history, self.fidelity)

    def budget_exhausted(self, history: Sequence[TrialRecord] | None = None) -> bool:
        return budgets.is_exhausted(self.budget, self.budget_used(history))

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
        from tunehooks.analysis._data import is_eligible

        return [t for t in history if is_eligible(t, self.metrics, self.fidelity)]

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
        from tunehooks.analysis.pareto import non_dominated

        objectives = self.objectives
        pts = [
            t
            for t in self._eligible(self.get_trials(with_reports=False))
            if all(m.name in t.values for m in objectives)
        ]
        values = [[float(t.values[m.name]) for m in objectives] for t in pts]
        return [pts[i] for i in non_dominated(values, [m.sign for m in objectives])]

    def to_records(self) -> list[dict[str, Any]]:
        """One flat dict per trial: number, state, params, final metrics, cost, error."""
        return _export.records(self.get_trials(), self.trial_cost)

    def to_dataframe(self) -> pd.DataFrame:
        """The trials as a pandas DataFrame (needs pandas)."""
        from tunehooks._extras import require

        pd = require("pandas", extra="analysis", what="to_dataframe")
        return pd.DataFrame(self.to_records())  # type: ignore[no-any-return]

    def to_csv(self, path: str | os.PathLike[str]) -> int:
        """Write the trials to a CSV file; return the number of rows."""
        return _export.write_csv(self.to_records(), path)

    def to_json(self, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """The experiment's configuration and every trial with its curve (``reports``:
        ``{"step": ..., <metric>: ...}``), as JSON-ready data; written to ``path`` if given.
        Non-finite numbers become ``null``."""
        trials = _export.json_trials(self.get_trials(), self.trial_cost)
        data = {"experiment": self.name, "config": self.config, "trials": trials}
        if path is not None:
            _export.write_json(data, path)
        return data

    def __repr__(self) -> str:
        return f"Experiment({self.name!r}, method={self.method.value}, storage={self.storage.shown_url!r})"

    # -- what a launcher uses (tunehooks.launch) -------------------------------------------
    def flush(self) -> None:
        """Write every report waiting in memory now."""
        self._flush_all()

    def heartbeat(self, trial_ids: Sequence[int]) -> None:
        """Note that the workers of ``trial_ids`` are alive (see ``tunehooks.launch.recovery``)."""
        self.storage.heartbeat(trial_ids)

    def requeue(self, trial_id: int) -> TrialRecord:
        """Queue a new attempt of a FAILED trial; it runs before any new suggestion."""
        return self.storage.requeue(trial_id)

    def count_trials(self) -> dict[TrialState, int]:
        """How many trials are in each state."""
        return self.storage.count_trials(self.id)

    def report_failure(self, trial_id: int) -> str | None:
        """Why reports of ``trial_id`` wait in memory (the database is unavailable), else ``None``."""
        buf = self._buffers.get(trial_id)
        return None if buf is None or buf.failing_since is None else buf.failure

    def drop_waiting_reports(self) -> int:
        """Forget the reports waiting in memory (they cannot be written); return how many."""
        n = sum(len(b.pending) for b in self._buffers.values())
        self._buffers.clear()
        return n


def new_seed() -> int:
    """A random seed for an experiment created without one (from the OS's entropy)."""
    return secrets.randbelow(2**31)


def _comparable(config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a continued experiment must keep (a custom scheduler is stored at
    creation and not compared: a relaunch may pass its own, used in its process)."""
    import json

    data = dict(json.loads(json.dumps(config, sort_keys=True)))
    data.pop("scheduler", None)
    return data
