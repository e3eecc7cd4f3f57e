"""The quality benchmarks' units of work, the process pool that runs them, and their cache.

A job is a frozen dataclass with a ``key`` (its cache key) and a ``run()`` that returns a
JSON-able dict. Jobs run in spawned worker processes with one torch thread each: the runs
are small, and the parallelism is across runs. Results are cached in a gzipped JSON file
under their key, so a rerun only computes what it has not seen.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from families import FAMILIES

from lrtune.tasks import Task

CACHE_VERSION = 1
SAVE_EVERY_S = 60.0
"""Seconds between two writes of the cache, so an interrupted run keeps its work."""


def task_of(family: str, variant: str) -> Task:
    return FAMILIES[family].task(variant)


def lr_key(lr: float) -> str:
    return repr(float(f"{lr:.10g}"))


class Job(Protocol):
    @property
    def key(self) -> str: ...

    def run(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TrainJob:
    """One training run at a constant LR (``optimizer`` a name in ``lrtune.optimizers``)."""

    family: str
    variant: str
    optimizer: str
    lr: float
    seed: int

    @property
    def key(self) -> str:
        return f"train|{self.family}|{self.variant}|{self.optimizer}|{lr_key(self.lr)}|{self.seed}"

    def run(self) -> dict[str, Any]:
        from lrtune.training import train_constant_lr

        run = train_constant_lr(
            task_of(self.family, self.variant), self.optimizer, self.lr, seed=self.seed
        )
        return {
            "final": run.final_val_loss,
            "diverged": run.diverged,
            "initial": run.initial_val_loss,
            "val_losses": run.val_losses,
        }


# --- the pool ------------------------------------------------------------------------


Mapper = Callable[[Sequence[Job]], Iterable[tuple[Any, dict[str, Any]]]]


def _init_worker() -> None:
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


class Cache:
    """Job results by key, kept in a gzipped JSON file (``null`` stands for +inf)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.runs: dict[str, dict[str, Any]] = self._load()
        self._saved = time.monotonic()

    def _load(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        with gzip.open(self.path, "rt") as handle:
            data = json.load(handle)
        if data.get("version") != CACHE_VERSION:
            print(f"Ignoring {self.path}: version {data.get('version')!r}.", file=sys.stderr)
            return {}
        return {key: from_json(entry) for key, entry in data["runs"].items()}

    def __contains__(self, key: str) -> bool:
        return key in self.runs

    def __getitem__(self, key: str) -> dict[str, Any]:
        return self.runs[key]

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        document = {"version": CACHE_VERSION, "runs": dict(sorted(self.runs.items()))}
        with gzip.open(partial, "wt", compresslevel=9) as handle:
            json.dump(json_safe(document), handle, separators=(",", ":"), allow_nan=False)
        os.replace(partial, self.path)
        self._saved = time.monotonic()

    def run(self, jobs: Sequence[Job], mapper: Mapper, label: str) -> int:
        """Run the jobs not cached yet, adding their results; return how many ran."""
        unique = {job.key: job for job in jobs if job.key not in self.runs}
        if not unique:
            return 0
        progress = Progress(label, len(unique))
        for job, result in mapper(list(unique.values())):
            self.runs[job.key] = from_json(json_safe(result))
            progress.tick()
            if time.monotonic() - self._saved > SAVE_EVERY_S:
                self.save()
        self.save()
        return len(unique)


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (JSON has no inf)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def from_json(entry: dict[str, Any]) -> dict[str, Any]:
    """A cached training run with ``None`` losses read back as +inf."""
    if "final" not in entry:
        return entry
    losses = [math.inf if loss is None else loss for loss in entry["val_losses"]]
    final = math.inf if entry["final"] is None else entry["final"]
    return {**entry, "val_losses": losses, "final": final}


def code_digest(packages: Sequence[Any], skip: Sequence[str] = ()) -> str:
    """A digest of the modules of ``packages`` (but those named in ``skip``): cache keys
    hold it, so a cached result is reused only while the code it came from is unchanged."""
    import hashlib

    digest = hashlib.sha256()
    for package in packages:
        for path in sorted(Path(package.__file__).parent.glob("*.py")):
            if path.name not in skip:
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _finder_digest() -> str:
    """A digest of the code a range-test curve depends on (not of the rules reading it)."""
    import lrtune.finder

    return code_digest([lrtune.finder], ("_suggest.py", "_horizon.py", "_result.py", "__init__.py"))


FINDER_DIGEST = _finder_digest()


@dataclass(frozen=True)
class RangeTestJob:
    """One range test with ``find_lr_for_task``'s defaults (planned steps from the task)."""

    family: str
    variant: str
    optimizer: str
    seed: int

    @property
    def key(self) -> str:
        parts = (self.family, self.variant, self.optimizer, self.seed, FINDER_DIGEST)
        return "range|" + "|".join(map(str, parts))

    def run(self) -> dict[str, Any]:
        from lrtune.finder import find_lr_for_task

        result = find_lr_for_task(
            task_of(self.family, self.variant), self.optimizer, seed=self.seed
        )
        return {
            "lr": result.history["lr"].astype(float).tolist(),
            "loss": result.history["loss"].astype(float).tolist(),
            "stop_reason": result.stop_reason.value,
            "planned_steps": result.options["planned_steps"],
            "optimizer_kind": result.options["optimizer_kind"],
        }


@dataclass(frozen=True)
class ProdigyProbeJob:
    """Prodigy at its defaults for ``steps`` steps on a fresh model; its ``d`` by step."""

    family: str
    variant: str
    seed: int
    steps: int = 100

    @property
    def key(self) -> str:
        return f"prodigy|{self.family}|{self.variant}|{self.seed}|{self.steps}"

    def run(self) -> dict[str, Any]:
        from prodigyopt import Prodigy

        from lrtune._batch import forward

        task = task_of(self.family, self.variant)
        torch.manual_seed(self.seed)
        model = task.build_model()
        optimizer = Prodigy(model.parameters(), lr=1.0)
        d, step = [], 0
        while step < self.steps:
            for batch in task.make_train_loader():
                inputs, targets = task.batch_fn(batch)
                loss = task.criterion(task.output_fn(forward(model, inputs)), targets)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                d.append(float(optimizer.param_groups[0]["d"]))
                step += 1
                if step == self.steps:
                    break
        return {"d": d}
