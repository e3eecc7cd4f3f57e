"""``run_study``: create or resume a study, bound its LRs by range tests, run its trials."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import optuna
import torch

from lrtune._exceptions import StudyError
from lrtune.examples import EXAMPLES
from lrtune.finder._options import resolve_device
from lrtune.optimizers import OPTIMIZERS, check_installed
from lrtune.storage import open_study_storage, resolve_url
from lrtune.storage._locks import advisory_lock, lock_key, single_sqlite_worker
from lrtune.storage._studies import Heartbeat
from lrtune.storage._url import grpc_address
from lrtune.study._bounds import (
    LR_MARGIN,
    LRBounds,
    Margin,
    fixed_bounds,
    lr_free_bounds,
    margin_pair,
    run_range_tests,
)
from lrtune.study._choices import PRUNERS, SAMPLERS, StudySetup
from lrtune.study._loop import Callback, StudyStopped, run_trials
from lrtune.study._objective import OBJECTIVES, Objective, TrialObjective
from lrtune.study._settings import StudySettings, has_settings, read_settings, write_settings
from lrtune.study._space import DEFAULT_OPTIMIZERS, DEFAULT_SCHEDULES, SearchSpace, Warmup
from lrtune.study._warm_start import warm_start_params
from lrtune.tasks import Task, load_task
from lrtune.tasks._loading import _split_attr
from lrtune.tasks._task import Direction
from lrtune.training._train import steps_per_epoch

logger = logging.getLogger(__name__)


def run_study(
    task: Task | str,
    *,
    n_trials: int,
    storage: str | optuna.storages.BaseStorage | None = None,
    study_name: str | None = None,
    optimizers: Sequence[str] | None = None,
    schedules: Sequence[str] | None = None,
    epochs: int | None = None,
    objective: Objective = "val_loss",
    pruner: str = "median",
    sampler: str = "tpe",
    seed: int = 0,
    warmup: Warmup = "off",
    fixed: Mapping[str, Any] | None = None,
    ranges: Mapping[str, Sequence[float]] | None = None,
    lr_margin: float | Sequence[float] = LR_MARGIN,
    warm_start: bool = True,
    timeout: float | None = None,
    device: str = "auto",
    finder_options: Mapping[str, Any] | None = None,
    callbacks: Sequence[Callback] = (),
    heartbeat: Heartbeat | None = Heartbeat(),  # noqa: B008 - frozen, shared safely
    create_only: bool = False,
) -> optuna.Study:
    """Run (or resume) a study of optimizer x schedule x parameters on ``task``.

    Before the first trial, one range test per optimizer (stored like any range test)
    bounds its learning rate: the study searches ``[min_lr / below, max_lr * above]``
    log-uniformly, with ``(below, above) = lr_margin`` (``(10, 2)`` by default). An LR
    range given in ``ranges`` (``{"sgd.lr": (1e-4, 1.0)}``) replaces that optimizer's
    range test; a learning-rate-free optimizer (``prodigy``, ``dadapt-adam``, ``dog``)
    gets none and searches ``[default_lr / 10, default_lr * 10]``. The settings and
    bounds are stored on the study; calling again with the same name resumes it until
    ``n_trials`` trials have finished (complete or pruned).

    Workers (``run_worker``, ``lrtune worker``) may run the same study at the same time,
    on other machines, through a shared PostgreSQL database; the budget holds across all
    of them. A SIGTERM or SIGINT fails the running trial, queues its configuration for
    retry and raises ``StudyStopped`` (a ``KeyboardInterrupt`` that names the signal and
    the finished trials, as ``run_worker`` returns them): no trial is left RUNNING.

    Args:
        task: A ``Task``, or a task spec (``path/to/task.py``, a module, an example name).
        n_trials: The study's total budget of finished trials.
        storage: A SQLAlchemy URL or an Optuna storage; default as ``lrtune.storage``
            (``LRTUNE_STORAGE``, else ``sqlite:///lrtune.db``).
        study_name: Default: the task's name.
        optimizers: Candidate optimizers (default: ``DEFAULT_OPTIMIZERS``, torch's own).
        schedules: Candidate schedules (default: all of ``SCHEDULES``).
        epochs: The length of every trial (default: the task's).
        objective: ``"val_loss"`` (minimized) or ``"metric"`` (the task's, in its direction).
        pruner: ``"median"``, ``"hyperband"`` or ``"none"``.
        sampler: ``"tpe"`` (multivariate, grouped) or ``"random"``.
        seed: Seeds the sampler, the range tests and each trial (``seed + trial.number``).
        warmup: ``"off"``, ``"on"`` or ``"search"``: a linear warmup before the schedule.
        fixed: Parameters held at a value, by full name (``{"sgd.momentum": 0.9}``).
        ranges: Parameters searched over another range, by full name.
        lr_margin: How far the searched LR reaches below ``min_lr`` and above ``max_lr``:
            a pair of factors, or one for both sides.
        warm_start: Enqueue a few sensible configurations first (new studies only).
        timeout: Stop starting trials after this many seconds.
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda:1"``, ...
        finder_options: Options for the range tests (``num_iter``, ``end_lr``, ...).
        callbacks: Called after each finished trial, as ``study.optimize`` calls them.
        heartbeat: Heartbeats of running trials, so that a killed worker's trial is
            retried (for a storage URL; an Optuna storage object keeps its own).
        create_only: Create (or check) the study, its range tests and warm starts, and
            return without running trials: workers will run them.
    """
    request = _Request.check(locals())
    source = task if isinstance(task, str) else None
    task = load_task(task) if isinstance(task, str) else task
    settings = request.settings(task, source)
    check_installed(settings.space.optimizers)
    name = study_name or task.name
    url = None if isinstance(storage, optuna.storages.BaseStorage) else resolve_url(storage)
    with single_sqlite_worker(url) if url else nullcontext():
        backend = _backend(storage, url, heartbeat)
        study = _open_study(request, settings, backend, name)
        # Two creators of one study at once: the second waits, then finds it created.
        with advisory_lock(backend, lock_key(f"create:{name}")):
            settings = _prepare(study, settings, task, request, _range_test_store(url))
        if not create_only:
            _optimize(study, settings, task, request, callbacks)
    return study


@dataclass(frozen=True)
class _Request:
    """``run_study``'s arguments, checked before anything is loaded or opened."""

    n_trials: int
    optimizers: tuple[str, ...]
    schedules: tuple[str, ...]
    epochs: int | None
    objective: Objective
    pruner: str
    sampler: str
    seed: int
    warmup: Warmup
    fixed: dict[str, Any]
    ranges: dict[str, tuple[float, float]]
    lr_margin: Margin
    warm_start: bool
    timeout: float | None
    device: torch.device
    finder_options: dict[str, Any]

    @classmethod
    def check(cls, arguments: Mapping[str, Any]) -> _Request:
        _check_count("n_trials", arguments["n_trials"])
        if arguments["epochs"] is not None:
            _check_count("epochs", arguments["epochs"])
        if arguments["objective"] not in OBJECTIVES:
            raise ValueError(
                f"objective must be one of {OBJECTIVES}, but got {arguments['objective']!r}."
            )
        PRUNERS.get(arguments["pruner"])
        SAMPLERS.get(arguments["sampler"])
        _check_timeout(arguments["timeout"])
        _check_seed(arguments["seed"])
        ranges = {k: _pair(k, v) for k, v in (arguments["ranges"] or {}).items()}
        return cls(
            n_trials=arguments["n_trials"],
            optimizers=tuple(arguments["optimizers"] or DEFAULT_OPTIMIZERS),
            schedules=tuple(arguments["schedules"] or DEFAULT_SCHEDULES),
            epochs=arguments["epochs"],
            objective=arguments["objective"],
            pruner=arguments["pruner"].lower(),
            sampler=arguments["sampler"].lower(),
            seed=arguments["seed"],
            warmup=arguments["warmup"],
            fixed=dict(arguments["fixed"] or {}),
            ranges=ranges,
            lr_margin=margin_pair(arguments["lr_margin"]),
            warm_start=bool(arguments["warm_start"]),
            timeout=arguments["timeout"],
            device=resolve_device(arguments["device"], torch.nn.Module()),
            finder_options=dict(arguments["finder_options"] or {}),
        )

    def space(self, bounds: Mapping[str, LRBounds]) -> SearchSpace:
        lr = {name: (b.low, b.high) for name, b in bounds.items()}
        return SearchSpace(
            self.optimizers, self.schedules, lr, self.warmup, self.fixed, self.ranges
        )

    def given_bounds(self) -> dict[str, LRBounds]:
        """Bounds that need no range test: the user's ``ranges["<optimizer>.lr"]``, else a
        learning-rate-free optimizer's own; a placeholder for the others."""
        return {name: self._given_bounds(name) for name in self.optimizers}

    def _given_bounds(self, name: str) -> LRBounds:
        given = self.ranges.get(f"{name}.lr")
        if given is None and OPTIMIZERS.get(name).lr_free:
            return lr_free_bounds(name)
        return fixed_bounds(name, *(given or (1e-3, 1e-3)))

    def needs_range_test(self, name: str) -> bool:
        """Whether the optimizer ``name``'s LR range comes from a range test."""
        return f"{name}.lr" not in self.ranges and not OPTIMIZERS.get(name).lr_free

    def settings(self, task: Task, source: str | None = None) -> StudySettings:
        """Settings with placeholder bounds: the space is checked before any range test."""
        epochs = task.epochs if self.epochs is None else self.epochs
        metric = task.metric.name if task.metric is not None else None
        if self.objective == "metric" and task.metric is None:
            raise ValueError(f"objective='metric', but task {task.name!r} has no metric.")
        direction: Direction = (
            "minimize"
            if task.metric is None or self.objective == "val_loss"
            else task.metric.direction
        )
        return StudySettings(
            task=task.name,
            source=_source(source),
            epochs=epochs,
            steps_per_epoch=steps_per_epoch(task, task.make_train_loader()),
            objective=self.objective,
            metric=metric,
            direction=direction,
            seed=self.seed,
            n_trials=self.n_trials,
            pruner=self.pruner,
            sampler=self.sampler,
            lr_margin=self.lr_margin,
            space=self.space(self.given_bounds()),
        )


def _source(source: str | None) -> str | None:
    """How workers elsewhere load the task: a task file by its absolute path."""
    if source is None or source in EXAMPLES:
        return source
    path, attr = _split_attr(source)
    if not os.path.isfile(path):
        return source
    return os.path.abspath(path) + (f":{attr}" if attr else "")


def _backend(
    storage: str | optuna.storages.BaseStorage | None,
    url: str | None,
    heartbeat: Heartbeat | None,
) -> optuna.storages.BaseStorage:
    if isinstance(storage, optuna.storages.BaseStorage):
        return storage
    return open_study_storage(url, heartbeat=heartbeat)


def _range_test_store(url: str | None) -> str | bool:
    """Where range tests are stored: lrtune's tables in the study's database, if it has one."""
    return url if url is not None and grpc_address(url) is None else False


def _open_study(
    request: _Request,
    settings: StudySettings,
    backend: optuna.storages.BaseStorage,
    name: str,
) -> optuna.Study:
    from lrtune.storage._studies import study_errors

    setup = StudySetup(settings.epochs, request.seed)
    with study_errors(f"Cannot open study {name!r}"):
        study = optuna.create_study(
            storage=backend,
            study_name=name,
            sampler=SAMPLERS.get(request.sampler)(setup),
            pruner=PRUNERS.get(request.pruner)(setup),
            direction=settings.direction,
            load_if_exists=True,
        )
    if study.trials:
        # A resumed sampler seeded as before would draw the first trials' values again.
        resumed = StudySetup(settings.epochs, request.seed + len(study.trials))
        study.sampler = SAMPLERS.get(request.sampler)(resumed)
    return study


def _prepare(
    study: optuna.Study,
    settings: StudySettings,
    task: Task,
    request: _Request,
    store_url: str | bool,
) -> StudySettings:
    """New study: range tests, settings and warm starts. Resumed study: check and load."""
    if has_settings(study):
        stored = read_settings(study)
        mismatch = stored.mismatch(settings)
        if mismatch is not None:
            raise StudyError(
                f"Study {study.study_name!r} exists with other settings ({mismatch}); "
                "resume it with the same spec, or pick another study name."
            )
        if stored.n_trials != request.n_trials:
            stored = stored.with_budget(request.n_trials)
            write_settings(study, stored)
        return stored
    if study.trials:
        raise StudyError(f"Study {study.study_name!r} was not created by lrtune.")
    bounds = _bounds(task, request, store_url)
    settings = _with_bounds(settings, request, bounds)
    write_settings(study, settings)
    if request.warm_start:
        # Never more warm starts than the budget: the rest would wait in the queue.
        for params in warm_start_params(settings.space, bounds)[: request.n_trials]:
            study.enqueue_trial(params, user_attrs={"warm_start": True})
    return settings


def _bounds(task: Task, request: _Request, store_url: str | bool) -> dict[str, LRBounds]:
    given = request.given_bounds()
    pending = [name for name in request.optimizers if request.needs_range_test(name)]
    if not pending:
        return given
    options = {"device": str(request.device), **request.finder_options}
    group = uuid.uuid4().hex[:12]
    found = _run_range_tests(task, pending, request, store_url, group, options)
    return {**given, **found}


def _run_range_tests(
    task: Task,
    optimizers: Sequence[str],
    request: _Request,
    store_url: str | bool,
    group: str,
    options: dict[str, Any],
) -> dict[str, LRBounds]:
    from lrtune.storage import Storage

    arguments = {"margin": request.lr_margin, "seed": request.seed, "group": group, **options}
    if store_url is False:  # an Optuna storage object: no lrtune database to store into
        return run_range_tests(task, optimizers, **arguments)
    with Storage(str(store_url)) as store:
        return run_range_tests(task, optimizers, store=store, **arguments)


def _with_bounds(
    settings: StudySettings, request: _Request, bounds: Mapping[str, LRBounds]
) -> StudySettings:
    from dataclasses import replace

    return replace(settings, space=request.space(bounds), bounds=dict(bounds))


def _optimize(
    study: optuna.Study,
    settings: StudySettings,
    task: Task,
    request: _Request,
    callbacks: Sequence[Callback],
) -> None:
    objective = TrialObjective.for_study(task, settings, request.device)
    outcome = run_trials(
        study, objective, budget=settings.n_trials, callbacks=callbacks, timeout=request.timeout
    )
    if outcome.stopped_by is not None:
        raise StudyStopped(outcome)
    if outcome.trials == 0 and outcome.finished >= settings.n_trials:
        logger.info("study %s already has %d finished trials", study.study_name, outcome.finished)


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, but got {name}={value!r}.")


def _check_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32 - 1], but got {seed=}.")


def _check_timeout(timeout: Any) -> None:
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, but got {timeout=}.")


def _pair(name: str, value: Any) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"ranges[{name!r}] must be [low, high], but got {value!r}.")
    return value[0], value[1]
