"""``lrtune find``, ``runs``, ``show`` and ``examples``: range tests from the command line."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lrtune._checks import MAX_COUNT, MAX_ROWS, MAX_SEED
from lrtune.cli._common import (
    BadInput,
    LazyHelp,
    handle_errors,
    json_option,
    read_studies,
    storage_option,
    threads_option,
    use_threads,
)
from lrtune.cli._paths import check_output_file, written

if TYPE_CHECKING:
    from lrtune.finder import FinderResult
    from lrtune.storage import Storage
    from lrtune.tasks import Task


@click.command()
@click.argument("task_spec", metavar="TASK")
@click.option(
    "-o",
    "--optimizer",
    "optimizers",
    multiple=True,
    default=["adamw"],
    show_default=True,
    cls=LazyHelp,
    help_from=lambda: f"Optimizer to test; repeat for several ({', '.join(_optimizer_names())}).",
)
@storage_option
@click.option("--plot", "plot_path", type=click.Path(), help="Write the curves to this PNG.")
@json_option
@click.option("--start-lr", type=float, default=1e-7, show_default=True)
@click.option("--end-lr", type=float, default=10.0, show_default=True)
@click.option("--num-iter", type=int, default=100, show_default=True)
@click.option("--step-mode", type=click.Choice(["exp", "linear"]), default="exp", show_default=True)
@click.option("--rule", default=None, cls=LazyHelp, help_from=lambda: _rules_help(default=True))
@click.option("--val", is_flag=True, help="Record the validation loss (Leslie Smith's mode).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, ...")
@click.option("--amp", type=click.Choice(["bf16", "fp16"]), default=None, help="Mixed precision.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True)
@click.option(
    "--refine",
    is_flag=True,
    help="Then validate by training: successive halving over constant LRs in the range "
    "test's interval, judged by validation loss, stored as a study.",
)
@click.option(
    "--budget",
    type=float,
    default=1.5,
    show_default=True,
    help="With --refine: the most it spends, in full trainings (range test included).",
)
@threads_option
@handle_errors
def find(
    task_spec: str,
    optimizers: Sequence[str],
    storage: str | None,
    plot_path: str | None,
    as_json: bool,
    seed: int,
    refine: bool,
    budget: float,
    threads: int | None,
    **sweep_options: Any,
) -> None:
    """Run a learning-rate range test on TASK and store it.

    TASK is a file (path/to/task.py[:NAME]), a module (package.module[:NAME]) or a bundled
    example (see `lrtune examples`). The suggestion takes the task's training length
    (epochs times batches) into account. With --refine, candidates are then trained, and
    the LR to train with is the one that wins on validation loss.
    """
    from lrtune.finder import DEFAULT_RULE
    from lrtune.storage import Storage
    from lrtune.tasks import load_task

    sweep_options["rule"] = sweep_options["rule"] or DEFAULT_RULE
    _check_find_options(optimizers, sweep_options)
    use_threads(threads)
    _check_plot_path(plot_path)
    if refine:
        _check_refine_options(budget)
        _refine(
            load_task(task_spec),
            optimizers,
            storage,
            plot_path,
            as_json,
            seed,
            budget,
            sweep_options["device"],
        )
        return
    task = load_task(task_spec)
    with Storage(storage) as store:
        group = uuid.uuid4().hex[:12]
        results = [_find_one(task, name, seed, sweep_options, store, group) for name in optimizers]
    if plot_path:
        _save_plot_of_stored(results, plot_path, as_json)
    _emit(results, as_json, plot_path)


def _check_find_options(optimizers: Sequence[str], options: dict[str, Any]) -> None:
    """Refuse bad options before a task is loaded or a database opened."""
    from lrtune.devices import resolve_device
    from lrtune.finder import FinderOptions
    from lrtune.optimizers import OPTIMIZERS

    for name in optimizers:
        OPTIMIZERS.get(name)
    names = ("start_lr", "end_lr", "num_iter", "step_mode", "rule", "amp")
    FinderOptions(**{name: options[name] for name in names})
    resolve_device(options["device"])


SWEEP_OPTIONS = ("start_lr", "end_lr", "num_iter", "step_mode", "rule", "val", "amp")


def _check_refine_options(budget: float) -> None:
    """``--refine`` runs its own range test: refuse sweep options it would ignore."""
    from lrtune.refine import plan

    context = click.get_current_context()
    given = [
        f"--{name.replace('_', '-')}"
        for name in SWEEP_OPTIONS
        if context.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
    ]
    if given:
        raise BadInput(f"--refine runs its own range test; drop {', '.join(given)}.")
    if not budget > 0 or budget != budget or budget == float("inf"):
        plan(1, budget, 0)  # raises the budget's one-line ValueError


def _refine(
    task: Task,
    optimizers: Sequence[str],
    storage: str | None,
    plot_path: str | None,
    as_json: bool,
    seed: int,
    budget: float,
    device: str,
) -> None:
    from lrtune.cli._studies import quiet_optuna
    from lrtune.refine import refine_lr
    from lrtune.report import plot_refine, refine_dict, refine_summary, refine_table

    quiet_optuna()  # the summary below says what Optuna's INFO lines would
    results = [
        refine_lr(task, optimizer=name, budget=budget, seed=seed, storage=storage, device=device)
        for name in optimizers
    ]
    if plot_path:
        try:
            written("--plot", plot_path, lambda: plot_refine(results).savefig(plot_path, dpi=120))
        except click.ClickException as error:
            names = ", ".join(repr(r.study_name) for r in results)
            raise type(error)(
                f"Stored as study {names}, but the plot could not be written: {error.message} "
                f"Draw it again with `lrtune show --refine STUDY --plot FILE`."
            ) from error
    if as_json:
        click.echo(json.dumps([refine_dict(r) for r in results], indent=2))
        return
    for result in results:
        click.echo(refine_summary(result))
        click.echo(refine_table(result))
    if plot_path:
        click.echo(f"Plot written to {plot_path}")


def _find_one(
    task: Task, optimizer: str, seed: int, options: dict[str, Any], store: Storage, group: str
) -> FinderResult:
    from tqdm import tqdm

    from lrtune.finder import find_lr_for_task

    sweep_options = {k: v for k, v in options.items() if k != "val"}
    bar = tqdm(
        total=options["num_iter"],
        desc=f"{task.name} {optimizer}",
        unit="step",
        leave=False,
        disable=None,
    )

    def advance(_step: int, lr: float) -> None:
        bar.set_postfix_str(f"lr={lr:.2e}", refresh=False)
        bar.update()

    with bar:
        result = find_lr_for_task(
            task, optimizer, seed=seed, validation=options["val"], on_step=advance, **sweep_options
        )
    result.group = group
    store.save_range_test(result)
    return result


def _check_plot_path(path: str | None) -> None:
    if path is None:
        return
    if Path(path).suffix.lower() not in {".png", ".svg", ".pdf"}:
        raise BadInput(f"--plot must name a .png, .svg or .pdf file, but got {path!r}.")
    check_output_file("--plot", path)


def _save_plot(results: Sequence[FinderResult], path: str) -> None:
    from lrtune.report import plot_range_tests

    written("--plot", path, lambda: plot_range_tests(results).savefig(path, dpi=120))


def _save_plot_of_stored(results: Sequence[FinderResult], path: str, as_json: bool) -> None:
    """The plot of range tests just stored: a failed write says they are kept."""
    try:
        _save_plot(results, path)
    except click.ClickException as error:
        _emit(results, as_json, None)  # the results themselves, before the one error line
        ids = " ".join(str(r.id) for r in results)
        runs = "runs" if len(results) > 1 else "run"
        raise type(error)(
            f"Stored as {runs} {ids}, but the plot could not be written: {error.message} "
            f"Draw it again with `lrtune show {ids} --plot FILE`."
        ) from error


def _emit(results: Sequence[FinderResult], as_json: bool, plot_path: str | None) -> None:
    from lrtune.report import result_dict, stop_text, suggestion_table

    if as_json:
        click.echo(json.dumps([result_dict(r) for r in results], indent=2))
        return
    click.echo(suggestion_table(results))
    for result in results:
        click.echo(f"{result.optimizer}: {stop_text(result)}")
    if plot_path:
        click.echo(f"Plot written to {plot_path}")


@click.command()
@storage_option
@click.option("--task", default=None, help="Only range tests of this task.")
@click.option("--limit", type=click.IntRange(1, MAX_ROWS), default=None, help="At most this many.")
@json_option
@handle_errors
def runs(storage: str | None, task: str | None, limit: int | None, as_json: bool) -> None:
    """List stored range tests, newest first."""
    from lrtune.report import fmt, stop_label, table
    from lrtune.storage import Storage

    with Storage(storage, read_only=True) as store:
        summaries = store.list_range_tests(task=task, limit=limit)
    if as_json:
        click.echo(json.dumps([_summary_dict(s) for s in summaries], indent=2, default=str))
        return
    if not summaries:
        click.echo("No range tests stored yet. Run `lrtune find TASK` to make one.")
        return
    headers = [
        "id",
        "group",
        "created (UTC)",
        "task",
        "optimizer",
        "suggested_lr",
        "min_lr",
        "max_lr",
        "stopped",
    ]
    rows = [
        [
            str(s.id),
            s.group or "-",
            s.created_at.isoformat(sep=" ", timespec="seconds"),
            s.task or "-",
            s.optimizer,
            fmt(s.suggested_lr),
            fmt(s.min_lr),
            fmt(s.max_lr),
            stop_label(s.stop_reason),
        ]
        for s in summaries
    ]
    click.echo(table(headers, rows))


def _optimizer_names() -> list[str]:
    from lrtune.optimizers import OPTIMIZERS

    return OPTIMIZERS.names()


def _rules_help(*, default: bool) -> str:
    from lrtune.finder import DEFAULT_RULE, RULES

    rules = f"One of {', '.join(RULES.names())}"
    return f"{rules} (default {DEFAULT_RULE})." if default else f"{rules}."


def _resuggest(result: FinderResult, rule: str) -> FinderResult:
    suggestion = result.suggest(rule)
    result.rule, result.suggested_lr = rule, suggestion.lr
    return result


def _summary_dict(summary: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(summary)


@click.command()
@click.argument("run_ids", metavar="RUN...", type=click.IntRange(1, MAX_COUNT), nargs=-1)
@storage_option
@click.option("--group", default=None, help="Show every range test of this group.")
@click.option("--plot", "plot_path", type=click.Path(), help="Re-plot to this PNG.")
@click.option(
    "--rule",
    default=None,
    cls=LazyHelp,
    help_from=lambda: f"Recompute the suggestion with this rule. {_rules_help(default=False)}",
)
@click.option(
    "--refine", "refine_study", default=None, metavar="STUDY", help="Show this refine run."
)
@json_option
@handle_errors
def show(
    run_ids: Sequence[int],
    storage: str | None,
    group: str | None,
    plot_path: str | None,
    rule: str | None,
    refine_study: str | None,
    as_json: bool,
) -> None:
    """Print stored range tests (by id or --group) and optionally re-plot them together.

    With --refine STUDY, print a refine run: its candidates, rungs, cost and the LR to
    train with; --plot draws validation loss against LR per rung.
    """
    from lrtune.report import result_details, result_dict
    from lrtune.storage import Storage

    if refine_study is not None:
        if run_ids or group is not None or rule is not None:
            raise BadInput("--refine shows one refine run; drop the RUN ids, --group and --rule.")
        _check_plot_path(plot_path)
        _show_refine(refine_study, storage, plot_path, as_json)
        return
    if not run_ids and group is None:
        raise BadInput("Name at least one RUN id, or --group, or --refine STUDY.")
    if rule is not None:
        from lrtune.finder import RULES

        RULES.get(rule)
    _check_plot_path(plot_path)
    with Storage(storage, read_only=True) as store:
        results = [store.get_range_test(run_id) for run_id in run_ids]
        results += store.get_group(group) if group is not None else []
    if rule is not None:
        results = [_resuggest(r, rule) for r in results]
    if plot_path:
        _save_plot(results, plot_path)
    if as_json:
        click.echo(json.dumps([result_dict(r, history=True) for r in results], indent=2))
        return
    click.echo("\n\n".join(result_details(r) for r in results))
    if plot_path:
        click.echo(f"Plot written to {plot_path}")


def _show_refine(name: str, storage: str | None, plot_path: str | None, as_json: bool) -> None:
    from lrtune.refine import STUDY_KIND, result_from_study
    from lrtune.report import refine_dict, refine_summary, refine_table
    from lrtune.storage import load_study

    study = load_study(name, read_studies(storage))
    if study.user_attrs.get("kind") != STUDY_KIND or "lr" not in study.user_attrs:
        raise BadInput(f"Study {name!r} is not a finished refine run (see `lrtune studies`).")
    result = result_from_study(study)
    if plot_path:
        from lrtune.report import plot_refine  # matplotlib, only to draw

        written("--plot", plot_path, lambda: plot_refine(result).savefig(plot_path, dpi=120))
    if as_json:
        click.echo(json.dumps(refine_dict(result), indent=2))
        return
    click.echo(refine_summary(result))
    click.echo(refine_table(result))
    if plot_path:
        click.echo(f"Plot written to {plot_path}")


@click.command()
def examples() -> None:
    """List the bundled example tasks."""
    from lrtune.examples import EXAMPLES

    for name, module in EXAMPLES.items():
        click.echo(f"{name:24} {module}")
