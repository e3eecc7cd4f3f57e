"""Suggestion quality: how close each rule's learning rate lands to a grid search's best.

Method
------
A *case* is one variant of a task family (``benchmarks/families.py``: architecture,
dataset, batch size, epochs, training rows) trained with one optimizer: SGD with momentum
0.9, AdamW (weight decay 0.01) or RMSprop, as ``lrtune.optimizers`` builds them.

1. Ground truth (``_grid.py``): a staged grid of constant LRs, three training seeds near
   the best, for the variant's own epochs. An LR's score is the mean final validation
   loss over the seeds (+inf if one diverged); the best LR is the argmin.
2. Range tests: ``find_lr_for_task`` with default options and ``planned_steps`` from the
   task, finder seeds 0 and 1. Prodigy's ``d`` after as many steps is recorded too.
3. Rules. The published rules (``steepest``, ``valley``, ``minimum``) and lrtune's former
   default (``lrtune-min6``) have nothing fitted on these cases. lrtune's candidate models
   (``_rules.py``) do: on the development families their constants are chosen by
   leave-one-family-out cross-validation, so every development figure of a fitted model is
   the prediction for a family its constants never saw. The library's ``lrtune`` rule holds
   the constants fitted on all development families; on them it is in-sample (printed, never
   the headline), and the fresh families (``--families fresh``), added after it was frozen,
   are its out-of-sample check.
4. Regret. Each suggestion is trained at exactly its LR with the three seeds:
   ``regret = mean final validation loss / best grid loss - 1`` (+inf if a seed diverged).
   Reported per rule: median regret, the share within 10% of the best, mean regret with
   each case capped at 2, 90th percentile, diverged suggestions, and for lrtune's models
   how often the best grid LR lies in the interval.

Cost and caching
----------------
Every training run, range test and Prodigy probe is cached in
``results/quality_cache.json.gz`` (committed), so a rerun trains only what it has not seen.
From scratch the development families take about 2 hours on this 2-core machine with
``--jobs 2``; from the cache the whole benchmark takes a few minutes.

Usage::

    python benchmarks/suggestion_quality.py [--families dev|fresh] [--jobs N] [--out PATH]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _common import command_line, machine_info, utc_now, write_json
from _grid import SEEDS, Case, Reference, cases_of, complete, reference
from _rules import MODELS, REGRET_CAP, HeldOut, Model, Observation, interval
from _rules import leave_one_family_out as lofo
from _runs import Cache, Mapper, ProdigyProbeJob, RangeTestJob, json_safe, worker_pool
from families import DEV_FAMILIES, FRESH_FAMILIES

from lrtune.finder import suggest
from lrtune.finder._suggest import smooth_minimum_lr, smoothed_curve

RESULTS = Path(__file__).resolve().parent / "results"
CACHE = RESULTS / "quality_cache.json.gz"
FINDER_SEEDS = (0, 1)
PUBLISHED = ("steepest", "valley", "minimum", "lrtune-min6")
WITHIN = 0.10


# --- range tests and features --------------------------------------------------------


def range_test_jobs(cases: Sequence[Case]) -> list[RangeTestJob]:
    return [
        RangeTestJob(c.family, c.variant, c.optimizer, seed) for c in cases for seed in FINDER_SEEDS
    ]


def probe_jobs(cases: Sequence[Case]) -> list[ProdigyProbeJob]:
    variants = {(c.family, c.variant) for c in cases}
    return [ProdigyProbeJob(f, v, seed) for f, v in sorted(variants) for seed in FINDER_SEEDS]


def curve_of(cache: Cache, case: Case, seed: int) -> dict[str, Any]:
    return cache[RangeTestJob(case.family, case.variant, case.optimizer, seed).key]


def sweep_fall(curve: dict[str, Any]) -> float:
    """How far the sweep's smoothed loss fell below its start: ``1 - lowest / first``."""
    lrs, losses = np.array(curve["lr"]), np.array(curve["loss"], dtype=float)
    finite = np.isfinite(losses)
    smooth = smoothed_curve(lrs[finite], losses[finite])
    return float(1 - smooth.min() / smooth[0]) if smooth[0] > 0 else math.nan


def steepest_before_minimum(lrs: np.ndarray, losses: np.ndarray) -> float | None:
    """The steepest descent of lrtune's zero-phase curve before its minimum."""
    lowest = smooth_minimum_lr(lrs, losses)
    if lowest is None:
        return None
    end = int(np.searchsorted(lrs, lowest)) + 1
    if end < 3:
        return None
    curve = smoothed_curve(lrs, losses)[:end]
    return float(lrs[int(np.argmin(np.gradient(curve, np.log10(lrs[:end]))))])


def observation(cache: Cache, ref: Reference, seed: int) -> Observation:
    case = ref.case
    curve = curve_of(cache, case, seed)
    lrs, losses = np.array(curve["lr"]), np.array(curve["loss"], dtype=float)
    finite = np.isfinite(losses)
    lrs, losses = lrs[finite], losses[finite]
    lowest = smooth_minimum_lr(lrs, losses)
    steep = steepest_before_minimum(lrs, losses)
    d = cache[ProdigyProbeJob(case.family, case.variant, seed).key]["d"][-1]
    xs = np.array([x for x, _ in ref.curve])
    regrets = np.array([min(ref.regret(y), REGRET_CAP) for _, y in ref.curve])
    return Observation(
        case=case.name,
        family=case.family,
        kind=curve["optimizer_kind"],
        finder_seed=seed,
        log_min=None if lowest is None else math.log10(lowest),
        log_steep=None if steep is None else math.log10(steep),
        log_horizon=math.log10(curve["planned_steps"] / 100),
        log_prodigy=math.log10(d) if d > 0 else None,
        log_best=math.log10(ref.best_lr),
        xs=xs,
        regrets=regrets,
    )


# --- suggestions to train ------------------------------------------------------------


@dataclass(frozen=True)
class Pick:
    """One rule's LR for one range test of one case (``None``: no suggestion)."""

    rule: str
    case: Case
    finder_seed: int
    lr: float | None
    interval: tuple[float, float] | None = None


def published_picks(cache: Cache, cases: Sequence[Case], rules: Sequence[str]) -> list[Pick]:
    import pandas as pd

    picks = []
    for case in cases:
        for seed in FINDER_SEEDS:
            curve = curve_of(cache, case, seed)
            frame = pd.DataFrame({"lr": curve["lr"], "loss": curve["loss"]})
            for rule in rules:
                found = suggest(
                    frame,
                    rule,
                    planned_steps=curve["planned_steps"],
                    optimizer_kind=curve["optimizer_kind"],
                )
                picks.append(Pick(rule, case, seed, found.lr, found.lr_interval))
    return picks


def held_out_picks(held: Sequence[HeldOut], name: str, by_name: dict[str, Case]) -> list[Pick]:
    picks = []
    for item in held:
        obs = item.observation
        lr = None if item.log_lr is None else 10**item.log_lr
        span = None
        if item.log_lr is not None:
            span = (
                10 ** (item.log_lr - item.interval.below),
                10 ** (item.log_lr + item.interval.above),
            )
        picks.append(Pick(name, by_name[obs.case], obs.finder_seed, lr, span))
    return picks


def train_picks(cache: Cache, picks: Sequence[Pick], mapper: Mapper) -> int:
    jobs = [p.case.job(p.lr, seed) for p in picks if p.lr is not None for seed in SEEDS]
    return cache.run(jobs, mapper, "suggestions")


# --- scores --------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    rule: str
    case: str
    family: str
    finder_seed: int
    lr: float | None
    best_lr: float
    regret: float
    diverged: bool
    in_interval: bool | None


def score(cache: Cache, pick: Pick, ref: Reference) -> Score:
    if pick.lr is None:
        regret, diverged = math.inf, False
    else:
        runs = [cache[pick.case.job(pick.lr, seed).key] for seed in SEEDS]
        diverged = any(run["diverged"] for run in runs)
        regret = math.inf if diverged else ref.regret(float(np.mean([r["final"] for r in runs])))
    inside = None
    if pick.interval is not None:
        inside = pick.interval[0] <= ref.best_lr <= pick.interval[1]
    return Score(
        pick.rule,
        pick.case.name,
        pick.case.family,
        pick.finder_seed,
        pick.lr,
        ref.best_lr,
        regret,
        diverged,
        inside,
    )


def summarize(scores: Sequence[Score]) -> dict[str, Any]:
    regrets = np.array([s.regret for s in scores])
    capped = np.minimum(regrets, REGRET_CAP)
    inside = [s.in_interval for s in scores if s.in_interval is not None]
    logs = [math.log10(s.lr / s.best_lr) for s in scores if s.lr is not None]
    return {
        "median_regret": float(np.median(regrets)),
        "within_10": float(np.mean(regrets <= WITHIN)),
        "mean_capped_regret": float(np.mean(capped)),
        "p90_regret": float(np.quantile(capped, 0.9, method="higher")),
        "worst_regret": float(np.max(regrets)),
        "diverged": int(sum(s.diverged for s in scores)),
        "none": int(sum(s.lr is None for s in scores)),
        "interval_coverage": float(np.mean(inside)) if inside else None,
        "median_log10_lr_ratio": float(np.median(logs)) if logs else None,
        "n": len(scores),
    }


def by_rule(scores: Sequence[Score]) -> dict[str, dict[str, Any]]:
    rules = sorted({s.rule for s in scores})
    table = {rule: summarize([s for s in scores if s.rule == rule]) for rule in rules}
    return dict(sorted(table.items(), key=lambda kv: (kv[1]["median_regret"], kv[0])))


# --- the run -------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    families: str
    jobs: int
    out: Path


def prepare(cases: Sequence[Case], cache: Cache, mapper: Mapper) -> dict[str, Reference]:
    complete(cases, cache, mapper)
    cache.run(range_test_jobs(cases), mapper, "range tests")
    cache.run(probe_jobs(cases), mapper, "prodigy probes")
    return {case.name: reference(cache, case) for case in cases}


def observations_of(cache: Cache, refs: dict[str, Reference]) -> list[Observation]:
    return [observation(cache, ref, seed) for ref in refs.values() for seed in FINDER_SEEDS]


def fitted_models(observations: Sequence[Observation]) -> dict[str, dict[str, Any]]:
    """Each model's constants fitted on every given observation, and its interval."""
    out = {}
    for model in MODELS:
        params = model.search(observations)
        spread = interval(observations, model, params)
        out[model.name] = {"params": params, "below": spread.below, "above": spread.above}
    return out


def model_picks_on(
    model: Model,
    fitted: dict[str, Any],
    observations: Sequence[Observation],
    by_name: dict[str, Case],
) -> list[Pick]:
    from _rules import Interval

    spread = Interval(fitted["below"], fitted["above"])
    held = [
        HeldOut(o, model.predict(o, fitted["params"]), spread, fitted["params"])
        for o in observations
    ]
    return held_out_picks(held, model.name, by_name)


class Clock:
    """When a benchmark run started, for the header of its results."""

    def __init__(self) -> None:
        self.started, self.start = utc_now(), time.perf_counter()

    def header(self, benchmark: str, config: Config, trained: int) -> dict[str, Any]:
        return {
            "benchmark": benchmark,
            "families": config.families,
            "command": command_line(),
            "started_at": self.started,
            "finished_at": utc_now(),
            "elapsed_s": time.perf_counter() - self.start,
            "machine": machine_info() | {"worker_threads": 1},
            "trained_now": trained,
        }


def run(config: Config) -> dict[str, Any]:
    clock = Clock()
    cache = Cache(CACHE)
    dev_cases = cases_of([f.name for f in DEV_FAMILIES])
    cases = dev_cases if config.families == "dev" else cases_of([f.name for f in FRESH_FAMILIES])
    by_name = {case.name: case for case in dev_cases + cases}
    with worker_pool(config.jobs) as mapper:
        dev_refs = prepare(dev_cases, cache, mapper)
        dev_obs = observations_of(cache, dev_refs)
        refs = dev_refs if config.families == "dev" else prepare(cases, cache, mapper)
        observations = dev_obs if config.families == "dev" else observations_of(cache, refs)
        fitted = fitted_models(dev_obs)
        picks = published_picks(cache, cases, (*PUBLISHED, "lrtune"))
        cv: dict[str, list[HeldOut]] = {}
        for model in MODELS:
            if config.families == "dev":
                cv[model.name] = lofo(dev_obs, model)
                picks += held_out_picks(cv[model.name], model.name, by_name)
            else:
                picks += model_picks_on(model, fitted[model.name], observations, by_name)
        trained = train_picks(cache, picks, mapper)
    scores = [score(cache, pick, refs[pick.case.name]) for pick in picks]
    return {
        **clock.header("suggestion_quality", config, trained),
        "cases": len(cases),
        "case_families": sorted({c.family for c in cases}),
        "summary": by_rule(scores),
        "summary_by_kind": {
            kind: by_rule([s for s in scores if by_name[s.case].optimizer == kind])
            for kind in ("sgd", "adamw", "rmsprop")
        },
        "fitted_on_dev": {
            name: {**entry, "params": {k: round(v, 3) for k, v in entry["params"].items()}}
            for name, entry in fitted.items()
        },
        "cv_params": {name: _fold_params(items) for name, items in cv.items()},
        "references": {
            name: {
                "best_lr": ref.best_lr,
                "best_loss": ref.best_loss,
                "initial_loss": ref.initial_loss,
                "on_edge": ref.on_edge,
            }
            for name, ref in refs.items()
        },
        "by_family": by_family(cache, cases, scores),
        "scores": [s.__dict__ for s in scores],
    }


def by_family(cache: Cache, cases: Sequence[Case], scores: Sequence[Score]) -> dict[str, Any]:
    """Per family: how far its sweeps fell, and how the library's rule did on it."""
    table: dict[str, Any] = {}
    for family in sorted({case.family for case in cases}):
        mine = [case for case in cases if case.family == family]
        falls = [sweep_fall(curve_of(cache, case, seed)) for case in mine for seed in FINDER_SEEDS]
        rule = [s for s in scores if s.family == family and s.rule == "lrtune"]
        table[family] = {
            "median_sweep_fall": float(np.nanmedian(falls)),
            "lrtune": summarize(rule),
        }
    return table


def _fold_params(items: Sequence[HeldOut]) -> dict[str, dict[str, float]]:
    folds: dict[str, dict[str, float]] = {}
    for item in items:
        folds.setdefault(item.observation.family, {k: round(v, 3) for k, v in item.params.items()})
    return folds


# --- report --------------------------------------------------------------------------


def fmt(value: float | None, spec: str) -> str:
    if value is None:
        return "—"
    return format(value, spec) if math.isfinite(value) else "inf"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    align = [":---" if i < left else "---:" for i in range(len(headers))]
    return "\n".join("| " + " | ".join(line) + " |" for line in [headers, align, *rows])


def rule_table(summary: dict[str, dict[str, Any]], held: set[str]) -> str:
    headers = ["rule", "figures", "median regret", "within 10%", "mean regret (capped at 2)"]
    headers += ["p90", "diverged", "none", "best LR in interval", "median log10(LR/best)", "n"]
    rows = [
        [
            f"`{rule}`",
            "held out" if rule in held else "in-sample",
            fmt(s["median_regret"], ".1%"),
            fmt(s["within_10"], ".0%"),
            fmt(s["mean_capped_regret"], ".3f"),
            fmt(s["p90_regret"], ".2f"),
            str(s["diverged"]),
            str(s["none"]),
            fmt(s["interval_coverage"], ".0%"),
            fmt(s["median_log10_lr_ratio"], "+.2f"),
            str(s["n"]),
        ]
        for rule, s in summary.items()
    ]
    return markdown_table(headers, rows, left=2)


def family_table(by_family: dict[str, Any]) -> str:
    headers = ["family", "sweep's loss fell", "median regret", "within 10%", "best LR in interval"]
    rows = [
        [
            family,
            fmt(entry["median_sweep_fall"], ".0%"),
            fmt(entry["lrtune"]["median_regret"], ".1%"),
            fmt(entry["lrtune"]["within_10"], ".0%"),
            fmt(entry["lrtune"]["interval_coverage"], ".0%"),
        ]
        for family, entry in by_family.items()
    ]
    return markdown_table(headers, rows)


def held_out_rules(document: dict[str, Any]) -> set[str]:
    """Rules whose figures in this run are out of sample."""
    unfitted = set(PUBLISHED)
    if document["families"] == "dev":
        return unfitted | {model.name for model in MODELS}
    return unfitted | {model.name for model in MODELS} | {"lrtune"}


def report(document: dict[str, Any]) -> str:
    held = held_out_rules(document)
    lines = [
        f"# Suggestion quality: {document['families']} families",
        "",
        f"Command: `{document['command']}`",
        "",
        f"{document['cases']} cases from {len(document['case_families'])} families "
        f"({', '.join(document['case_families'])}); {document['elapsed_s']:.0f} s, "
        f"{document['trained_now']} runs trained now.",
        "",
        rule_table(document["summary"], held),
    ]
    for kind, summary in document["summary_by_kind"].items():
        lines += ["", f"Cases trained with {kind}:", "", rule_table(summary, held)]
    if "by_family" in document:
        lines += ["", "By family (`lrtune`):", "", family_table(document["by_family"])]
    lines += ["", "Constants fitted on all development families:", ""]
    for name, entry in document["fitted_on_dev"].items():
        lines.append(
            f"- `{name}`: {entry['params']}, interval -{entry['below']:.2f}/+{entry['above']:.2f}"
            " decades"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None, description: str, name: str) -> Config:
    """The options both quality benchmarks take; results go to ``results/<name>_<families>``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--families", choices=("dev", "fresh"), default="dev")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, but got {args.jobs}.")
    out = args.out or RESULTS / f"{name}_{args.families}.json"
    return Config(args.families, args.jobs, out)


def run_benchmark(
    config: Config,
    run_one: Callable[[Config], dict[str, Any]],
    report_one: Callable[[dict[str, Any]], str],
) -> None:
    document = run_one(config)
    write_json(config.out, json_safe(document))
    print(report_one(document))
    print(f"Results written to {config.out}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_args(argv, __doc__.splitlines()[0], "quality")
    run_benchmark(config, run, report)


if __name__ == "__main__":
    main()
