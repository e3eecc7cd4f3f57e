"""Suggestion quality: how close each rule's learning rate lands to a grid search's best.

Method
------
A *case* is one bundled example task (``lrtune.examples``) trained with one optimizer,
``sgd`` (momentum 0.9) or ``adamw`` (weight decay 0.01).

1. Ground truth. Each case is trained at a constant LR on a quarter-decade grid,
   ``10**(k/4)`` for k = -20..4 (1e-5 .. 10), with training seeds 0, 1 and 2, for the
   task's own ``epochs``. An LR's score is the mean over the seeds of the final validation
   loss. The mean, not the best seed: a user trains once, with a seed they do not choose,
   so the LR to hit is the one that is good on average. A diverged run scores +inf, so an
   LR where any seed diverges is never the best. The best LR is the argmin of the scores
   and the best loss their minimum. A best LR on the grid's edge (1e-5 or 10) is flagged:
   the optimum may lie beyond it.
2. Range tests. ``find_lr_for_task`` with default options runs with finder seeds 0, 1
   and 2. Suggestions move from one range test to the next, so every one is scored.
3. Regret. Each rule (``lrtune.finder.RULES``) reads each range-test curve; its LR is
   trained at exactly that value with training seeds 0, 1 and 2, and

       regret = mean final validation loss / best grid loss - 1.

   0 is as good as the best grid LR; 0.10 is a validation loss 10% above it. It can be
   slightly negative when a suggestion falls between grid points and beats them. A
   suggestion whose training diverged on any seed has regret +inf and is counted as a
   *diverged suggestion*; a rule that returns no LR (``None``) also has regret +inf and
   is counted apart. *Diverged* is ``train_constant_lr``'s flag: an epoch whose mean
   training loss is not finite, or whose validation loss is not finite or above
   ``DIVERGENCE_FACTOR`` (10) times the untrained model's validation loss.

   The ratio is ill-conditioned where the best loss is near zero: wine-mlp reaches a
   validation cross-entropy of about 2e-6 with AdamW, so a suggestion at 1e-3 (a perfect
   classifier all the same) scores a regret in the hundreds. The report therefore also
   gives the *normalized regret*, ``(loss - best) / (untrained loss - best)``: the share
   of the achievable loss reduction the suggestion gives up, and names the cases whose
   best loss is below 1% of the untrained loss. The recommendation uses the ratio regret.
4. Summaries per rule over all (case, finder seed) pairs: median regret (the headline;
   robust to the few infinite regrets, which the diverged and None counts report
   instead), median over cases of the per-case mean regret, mean, 90th percentile (the
   nearest observation at or above it, so infinities stay infinite), worst, and the
   median of log10(suggested LR / best grid LR) (below 0: the rule sits low). The
   recommended default is the rule with the lowest median regret among those with no
   diverged suggestion (ties: the lower mean). Leave-one-task-out checks that this choice
   is not merely fitted: for each task, the same criterion picks a rule on the other
   tasks, and that rule's median regret on the held-out task is recorded; the report
   gives the median of those held-out regrets.

Budget
------
Timed on the 2-core development machine (one thread per run): one ``adamw`` run at 1e-3
takes 0.03 s (wine-mlp, breast-cancer-logreg) to 0.34 s (digits-gru), 0.13 s on average
over the 14 cases. The full benchmark needs at most 14 x 25 x 3 = 1050 grid runs plus
14 x 7 rules x 3 finder seeds x 3 seeds = 882 suggestion runs (fewer: rules that agree
share runs), about 260 CPU-seconds, so about 3 minutes with ``--jobs 2``. That is well
inside the 25-minute budget, so all 7 tasks are kept.

Caching
-------
Every training run is cached in ``--cache`` under (task, optimizer, LR to 10 significant
digits, seed, epochs); re-runs and rule changes only train LRs not seen before. Delete the
cache after changing the training loop, the optimizers or the tasks. Range tests take a
fraction of a second and always rerun. In the JSON files ``null`` stands for +inf.

Usage::

    python benchmarks/suggestion_quality.py [--jobs N] [--quick] [--tasks a,b]
        [--optimizers sgd,adamw] [--out PATH] [--cache PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from _common import comma_choices, command_line, machine_info, utc_now, write_json

from lrtune.examples import EXAMPLES, load_example
from lrtune.finder import RULES, find_lr_for_task, suggest
from lrtune.tasks import Task
from lrtune.training import DIVERGENCE_FACTOR, train_constant_lr

RESULTS = Path(__file__).resolve().parent / "results"
OPTIMIZERS = ("sgd", "adamw")
SEEDS = (0, 1, 2)
QUICK_TASKS = ("digits-mlp", "diabetes-mlp")
LOWEST_DECADE, HIGHEST_DECADE = -5, 1
CACHE_VERSION = 2
NEAR_ZERO = 0.01
"""A best loss below this share of the untrained loss makes the ratio regret ill-conditioned."""
SAVE_EVERY = 100
"""Training runs between two writes of the cache, so an interrupted run keeps its work."""


@dataclass(frozen=True)
class Config:
    """What one benchmark run covers."""

    tasks: tuple[str, ...]
    optimizers: tuple[str, ...]
    grid: tuple[float, ...]
    train_seeds: tuple[int, ...]
    finder_seeds: tuple[int, ...]
    jobs: int
    quick: bool
    out: Path
    cache: Path

    @property
    def cases(self) -> list[tuple[str, str]]:
        return [(task, opt) for task in self.tasks for opt in self.optimizers]


def lr_grid(steps_per_decade: int) -> tuple[float, ...]:
    """``10**(k / steps_per_decade)`` from 1e-5 to 10."""
    ks = range(LOWEST_DECADE * steps_per_decade, HIGHEST_DECADE * steps_per_decade + 1)
    return tuple(10 ** (k / steps_per_decade) for k in ks)


# --- jobs: what the workers run ------------------------------------------------------


def cache_key(task: str, optimizer: str, lr: float, seed: int, epochs: int) -> str:
    return f"{task}|{optimizer}|{float(f'{lr:.10g}')!r}|{seed}|{epochs}"


@functools.cache
def _task(name: str) -> Task:
    return load_example(name)


@dataclass(frozen=True)
class TrainJob:
    """One constant-LR training run."""

    task: str
    optimizer: str
    lr: float
    seed: int
    epochs: int

    @property
    def key(self) -> str:
        return cache_key(self.task, self.optimizer, self.lr, self.seed, self.epochs)

    def run(self) -> dict[str, Any]:
        task = _task(self.task)
        run = train_constant_lr(task, self.optimizer, self.lr, seed=self.seed, epochs=self.epochs)
        return {
            "final_val_loss": run.final_val_loss,
            "diverged": run.diverged,
            "diverged_at_epoch": run.diverged_at_epoch,
            "initial_val_loss": run.initial_val_loss,
            "val_losses": run.val_losses,
        }


@dataclass(frozen=True)
class RangeTestJob:
    """One range test with default options."""

    task: str
    optimizer: str
    seed: int

    def run(self) -> dict[str, Any]:
        result = find_lr_for_task(_task(self.task), self.optimizer, seed=self.seed)
        history = result.history
        return {
            "stop_reason": result.stop_reason.value,
            "lr": history["lr"].astype(float).tolist(),
            "loss": history["loss"].astype(float).tolist(),
        }


class Job(Protocol):
    def run(self) -> dict[str, Any]: ...


Mapper = Callable[[Sequence[Job]], Iterable[tuple[Any, dict[str, Any]]]]


def _init_worker() -> None:
    # One thread per run: the runs are tiny, and the parallelism is across runs.
    torch.set_num_threads(1)


def _execute(job: Job) -> tuple[Job, dict[str, Any]]:
    return job, job.run()


@contextlib.contextmanager
def worker_pool(jobs: int) -> Iterator[Mapper]:
    """A mapper over jobs: in this process for ``jobs == 1``, else in spawned workers."""
    if jobs == 1:
        _init_worker()
        yield lambda batch: map(_execute, batch)
        return
    with multiprocessing.get_context("spawn").Pool(jobs, initializer=_init_worker) as pool:
        yield lambda batch: pool.imap_unordered(_execute, batch, chunksize=1)


class Progress:
    """Counts finished jobs on stderr, about 40 lines per phase."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.every = max(1, total // 40)
        self.start = time.perf_counter()

    def tick(self) -> None:
        self.done += 1
        if self.done % self.every and self.done != self.total:
            return
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.done * (self.total - self.done)
        counts = f"[{self.label}] {self.done}/{self.total} done"
        print(f"{counts}, {elapsed:.0f}s elapsed, ~{left:.0f}s left", file=sys.stderr, flush=True)


# --- the cache -----------------------------------------------------------------------


def load_cache(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    if data.get("version") != CACHE_VERSION:
        print(f"Ignoring {path}: cache version {data.get('version')!r}.", file=sys.stderr)
        return {}
    return {key: _from_json(entry) for key, entry in data["runs"].items()}


def _from_json(entry: dict[str, Any]) -> dict[str, Any]:
    losses = [math.inf if loss is None else loss for loss in entry["val_losses"]]
    final = entry["final_val_loss"]
    return {**entry, "val_losses": losses, "final_val_loss": math.inf if final is None else final}


def save_cache(path: Path, runs: dict[str, dict[str, Any]]) -> None:
    write_json(path, json_safe({"version": CACHE_VERSION, "runs": runs}))


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (JSON has no inf)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


# --- running the phases --------------------------------------------------------------


def run_range_tests(config: Config, mapper: Mapper) -> dict[tuple[str, str, int], dict]:
    jobs = [
        RangeTestJob(task, opt, seed) for task, opt in config.cases for seed in config.finder_seeds
    ]
    progress, curves = Progress("range tests", len(jobs)), {}
    for job, curve in mapper(jobs):
        curves[(job.task, job.optimizer, job.seed)] = curve
        progress.tick()
    return curves


def suggestions_of(curve: dict[str, Any], rules: Sequence[str]) -> dict[str, float | None]:
    """Each rule's LR for one recorded curve, as ``FinderResult.suggest`` computes it."""
    history = pd.DataFrame({"lr": curve["lr"], "loss": curve["loss"]})
    return {rule: suggest(history, rule).lr for rule in rules}


def training_jobs(
    config: Config, epochs: dict[str, int], suggested: dict[tuple[str, str, int], dict]
) -> list[TrainJob]:
    """Every run the scores need, grid first, without duplicates."""
    grid = [(task, opt, lr) for task, opt in config.cases for lr in config.grid]
    picks = [
        (task, opt, lr)
        for (task, opt, _), by_rule in suggested.items()
        for lr in by_rule.values()
        if lr is not None
    ]
    jobs = [
        TrainJob(task, opt, lr, seed, epochs[task])
        for task, opt, lr in grid + picks
        for seed in config.train_seeds
    ]
    return list({job.key: job for job in jobs}.values())


def run_training(
    jobs: Sequence[TrainJob], cache: dict[str, dict], mapper: Mapper, cache_path: Path
) -> int:
    """Train the jobs the cache lacks, adding them to it; return how many ran."""
    missing = [job for job in jobs if job.key not in cache]
    print(
        f"{len(jobs)} training runs needed, {len(jobs) - len(missing)} cached, "
        f"{len(missing)} to run.",
        file=sys.stderr,
    )
    progress = Progress("training", len(missing))
    for job, run in mapper(missing):
        cache[job.key] = run
        progress.tick()
        if progress.done % SAVE_EVERY == 0:
            save_cache(cache_path, cache)
    save_cache(cache_path, cache)
    return len(missing)


# --- scoring (pure) ------------------------------------------------------------------


@dataclass(frozen=True)
class GridPoint:
    lr: float
    val_losses: list[float]
    diverged: list[bool]
    score: float


@dataclass(frozen=True)
class Score:
    """One rule's suggestion from one range test, trained and compared with the grid."""

    task: str
    optimizer: str
    rule: str
    finder_seed: int
    lr: float | None
    val_loss: float
    diverged: bool
    regret: float
    normalized_regret: float
    log10_lr_ratio: float | None


@dataclass(frozen=True)
class Reference:
    """What a case's suggestions are compared with."""

    best_lr: float
    best_loss: float
    initial_loss: float
    """The untrained model's validation loss, mean over the training seeds."""
    on_grid_edge: bool

    def regret(self, val_loss: float) -> float:
        return val_loss / self.best_loss - 1.0

    def normalized_regret(self, val_loss: float) -> float:
        """The share of the achievable loss reduction that ``val_loss`` gives up."""
        return (val_loss - self.best_loss) / (self.initial_loss - self.best_loss)


def seed_mean(runs: Sequence[dict[str, Any]]) -> float:
    """Mean final validation loss over seeds; +inf if any seed diverged."""
    if any(run["diverged"] for run in runs):
        return math.inf
    return float(np.mean([run["final_val_loss"] for run in runs]))


def runs_at(cache: dict, config: Config, task: str, opt: str, lr: float, epochs: int) -> list:
    return [cache[cache_key(task, opt, lr, seed, epochs)] for seed in config.train_seeds]


def grid_points(cache: dict, config: Config, task: str, opt: str, epochs: int) -> list[GridPoint]:
    points = []
    for lr in config.grid:
        runs = runs_at(cache, config, task, opt, lr, epochs)
        losses = [run["final_val_loss"] for run in runs]
        points.append(GridPoint(lr, losses, [run["diverged"] for run in runs], seed_mean(runs)))
    return points


def reference(points: Sequence[GridPoint], initial_runs: Sequence[dict]) -> Reference:
    scores = [point.score for point in points]
    if not any(math.isfinite(score) for score in scores):
        raise RuntimeError("Every grid LR diverged on some seed: there is no best LR.")
    best = int(np.argmin(scores))
    initial = float(np.mean([run["initial_val_loss"] for run in initial_runs]))
    edge = best in (0, len(points) - 1)
    return Reference(points[best].lr, points[best].score, initial, edge)


def score_suggestion(
    runs: Sequence[dict] | None, ref: Reference, lr: float | None
) -> tuple[float, bool, float, float, float | None]:
    """``(val_loss, diverged, regret, normalized regret, log10(lr / best_lr))``.

    No LR (``None``) scores +inf.
    """
    if lr is None or runs is None:
        return math.inf, False, math.inf, math.inf, None
    loss = seed_mean(runs)
    diverged = any(run["diverged"] for run in runs)
    return (
        loss,
        diverged,
        ref.regret(loss),
        ref.normalized_regret(loss),
        math.log10(lr / ref.best_lr),
    )


def percentile(values: Sequence[float], q: float) -> float:
    # "higher" picks an observation, so two infinite neighbours give inf, not NaN.
    return float(np.percentile(values, q, method="higher"))


def summarize_rule(scores: Sequence[Score]) -> dict[str, Any]:
    regrets = [score.regret for score in scores]
    by_case: dict[tuple[str, str], list[float]] = {}
    for score in scores:
        by_case.setdefault((score.task, score.optimizer), []).append(score.regret)
    ratios = [score.log10_lr_ratio for score in scores if score.log10_lr_ratio is not None]
    return {
        "median_regret": float(np.median(regrets)),
        "median_case_mean_regret": float(np.median([np.mean(r) for r in by_case.values()])),
        "mean_regret": float(np.mean(regrets)),
        "p90_regret": percentile(regrets, 90),
        "worst_regret": float(np.max(regrets)),
        "diverged": sum(score.diverged for score in scores),
        "none": sum(score.lr is None for score in scores),
        "median_normalized_regret": float(np.median([s.normalized_regret for s in scores])),
        "mean_normalized_regret": float(np.mean([s.normalized_regret for s in scores])),
        "median_log10_lr_ratio": float(np.median(ratios)) if ratios else None,
        "n": len(scores),
    }


def summarize(scores: Sequence[Score], rules: Sequence[str]) -> dict[str, dict[str, Any]]:
    return {rule: summarize_rule([s for s in scores if s.rule == rule]) for rule in rules}


def ranking_key(
    summary: dict[str, dict[str, Any]], rule: str, metric: str = "regret"
) -> tuple[float, float, str]:
    return summary[rule][f"median_{metric}"], summary[rule][f"mean_{metric}"], rule


def recommend(summary: dict[str, dict[str, Any]], metric: str = "regret") -> str:
    """Lowest median ``metric`` among rules with no diverged suggestion (ties: lower mean).

    If every rule diverged somewhere, the lowest median of all rules.
    """
    safe = [rule for rule, stats in summary.items() if stats["diverged"] == 0]
    return min(safe or summary, key=lambda rule: ranking_key(summary, rule, metric))


def leave_one_task_out(scores: Sequence[Score], rules: Sequence[str]) -> dict[str, Any]:
    """For each task: the rule ``recommend`` picks on the others, scored on that task."""
    tasks = sorted({score.task for score in scores})
    rows = [_held_out(scores, rules, task) for task in tasks] if len(tasks) > 1 else []
    held = [row["held_out_median_regret"] for row in rows]
    return {"per_task": rows, "median_held_out_regret": float(np.median(held)) if held else None}


def _held_out(scores: Sequence[Score], rules: Sequence[str], task: str) -> dict[str, Any]:
    chosen = recommend(summarize([s for s in scores if s.task != task], rules))
    regrets = [s.regret for s in scores if s.task == task and s.rule == chosen]
    return {
        "held_out_task": task,
        "chosen_rule": chosen,
        "held_out_median_regret": float(np.median(regrets)),
        "held_out_mean_regret": float(np.mean(regrets)),
    }


# --- assembling the results ----------------------------------------------------------


@dataclass
class CaseResult:
    task: str
    optimizer: str
    epochs: int
    grid: list[GridPoint]
    reference: Reference
    range_tests: list[dict[str, Any]]
    scores: list[Score]


def case_result(
    cache: dict, config: Config, case: tuple[str, str], epochs: int, curves: dict, rules: list
) -> CaseResult:
    task, opt = case
    points = grid_points(cache, config, task, opt, epochs)
    ref = reference(points, runs_at(cache, config, task, opt, config.grid[0], epochs))
    tests, scores = [], []
    for seed in config.finder_seeds:
        curve = curves[(task, opt, seed)]
        tests.append({"finder_seed": seed, **curve})
        for rule, lr in curve["suggestions"].items():
            runs = None if lr is None else runs_at(cache, config, task, opt, lr, epochs)
            scored = score_suggestion(runs, ref, lr)
            scores.append(Score(task, opt, rule, seed, lr, *scored))
    return CaseResult(task, opt, epochs, points, ref, tests, scores)


def case_table_row(case: CaseResult, rules: Sequence[str]) -> dict[str, Any]:
    row: dict[str, Any] = {"task": case.task, "optimizer": case.optimizer}
    ref = case.reference
    row |= {"best_lr": ref.best_lr, "best_loss": ref.best_loss, "edge": ref.on_grid_edge}
    row["initial_loss"] = ref.initial_loss
    for rule in rules:
        mine = [s for s in case.scores if s.rule == rule]
        lrs = [s.lr for s in mine if s.lr is not None]
        row[rule] = {
            "median_lr": float(np.median(lrs)) if lrs else None,
            "mean_regret": float(np.mean([s.regret for s in mine])),
        }
    return row


def results_document(
    config: Config, cases: list[CaseResult], rules: list[str], meta: dict[str, Any]
) -> dict[str, Any]:
    scores = [score for case in cases for score in case.scores]
    well = [score for case in cases if well_conditioned(case) for score in case.scores]
    summary, summary_well = summarize(scores, rules), summarize(well, rules)
    return {
        "benchmark": "suggestion_quality",
        **meta,
        "config": _config_record(config),
        "rules": rules,
        "summary": _ranked(summary, rules),
        "summary_well_conditioned": _ranked(summary_well, rules),
        "ill_conditioned_cases": [
            f"{c.task}/{c.optimizer}" for c in cases if not well_conditioned(c)
        ],
        "recommended_default": recommend(summary_well),
        "recommended_on_all_cases": recommend(summary),
        "recommended_by_normalized_regret": recommend(summary, "normalized_regret"),
        "leave_one_task_out": leave_one_task_out(well, rules),
        "case_table": [case_table_row(case, rules) for case in cases],
        "cases": [asdict(case) for case in cases],
    }


def well_conditioned(case: CaseResult) -> bool:
    """Whether the ratio regret means something: the best loss is not near zero."""
    return case.reference.best_loss >= NEAR_ZERO * case.reference.initial_loss


def _ranked(summary: dict[str, dict[str, Any]], rules: list[str]) -> dict[str, dict[str, Any]]:
    return {
        rule: summary[rule] for rule in sorted(rules, key=functools.partial(ranking_key, summary))
    }


def _config_record(config: Config) -> dict[str, Any]:
    record = {key: value for key, value in asdict(config).items() if key not in ("out", "cache")}
    return record | {
        "out": str(config.out),
        "cache": str(config.cache),
        "finder_options": "defaults of find_lr_for_task",
        "divergence_factor": DIVERGENCE_FACTOR,
        "null_means": "+inf (diverged, or no suggestion)",
    }


# --- markdown ------------------------------------------------------------------------


def fmt(value: float | None, spec: str) -> str:
    if value is None:
        return "—"
    return format(value, spec) if math.isfinite(value) else "inf"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A GitHub table; the first ``left`` columns align left, the rest right."""
    rules = [":---" if i < left else "---:" for i in range(len(headers))]
    lines = [headers, rules, *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def rule_table(document: dict[str, Any], key: str = "summary") -> str:
    headers = ["rule", "median regret", "median case-mean regret", "mean regret"]
    headers += ["p90 regret", "worst regret", "diverged", "None", "median normalized regret"]
    headers += ["median log10(LR/best)", "n"]
    rows = [
        [
            f"`{rule}`",
            *(fmt(s[key], ".3f") for key in ("median_regret", "median_case_mean_regret")),
            *(fmt(s[key], ".3f") for key in ("mean_regret", "p90_regret", "worst_regret")),
            str(s["diverged"]),
            str(s["none"]),
            fmt(s["median_normalized_regret"], ".3f"),
            fmt(s["median_log10_lr_ratio"], "+.2f"),
            str(s["n"]),
        ]
        for rule, s in document[key].items()
    ]
    return markdown_table(headers, rows)


def case_table(document: dict[str, Any]) -> str:
    rules = list(document["summary"])
    headers = ["task", "optimizer", "best grid LR", "best loss", "on edge"]
    headers += [f"`{rule}` LR (regret)" for rule in rules]
    rows = [
        [
            row["task"],
            row["optimizer"],
            fmt(row["best_lr"], ".2e"),
            fmt(row["best_loss"], ".4f"),
            "**yes**" if row["edge"] else "",
            *(_lr_and_regret(row[rule]) for rule in rules),
        ]
        for row in document["case_table"]
    ]
    return markdown_table(headers, rows, left=2)


def _lr_and_regret(cell: dict[str, Any]) -> str:
    return f"{fmt(cell['median_lr'], '.1e')} ({fmt(cell['mean_regret'], '.3f')})"


def loto_table(document: dict[str, Any]) -> str:
    rows = [
        [
            row["held_out_task"],
            f"`{row['chosen_rule']}`",
            fmt(row["held_out_median_regret"], ".3f"),
            fmt(row["held_out_mean_regret"], ".3f"),
        ]
        for row in document["leave_one_task_out"]["per_task"]
    ]
    headers = ["held-out task", "rule chosen on the others", "median regret", "mean regret"]
    return markdown_table(headers, rows, left=2)


def report(document: dict[str, Any]) -> str:
    """The stdout summary: command, rule table, recommendation, held-out check, cases."""
    lines = [*_header_lines(document), *_rule_lines(document), *_loto_lines(document)]
    lines += ["", "## Per case: median suggested LR (mean regret over finder seeds)", ""]
    lines += [case_table(document), "", *_case_notes(document)]
    return "\n".join(lines)


def _header_lines(document: dict[str, Any]) -> list[str]:
    machine = document["machine"]
    return [
        "# Suggestion quality",
        "",
        f"Command: `{document['command']}`",
        "",
        f"Started {document['started_at']}, finished {document['finished_at']} "
        f"({document['elapsed_s']:.0f} s; {document['training_runs_trained']} training runs "
        f"trained, {document['training_runs_cached']} from the cache). "
        f"Machine: {machine['cpu_count']} CPUs, {machine['platform']}, torch {machine['torch']}, "
        f"{document['config']['jobs']} jobs.",
    ]


def _rule_lines(document: dict[str, Any]) -> list[str]:
    recommended = document["recommended_default"]
    excluded = ", ".join(document["ill_conditioned_cases"]) or "none"
    lines = ["", "## Rules, by median regret over (case, finder seed) pairs", ""]
    lines += [f"Well-conditioned cases (excluded, best loss near zero: {excluded}):", ""]
    lines += [rule_table(document, "summary_well_conditioned"), ""]
    lines += ["All cases:", "", rule_table(document), ""]
    lines.append(f"Recommended default (well-conditioned cases): {recommended}")
    if document["summary_well_conditioned"][recommended]["diverged"]:
        lines.append("(every rule had a diverged suggestion; this is the lowest median regret)")
    lines.append(f"The same criterion on all cases picks: {document['recommended_on_all_cases']}")
    normalized = document["recommended_by_normalized_regret"]
    lines.append(f"The same criterion on normalized regret (all cases) picks: {normalized}")
    return lines


def _loto_lines(document: dict[str, Any]) -> list[str]:
    loto = document["leave_one_task_out"]
    if not loto["per_task"]:
        return []
    lines = ["", "## Leave-one-task-out", "", loto_table(document), ""]
    return [*lines, f"Median held-out regret: {fmt(loto['median_held_out_regret'], '.3f')}"]


def _case_notes(document: dict[str, Any]) -> list[str]:
    rows = document["case_table"]
    edges = [f"{row['task']}/{row['optimizer']}" for row in rows if row["edge"]]
    tiny = [
        f"{row['task']}/{row['optimizer']} ({row['best_loss']:.2g})"
        for row in rows
        if row["best_loss"] < NEAR_ZERO * row["initial_loss"]
    ]
    notes = [f"Best grid LR on the grid's edge (the optimum may lie beyond): {', '.join(edges)}."]
    if not edges:
        notes = ["No best grid LR lies on the grid's edge."]
    if tiny:
        notes.append(
            f"Best loss below {NEAR_ZERO:.0%} of the untrained loss, so the ratio regret "
            f"magnifies tiny absolute differences: {', '.join(tiny)}."
        )
    return notes


# --- command line --------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> Config:
    parser = _parser()
    args = parser.parse_args(argv)
    tasks = comma_choices(parser, "--tasks", args.tasks, list(EXAMPLES))
    optimizers = comma_choices(parser, "--optimizers", args.optimizers, list(OPTIMIZERS))
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, but got {args.jobs}.")
    default_tasks = QUICK_TASKS if args.quick else tuple(EXAMPLES)
    seeds = SEEDS[:1] if args.quick else SEEDS
    default_out = RESULTS / ("quality_quick.json" if args.quick else "quality.json")
    return Config(
        tasks=tuple(tasks or default_tasks),
        optimizers=tuple(optimizers or OPTIMIZERS),
        grid=lr_grid(2 if args.quick else 4),
        train_seeds=seeds,
        finder_seeds=args.finder_seeds or seeds,
        jobs=args.jobs,
        quick=args.quick,
        out=args.out or default_out,
        cache=args.cache,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 2 tasks, 1 seed, half-decade grid"
    )
    parser.add_argument("--tasks", help=f"comma-separated subset of: {', '.join(EXAMPLES)}")
    parser.add_argument("--optimizers", help="comma-separated subset of: sgd, adamw")
    parser.add_argument(
        "--finder-seeds",
        type=lambda text: tuple(int(seed) for seed in text.split(",")),
        help="comma-separated range-test seeds (default 0,1,2); fresh seeds check a rule "
        "chosen on the defaults out of sample",
    )
    parser.add_argument("--out", type=Path, help="results JSON (default results/quality.json)")
    parser.add_argument("--cache", type=Path, default=RESULTS / "quality_cache.json")
    return parser


def run_benchmark(config: Config) -> dict[str, Any]:
    started, clock = utc_now(), time.perf_counter()
    rules = RULES.names()
    epochs = {task: load_example(task).epochs for task in config.tasks}
    cache = load_cache(config.cache)
    with worker_pool(config.jobs) as mapper:
        curves = run_range_tests(config, mapper)
        for curve in curves.values():
            curve["suggestions"] = suggestions_of(curve, rules)
        suggested = {key: curve["suggestions"] for key, curve in curves.items()}
        jobs = training_jobs(config, epochs, suggested)
        trained = run_training(jobs, cache, mapper, config.cache)
    cases = [case_result(cache, config, c, epochs[c[0]], curves, rules) for c in config.cases]
    meta = {
        "command": command_line(),
        "started_at": started,
        "finished_at": utc_now(),
        "elapsed_s": time.perf_counter() - clock,
        "machine": machine_info() | {"worker_threads": 1},
        "training_runs_trained": trained,
        "training_runs_cached": len(jobs) - trained,
    }
    return results_document(config, cases, rules, meta)


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_args(argv)
    document = run_benchmark(config)
    write_json(config.out, json_safe(document))
    print(report(document))
    print(f"Results written to {config.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
