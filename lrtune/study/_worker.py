"""``run_worker``: join an existing study and run its trials alongside any other workers.

A worker needs only the study's name and database: the task, search space, epochs,
objective, pruner and sampler are read from the settings its creator stored on it, so
every worker trains and judges trials the same way.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence

import optuna

from lrtune._checks import MAX_SEED
from lrtune.devices import resolve_device
from lrtune.optimizers import check_installed
from lrtune.storage import Database, Heartbeat, load_study
from lrtune.study._choices import PRUNERS, SAMPLERS, StudySetup
from lrtune.study._loop import Callback, WorkerOutcome, run_trials
from lrtune.study._objective import TrialObjective
from lrtune.study._settings import StudySettings, read_settings
from lrtune.tasks import Task, load_task

logger = logging.getLogger(__name__)


def run_worker(
    study_name: str,
    *,
    storage: str | Database | None = None,
    device: str = "auto",
    task: Task | str | None = None,
    heartbeat: Heartbeat | None = Heartbeat(),  # noqa: B008 - frozen, shared safely
    timeout: float | None = None,
    callbacks: Sequence[Callback] = (),
) -> WorkerOutcome:
    """Run trials of the study ``study_name`` until its budget is met or a signal stops it.

    Args:
        study_name: A study created by ``run_study`` (or ``lrtune study``).
        storage: The study's database URL, or ``grpc://host:port`` for
            ``lrtune storage-proxy`` (default as ``lrtune.storage``), or an open
            ``Database`` (its own heartbeat setting then applies).
        device: ``"auto"``, ``"cpu"``, ``"cuda:1"``, ...
        task: The task, when the stored one cannot be loaded here (a task file kept at
            another path on this machine, say).
        heartbeat: Heartbeats of running trials, so that a killed worker's trial is retried.
        timeout: Stop claiming trials after this many seconds.
        callbacks: Called after each trial this worker finishes.

    Returns:
        How many trials this worker finished, and whether a signal stopped it.
    """
    database = (
        storage if isinstance(storage, Database) else Database.open(storage, heartbeat=heartbeat)
    )
    with database.one_worker():
        study = load_study(study_name, database.studies)
        settings = read_settings(study)
        check_installed(settings.space.optimizers)
        loaded = _task(settings, task)
        _check_task(settings, loaded)
        _set_sampler_and_pruner(study, settings)
        target = resolve_device(device)
        objective = TrialObjective.for_study(loaded, settings, target)
        logger.info("worker joined study %s on %s", study_name, target)
        return run_trials(
            study,
            objective,
            budget=settings.n_trials,
            callbacks=callbacks,
            timeout=timeout,
            database=database,
        )


def _task(settings: StudySettings, task: Task | str | None) -> Task:
    if isinstance(task, Task):
        return task
    return load_task(task or settings.source or settings.task)


def _check_task(settings: StudySettings, task: Task) -> None:
    if task.name != settings.task:
        raise ValueError(
            f"the study trains task {settings.task!r}, but the task given is {task.name!r}."
        )


def _set_sampler_and_pruner(study: optuna.Study, settings: StudySettings) -> None:
    # A seed of the worker's own: workers seeded alike would sample alike.
    setup = StudySetup(settings.epochs, secrets.randbelow(MAX_SEED + 1))
    study.sampler = SAMPLERS.get(settings.sampler)(setup)
    study.pruner = PRUNERS.get(settings.pruner)(setup)
