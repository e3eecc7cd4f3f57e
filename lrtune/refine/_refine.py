"""``refine_lr``: a constant LR validated by training, within a budget of full trainings.

The range test's interval (where the best constant LR likely lies) is cut into
``CANDIDATES`` LRs, log-uniformly. Successive halving then trains them all with the same
seed, judges them by validation loss at each rung and resumes the better half, until the
last rung names a winner (``lrtune.refine._plan``). Candidates lie far apart, so the LR
taken on is the vertex of a parabola between the last two survivors, of the first rung's
curvature (``lrtune.refine._interpolate``; the winner where there is none). The last rung
stops short of a full training, and the best LR for a short run is larger than for a long
one; that LR is moved to the full length:
``lr = interpolated * (planned_steps / last_rung) ** HORIZON_EXPONENT[kind]``.

Every candidate is a trial of an Optuna study whose pruner does the halving, stored in the
same database as any study, so ``lrtune show --refine``, the dashboard and Optuna's own
tools read it.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import optuna
import torch
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from lrtune._checks import is_number
from lrtune._exceptions import StudyError
from lrtune._optuna import experimental_ok
from lrtune.devices import resolve_device
from lrtune.finder import DEFAULT_KIND, FinderResult, find_lr
from lrtune.optimizers import OPTIMIZERS
from lrtune.refine._interpolate import interpolated_lr
from lrtune.refine._plan import CANDIDATES, RefinePlan, plan
from lrtune.refine._pruner import HalvingPruner
from lrtune.refine._result import STUDY_KIND, RefineResult, candidate_of, result_from_study
from lrtune.tasks import Task
from lrtune.training import OptimizerFactory, StepwiseRun, seed_everything

logger = logging.getLogger(__name__)

RANGE_TEST_STEPS = 100
"""The range test's length, unless the budget asks for a shorter one."""
MIN_RANGE_TEST_STEPS = 20

HORIZON_EXPONENT = {"sgd": -0.24, "adam": -0.38, "rmsprop": 0.22}
"""Per optimizer kind, how the interpolated LR moves from the last rung to the full length.

Fitted on the 15 development families of ``benchmarks/refine_quality.py`` (the exponent
that minimized the mean capped regret of the moved LR, interpolated on the ground-truth
grid; ``benchmarks/refine_correction.py``, leave-one-family-out figures in
benchmarks/README.md). Within one task the best LR shrinks with training length for SGD
and Adam, as the range test's across-task line cannot show; RMSprop's fitted exponent is
positive but rests on the fewest runs. An optimizer of unknown kind is treated as
Adam-like.
"""

OptimizerArg = str | Callable[[Iterable[torch.nn.Parameter], float], torch.optim.Optimizer]


def refine_lr(
    task: Task | str,
    *,
    optimizer: OptimizerArg = "adamw",
    budget: float = 1.5,
    seed: int = 0,
    storage: str | optuna.storages.BaseStorage | None = None,
    study_name: str | None = None,
    device: str = "auto",
    candidates: int = CANDIDATES,
) -> RefineResult:
    """Find a constant LR for ``task`` by training candidates, in ``budget`` full trainings.

    Args:
        task: A ``Task``, or a task reference as ``lrtune find`` takes it.
        optimizer: A name from ``lrtune.optimizers.OPTIMIZERS``, or a callable
            ``(params, lr) -> torch.optim.Optimizer``.
        budget: The most it may spend, in full trainings of the task (its epochs times its
            loader's length), counted in optimizer steps, the range test's included.
        seed: Seeds the range test and every candidate (all candidates share it).
        storage: A database URL (``None``: ``LRTUNE_STORAGE``, else ``sqlite:///lrtune.db``)
            or an Optuna storage; the range test is stored too when it is a URL.
        study_name: The refine study's name (default: ``refine-<task>-<optimizer>-<id>``).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        candidates: How many LRs start; each rung keeps half of them, down to two, and
            the last names the winner. Fewer candidates train further for the same budget.

    Returns:
        A ``RefineResult``: ``.lr``, every candidate's curve, the cost actually spent.

    Raises:
        ValueError: A bad budget or seed, a task without a validation loader or whose
            training loader has no length, or a budget too small for the task.
    """
    task = _resolve_task(task)
    name, make_optimizer = _resolve_optimizer(optimizer)
    seed_everything(seed)  # checks the seed before anything runs
    target = resolve_device(device)
    planned = _planned_steps(task)
    steps = _range_test_steps(planned, budget)
    refine_plan = plan(planned, budget, steps, candidates=candidates)
    range_test = _range_test(task, make_optimizer, name, seed, target, steps, planned)
    interval = _interval(range_test)
    study, range_test_id = _open_study(storage, study_name, task, name, refine_plan, range_test)
    runs = _start(study, task, make_optimizer, interval, refine_plan, seed, target)
    winner = _halve(study, runs, refine_plan)
    return _finish(study, runs, winner, refine_plan, range_test, range_test_id)


def _resolve_task(task: Task | str) -> Task:
    if isinstance(task, str):
        from lrtune.tasks import load_task

        task = load_task(task)
    if not isinstance(task, Task):
        raise TypeError(
            f"task must be a lrtune.Task or a task reference, not {type(task).__name__}."
        )
    if task.val_loader is None:
        raise ValueError(
            f"Task {task.name!r} has no val_loader: refine judges candidates by their "
            "validation loss, so give the task one."
        )
    return task


def _resolve_optimizer(optimizer: OptimizerArg) -> tuple[str, OptimizerFactory]:
    if isinstance(optimizer, str):
        family = OPTIMIZERS.get(optimizer)
        return family.name, lambda params, lr: family(params, lr)
    if not callable(optimizer):
        raise TypeError(
            "optimizer must be a registered name or a callable (params, lr) -> Optimizer, "
            f"not {type(optimizer).__name__}."
        )
    return getattr(optimizer, "__name__", type(optimizer).__name__), optimizer


def _planned_steps(task: Task) -> int:
    planned = task.planned_steps()
    if planned is None:
        raise ValueError(
            f"Task {task.name!r}: refine counts its budget in steps of a full training, "
            "so the training loader needs a length (an iterable dataset has none)."
        )
    return planned


def _range_test_steps(planned: int, budget: float) -> int:
    """The default sweep, shortened to a third of a small budget (never under 20 steps)."""
    if is_number(budget) and budget > 0:
        share = int(budget * planned) // 3 if math.isfinite(budget) else RANGE_TEST_STEPS
        return max(MIN_RANGE_TEST_STEPS, min(RANGE_TEST_STEPS, share))
    return RANGE_TEST_STEPS  # plan() refuses the budget with its own message


def _range_test(
    task: Task,
    make_optimizer: OptimizerFactory,
    name: str,
    seed: int,
    device: torch.device,
    steps: int,
    planned: int,
) -> FinderResult:
    torch.manual_seed(seed)
    model = task.build_model()
    result = find_lr(
        model,
        make_optimizer(model.parameters(), 1e-3),
        task.make_train_loader(),
        task.criterion,
        num_iter=steps,
        device=device,
        batch_fn=task.batch_fn,
        output_fn=task.output_fn,
        task=task.name,
        planned_steps=planned,
    )
    result.options["optimizer_name"] = name
    return result


def _interval(range_test: FinderResult) -> tuple[float, float]:
    if range_test.lr_interval is None:
        raise StudyError(
            f"The range test found no falling loss ({range_test.stop_detail}), so refine "
            "has no interval to search; check the task, or give a longer sweep."
        )
    return range_test.lr_interval


def _open_study(
    storage: str | optuna.storages.BaseStorage | None,
    study_name: str | None,
    task: Task,
    optimizer: str,
    refine_plan: RefinePlan,
    range_test: FinderResult,
) -> tuple[optuna.Study, int | None]:
    from lrtune.storage import Database

    range_test_id = None
    if storage is None or isinstance(storage, str):
        database = Database.open(storage)
        if database.range_tests is not None:  # not through the gRPC proxy
            range_test_id = database.range_tests.save_range_test(range_test)
        storage = database.studies
    name = study_name or f"refine-{task.name}-{optimizer}-{uuid.uuid4().hex[:8]}"
    pruner = HalvingPruner(refine_plan.rungs, refine_plan.keep)
    try:
        study = optuna.create_study(
            storage=storage, study_name=name, direction="minimize", pruner=pruner
        )
    except optuna.exceptions.DuplicatedStudyError:
        raise ValueError(f"A study named {name!r} exists already; choose another.") from None
    with experimental_ok():  # named for Optuna's own tools (optuna-dashboard)
        study.set_metric_names(["val_loss"])
    attrs = _study_attrs(task, optimizer, refine_plan, range_test, range_test_id)
    for key, value in attrs.items():
        study.set_user_attr(key, value)
    return study, range_test_id


def _study_attrs(
    task: Task,
    optimizer: str,
    refine_plan: RefinePlan,
    range_test: FinderResult,
    range_test_id: int | None,
) -> dict[str, Any]:
    return {
        "kind": STUDY_KIND,
        "task": task.name,
        "optimizer": optimizer,
        "planned_steps": refine_plan.planned_steps,
        "budget_steps": refine_plan.budget_steps,
        "rungs": list(refine_plan.rungs),
        "keep": list(refine_plan.keep),
        "range_test_id": range_test_id,
        "range_test_steps": len(range_test.history),
        "interval": list(range_test.lr_interval or ()),
        "suggested_lr": range_test.suggested_lr,
        "optimizer_kind": range_test.options.get("optimizer_kind"),
        "started_at": datetime.now(UTC).replace(tzinfo=None).isoformat(),
    }


Run = tuple[optuna.Trial, StepwiseRun]


def _start(
    study: optuna.Study,
    task: Task,
    make_optimizer: OptimizerFactory,
    interval: tuple[float, float],
    refine_plan: RefinePlan,
    seed: int,
    device: torch.device,
) -> list[Run]:
    low, high = interval
    distribution = FloatDistribution(low, high, log=True)
    runs = []
    for lr in np.geomspace(low, high, refine_plan.candidates):
        study.enqueue_trial({"lr": float(lr)})
        trial = study.ask({"lr": distribution})
        run = StepwiseRun(task, make_optimizer, trial.params["lr"], seed=seed, device=device)
        runs.append((trial, run))
    return runs


def _halve(study: optuna.Study, runs: list[Run], refine_plan: RefinePlan) -> Run:
    """Successive halving over the rungs; the one run left at the end."""
    alive = list(runs)
    for rung in refine_plan.rungs:
        for trial, run in alive:
            run.advance(rung)
            trial.report(run.validate(), rung)
        survivors = []
        for trial, run in alive:
            if trial.should_prune():
                study.tell(trial, state=TrialState.PRUNED)
            else:
                survivors.append((trial, run))
        alive = survivors
        logger.info("refine: rung at %d steps, %d candidates go on", rung, len(alive))
    (winner,) = alive
    return winner


def _finish(
    study: optuna.Study,
    runs: list[Run],
    winner: Run,
    refine_plan: RefinePlan,
    range_test: FinderResult,
    range_test_id: int | None,
) -> RefineResult:
    trial, run = winner
    study.tell(trial, run.validate())
    winner_lr = float(trial.params["lr"])
    candidates = [candidate_of(t) for t in study.get_trials(deepcopy=False)]
    between = interpolated_lr(candidates, refine_plan.rungs)
    kind = range_test.options.get("optimizer_kind") or DEFAULT_KIND
    ratio = refine_plan.planned_steps / refine_plan.rungs[-1]
    exponent = HORIZON_EXPONENT.get(kind, HORIZON_EXPONENT[DEFAULT_KIND])
    lr = (winner_lr if between is None else between) * ratio**exponent
    cost = len(range_test.history) + sum(r.steps for _, r in runs)
    attrs = {"lr": lr, "winner_lr": winner_lr, "interpolated_lr": between, "cost_steps": cost}
    for key, value in attrs.items():
        study.set_user_attr(key, value)
    study.set_user_attr("finished_at", datetime.now(UTC).replace(tzinfo=None).isoformat())
    result = result_from_study(study)
    result.range_test = range_test
    return result
