"""Speed of lrtune's range test against a bare training loop and torch-lr-finder.

Three contenders run the same sweep on every task: ``num_iter`` AdamW steps with the LR
growing exponentially from ``--start-lr`` to ``--end-lr``, on the same seeded model and
the same data loader.

1. **bare**: the minimal honest loop a user would write to sweep LRs by hand: a fresh
   iterator cycling over the loader, the LR set through ``param_groups``, zero_grad
   (``set_to_none=True``), forward, loss, backward, ``optimizer.step()``, and
   ``loss.item()`` recorded each step (whoever sweeps LRs records the loss). It does
   not restore the model afterwards.
2. **lrtune**: ``find_lr`` (defaults apart from the sweep's range, length, device and
   divergence threshold). Its time includes capturing and restoring the model,
   optimizer and RNG state, and building the result with its suggestion.
3. **torch-lr-finder**: ``LRFinder(...)`` (which caches the model and optimizer state),
   ``range_test`` and ``reset()``: what "doing the same sweep" costs with that library.

Models are moved to ``--device`` before the clock starts, so no contender pays for that;
with ``--device cuda`` the clock stops only after ``torch.cuda.synchronize()``.

The divergence stops would make step counts differ, so they are disabled (a huge
threshold for both finders) and the LR stays low enough for the loss to stay finite;
every run's step count is asserted to equal ``num_iter``, and the three first-step
losses are checked to agree (same model, same data order).

Method. Models, optimizers and loaders are built outside the timed region with the same
seed; each contender runs once per task untimed to warm up. Then ``--repeats`` rounds
are timed, *interleaved*: round ``r`` runs all three contenders, in an order rotated by
``r``. The machine is shared with other jobs, so slow spells come and go; interleaving
spreads them over the three contenders alike instead of penalizing whichever ran during
one. Medians are reported because a round hit by a slow spell is an outlier, and the
median ignores outliers where the mean does not; the minimum (the run least disturbed)
gives a second ratio. ``torch.set_num_threads`` is pinned (1 by default) for the same
reason. All output, torch-lr-finder's progress bar included, goes to ``os.devnull``
during every timed run.

Usage::

    python benchmarks/speed.py [--tasks digits-mlp ...] [--repeats 7] [--num-iter 100]
                               [--device cpu|cuda] [--threads 1]
                               [--out benchmarks/results/speed.json]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from _common import command_line, machine_info, utc_now, write_json
from torch_lr_finder import LRFinder

import lrtune
from lrtune.examples import EXAMPLES, load_example
from lrtune.finder import find_lr
from lrtune.optimizers import build_optimizer
from lrtune.tasks import Task

CONTENDERS = ("bare", "lrtune", "torch-lr-finder")
TARGET_RATIO = 1.05
NO_STOP = 1e12
"""A divergence threshold no loss reaches: every sweep runs all its steps."""

DEFAULT_OUT = Path(__file__).parent / "results" / "speed.json"


@dataclass(frozen=True)
class Sweep:
    """What every contender runs."""

    start_lr: float
    end_lr: float
    num_iter: int
    device: torch.device
    seed: int = 0

    def lr(self, step: int) -> float:
        return self.start_lr * (self.end_lr / self.start_lr) ** (step / (self.num_iter - 1))


@dataclass(frozen=True)
class Outcome:
    """What one timed run did: its steps and its first loss (the cross-check)."""

    steps: int
    first_loss: float


Run = Callable[[], Outcome]
Prepare = Callable[[Task, Sweep], Run]


def _setup(task: Task, sweep: Sweep) -> tuple[torch.nn.Module, torch.optim.Optimizer, Any]:
    """The seeded model (on the device), its AdamW and the loader: identical per contender."""
    torch.manual_seed(sweep.seed)
    model = task.build_model().to(sweep.device)
    optimizer = build_optimizer("adamw", model.parameters(), lr=sweep.start_lr)
    return model, optimizer, task.make_train_loader()


def _cycle(loader: Any) -> Iterator[Any]:
    while True:
        yield from loader


def prepare_bare(task: Task, sweep: Sweep) -> Run:
    model, optimizer, loader = _setup(task, sweep)
    criterion, device = task.criterion, sweep.device

    def run() -> Outcome:
        model.train()
        batches = _cycle(loader)
        losses = []
        for step in range(sweep.num_iter):
            lr = sweep.lr(step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            inputs, targets = next(batches)
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(inputs), targets)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return Outcome(len(losses), losses[0])

    return run


def prepare_lrtune(task: Task, sweep: Sweep) -> Run:
    model, optimizer, loader = _setup(task, sweep)

    def run() -> Outcome:
        result = find_lr(
            model,
            optimizer,
            loader,
            task.criterion,
            start_lr=sweep.start_lr,
            end_lr=sweep.end_lr,
            num_iter=sweep.num_iter,
            diverge_threshold=NO_STOP,
            device=sweep.device,
            batch_fn=task.batch_fn,
            output_fn=task.output_fn,
        )
        return Outcome(len(result.history), float(result.history["loss"].iloc[0]))

    return run


def prepare_torch_lr_finder(task: Task, sweep: Sweep) -> Run:
    model, optimizer, loader = _setup(task, sweep)

    def run() -> Outcome:
        finder = LRFinder(model, optimizer, task.criterion, device=sweep.device)
        finder.range_test(
            loader,
            start_lr=sweep.start_lr,
            end_lr=sweep.end_lr,
            num_iter=sweep.num_iter,
            step_mode="exp",
            diverge_th=NO_STOP,
        )
        finder.reset()
        # Its first history point is the raw loss; later ones are smoothed.
        return Outcome(len(finder.history["lr"]), float(finder.history["loss"][0]))

    return run


PREPARE: dict[str, Prepare] = {
    "bare": prepare_bare,
    "lrtune": prepare_lrtune,
    "torch-lr-finder": prepare_torch_lr_finder,
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_once(name: str, task: Task, sweep: Sweep) -> tuple[float, Outcome]:
    """Build a contender outside the clock, then time one run of it (output silenced)."""
    run = PREPARE[name](task, sweep)
    gc.collect()
    with (
        open(os.devnull, "w") as sink,
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        _sync(sweep.device)
        start = time.perf_counter()
        outcome = run()
        _sync(sweep.device)
        elapsed = time.perf_counter() - start
    if outcome.steps != sweep.num_iter:
        raise AssertionError(
            f"{name} on {task.name} ran {outcome.steps} steps, not {sweep.num_iter}."
        )
    return elapsed, outcome


def _check_first_losses(task: str, outcomes: dict[str, Outcome]) -> None:
    losses = {name: outcome.first_loss for name, outcome in outcomes.items()}
    reference = losses["bare"]
    if any(abs(loss - reference) > 1e-5 * max(1.0, abs(reference)) for loss in losses.values()):
        raise AssertionError(f"First-step losses differ on {task}: {losses}.")


def rotated(names: Sequence[str], shift: int) -> list[str]:
    shift %= len(names)
    return [*names[shift:], *names[:shift]]


def bench_task(task: Task, sweep: Sweep, repeats: int) -> dict[str, list[float]]:
    """Warm up every contender, then time ``repeats`` interleaved rounds; seconds each."""
    warmups = {name: time_once(name, task, sweep)[1] for name in CONTENDERS}
    _check_first_losses(task.name, warmups)
    times: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    for round_ in range(repeats):
        for name in rotated(CONTENDERS, round_):
            times[name].append(time_once(name, task, sweep)[0])
    return times


def summarize(times: dict[str, list[float]], steps: int) -> dict[str, Any]:
    """Medians, minimums and the ratios the target is stated in."""
    median = {name: statistics.median(values) for name, values in times.items()}
    best = {name: min(values) for name, values in times.items()}
    return {
        "steps": steps,
        "seconds": times,
        "median_s": median,
        "min_s": best,
        "lrtune_over_bare": median["lrtune"] / median["bare"],
        "lrtune_over_torch_lr_finder": median["lrtune"] / median["torch-lr-finder"],
        "min_lrtune_over_bare": best["lrtune"] / best["bare"],
        "min_lrtune_over_torch_lr_finder": best["lrtune"] / best["torch-lr-finder"],
    }


def device_info(device: torch.device) -> dict[str, Any]:
    """The shared machine description plus the device the sweeps ran on."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return {
        **machine_info(),
        "lrtune": getattr(lrtune, "__version__", "unknown"),
        "device": str(device),
        "device_name": name,
    }


def markdown_table(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| task | steps | bare (ms) | lrtune (ms) | torch-lr-finder (ms) "
        "| lrtune/bare | lrtune/torch-lr-finder |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for task, row in results.items():
        ms = {name: 1000 * row["median_s"][name] for name in CONTENDERS}
        lines.append(
            f"| {task} | {row['steps']} | {ms['bare']:.1f} | {ms['lrtune']:.1f} "
            f"| {ms['torch-lr-finder']:.1f} | {row['lrtune_over_bare']:.3f} "
            f"| {row['lrtune_over_torch_lr_finder']:.3f} |"
        )
    return "\n".join(lines)


def verdict(results: dict[str, dict[str, Any]]) -> list[str]:
    worst = max(row["lrtune_over_bare"] for row in results.values())
    worst_min = max(row["min_lrtune_over_bare"] for row in results.values())
    over = [task for task, row in results.items() if row["lrtune_over_bare"] > TARGET_RATIO]
    faster = sum(row["lrtune_over_torch_lr_finder"] < 1.0 for row in results.values())
    return [
        f"max lrtune/bare = {worst:.3f} (target <= {TARGET_RATIO}); on minimums {worst_min:.3f}"
        + (f"; over target: {', '.join(over)}" if over else ""),
        f"lrtune faster than torch-lr-finder on {faster}/{len(results)} tasks",
    ]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=sorted(EXAMPLES), default=list(EXAMPLES))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--num-iter", type=int, default=100)
    parser.add_argument("--start-lr", type=float, default=1e-7)
    parser.add_argument("--end-lr", type=float, default=1e-1)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    sweep = Sweep(args.start_lr, args.end_lr, args.num_iter, torch.device(args.device))
    results = {}
    for name in args.tasks:
        times = bench_task(load_example(name), sweep, args.repeats)
        results[name] = summarize(times, args.num_iter)
        print(f"{name}: lrtune/bare {results[name]['lrtune_over_bare']:.3f}", file=sys.stderr)
    report = {
        "command": command_line(),
        "finished_at": utc_now(),
        "machine": device_info(sweep.device),
        "settings": {**vars(args), "out": str(args.out), "device": str(sweep.device)},
        "tasks": results,
    }
    write_json(args.out, report)
    print(
        markdown_table(results),
        "\n".join(verdict(results)),
        f"Command: `{command_line()}`",
        sep="\n\n",
    )


if __name__ == "__main__":
    main()
