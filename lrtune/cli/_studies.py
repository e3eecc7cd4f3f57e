"""``lrtune study``, ``studies``, ``best``, ``export`` and ``report``: studies from the
command line."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from lrtune.cli._common import BadInput, handle_errors, json_option, storage_option

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

EXIT_INTERRUPTED = 130
"""What a shell reports for a command stopped by Ctrl-C."""

study_name_argument = click.argument("study_name", metavar="STUDY")


@click.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False))
@click.option("--n-trials", type=click.IntRange(min=1), help="The study's total trial budget.")
@storage_option
@click.option("--study-name", help="Default: the spec's study_name, else its file name.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds.")
@click.option("--device", help="auto, cpu, cuda, cuda:1, ... [default: the spec's, else auto]")
@handle_errors
def study(
    spec_path: str,
    n_trials: int | None,
    storage: str | None,
    study_name: str | None,
    timeout: float | None,
    device: str | None,
) -> None:
    """Create or resume the study described by SPEC (a TOML file, see studies/).

    Ctrl-C stops it; the same command continues where it stopped.
    """
    from lrtune.study import run_study
    from lrtune.study._spec import load_spec
    from lrtune.tasks import load_task

    overrides = {"n_trials": n_trials, "study_name": study_name, "timeout": timeout}
    overrides["device"] = device
    spec = load_spec(spec_path).with_overrides(
        **{key: value for key, value in overrides.items() if value is not None}
    )
    task = load_task(spec.resolved_task())
    _quiet_optuna()
    progress = _Progress(spec.n_trials)
    try:
        with _log_to_stderr():
            result = run_study(task, storage=storage, callbacks=[progress], **spec.run_kwargs())
    except KeyboardInterrupt:
        click.echo(
            f"\nInterrupted after {progress.finished} finished trials; "
            "run the same command to continue.",
            err=True,
        )
        raise SystemExit(EXIT_INTERRUPTED) from None
    _print_best(result)


class _Progress:
    """One line per finished trial: its configuration, its value, and the best so far."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.finished = 0

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        from lrtune.study import FINISHED

        self.finished = len(study.get_trials(deepcopy=False, states=FINISHED))
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


def _quiet_optuna() -> None:
    import optuna

    # lrtune prints its own line per trial; Optuna's INFO lines would repeat them.
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@contextmanager
def _log_to_stderr() -> Iterator[None]:
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
    from lrtune.report import best_code, best_config, best_table

    try:
        best = best_config(study)
    except ValueError as error:
        click.echo(str(error))
        return
    click.echo(f"\nBest of study {study.study_name!r}:\n{best_table(best)}\n")
    click.echo(best_code(best))


def _load(name: str, storage: str | None) -> optuna.Study:
    from lrtune.storage import load_study, open_study_storage

    return load_study(name, open_study_storage(storage))


@click.command()
@storage_option
@json_option
@handle_errors
def studies(storage: str | None, as_json: bool) -> None:
    """List stored studies with their progress and best value."""
    from lrtune.report._text import fmt, table
    from lrtune.storage import open_study_storage
    from lrtune.study import study_summaries

    summaries = study_summaries(open_study_storage(storage))
    if as_json:
        click.echo(json.dumps(summaries, indent=2, default=str))
        return
    if not summaries:
        click.echo("No studies stored yet. Run `lrtune study SPEC` to start one.")
        return
    headers = ["study", "task", "finished", "running", "best", "direction"]
    rows = [
        [
            s["name"],
            s["task"] or "-",
            f"{s['finished']}/{s['budget'] or '?'}",
            str(s["running"]),
            fmt(s["best_value"]),
            s["direction"],
        ]
        for s in summaries
    ]
    click.echo(table(headers, rows))


@click.command()
@study_name_argument
@storage_option
@json_option
@click.option("--code", "code_only", is_flag=True, help="Print only the PyTorch code.")
@handle_errors
def best(study_name: str, storage: str | None, as_json: bool, code_only: bool) -> None:
    """Print the best configuration of STUDY as a table and as PyTorch code."""
    from lrtune.report import best_code, best_config, best_dict, best_table

    found = best_config(_load(study_name, storage))
    if as_json:
        click.echo(json.dumps(best_dict(found), indent=2))
    elif code_only:
        click.echo(best_code(found))
    else:
        click.echo(f"{best_table(found)}\n\n{best_code(found)}")


@click.command()
@study_name_argument
@storage_option
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True
)
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Default: STUDY.FORMAT")
@handle_errors
def export(study_name: str, storage: str | None, fmt: str, out_path: str | None) -> None:
    """Write every trial of STUDY, with its parameters and results, to CSV or Parquet."""
    from lrtune.report import export_trials

    path = Path(out_path or f"{study_name}.{fmt}")
    if not path.resolve().parent.is_dir():
        raise BadInput(f"--out: the folder of '{path}' does not exist.")
    rows = export_trials(_load(study_name, storage), path, fmt)  # type: ignore[arg-type]
    click.echo(f"Wrote {rows} trials to {path}")


@click.command()
@study_name_argument
@storage_option
@click.option("--out", "out_dir", type=click.Path(), required=True, help="Folder for the PNGs.")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True)
@handle_errors
def report(study_name: str, storage: str | None, out_dir: str, top: int) -> None:
    """Write PNG figures of STUDY to DIR: history, best by optimizer and schedule, top
    trials' LR and validation curves, parameter importances."""
    from lrtune.report import write_report

    study = _load(study_name, storage)
    directory = Path(out_dir)
    if directory.exists() and not directory.is_dir():
        raise BadInput(f"--out: '{directory}' is not a folder.")
    for path in write_report(study, directory, top=top):
        click.echo(f"Wrote {path}")
