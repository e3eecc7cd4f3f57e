"""Refine quality: ``refine_lr`` against the range test alone and learning-rate-free optimizers.

Method
------
The cases and ground truth are the suggestion-quality benchmark's (``_grid.py``). On each
case:

- ``refine``: ``refine_lr(task, optimizer=..., budget=1.5, seed=s)`` for seeds 0 and 1, in
  an in-memory Optuna storage; its ``.lr`` is trained with the three ground-truth seeds
  and scored like any suggestion. Its cost is what it reports spending, in full trainings.
- ``lrtune`` (the range test alone), fastai's ``valley`` and torch-lr-finder's
  ``steepest``, read on the suggestion benchmark's range tests; cost: the sweep's steps.
- Prodigy, Schedule-Free AdamW, D-Adaptation Adam and DoG at their documented defaults
  (lr 1.0, except Schedule-Free's 0.0025), trained with the three seeds. They replace the
  optimizer, so they are scored on the AdamW cases, against the best constant AdamW LR of
  the same variant; tuning costs them nothing (cost 0), the training is the result.

Regret and the summaries are those of ``suggestion_quality.py``. The refine design
(candidates, rungs, the horizon correction) was chosen on the development families: its
development figures are in-sample, the fresh families are its held-out check.

Usage::

    python benchmarks/refine_quality.py [--families dev|fresh] [--jobs N] [--out PATH]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import suggestion_quality as sq
from _grid import SEEDS, Case, Reference, cases_of
from _runs import Cache, TrainJob, code_digest, task_of, worker_pool
from families import DEV_FAMILIES, FRESH_FAMILIES

from lrtune.refine._plan import CANDIDATES

RESULTS = Path(__file__).resolve().parent / "results"
REFINE_SEEDS = (0, 1)
BUDGET = 1.5
LR_FREE = {"prodigy": 1.0, "schedulefree-adamw": 0.0025, "dadapt-adam": 1.0, "dog": 1.0}
RANGE_RULES = ("lrtune", "valley", "steepest")
DESIGNS = (CANDIDATES,)
"""Candidates at the start; ``refine`` is the library's default (``CANDIDATES``). The first
development run compared 8 (then the default) and 4 (``results/refine_dev.json``)."""


def _refine_digest() -> str:
    """A digest of the code a refine run depends on beyond training itself."""
    import lrtune.finder
    import lrtune.refine

    return code_digest([lrtune.refine, lrtune.finder])


REFINE_DIGEST = _refine_digest()


@dataclass(frozen=True)
class RefineJob:
    family: str
    variant: str
    optimizer: str
    seed: int
    candidates: int
    budget: float = BUDGET

    @property
    def key(self) -> str:
        parts = (self.family, self.variant, self.optimizer, self.seed, self.budget)
        parts += (self.candidates, REFINE_DIGEST)
        return "refine|" + "|".join(map(str, parts))

    def run(self) -> dict[str, Any]:
        import optuna

        from lrtune.refine import refine_lr
        from lrtune.report._refine_text import refine_dict

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        result = refine_lr(
            task_of(self.family, self.variant),
            optimizer=self.optimizer,
            budget=self.budget,
            seed=self.seed,
            storage=optuna.storages.InMemoryStorage(),
            device="cpu",
            candidates=self.candidates,
        )
        return refine_dict(result)


@dataclass(frozen=True)
class Entry:
    """One method's LR (or LR-free run) on one case, with its cost in full trainings."""

    method: str
    case: Case
    seed: int
    lr: float | None
    cost: float
    train_as: str
    """The optimizer trained at ``lr`` (the case's own, or an LR-free one)."""


def refine_jobs(cases: Sequence[Case]) -> list[RefineJob]:
    return [
        RefineJob(c.family, c.variant, c.optimizer, seed, candidates)
        for c in cases
        for seed in REFINE_SEEDS
        for candidates in DESIGNS
    ]


def refine_entries(cache: Cache, cases: Sequence[Case]) -> list[Entry]:
    entries = []
    for job in refine_jobs(cases):
        found = cache[job.key]
        case = Case(job.family, job.variant, job.optimizer)
        cost = found["cost_steps"] / found["planned_steps"]
        entries.append(
            Entry(design_name(job.candidates), case, job.seed, found["lr"], cost, job.optimizer)
        )
    return entries


def design_name(candidates: int) -> str:
    return "refine" if candidates == CANDIDATES else f"refine-{candidates}"


def range_entries(cache: Cache, cases: Sequence[Case]) -> list[Entry]:
    picks = sq.published_picks(cache, cases, RANGE_RULES)
    entries = []
    for pick in picks:
        curve = sq.curve_of(cache, pick.case, pick.finder_seed)
        cost = len(curve["lr"]) / curve["planned_steps"]
        entries.append(
            Entry(pick.rule, pick.case, pick.finder_seed, pick.lr, cost, pick.case.optimizer)
        )
    return entries


def lr_free_entries(cases: Sequence[Case]) -> list[Entry]:
    adamw = [case for case in cases if case.optimizer == "adamw"]
    return [Entry(name, case, 0, lr, 0.0, name) for case in adamw for name, lr in LR_FREE.items()]


def train_job(entry: Entry, seed: int) -> TrainJob:
    assert entry.lr is not None
    return TrainJob(entry.case.family, entry.case.variant, entry.train_as, entry.lr, seed)


def score(cache: Cache, entry: Entry, ref: Reference) -> dict[str, Any]:
    if entry.lr is None:
        regret, diverged = math.inf, False
    else:
        runs = [cache[train_job(entry, seed).key] for seed in SEEDS]
        diverged = any(run["diverged"] for run in runs)
        regret = math.inf if diverged else ref.regret(float(np.mean([r["final"] for r in runs])))
    return {
        "method": entry.method,
        "case": entry.case.name,
        "seed": entry.seed,
        "lr": entry.lr,
        "best_lr": ref.best_lr,
        "regret": regret,
        "diverged": diverged,
        "cost": entry.cost,
    }


def summarize(scores: Sequence[dict[str, Any]]) -> dict[str, Any]:
    regrets = np.array([s["regret"] for s in scores])
    return {
        "median_regret": float(np.median(regrets)),
        "within_10": float(np.mean(regrets <= sq.WITHIN)),
        "mean_capped_regret": float(np.mean(np.minimum(regrets, 2.0))),
        "p90_regret": float(np.quantile(np.minimum(regrets, 2.0), 0.9, method="higher")),
        "diverged": int(sum(s["diverged"] for s in scores)),
        "median_cost": float(np.median([s["cost"] for s in scores])),
        "max_cost": float(np.max([s["cost"] for s in scores])),
        "n": len(scores),
    }


def by_method(scores: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    methods = sorted({s["method"] for s in scores})
    table = {m: summarize([s for s in scores if s["method"] == m]) for m in methods}
    return dict(sorted(table.items(), key=lambda kv: (kv[1]["median_regret"], kv[0])))


def run(config: sq.Config) -> dict[str, Any]:
    clock = sq.Clock()
    cache = Cache(sq.CACHE)
    families = DEV_FAMILIES if config.families == "dev" else FRESH_FAMILIES
    cases = cases_of([f.name for f in families])
    with worker_pool(config.jobs) as mapper:
        refs = sq.prepare(cases, cache, mapper)
        cache.run(refine_jobs(cases), mapper, "refine")
        entries = refine_entries(cache, cases) + range_entries(cache, cases)
        entries += lr_free_entries(cases)
        train = [train_job(e, seed) for e in entries if e.lr is not None for seed in SEEDS]
        trained = cache.run(train, mapper, "trainings")
    adamw_ref = {(c.family, c.variant): refs[c.name] for c in cases if c.optimizer == "adamw"}
    scores = [
        score(
            cache,
            e,
            refs[e.case.name]
            if e.method.startswith("refine") or e.method in RANGE_RULES
            else adamw_ref[(e.case.family, e.case.variant)],
        )
        for e in entries
    ]
    return {
        **clock.header("refine_quality", config, trained),
        "budget": BUDGET,
        "summary": by_method(scores),
        "summary_adamw_cases": by_method(
            [s for s in scores if s["case"].endswith("/adamw") or s["method"] in LR_FREE]
        ),
        "refine_over_budget": sum(
            s["cost"] > BUDGET for s in scores if s["method"].startswith("refine")
        ),
        "designs": {design_name(n): n for n in DESIGNS},
        "scores": scores,
    }


def method_table(summary: dict[str, dict[str, Any]]) -> str:
    headers = ["method", "tuning cost (full trainings): median / max", "median regret"]
    headers += ["within 10%", "mean regret (capped at 2)", "p90", "diverged", "n"]
    rows = [
        [
            f"`{name}`",
            f"{s['median_cost']:.2f} / {s['max_cost']:.2f}",
            sq.fmt(s["median_regret"], ".1%"),
            sq.fmt(s["within_10"], ".0%"),
            sq.fmt(s["mean_capped_regret"], ".3f"),
            sq.fmt(s["p90_regret"], ".2f"),
            str(s["diverged"]),
            str(s["n"]),
        ]
        for name, s in summary.items()
    ]
    return sq.markdown_table(headers, rows)


def report(document: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"# Refine quality: {document['families']} families",
            "",
            f"Command: `{document['command']}`",
            "",
            f"{document['elapsed_s']:.0f} s, {document['trained_now']} runs trained now; "
            f"refine runs over budget: {document['refine_over_budget']}.",
            "",
            "All cases (LR-free optimizers: AdamW cases only):",
            "",
            method_table(document["summary"]),
            "",
            "AdamW cases only:",
            "",
            method_table(document["summary_adamw_cases"]),
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    config = sq.parse_args(argv, __doc__.splitlines()[0], "refine")
    sq.run_benchmark(config, run, report)


if __name__ == "__main__":
    main()
