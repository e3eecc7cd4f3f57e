"""``run_study``: create or resume a study, bound its LRs by range tests, run its trials."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import optuna
import torch

from lrtune._exceptions import StudyError
from lrtune._optuna import experimental_ok, storage_of
from lrtune.devices import resolve_device
from lrtune.optimizers import OPTIMIZERS, check_installed
from lrtune.storage import Database, Heartbeat, Storage, study_errors
from lrtune.study._bounds import LRBounds, fixed_bounds, lr_free_bounds, run_range_tests
from lrtune.study._choices import PRUNERS, SAMPLERS, StudySetup
from lrtune.study._gate import count_finished
from lrtune.study._loop import Callback, StudyStopped, run_trials
from lrtune.study._objective import TrialObjective
from lrtune.study._options import StudyOptions
from lrtune.study._settings import StudySettings, has_settings, read_settings, write_settings
from lrtune.study._warm_start import warm_start_params
from lrtune.tasks import Task, TaskRef, load_task
from lrtune.training import steps_per_epoch

logger = logging.getLogger(__name__)


def run_study(
    task: Task | str,
    options: StudyOptions | None = None,
    *,
    storage: str | Database | optuna.storages.BaseStorage | None = None,
    study_name: str | None = None,
    callbacks: Sequence[Callback] = (),
    heartbeat: Heartbeat | None = Heartbeat(),  # noqa: B008 - frozen, shared safely
    create_only: bool = False,
    **changes: Any,
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
        options: What to search and how (``StudyOptions``; its defaults if omitted).
        storage: A SQLAlchemy URL, an open ``Database`` or an Optuna storage; default as
            ``lrtune.storage`` (``LRTUNE_STORAGE``, else ``sqlite:///lrtune.db``).
        study_name: Default: the task's name.
        callbacks: Called after each finished trial, as ``study.optimize`` calls them.
        heartbeat: Heartbeats of running trials, so that a killed worker's trial is
            retried (for a storage URL; a ``Database`` or an Optuna storage keeps its own).
        create_only: Create (or check) the study, its range tests and warm starts, and
            return without running trials: workers will run them.
        changes: ``StudyOptions`` fields by name, over ``options``:
            ``run_study("digits-mlp", n_trials=40, optimizers=["sgd", "adamw"])``.
    """
    options = (options or StudyOptions()).replace(**changes)
    device = resolve_device(options.device)
    source = task if isinstance(task, str) else None
    task = load_task(task) if isinstance(task, str) else task
    settings = _settings(options, task, source)
    check_installed(settings.space.optimizers)
    name = study_name or task.name
    run = _Run(options, device, task)
    database = _database(storage, heartbeat)
    with database.one_worker():
        study = _open_study(options, settings, database.studies, name)
        # Two creators of one study at once: the second waits, then finds it created.
        with database.lock(f"create:{name}"):
            settings = _prepare(study, settings, run, database.range_tests)
        if not create_only:
            _optimize(study, settings, run, callbacks, database)
    return study


@dataclass(frozen=True)
class _Run:
    """What one call of ``run_study`` works with: its options, device and task."""

    options: StudyOptions
    device: torch.device
    task: Task


def _given_bounds(options: StudyOptions) -> dict[str, LRBounds]:
    """Bounds that need no range test: the user's ``ranges["<optimizer>.lr"]``, else a
    learning-rate-free optimizer's own; a placeholder for the others."""
    return {name: _given(options, name) for name in options.optimizers}


def _given(options: StudyOptions, name: str) -> LRBounds:
    given = options.ranges.get(f"{name}.lr")
    if given is None and OPTIMIZERS.get(name).lr_free:
        return lr_free_bounds(name)
    return fixed_bounds(name, *(given or (1e-3, 1e-3)))


def _needs_range_test(options: StudyOptions, name: str) -> bool:
    """Whether the optimizer ``name``'s LR range comes from a range test."""
    return f"{name}.lr" not in options.ranges and not OPTIMIZERS.get(name).lr_free


def _settings(options: StudyOptions, task: Task, source: str | None) -> StudySettings:
    """Settings with placeholder bounds: the space is checked before any range test."""
    if options.objective == "metric" and task.metric is None:
        raise ValueError(f"objective='metric', but task {task.name!r} has no metric.")
    lr = {name: (b.low, b.high) for name, b in _given_bounds(options).items()}
    return StudySettings.create(
        options,
        task,
        steps_per_epoch=steps_per_epoch(task, task.make_train_loader()),
        source=None if source is None else TaskRef.parse(source).absolute(),
        space=options.space(lr),
    )


def _database(
    storage: str | Database | optuna.storages.BaseStorage | None, heartbeat: Heartbeat | None
) -> Database:
    if isinstance(storage, Database):
        return storage
    if isinstance(storage, optuna.storages.BaseStorage):
        return Database.around(storage)
    return Database.open(storage, heartbeat=heartbeat)


def _open_study(
    options: StudyOptions,
    settings: StudySettings,
    backend: optuna.storages.BaseStorage,
    name: str,
) -> optuna.Study:
    setup = StudySetup(settings.epochs, options.seed)
    with study_errors(f"Cannot open study {name!r}"):
        study = optuna.create_study(
            storage=backend,
            study_name=name,
            sampler=SAMPLERS.get(options.sampler)(setup),
            pruner=PRUNERS.get(options.pruner)(setup),
            direction=settings.direction,
            load_if_exists=True,
        )
    if study.trials:
        # A resumed sampler seeded as before would draw the first trials' values again.
        resumed = StudySetup(settings.epochs, options.seed + len(study.trials))
        study.sampler = SAMPLERS.get(options.sampler)(resumed)
    return study


def _objective_name(settings: StudySettings) -> str:
    """What the study's value is: ``"val_loss"`` or the task's metric (``"accuracy"``)."""
    return settings.metric if settings.objective == "metric" and settings.metric else "val_loss"


def _prepare(
    study: optuna.Study, settings: StudySettings, run: _Run, store: Storage | None
) -> StudySettings:
    """New study: range tests, settings and warm starts. Resumed study: check and load."""
    n_trials = run.options.n_trials
    if has_settings(study):
        stored = read_settings(study)
        mismatch = stored.mismatch(settings)
        if mismatch is not None:
            raise StudyError(
                f"Study {study.study_name!r} exists with other settings ({mismatch}); "
                "resume it with the same spec, or pick another study name."
            )
        if stored.n_trials != n_trials:
            _check_budget(study, stored.n_trials, n_trials)
            stored = stored.with_budget(n_trials)
            write_settings(study, stored)
        return stored
    if study.trials:
        raise StudyError(f"Study {study.study_name!r} was not created by lrtune.")
    try:
        return _create(study, settings, run, store)
    except BaseException:
        # Nothing half-made is left: a study without settings is no lrtune study.
        optuna.delete_study(study_name=study.study_name, storage=storage_of(study))
        raise


def _create(
    study: optuna.Study, settings: StudySettings, run: _Run, store: Storage | None
) -> StudySettings:
    """A new study's range tests, settings, metric name and warm starts."""
    n_trials = run.options.n_trials
    bounds = _bounds(run, store)
    lr = {name: (b.low, b.high) for name, b in bounds.items()}
    settings = replace(settings, space=run.options.space(lr), bounds=dict(bounds))
    write_settings(study, settings)
    with experimental_ok():  # named for Optuna's own tools (optuna-dashboard)
        study.set_metric_names([_objective_name(settings)])
    if run.options.warm_start:
        # Never more warm starts than the budget: the rest would wait in the queue.
        for params in warm_start_params(settings.space, bounds)[:n_trials]:
            study.enqueue_trial(params, user_attrs={"warm_start": True})
    return settings


def _check_budget(study: optuna.Study, budget: int, n_trials: int) -> None:
    """Refuse a budget below the trials already finished: it would not undo them."""
    if n_trials >= budget:
        return
    finished = count_finished(study)
    if n_trials < finished:
        raise StudyError(
            f"Study {study.study_name!r} has {finished} finished trials (budget {budget}): "
            f"its budget cannot go down to {n_trials}; keep it at {finished} or more."
        )


def _bounds(run: _Run, store: Storage | None) -> dict[str, LRBounds]:
    options = run.options
    given = _given_bounds(options)
    pending = [name for name in options.optimizers if _needs_range_test(options, name)]
    if not pending:
        return given
    found = run_range_tests(
        run.task,
        pending,
        store=store,
        margin=options.lr_margin,
        seed=options.seed,
        group=uuid.uuid4().hex[:12],
        **{"device": str(run.device), **options.finder_options},
    )
    return {**given, **found}


def _optimize(
    study: optuna.Study,
    settings: StudySettings,
    run: _Run,
    callbacks: Sequence[Callback],
    database: Database,
) -> None:
    objective = TrialObjective.for_study(run.task, settings, run.device)
    outcome = run_trials(
        study,
        objective,
        budget=settings.n_trials,
        callbacks=callbacks,
        timeout=run.options.timeout,
        database=database,
    )
    if outcome.stopped_by is not None:
        raise StudyStopped(outcome)
    if outcome.trials == 0 and outcome.finished >= settings.n_trials:
        logger.info("study %s already has %d finished trials", study.study_name, outcome.finished)
