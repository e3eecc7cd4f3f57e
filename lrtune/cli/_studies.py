"""``lrtune study``, ``studies``, ``best``, ``export`` and ``report``: studies from the
command line."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import click

from lrtune._checks import MAX_COUNT
from lrtune.cli._common import (
    BadInput,
    handle_errors,
    heartbeat_options,
    json_option,
    read_studies,
    storage_option,
    threads_option,
    use_threads,
)
from lrtune.cli._launch import LocalWorkers, WorkerPlan, parse_devices, plan_workers
from lrtune.cli._paths import check_output_file, check_output_folder, written

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

    from lrtune.storage import Database, Heartbeat
    from lrtune.study import StudySpec

EXIT_INTERRUPTED = 130
"""What a shell reports for a command stopped by Ctrl-C."""
MAX_LOCAL_WORKERS = 256
"""The most worker processes ``--workers`` starts on one machine."""

study_name_argument = click.argument("study_name", metavar="STUDY")


@click.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False))
@click.option(
    "--n-trials", type=click.IntRange(1, MAX_COUNT), help="The study's total trial budget."
)
@storage_option
@click.option("--study-name", help="Default: the spec's study_name, else its file name.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds.")
@click.option("--device", help="auto, cpu, cuda, cuda:1, ... [default: the spec's, else auto]")
@click.option(
    "--workers",
    type=click.IntRange(1, MAX_LOCAL_WORKERS),
    help="Run the trials in N local worker processes.",
)
@click.option("--devices", help="GPUs for the workers, one worker each unless --workers: 0,1")
@click.option("--create-only", is_flag=True, help="Create the study; let workers run it.")
@threads_option
@heartbeat_options
@handle_errors
def study(
    spec_path: str,
    n_trials: int | None,
    storage: str | None,
    study_name: str | None,
    timeout: float | None,
    device: str | None,
    workers: int | None,
    devices: str | None,
    create_only: bool,
    threads: int | None,
    heartbeat_interval: int,
    grace_period: int,
) -> None:
    """Create or resume the study described by SPEC (a TOML file, see studies/).

    Ctrl-C stops it; the same command continues where it stopped. With --workers or
    --devices the trials run in local worker processes (PostgreSQL needed for several);
    with --create-only, in `lrtune worker` processes started elsewhere.
    """
    from lrtune.storage import Database, Heartbeat

    overrides = {"n_trials": n_trials, "study_name": study_name, "timeout": timeout}
    spec = _load_spec(spec_path, **overrides, device=device)
    heartbeat = Heartbeat(heartbeat_interval, grace_period)
    use_threads(threads)
    plans = plan_workers(workers, parse_devices(devices), spec.options.device)
    local = bool(workers or devices) and not create_only
    if local:
        _check_several_workers(storage, len(plans))
    database = Database.open(storage, heartbeat=heartbeat)
    # With workers elsewhere, only the range tests run here, on the first worker's device.
    device_here = plans[0].torch_device() if local or create_only else spec.options.device
    budget_before = _stored_budget(spec.study_name, database) if create_only else None
    result = _run(spec, database, device_here, create_only=local or create_only)
    if create_only:
        click.echo(f"{_created(result, database, budget_before)}; start workers with:")
        click.echo(f"  lrtune worker --study {result.study_name} --storage {database.url}")
        return
    if local:
        _run_local_workers(result, database, plans, heartbeat, threads)
    _print_best(result)


def _stored_budget(name: str, database: Database) -> int | None:
    """The budget of the study ``name`` as stored, or ``None`` if there is no such study
    (or lrtune did not create it: ``run_study`` refuses it then)."""
    from lrtune._exceptions import NotFoundError
    from lrtune.storage import load_study
    from lrtune.study import has_settings, read_settings

    try:
        found = load_study(name, database.studies)
    except NotFoundError:
        return None
    return read_settings(found).n_trials if has_settings(found) else None


def _created(study: optuna.Study, database: Database, budget_before: int | None) -> str:
    """What ``--create-only`` did: created the study, or found it and kept or changed
    its budget; never silently."""
    from lrtune.study import read_settings

    if budget_before is None:
        return f"Created study {study.study_name!r}"
    budget = read_settings(study).n_trials
    finished = _count_finished(study, database)
    if budget == budget_before:
        return (
            f"Study {study.study_name!r} exists already (budget {budget} trials, "
            f"{finished} finished); nothing changed"
        )
    return (
        f"Study {study.study_name!r} exists already: its budget went from {budget_before} "
        f"to {budget} trials ({finished} finished)"
    )


def _load_spec(path: str, **overrides: object) -> StudySpec:
    from lrtune.study import load_spec

    given = {key: value for key, value in overrides.items() if value is not None}
    return load_spec(path).with_overrides(**given)


def _run(spec: StudySpec, database: Database, device: str, *, create_only: bool) -> optuna.Study:
    """Create or resume the study; run its trials here unless ``create_only``."""
    from lrtune.study import StudyStopped, run_study

    quiet_optuna()
    progress = Progress(spec.options.n_trials, database)
    try:
        with log_to_stderr():
            return run_study(
                spec.resolved_task(),
                spec.options.replace(device=device),
                storage=database,
                study_name=spec.study_name,
                callbacks=[progress],
                create_only=create_only,
            )
    except StudyStopped as stop:
        _interrupted(stop.outcome.finished, stop.outcome.stopped_by)
    except KeyboardInterrupt:  # before the trials began: no loop caught it
        _interrupted(progress.finished)


def _check_several_workers(storage: str | None, count: int) -> None:
    """Refuse several local workers on SQLite before the database is opened (or made)."""
    from lrtune.storage import storage_backend

    if count > 1 and storage_backend(storage) == "sqlite":
        raise BadInput(
            "--workers: SQLite serves one worker at a time; store the study in "
            "PostgreSQL to run several: --storage postgresql://user:password@host/db"
        )


def _run_local_workers(
    study: optuna.Study,
    database: Database,
    plans: list[WorkerPlan],
    heartbeat: Heartbeat,
    threads: int | None,
) -> None:
    click.echo(f"Starting {len(plans)} workers on study {study.study_name!r}")
    local = LocalWorkers(study.study_name, database.target, plans, heartbeat, threads)
    codes = local.run()
    if local.signal_received is not None:
        _interrupted(_count_finished(study, database), local.signal_received)
    failed = [
        f"{plan.label()} exited with {code}"
        for plan, code in zip(plans, codes, strict=True)
        if code
    ]
    if failed:
        raise click.ClickException("; ".join(failed))


def _interrupted(finished: int, signal_name: str | None = None) -> NoReturn:
    """Say where the study stands, as ``lrtune worker`` does, and exit as a shell would."""
    by = "Interrupted" if signal_name is None else f"Stopped by {signal_name}"
    click.echo(
        f"\n{by} after {finished} finished trials; run the same command to continue.", err=True
    )
    raise SystemExit(EXIT_INTERRUPTED)


def _count_finished(study: optuna.Study, database: Database | None) -> int:
    from lrtune.study import count_finished

    return count_finished(study, database)


class Progress:
    """One line per finished trial: its configuration, its value, and the best so far.

    Args:
        budget: The study's budget; ``None``: read from the study at the first trial.
        database: The study's, to count its finished trials.
    """

    def __init__(self, budget: int | None, database: Database | None = None) -> None:
        self.budget = budget
        self.database = database
        self.finished = 0

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        from lrtune.study import read_settings

        if self.budget is None:
            self.budget = read_settings(study).n_trials
        self.finished = _count_finished(study, self.database)
        click.echo(f"[{self.finished}/{self.budget}] {_describe(trial)}{_best_so_far(study)}")


def _describe(trial: FrozenTrial) -> str:
    from optuna.trial import TrialState

    config = trial.user_attrs.get("config", {})
    head = f"#{trial.number} {config.get('optimizer', '?')} {config.get('schedule', '?')}"
    head += f" lr={config.get('lr', math.nan):.3g}"
    # A pruned trial keeps its last reported value; its reason says more.
    if trial.state == TrialState.COMPLETE and trial.value is not None:
        return f"{head}: {trial.value:.4g}"
    reason = trial.user_attrs.get("pruned_reason", trial.state.name.lower())
    return f"{head}: {reason}"


def _best_so_far(study: optuna.Study) -> str:
    try:
        best = study.best_trial
    except ValueError:  # no trial completed yet
        return ""
    return f"  (best {best.value:.4g}, #{best.number})"


def quiet_optuna() -> None:
    import optuna

    # lrtune prints its own line per trial; Optuna's INFO lines would repeat them.
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@contextmanager
def log_to_stderr() -> Iterator[None]:
    """Show lrtune's INFO log lines (range tests, resuming) on stderr while a study runs."""
    logger = logging.getLogger("lrtune")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _print_best(study: optuna.Study) -> None:
    from lrtune._exceptions import StudyError
    from lrtune.report import best_code, best_config, best_table

    try:
        best = best_config(study)
    except (ValueError, StudyError) as error:  # no trial completed, or none at all
        click.echo(str(error))
        return
    click.echo(f"\nBest of study {study.study_name!r}:\n{best_table(best)}\n")
    click.echo(best_code(best))


def _load(name: str, storage: str | None) -> optuna.Study:
    from lrtune.storage import load_study

    return load_study(name, read_studies(storage))


@click.command()
@storage_option
@json_option
@handle_errors
def studies(storage: str | None, as_json: bool) -> None:
    """List stored studies with their progress and best value."""
    from lrtune.report import fmt, table

    summaries = _summaries(storage)
    if as_json:
        click.echo(json.dumps(summaries, indent=2, default=str))
        return
    if not summaries:
        click.echo("No studies stored yet. Run `lrtune study SPEC` to start one.")
        return
    headers = ["study", "kind", "task", "state", "finished", "running", "best", "direction"]
    rows = [
        [
            s["name"],
            s["kind"],
            s["task"] or "-",
            s["state"],
            f"{s['finished']}/{s['budget'] or '?'}",
            str(s["running"]),
            fmt(s["best_value"]),
            s["direction"],
        ]
        for s in summaries
    ]
    click.echo(table(headers, rows))


def _summaries(storage: str | None) -> list[dict[str, Any]]:
    """The listing of every stored study: with plain SQL on Optuna's tables, without
    importing Optuna, except through the gRPC proxy (Optuna's storage, then)."""
    from lrtune.storage import create_engine_for, resolve_url, storage_backend, study_facts
    from lrtune.study import study_summaries, summaries

    if storage_backend(storage) == "grpc":
        return study_summaries(read_studies(storage))
    engine = create_engine_for(resolve_url(storage), read_only=True)
    try:
        return summaries(study_facts(engine))
    finally:
        engine.dispose()


@click.command()
@study_name_argument
@storage_option
@json_option
@click.option(
    "--code",
    "code_only",
    is_flag=True,
    help="Print only the Python file that trains it: lrtune best S --code > train.py",
)
@handle_errors
def best(study_name: str, storage: str | None, as_json: bool, code_only: bool) -> None:
    """Print the best configuration of STUDY as a table and as a runnable training script."""
    from lrtune.report import best_config, best_dict, best_script, best_table

    found = best_config(_load(study_name, storage))
    if as_json:
        click.echo(json.dumps(best_dict(found), indent=2))
    elif code_only:
        click.echo(best_script(found), nl=False)
    else:
        click.echo(f"{best_table(found)}\n\n{best_script(found)}", nl=False)


@click.command()
@study_name_argument
@storage_option
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True
)
@click.option("--out", "out_path", type=click.Path(), help="Default: STUDY.FORMAT")
@handle_errors
def export(study_name: str, storage: str | None, fmt: str, out_path: str | None) -> None:
    """Write every trial of STUDY, with its parameters and results, to CSV or Parquet."""
    from lrtune._extras import require
    from lrtune.report import export_trials

    if fmt == "parquet":
        require("parquet", "lrtune export --format parquet")

    path = check_output_file("--out", out_path or f"{study_name}.{fmt}")
    study = _load(study_name, storage)
    rows = written("--out", path, lambda: export_trials(study, path, fmt))  # type: ignore[arg-type]
    click.echo(f"Wrote {rows} trials to {path}")


@click.command()
@study_name_argument
@storage_option
@click.option("--out", "out_dir", type=click.Path(), required=True, help="Folder for the PNGs.")
@click.option("--top", type=click.IntRange(1, MAX_COUNT), default=5, show_default=True)
@handle_errors
def report(study_name: str, storage: str | None, out_dir: str, top: int) -> None:
    """Write PNG figures of STUDY to DIR: history, every trial's validation curve, best
    by optimizer and schedule, top trials' LR and validation curves, parameter
    importances, parallel coordinates, slices, intermediate values per trial, and the
    timeline of trials by worker."""
    from lrtune.report import write_report

    directory = check_output_folder("--out", out_dir)
    study = _load(study_name, storage)
    for path in written("--out", directory, lambda: write_report(study, directory, top=top)):
        click.echo(f"Wrote {path}")
