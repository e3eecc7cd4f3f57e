"""``lrtune worker``: join a study and run its trials, here, alongside any other workers."""

from __future__ import annotations

import click

from lrtune.cli._common import (
    handle_errors,
    heartbeat_options,
    storage_option,
    threads_option,
    use_threads,
)
from lrtune.cli._studies import Progress, log_to_stderr, quiet_optuna


@click.command()
@click.argument("spec_path", metavar="[SPEC]", required=False, type=click.Path(dir_okay=False))
@click.option("--study", "study_name", help="The study to join [default: the spec's].")
@storage_option
@click.option("--device", help="auto, cpu, cuda, cuda:1, ... [default: the spec's, else auto]")
@click.option("--task", "task_spec", help="Load the task from here instead of where it was.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds.")
@threads_option
@heartbeat_options
@handle_errors
def worker(
    spec_path: str | None,
    study_name: str | None,
    storage: str | None,
    device: str | None,
    task_spec: str | None,
    timeout: float | None,
    threads: int | None,
    heartbeat_interval: int,
    grace_period: int,
) -> None:
    """Join a study (named by --study, or by SPEC) and run its trials until its budget is
    met. Start one per GPU, on as many machines as you like, against one PostgreSQL.

    SIGTERM or Ctrl-C fails the running trial, queues it for retry, and exits 0.
    """
    from lrtune.storage import Database, Heartbeat
    from lrtune.study import run_worker

    name, device, task_spec = _from_spec(spec_path, study_name, device, task_spec)
    use_threads(threads)
    heartbeat = Heartbeat(heartbeat_interval, grace_period)
    database = Database.open(storage, heartbeat=heartbeat)
    quiet_optuna()
    progress = Progress(budget=None, database=database)
    with log_to_stderr():
        outcome = run_worker(
            name,
            storage=database,
            device=device or "auto",
            task=task_spec,
            heartbeat=heartbeat,
            timeout=timeout,
            callbacks=[progress],
        )
    ending = f"stopped by {outcome.stopped_by}" if outcome.stopped_by else "done"
    if outcome.timed_out:
        ending = "timed out"
    click.echo(
        f"Worker {ending}: it finished {outcome.trials} trials; study {name!r} has "
        f"{outcome.finished}/{outcome.budget} finished."
    )


def _from_spec(
    spec_path: str | None, study_name: str | None, device: str | None, task_spec: str | None
) -> tuple[str, str | None, str | None]:
    if spec_path is None:
        if study_name is None:
            raise click.UsageError("name the study: --study NAME, or a SPEC file.")
        return study_name, device, task_spec
    from lrtune.study import load_spec

    spec = load_spec(spec_path)
    return (
        study_name or spec.study_name,
        device or spec.options.device,
        task_spec or spec.resolved_task(),
    )
