"""Study quality: does a finder-bounded study reach a good configuration in fewer trials?

Method
------
For each bundled task (``lrtune.examples``) and each seed, four arms run as independent
jobs, every one on the CPU with one thread:

``lrtune``
    ``run_study(task, n_trials=N, storage=InMemoryStorage(), seed=seed, device="cpu")``
    with every default: all optimizers and schedules, the median pruner, the TPE sampler,
    one range test per optimizer before trial 0 (LRs searched in ``[min_lr / 3, max_lr *
    3]``) and the warm-start templates enqueued as the first trials.
``lrtune-no-warm-start``
    The same with ``warm_start=False``: range-test bounds only. An ablation (not in the
    issue) that separates what the bounds bring from what the enqueued templates bring.
``plain``
    The same call with ``ranges={"<optimizer>.lr": (1e-6, 1.0)}`` for every optimizer and
    ``warm_start=False``: no range test runs (checked on the stored bounds: no
    ``min_lr``, no ``range_test_id``), so it is plain Optuna TPE over the same optimizers,
    schedules and other parameters, with the same pruner.
``default``
    ``train(task, TrainingConfig("adam", 1e-3), seed=seed)``: Adam at 1e-3, constant.

The objective is the studies' own: the last epoch's validation loss (lower is better).
*Best after k trials* is the minimum over trials numbered below k of the COMPLETE trials'
values; a pruned trial (by the median pruner, or because it diverged) has no final value
and does not count. It is ``null`` in the JSON when none of the first k completed. The
default's value is its final validation loss (``inf``, shown as ``null``, if it diverged).

With N = 40 the checkpoints are 10, 20 and 40 trials, and the target (issue #3) is
``lrtune@20 <= plain@40``: lrtune reaches the plain study's 40-trial best in half the
trials. It is scored per seed, with the ratio ``lrtune@20 / plain@40``. ``--trials``
scales the checkpoints (N/4, N/2, N).

Bounds. For the lrtune arms the best trial's LR (over all N trials) is placed inside the
searched range, as a position in log space (0 = ``low``, 1 = ``high``), and against the
range test: ``(log lr - log min_lr) / (log max_lr - log min_lr)`` (below 0: under
``min_lr``; above 1: over ``max_lr``) and ``log10(lr / max_lr)``. The plain arm's best LR
is placed in the same seed's lrtune searched range for its optimizer: whether an
unrestricted search ends up inside the range the range test would have allowed.

Time. The wall time from the ``run_study`` call to trial 0's start is recorded for every
study: for ``lrtune`` it is the range tests plus setup; ``plain`` measures the setup alone.
Each worker first runs a 2-trial study, so the one-off costs of a fresh process (about a
second: lazy imports, torch's first steps) are not charged to any job.

Budget. The default covers all 7 tasks, seeds 0-9 and 40 trials: 280 jobs, about 7
minutes with ``--jobs 2`` on the 2-core development machine. ``--quick`` (2 tasks, 2
seeds, 20 trials) takes under a minute and writes ``results/study_quality_quick.*``.

Usage::

    python benchmarks/study_quality.py [--jobs N] [--quick] [--tasks a,b] [--seeds 0,1]
        [--trials N] [--out PATH]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch
from _common import comma_choices, command_line, machine_info, utc_now, write_json
from optuna.trial import FrozenTrial, TrialState

from lrtune.examples import EXAMPLES, load_example
from lrtune.study import DEFAULT_OPTIMIZERS, TEMPLATES, read_settings, run_study
from lrtune.tasks import Task
from lrtune.training import TrainingConfig, train

RESULTS = Path(__file__).resolve().parent / "results"
ARMS = ("lrtune", "lrtune-no-warm-start", "plain", "default")
STUDY_ARMS = ARMS[:3]
LRTUNE_ARMS = ARMS[:2]
PLAIN_RANGE = (1e-6, 1.0)
TASKS = (
    "digits-mlp",
    "breast-cancer-logreg",
    "diabetes-mlp",
    "digits-cnn",
    "digits-autoencoder",
    "digits-gru",
    "wine-mlp",
)
QUICK_TASKS = ("digits-mlp", "diabetes-mlp")
SEEDS = tuple(range(10))
QUICK_SEEDS = (0, 1)
TRIALS, QUICK_TRIALS = 40, 20
WARM_UP_TASK = "breast-cancer-logreg"
TRIAL_FIELDS = (
    "number",
    "state",
    "value",
    "optimizer",
    "schedule",
    "lr",
    "warm_start",
    "epochs_run",
    "pruned_by",
)
"""The columns of each trial's row in the JSON's ``runs``."""
EDGE = 0.1
"""A best LR within this share of the searched log range from an end counts as on the edge."""


@dataclass(frozen=True)
class Config:
    """What one benchmark run covers."""

    tasks: tuple[str, ...]
    seeds: tuple[int, ...]
    n_trials: int
    jobs: int
    quick: bool
    out: Path

    @property
    def checkpoints(self) -> tuple[int, int, int]:
        n = self.n_trials
        return max(1, n // 4), max(1, n // 2), n


# --- jobs: what the workers run ------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One arm on one task with one seed."""

    task: str
    arm: str
    seed: int
    n_trials: int

    def run(self) -> dict[str, Any]:
        task = _task(self.task)
        clock = time.perf_counter()
        record = run_default(task, self.seed) if self.arm == "default" else self._study(task)
        return {**asdict(self), **record, "wall_s": time.perf_counter() - clock}

    def _study(self, task: Task) -> dict[str, Any]:
        started = time.time()
        study = run_study(
            task,
            n_trials=self.n_trials,
            storage=optuna.storages.InMemoryStorage(),
            seed=self.seed,
            device="cpu",
            **study_options(self.arm),
        )
        return study_record(study, self.arm, started)


@functools.cache
def _task(name: str) -> Task:
    return load_example(name)


def study_options(arm: str) -> dict[str, Any]:
    """``run_study``'s keyword arguments beyond the shared ones, per study arm."""
    if arm == "lrtune":
        return {}
    if arm == "lrtune-no-warm-start":
        return {"warm_start": False}
    if arm == "plain":
        return {"ranges": {f"{name}.lr": PLAIN_RANGE for name in DEFAULT_OPTIMIZERS}}
    raise ValueError(f"arm must be one of {STUDY_ARMS}, but got {arm=}.")


def run_default(task: Task, seed: int) -> dict[str, Any]:
    run = train(task, TrainingConfig("adam", 1e-3), seed=seed)
    return {"value": run.final_val_loss, "diverged": run.diverged}


def study_record(study: optuna.Study, arm: str, started: float) -> dict[str, Any]:
    """Every trial, the stored bounds, the pre-trial time and any anomaly found."""
    trials = sorted(study.trials, key=lambda trial: trial.number)
    settings = read_settings(study)
    bounds = {name: b.to_dict() for name, b in settings.bounds.items()}
    records = [trial_record(trial) for trial in trials]
    return {
        "pretrial_s": trials[0].datetime_start.timestamp() - started if trials else None,
        "epochs": settings.epochs,
        "bounds": bounds,
        "trials": records,
        "anomalies": anomalies(arm, records, bounds, settings.epochs),
    }


def trial_record(trial: FrozenTrial) -> dict[str, Any]:
    optimizer = trial.params.get("optimizer")
    return {
        "number": trial.number,
        "state": trial.state.name,
        "value": trial.value if trial.state == TrialState.COMPLETE else None,
        "optimizer": optimizer,
        "schedule": trial.params.get("schedule"),
        "lr": trial.params.get(f"{optimizer}.lr"),
        "warm_start": bool(trial.user_attrs.get("warm_start", False)),
        "epochs_run": trial.user_attrs.get("epochs_run"),
        "pruned_by": _pruned_by(trial.user_attrs.get("pruned_reason")),
    }


def _pruned_by(reason: str | None) -> str | None:
    """``"diverged"`` (the objective prunes a diverged run), ``"pruner"`` or ``None``."""
    if reason is None:
        return None
    return "diverged" if reason.startswith("diverged") else "pruner"


def anomalies(arm: str, trials: list[dict], bounds: dict[str, dict], epochs: int) -> list[str]:
    """What would make the arm's numbers meaningless: checked, reported, never fixed."""
    found = [_bounds_anomaly(arm, name, b) for name, b in bounds.items()]
    expected_warm = len(TEMPLATES) if arm == "lrtune" else 0
    warm = sum(trial["warm_start"] for trial in trials)
    if warm != expected_warm:
        found.append(f"{warm} warm-start trials, expected {expected_warm}")
    for trial in trials:
        found.append(_trial_anomaly(trial, bounds, epochs))
    return [problem for problem in found if problem is not None]


def _bounds_anomaly(arm: str, name: str, bounds: dict[str, Any]) -> str | None:
    tested = bounds["min_lr"] is not None
    if arm == "plain" and (tested or bounds["range_test_id"] is not None):
        return f"{name}: a range test ran although its LR range was given"
    if arm == "plain" and (bounds["low"], bounds["high"]) != PLAIN_RANGE:
        return f"{name}: searched {bounds['low']}..{bounds['high']}, not {PLAIN_RANGE}"
    if arm != "plain" and not tested:
        return f"{name}: no range-test bounds"
    return None


def _trial_anomaly(trial: dict[str, Any], bounds: dict[str, dict], epochs: int) -> str | None:
    number, value = trial["number"], trial["value"]
    if trial["state"] not in ("COMPLETE", "PRUNED"):
        return f"trial {number}: state {trial['state']}"
    if trial["state"] == "COMPLETE" and not (value is not None and math.isfinite(value)):
        return f"trial {number}: complete with value {value!r}"
    if trial["state"] == "COMPLETE" and trial["epochs_run"] != epochs:
        return f"trial {number}: complete after {trial['epochs_run']} of {epochs} epochs"
    b = bounds.get(trial["optimizer"])
    if b is None or not b["low"] <= trial["lr"] <= b["high"]:
        return f"trial {number}: lr {trial['lr']!r} outside the searched range"
    return None


def _init_worker() -> None:
    # One thread per job: the runs are tiny, and the parallelism is across jobs.
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # A fresh process pays about a second of one-off costs (lazy imports, torch's first
    # backward and optimizer steps) in its first range test; pay it here, not in a job.
    storage = optuna.storages.InMemoryStorage()
    run_study(WARM_UP_TASK, n_trials=2, storage=storage, device="cpu")


def _execute(job: Job) -> dict[str, Any]:
    return job.run()


def run_jobs(config: Config) -> list[dict[str, Any]]:
    """Every (task, arm, seed) job, the slowest tasks first so the pool ends evenly."""
    order = sorted(config.tasks, key=lambda task: -_task(task).epochs * _cost_rank(task))
    jobs = [
        Job(task, arm, seed, config.n_trials)
        for task in order
        for seed in config.seeds
        for arm in ARMS
    ]
    context = multiprocessing.get_context("spawn")
    done, clock = [], time.perf_counter()
    with concurrent.futures.ProcessPoolExecutor(
        config.jobs, mp_context=context, initializer=_init_worker
    ) as pool:
        futures = [pool.submit(_execute, job) for job in jobs]
        for future in concurrent.futures.as_completed(futures):
            done.append(future.result())
            _progress(len(done), len(jobs), time.perf_counter() - clock)
    return sorted(done, key=lambda r: (config.tasks.index(r["task"]), r["seed"], r["arm"]))


def _cost_rank(task: str) -> int:
    # Image and sequence models train several times slower than the tabular ones.
    return 3 if task.startswith("digits") else 1


def _progress(done: int, total: int, elapsed: float) -> None:
    if done % max(1, total // 40) and done != total:
        return
    left = elapsed / done * (total - done)
    print(f"{done}/{total} jobs done, {elapsed:.0f}s elapsed, ~{left:.0f}s left", file=sys.stderr)


# --- scoring (pure) ------------------------------------------------------------------


def best_after(trials: Sequence[dict[str, Any]], k: int) -> float | None:
    """The lowest value among the complete trials numbered below ``k``; ``None`` if none."""
    values = [t["value"] for t in trials if t["number"] < k and t["state"] == "COMPLETE"]
    return min(values) if values else None


def best_trial(trials: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    complete = [t for t in trials if t["state"] == "COMPLETE"]
    return min(complete, key=lambda t: (t["value"], t["number"])) if complete else None


def log_position(lr: float, low: float | None, high: float | None) -> float | None:
    """Where ``lr`` falls between ``low`` (0) and ``high`` (1) in log space."""
    if lr is None or low is None or high is None or high <= low:
        return None
    return math.log(lr / low) / math.log(high / low)


def lr_placement(best: dict[str, Any] | None, bounds: dict[str, Any] | None) -> dict[str, Any]:
    """The best trial's LR against a searched range and the range test behind it."""
    if best is None or bounds is None:
        return {"in_searched": None, "in_range_test": None, "decades_from_max_lr": None}
    lr, max_lr = best["lr"], bounds["max_lr"]
    return {
        "in_searched": log_position(lr, bounds["low"], bounds["high"]),
        "in_range_test": log_position(lr, bounds["min_lr"], max_lr),
        "decades_from_max_lr": None if max_lr is None else math.log10(lr / max_lr),
    }


def seed_row(runs: dict[str, dict[str, Any]], checkpoints: Sequence[int]) -> dict[str, Any]:
    """One task and seed: each arm's best after each checkpoint, and the LR placements."""
    row: dict[str, Any] = {"default": _finite(runs["default"]["value"])}
    for arm in STUDY_ARMS:
        trials = runs[arm]["trials"]
        best = best_trial(trials)
        row[arm] = {
            "best_after": {str(k): best_after(trials, k) for k in checkpoints},
            "pruned": sum(t["state"] == "PRUNED" for t in trials),
            "diverged": sum(t["pruned_by"] == "diverged" for t in trials),
            "trials": len(trials),
            "pretrial_s": runs[arm]["pretrial_s"],
            "wall_s": runs[arm]["wall_s"],
            "best": best,
            "anomalies": runs[arm]["anomalies"],
        }
    for arm in LRTUNE_ARMS:
        best = row[arm]["best"]
        bounds = runs[arm]["bounds"].get(best["optimizer"]) if best else None
        row[arm]["placement"] = lr_placement(best, bounds)
    # The plain study's best LR, in the range the same seed's range test would have searched.
    best = row["plain"]["best"]
    bounds = runs["lrtune"]["bounds"].get(best["optimizer"]) if best else None
    row["plain"]["placement"] = lr_placement(best, bounds)
    return row


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (JSON has no inf)."""
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def target_row(row: dict[str, Any], arm: str, checkpoints: Sequence[int]) -> dict[str, Any]:
    """``arm`` at the quarter and half budgets against the plain study's full budget."""
    quarter, half, full = (str(k) for k in checkpoints)
    reference = row["plain"]["best_after"][full]
    mine = row[arm]["best_after"]
    return {
        "ratio_half": _ratio(mine[half], reference),
        "meets_half": _meets(mine[half], reference),
        "ratio_quarter": _ratio(mine[quarter], reference),
        "meets_quarter": _meets(mine[quarter], reference),
    }


def _ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or reference <= 0:
        return None
    return value / reference


def _meets(value: float | None, reference: float | None) -> bool | None:
    if reference is None:
        return None  # the plain study completed no trial: nothing to reach
    return value is not None and value <= reference


def spread(values: Sequence[float | None]) -> dict[str, Any]:
    """Median, min and max of the values that exist; how many are missing."""
    present = [v for v in values if v is not None]
    if not present:
        return {"median": None, "min": None, "max": None, "missing": len(values)}
    return {
        "median": float(np.median(present)),
        "min": min(present),
        "max": max(present),
        "missing": len(values) - len(present),
    }


def task_summary(rows: Sequence[dict[str, Any]], checkpoints: Sequence[int]) -> dict[str, Any]:
    """Over seeds: each arm's best-after spreads, pruned share, times, target counts, LRs."""
    summary: dict[str, Any] = {"default": spread([row["default"] for row in rows])}
    for arm in STUDY_ARMS:
        arm_rows = [row[arm] for row in rows]
        summary[arm] = {
            "best_after": {
                str(k): spread([r["best_after"][str(k)] for r in arm_rows]) for k in checkpoints
            },
            "pruned_share": sum(r["pruned"] for r in arm_rows) / sum(r["trials"] for r in arm_rows),
            "diverged_share": sum(r["diverged"] for r in arm_rows)
            / sum(r["trials"] for r in arm_rows),
            "pretrial_s": spread([r["pretrial_s"] for r in arm_rows]),
            "wall_s": spread([r["wall_s"] for r in arm_rows]),
            "placement": placement_summary([r["placement"] for r in arm_rows]),
            "best_optimizers": _counts(r["best"]["optimizer"] for r in arm_rows if r["best"]),
            "best_schedules": _counts(r["best"]["schedule"] for r in arm_rows if r["best"]),
            "anomalies": sum(len(r["anomalies"]) for r in arm_rows),
        }
    for arm in LRTUNE_ARMS:
        targets = [target_row(row, arm, checkpoints) for row in rows]
        summary[arm]["target"] = target_summary(targets)
    return summary


def target_summary(targets: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "ratio_half": [t["ratio_half"] for t in targets],
        "ratio_quarter": [t["ratio_quarter"] for t in targets],
        "meets_half": sum(bool(t["meets_half"]) for t in targets),
        "meets_quarter": sum(bool(t["meets_quarter"]) for t in targets),
        "seeds": len(targets),
        "median_ratio_half": spread([t["ratio_half"] for t in targets])["median"],
        "median_ratio_quarter": spread([t["ratio_quarter"] for t in targets])["median"],
    }


def placement_summary(placements: Sequence[dict[str, Any]]) -> dict[str, Any]:
    searched = [p["in_searched"] for p in placements if p["in_searched"] is not None]
    tested = [p["in_range_test"] for p in placements if p["in_range_test"] is not None]
    decades = [p["decades_from_max_lr"] for p in placements if p["decades_from_max_lr"] is not None]
    return {
        "in_searched": spread(searched),
        "in_range_test": spread(tested),
        "decades_from_max_lr": spread(decades),
        "below_searched": sum(x < 0 for x in searched),
        "above_searched": sum(x > 1 for x in searched),
        "low_edge": sum(0 <= x < EDGE for x in searched),
        "high_edge": sum(1 - EDGE < x <= 1 for x in searched),
        "below_min_lr": sum(x < 0 for x in tested),
        "inside_range_test": sum(0 <= x <= 1 for x in tested),
        "above_max_lr": sum(x > 1 for x in tested),
        "n": len(searched),
    }


def _counts(names: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def results_document(
    config: Config, runs: list[dict[str, Any]], meta: dict[str, Any]
) -> dict[str, Any]:
    checkpoints = config.checkpoints
    by_key = {(r["task"], r["seed"], r["arm"]): r for r in runs}
    tasks: dict[str, Any] = {}
    for task in config.tasks:
        rows = [
            {"seed": seed} | seed_row({arm: by_key[(task, seed, arm)] for arm in ARMS}, checkpoints)
            for seed in config.seeds
        ]
        tasks[task] = {"summary": task_summary(rows, checkpoints), "per_seed": rows}
    return {
        "benchmark": "study_quality",
        **meta,
        "config": {**asdict(config), "out": str(config.out), "checkpoints": list(checkpoints)},
        "null_means": "no complete trial yet (best-after), no ratio, or a diverged default",
        "tasks": tasks,
        "trial_fields": list(TRIAL_FIELDS),
        "runs": [_compact(run) for run in runs],
    }


def _compact(run: dict[str, Any]) -> dict[str, Any]:
    """``run`` with each trial as a row of ``TRIAL_FIELDS`` (a third smaller than dicts)."""
    if "trials" not in run:
        return run
    return run | {"trials": [[trial[f] for f in TRIAL_FIELDS] for trial in run["trials"]]}


# --- markdown ------------------------------------------------------------------------


def fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A GitHub table; the first ``left`` columns align left, the rest right."""
    rules = [":---" if i < left else "---:" for i in range(len(headers))]
    return "\n".join("| " + " | ".join(line) + " |" for line in [headers, rules, *rows])


def _spread_cell(s: dict[str, Any], spec: str = ".4g") -> str:
    if s["median"] is None:
        return "—"
    cell = f"{fmt(s['median'], spec)} [{fmt(s['min'], spec)}, {fmt(s['max'], spec)}]"
    return cell + (f" [{s['missing']} none]" if s["missing"] else "")


def best_table(document: dict[str, Any]) -> str:
    ks = document["config"]["checkpoints"]
    headers = ["task", "arm", *(f"best@{k}" for k in ks), "pruned", "of which diverged"]
    headers += ["pre-trial s", "study s"]
    rows = []
    for task, result in document["tasks"].items():
        s = result["summary"]
        for arm in STUDY_ARMS:
            cells = [_spread_cell(s[arm]["best_after"][str(k)]) for k in ks]
            rows.append(
                [
                    task,
                    f"`{arm}`",
                    *cells,
                    f"{s[arm]['pruned_share']:.0%}",
                    f"{s[arm]['diverged_share']:.0%}",
                    _spread_cell(s[arm]["pretrial_s"], ".2f"),
                    _spread_cell(s[arm]["wall_s"], ".1f"),
                ]
            )
        default = _spread_cell(s["default"])
        rows.append([task, "`default` (Adam 1e-3)", "", "", default, "", "", "", ""])
    return markdown_table(headers, rows, left=2)


def target_table(document: dict[str, Any]) -> str:
    quarter, half, full = document["config"]["checkpoints"]
    headers = ["task", "arm", f"seeds with @{half} <= plain@{full}", f"median @{half}/plain@{full}"]
    headers += [f"per-seed @{half}/plain@{full}", f"seeds with @{quarter} <= plain@{full}"]
    headers.append(f"median @{quarter}/plain@{full}")
    rows = []
    for task, result in document["tasks"].items():
        for arm in LRTUNE_ARMS:
            t = result["summary"][arm]["target"]
            per_seed = " ".join(fmt(r, ".3f") for r in t["ratio_half"])
            rows.append(
                [
                    task,
                    f"`{arm}`",
                    f"{t['meets_half']}/{t['seeds']}",
                    fmt(t["median_ratio_half"], ".3f"),
                    per_seed,
                    f"{t['meets_quarter']}/{t['seeds']}",
                    fmt(t["median_ratio_quarter"], ".3f"),
                ]
            )
    return markdown_table(headers, rows, left=2)


def placement_table(document: dict[str, Any]) -> str:
    headers = ["task", "arm", "position in searched range", "edge hits (<0.1 / >0.9)"]
    headers += ["position in (min_lr, max_lr)", "below min / inside / above max"]
    headers.append("log10(lr / max_lr)")
    rows = []
    for task, result in document["tasks"].items():
        for arm in (*LRTUNE_ARMS, "plain"):
            p = result["summary"][arm]["placement"]
            outside = f" ({p['below_searched']} below, {p['above_searched']} above)"
            edges = f"{p['low_edge']} / {p['high_edge']}"
            rows.append(
                [
                    task,
                    f"`{arm}`",
                    _spread_cell(p["in_searched"], ".2f"),
                    edges + (outside if arm == "plain" else ""),
                    _spread_cell(p["in_range_test"], ".2f"),
                    f"{p['below_min_lr']} / {p['inside_range_test']} / {p['above_max_lr']}",
                    _spread_cell(p["decades_from_max_lr"], "+.2f"),
                ]
            )
    return markdown_table(headers, rows, left=2)


def winners_table(document: dict[str, Any]) -> str:
    headers = ["task", "arm", "best trial's optimizer (seeds)", "best trial's schedule (seeds)"]
    rows = []
    for task, result in document["tasks"].items():
        for arm in STUDY_ARMS:
            s = result["summary"][arm]
            optimizers, schedules = s["best_optimizers"], s["best_schedules"]
            rows.append([task, f"`{arm}`", _count_cell(optimizers), _count_cell(schedules)])
    return markdown_table(headers, rows, left=4)


def _count_cell(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items())


def report(document: dict[str, Any]) -> str:
    config, machine = document["config"], document["machine"]
    quarter, half, full = config["checkpoints"]
    lines = [
        "# Study quality",
        "",
        f"Command: `{document['command']}`",
        "",
        f"Started {document['started_at']}, finished {document['finished_at']} "
        f"({document['elapsed_s']:.0f} s). Machine: {machine['cpu_count']} CPUs, "
        f"{machine['platform']}, torch {machine['torch']}, optuna {machine['optuna']}, "
        f"{config['jobs']} jobs of one thread. Seeds {', '.join(map(str, config['seeds']))}; "
        f"{full} trials per study.",
        "",
        f"## Best validation loss after {quarter}, {half} and {full} trials",
        "",
        "Median over seeds [min, max]; lower is better. Pruned: share of all trials pruned "
        "(median pruner, or diverged). Pre-trial: seconds from the call to trial 0 "
        "(lrtune: range tests included). Study: the whole `run_study` call.",
        "",
        best_table(document),
        "",
        f"## Target: lrtune@{half} <= plain@{full}",
        "",
        "Per seed, the ratio of the arm's best after that many trials to the plain study's "
        f"best after {full}; at most 1 meets the target. — : no ratio (the plain study's "
        "best is 0, or a best is missing).",
        "",
        target_table(document),
        "",
        "## Where the best trial's LR falls",
        "",
        "Positions in log space: 0 = low end, 1 = high end. For `plain` the range is the "
        "same seed's lrtune range for the best trial's optimizer.",
        "",
        placement_table(document),
        "",
        "## What won",
        "",
        winners_table(document),
        "",
        *_anomaly_lines(document),
    ]
    return "\n".join(lines)


def _anomaly_lines(document: dict[str, Any]) -> list[str]:
    found = [
        f"- {run['task']} / {run['arm']} / seed {run['seed']}: {problem}"
        for run in document["runs"]
        for problem in run.get("anomalies", [])
    ]
    if not found:
        return [
            "No anomaly: every complete trial has a finite value after all its epochs, every "
            "LR lies in its searched range, lrtune's arms have range-test bounds (and "
            f"`lrtune` its {len(TEMPLATES)} warm starts), and `plain` ran no range test."
        ]
    return ["## Anomalies", "", *found]


# --- command line --------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> Config:
    parser = _parser()
    args = parser.parse_args(argv)
    tasks = comma_choices(parser, "--tasks", args.tasks, list(EXAMPLES))
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, but got {args.jobs}.")
    if args.trials is not None and args.trials < 4:
        parser.error(f"--trials must be at least 4, but got {args.trials}.")
    default_out = RESULTS / ("study_quality_quick.json" if args.quick else "study_quality.json")
    return Config(
        tasks=tuple(tasks or (QUICK_TASKS if args.quick else TASKS)),
        seeds=args.seeds or (QUICK_SEEDS if args.quick else SEEDS),
        n_trials=args.trials or (QUICK_TRIALS if args.quick else TRIALS),
        jobs=args.jobs,
        quick=args.quick,
        out=args.out or default_out,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 2 tasks, 2 seeds, 20 trials"
    )
    parser.add_argument("--tasks", help=f"comma-separated subset of: {', '.join(EXAMPLES)}")
    parser.add_argument(
        "--seeds",
        type=lambda text: tuple(int(seed) for seed in text.split(",")),
        help=f"comma-separated seeds (default {','.join(map(str, SEEDS))})",
    )
    parser.add_argument("--trials", type=int, help=f"trials per study (default {TRIALS})")
    parser.add_argument(
        "--out",
        type=Path,
        help="results JSON (default results/study_quality.json); "
        "the markdown report goes next to it",
    )
    return parser


def run_benchmark(config: Config) -> dict[str, Any]:
    started, clock = utc_now(), time.perf_counter()
    runs = run_jobs(config)
    meta = {
        "command": command_line(),
        "started_at": started,
        "finished_at": utc_now(),
        "elapsed_s": time.perf_counter() - clock,
        "machine": machine_info() | {"worker_threads": 1, "optuna": optuna.__version__},
    }
    return results_document(config, runs, meta)


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_args(argv)
    document = run_benchmark(config)
    write_json(config.out, json_safe(document))
    text = report(document)
    config.out.with_suffix(".md").write_text(text + "\n")
    print(text)
    print(f"Results written to {config.out} and {config.out.with_suffix('.md')}", file=sys.stderr)


if __name__ == "__main__":
    main()
