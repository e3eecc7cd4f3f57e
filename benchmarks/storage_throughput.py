"""Storage throughput: how many lrtune workers one PostgreSQL serves.

Method
------
Every phase runs on a fresh database ``bench_storage_<pid>_<phase>`` on the server of
``--admin-url``, dropped at the end of the phase (also on error). The study's storage is
opened as every lrtune worker opens it, ``open_study_storage(url,
heartbeat=Heartbeat(interval=10, grace=40))``, and Optuna wraps it in its ``_CachedStorage``.
A phase during which the server restarted (other users of a shared server may restart it)
is run again.

Throughput (no-op trials)
    For W in 1, 2, 4, 8: W worker processes (``spawn``) each open the storage and load the
    study themselves, then wait on a barrier; each then runs lrtune's own loop,
    ``run_trials(study, noop, budget=B)``, where ``noop`` suggests one float and returns
    it. A no-op trial goes through lrtune's real path: ``claim_trial`` (under the study's
    advisory lock: stale-trial check, trial count, new trial, first heartbeat),
    ``optuna.Trial``, the heartbeat thread, ``study.tell``. The sampler is Optuna's
    ``RandomSampler``, so the figure is the storage's, not TPE's. The rate is B / (time from
    the barrier to the B-th trial's ``tell``): process start-up, imports and connecting are
    excluded. After each run the ``trials`` table is checked: exactly B complete trials, no
    trial number twice, none left running.

Throughput through the proxy
    The same runs, W in 1, 2, 4, 8, with the workers on ``grpc://`` through
    ``lrtune storage-proxy``'s server (``lrtune.cli._proxy.start_proxy``: Optuna's gRPC
    service, the workers' heartbeats relayed, stale trials failed by the proxy; 10 threads,
    the command's default), started for the run in its own process on the phase's database.
    Workers open ``grpc://`` as lrtune workers do, with the same ``Heartbeat``; there is no
    advisory lock, so a claim is counted, made, beaten and checked against the budget
    (``_beyond_budget``). Statements, commits and checkouts are the proxy's (the workers
    hold no connection), between the barrier and the B-th trial's ``tell``, and so is the
    proxy's CPU time over the same span.

Realistic trials
    One worker in this process, with the study's sampler and pruner as lrtune builds them
    (``SAMPLERS["tpe"]``, ``PRUNERS["median"]``, ``StudySetup(epochs=10, seed=0)``), a real
    ``SearchSpace`` (the default optimizers and schedules, fixed LR ranges), and an
    objective that makes exactly the storage calls ``TrialObjective``
    (``lrtune/study/_objective.py``) makes for a 10-epoch trial on a GPU worker, but trains
    nothing: sample the configuration; user attributes ``config``, ``seed``, ``host``,
    ``device``, ``gpu``; per epoch ``trial.report`` and ``trial.should_prune``; at the end
    ``val_losses``, ``val_metrics``, ``lrs`` and ``epochs_run``. The measured trials' losses
    are each below every earlier trial's, so the pruner (still asked every epoch) stops none
    and every measured trial reports 10 epochs: the trial the target is about.

    Per trial: the wall time of the whole cycle (claim, ``optuna.Trial``, sampling,
    objective, tell); the **storage time**, the time inside the storage's methods, measured
    by wrapping every method of the study's storage instance (a nested call counts for the
    outermost one) and lrtune's own SQL count (``Database.count_states``); the calls, SQL
    statements, commits and connection checkouts (each one pings the server:
    ``pool_pre_ping``); this process's CPU time. Each call's time is also kept by the code
    that made it (the sampler, the pruner, ``claim_trial``, the trial API).

    Two studies: trials 20-119 of a fresh study (after 20 warm-up trials); and one that
    first holds ``--prefill`` finished trials, complete and pruned, made by the same
    objective with LR-dependent losses (TPE and the median pruner read every trial), on
    which 40 trials are measured (after 5 warm-up trials), then ``--running`` trials are
    added, left running half-way through as other workers' trials would be (every worker
    keeps one running) and beaten every 10 s as their workers would beat them (one
    statement per beat, on the same server, so their CPU counts), and 40 more are measured
    (after 5 more warm-up trials).

PostgreSQL CPU
    The CPU time (``/proc``) of the server processes serving the phase's database, read
    before and after the measured trials: server CPU per trial. It leaves out the server's
    shared processes (WAL writer, checkpointer). It needs the server on this machine.

Workers per server
    At 60 s per trial each worker finishes 1/60 trial per second. Each cost is fitted as
    ``a + b W`` between the prefilled study's stages with 0 and ``--running`` running
    trials, and K is the most workers W for which W / 60 s x cost(W) stays within 1: the
    server's CPU per trial (within one core), and the time a claim holds the advisory lock
    (claims are serialized). The no-op rate x 60 s is shown too: on this machine the workers and the
    server share two cores, so it is this machine's figure, not the server's.

Budget: about 4-5 minutes with the defaults on the 2-core development machine, the proxy
runs included (10 under heavy load); ``--quick`` (B = 100 with 1 and 8 workers, smaller
studies) about two. A server restart repeats the phase it falls in.

Usage::

    python benchmarks/storage_throughput.py [--quick] [--budget 300] [--workers 1,2,4,8]
        [--paths direct,proxy]
        [--trials 100] [--warm-up 20] [--big-trials 40] [--prefill 1000] [--running 25]
        [--admin-url URL] [--out PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import math
import multiprocessing
import os
import queue
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import numpy as np
import optuna
import sqlalchemy
from _common import command_line, machine_info, utc_now, write_json
from optuna.samplers import RandomSampler
from optuna.trial import TrialState
from sqlalchemy import event, text

import lrtune.study._gate as gate
import lrtune.study._loop as loop
from lrtune.cli._proxy import start_proxy
from lrtune.storage import Database, Heartbeat, open_study_storage, write_held
from lrtune.storage import _trial_sql as trial_sql
from lrtune.study._choices import PRUNERS, SAMPLERS, StudySetup
from lrtune.study._loop import run_trials
from lrtune.study._space import DEFAULT_OPTIMIZERS, DEFAULT_SCHEDULES, SearchSpace

T = TypeVar("T")

RESULTS = Path(__file__).resolve().parent / "results"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
HEARTBEAT = Heartbeat(interval=10, grace=40)
BIG_WARM_UP = 5
"""A prefilled study needs no TPE start-up; its warm-up only fills Optuna's trial cache."""
FULL = {
    "budget": 300,
    "workers": (1, 2, 4, 8),
    "trials": 100,
    "warm_up": 20,
    "big_trials": 40,
    "prefill": 1000,
    "running": 25,
}
QUICK = {
    "budget": 100,
    "workers": (1, 8),
    "trials": 20,
    "warm_up": 10,
    "big_trials": 10,
    "prefill": 200,
    "running": 20,
}
EPOCHS = 10
TRIAL_S = 60.0
BEATS_PER_TRIAL = TRIAL_S / HEARTBEAT.interval
CALIBRATION_BEATS = 1000
"""Beats sent after the measured trials to measure the server's CPU per beat."""
"""A trial's own heartbeats over its ``TRIAL_S`` (a measured trial is too short to make
them): the projection adds their server CPU to a trial's."""
TARGET_MS = 20.0
TARGET_STATEMENTS = 30
TARGET_WORKERS = 2000
"""Issue 14's targets: per realistic trial at most 20 ms of storage time and 30 SQL
statements, and at least 2,000 workers per server by this benchmark's projection."""
POLL_S = 0.2
"""The loop's idle poll: only the last trials' wait; the rate stops at the B-th tell."""
LR_RANGE = (1e-4, 1e-1)
DEVICE = "cuda:0"
GPU = "0: NVIDIA H100 80GB HBM3"
TOP_METHODS = 8
TOP_CALLERS = 12
PATHS = ("direct", "proxy")
PROXY_THREADS = 10
"""``lrtune storage-proxy --threads``' default."""


# --- databases -----------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(admin_url: str, phase: str) -> Iterator[str]:
    """A new database for one phase, dropped afterwards whatever happens; yields its URL."""
    name = f"bench_storage_{os.getpid()}_{phase}"
    admin = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    drop = text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    try:
        with admin.connect() as connection:
            connection.execute(drop)
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = sqlalchemy.engine.make_url(admin_url).set(database=name)
            yield url.render_as_string(hide_password=False)
        finally:
            when_up(admin, lambda connection: connection.execute(drop))
    finally:
        admin.dispose()


def when_up(engine: sqlalchemy.Engine, action: Callable[[sqlalchemy.Connection], Any]) -> Any:
    """``action`` on a connection, tried again for a minute while the server restarts."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with engine.connect() as connection:
                return action(connection)
        except sqlalchemy.exc.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def admin_query(admin_url: str, sql: str, **params: Any) -> list[Any]:
    """The rows of one query on the admin database."""
    engine = sqlalchemy.create_engine(admin_url)
    try:
        return when_up(engine, lambda connection: connection.execute(text(sql), params).all())
    finally:
        engine.dispose()


def server_started(admin_url: str) -> str:
    """When the PostgreSQL server last started: a restart mid-phase spoils the phase."""
    return str(admin_query(admin_url, "SELECT pg_postmaster_start_time()")[0][0])


def guarded(admin_url: str, phase: Callable[[], T]) -> tuple[T, int]:
    """``phase()`` and the attempts it took: again (twice at most) if the server restarted."""
    for attempt in range(1, 4):
        before = server_started(admin_url)
        try:
            result = phase()
        except Exception:
            if server_started(admin_url) == before:
                raise
            result = None
        if result is not None and server_started(admin_url) == before:
            return result, attempt
        print("PostgreSQL restarted during the phase; running it again", file=sys.stderr)
    raise RuntimeError("PostgreSQL restarted during three attempts at one phase.")


def backend_cpu(admin_url: str, url: str) -> dict[int, float] | None:
    """CPU seconds of each server process serving ``url``'s database (None if unreadable)."""
    database = sqlalchemy.engine.make_url(url).database
    rows = admin_query(
        admin_url, "SELECT pid FROM pg_stat_activity WHERE datname = :db", db=database
    )
    found = {}
    for (pid,) in rows:
        seconds = server_process_cpu_s(pid)
        if seconds is None:
            return None
        found[pid] = seconds
    return found


def server_process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) of the server process ``pid`` (None if unreadable)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_used(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
    """Server CPU seconds between two readings; processes started meanwhile count in full."""
    if before is None or after is None:
        return None
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


# --- instrumentation -----------------------------------------------------------------------


class SqlCounter:
    """Counts the statements, commits and connection checkouts one engine makes."""

    def __init__(self, engine: sqlalchemy.Engine) -> None:
        self.counts: Counter[str] = Counter()
        self.seconds = 0.0
        self._started: dict[int, float] = {}
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "commit", lambda _conn: self.counts.update(["commits"]))
        event.listen(engine.pool, "checkout", lambda *_: self.counts.update(["checkouts"]))

    def _before(self, _conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        self.counts["statements"] += 1
        if "pg_advisory_lock" in statement or "pg_advisory_xact_lock" in statement:
            self.counts["advisory_locks"] += 1
        self._started[id(cursor)] = time.perf_counter()

    def _after(self, _conn: Any, cursor: Any, *_: Any) -> None:
        started = self._started.pop(id(cursor), None)
        if started is not None:
            self.seconds += time.perf_counter() - started

    def snapshot(self) -> dict[str, float]:
        return {**self.counts, "sql_s": self.seconds}


CALLERS = (
    ("/optuna/samplers/", "sampler"),
    ("/optuna/pruners/", "pruner"),
    ("/optuna/storages/_heartbeat.py", "fail_stale_trials"),
    ("/optuna/storages/_callbacks.py", "fail_stale_trials"),
    ("/lrtune/study/_gate.py", "claim_trial"),
    ("/optuna/study/_tell.py", "study.tell"),
    ("/optuna/trial/_trial.py", "trial API"),
    ("/lrtune/study/_loop.py", "lrtune loop"),
    ("/optuna/study/study.py", "study API"),
)
"""Who made a storage call, most telling first: of the frames on the stack in these files,
the first listed names it (TPE reading trials while ``trial.suggest_float`` runs is the
sampler's call), and the nearest such frame gives the function."""


def caller() -> str:
    found: dict[str, str] = {}
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename
        for marker, name in CALLERS:
            if marker in path and name not in found:
                found[name] = frame.f_code.co_name
        frame = frame.f_back
    for _, name in CALLERS:
        if name in found:
            return f"{name}: {found[name]}"
    return "other"


class StorageTimer:
    """Times every method call on one storage instance; a nested call counts for its caller.

    Also times ``Database.count_states``, lrtune's own SQL beside the storage's methods. Time
    is kept by method and by the code that called it (``CALLERS``).
    """

    def __init__(self) -> None:
        self.seconds: defaultdict[tuple[str, str], float] = defaultdict(float)
        self.calls: Counter[tuple[str, str]] = Counter()
        self._local = threading.local()

    def wrap_storage(self, storage: optuna.storages.BaseStorage) -> None:
        for name in dir(type(storage)):
            public = not name.startswith("_") or name == "_get_stale_trial_ids"
            if name == "claiming":  # a context: the time inside its block is the claim's
                setattr(storage, name, self._timed_block(name, getattr(storage, name)))
            elif public and callable(getattr(storage, name)):
                setattr(storage, name, self._timed(name, getattr(storage, name)))

    def _timed_block(
        self, name: str, method: Callable[..., contextlib.AbstractContextManager[Any]]
    ) -> Callable[..., contextlib.AbstractContextManager[Any]]:
        @contextlib.contextmanager
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            with self._span(name), method(*args, **kwargs) as value:
                yield value

        return timed

    def wrap_count_states(self) -> Callable[[], None]:
        original = Database.count_states
        Database.count_states = self._timed("count_states (lrtune SQL)", original)  # type: ignore[method-assign]
        return lambda: setattr(Database, "count_states", original)

    def _timed(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self._span(name):
                return method(*args, **kwargs)

        return timed

    @contextlib.contextmanager
    def _span(self, name: str) -> Iterator[None]:
        """Time the block as a call of ``name``, unless it runs inside another timed call."""
        if getattr(self._local, "busy", False):
            yield
            return
        self._local.busy = True
        started = time.perf_counter()
        try:
            yield
        finally:
            key = (name, caller())
            self.seconds[key] += time.perf_counter() - started
            self.calls[key] += 1
            self._local.busy = False

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    def total(self) -> tuple[float, int]:
        return sum(self.seconds.values()), sum(self.calls.values())

    def by(self, with_caller: bool) -> tuple[dict[str, float], Counter[str]]:
        """Seconds and calls by method, or by method and caller."""
        seconds: defaultdict[str, float] = defaultdict(float)
        calls: Counter[str] = Counter()
        for (method, made_by), value in self.seconds.items():
            label = f"{method} <- {made_by}" if with_caller else method
            seconds[label] += value
            calls[label] += self.calls[method, made_by]
        return dict(seconds), calls


@contextlib.contextmanager
def timed_claims(
    on_claim: Callable[[float, float], None], on_start: Callable[[], None] = lambda: None
) -> Iterator[None]:
    """Report each ``claim_trial`` call of ``run_trials`` as (start, seconds); ``on_start``
    is called as each begins."""
    original = loop.claim_trial

    def claim(study: optuna.Study, budget: int, database: Database | None = None) -> gate.Claim:
        on_start()
        started = time.perf_counter()
        try:
            return original(study, budget, database)
        finally:
            on_claim(started, time.perf_counter() - started)

    loop.claim_trial = claim
    try:
        yield
    finally:
        loop.claim_trial = original


def engine_of(storage: optuna.storages.BaseStorage) -> sqlalchemy.Engine:
    """The engine under a database storage."""
    engine = Database.around(storage).engine
    if engine is None:
        raise ValueError(f"{type(storage).__name__} has no database engine.")
    return engine


def quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


# --- throughput: no-op trials from W processes ---------------------------------------------


def noop(trial: optuna.Trial) -> float:
    return trial.suggest_float("x", 0.0, 1.0)


@dataclass(frozen=True)
class WorkerJob:
    url: str
    study_name: str
    budget: int
    index: int


def throughput_worker(job: WorkerJob, barrier: Any, results: Any, release: Any) -> None:
    """One worker process: open the storage, wait for the others, run lrtune's loop.

    It keeps its connections open until ``release`` is set, so that the server's CPU
    can be read first. Through the proxy it has no connection, and counts no SQL.
    """
    quiet_optuna()
    storage = open_study_storage(job.url, heartbeat=HEARTBEAT)
    study = optuna.load_study(
        study_name=job.study_name, storage=storage, sampler=RandomSampler(seed=job.index)
    )
    direct = not job.url.startswith("grpc://")
    sql = SqlCounter(engine_of(storage)) if direct else None
    claims: list[float] = []
    finished_at: list[float] = []
    study._storage.get_all_trials(study._study_id)  # connect before the clock starts
    barrier.wait()
    with timed_claims(lambda _start, seconds: claims.append(seconds)):
        outcome = run_trials(
            study,
            noop,
            budget=job.budget,
            callbacks=[lambda *_: finished_at.append(time.monotonic())],
            poll_s=POLL_S,
        )
    results.put(
        {
            "index": job.index,
            "trials": outcome.trials,
            "last_tell": max(finished_at, default=None),
            "returned": time.monotonic(),
            "claim_s": claims,
            "sql": {} if sql is None else sql.snapshot(),
        }
    )
    release.wait(timeout=120)


def proxy_server(url: str, commands: Any) -> None:
    """``lrtune storage-proxy``'s server on ``url``, in its own process, its SQL counted.

    Sends its port, then answers each ``"snapshot"`` with its SQL counts and CPU seconds;
    stops at anything else.
    """
    quiet_optuna()
    database = Database.open(url, heartbeat=HEARTBEAT)
    assert database.engine is not None
    sql = SqlCounter(database.engine)
    proxy = start_proxy(database, HEARTBEAT, "127.0.0.1", 0, PROXY_THREADS)
    try:
        commands.send(proxy.port)
        while commands.recv() == "snapshot":
            commands.send(sql.snapshot() | {"cpu_s": time.process_time()})
    finally:
        proxy.stop()
        database.close()


@contextlib.contextmanager
def serving(url: str, path: str) -> Iterator[tuple[str, Callable[[], dict[str, float]] | None]]:
    """The URL workers use on ``path`` ("direct", "proxy"), and the proxy's counts if any."""
    if path == "direct":
        yield url, None
        return
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=proxy_server, args=(url, theirs))
    process.start()
    try:
        if not ours.poll(60):
            raise RuntimeError(f"the proxy did not start (exit code {process.exitcode})")
        port = ours.recv()

        def snapshot() -> dict[str, float]:
            ours.send("snapshot")
            return dict(ours.recv())

        yield f"grpc://127.0.0.1:{port}", snapshot
        ours.send("stop")
        process.join(timeout=30)
    finally:
        if process.is_alive():
            process.terminate()


def run_throughput(admin_url: str, workers: int, budget: int, path: str) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    clock = time.perf_counter()
    phase = f"throughput_{workers}" if path == "direct" else f"{path}_{workers}"
    with fresh_database(admin_url, phase) as url:
        name = f"throughput-{uuid.uuid4().hex[:8]}"
        creator = open_study_storage(url, heartbeat=HEARTBEAT)
        optuna.create_study(storage=creator, study_name=name, direction="minimize")
        engine_of(creator).dispose()
        barrier, results, release = context.Barrier(workers + 1), context.Queue(), context.Event()
        with serving(url, path) as (target, proxy_counts):
            processes = [
                context.Process(
                    target=throughput_worker,
                    args=(WorkerJob(target, name, budget, index), barrier, results, release),
                )
                for index in range(workers)
            ]
            try:
                for process in processes:
                    process.start()
                barrier.wait(timeout=120)
                started, cpu_before = time.monotonic(), backend_cpu(admin_url, url)
                proxy_before = None if proxy_counts is None else proxy_counts()
                reports = collect(results, processes)
                cpu = cpu_used(cpu_before, backend_cpu(admin_url, url))
                proxy_after = None if proxy_counts is None else proxy_counts()
                release.set()
                for process in processes:
                    process.join()
            finally:
                for process in processes:
                    if process.is_alive():
                        process.terminate()
        rows = study_rows(url, name)
    if any(process.exitcode != 0 for process in processes):
        raise RuntimeError(f"a worker failed: exit codes {[p.exitcode for p in processes]}")
    sql: Counter[str] = Counter()
    if proxy_before is None or proxy_after is None:
        for report in reports:
            sql.update(report["sql"])
    else:
        sql.update({k: v - proxy_before.get(k, 0) for k, v in proxy_after.items()})
    proxy_cpu = sql.pop("cpu_s", None) if path == "proxy" else None
    summary = summarize_throughput(workers, budget, started, reports, rows, cpu, sql)
    summary |= {"path": path, "proxy_cpu_ms_per_trial": _per_trial_ms(proxy_cpu, budget)}
    return summary | {"phase_s": time.perf_counter() - clock}


def _per_trial_ms(seconds: float | None, budget: int) -> float | None:
    return None if seconds is None else seconds / budget * 1000


def collect(results: Any, processes: Sequence[Any]) -> list[dict[str, Any]]:
    """Every worker's report; an error if a worker exits without one."""
    reports: list[dict[str, Any]] = []
    while len(reports) < len(processes):
        try:
            reports.append(results.get(timeout=1))
        except queue.Empty:
            dead = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"a worker failed: exit codes {dead}") from None
    return reports


def study_rows(url: str, study_name: str) -> dict[str, Any]:
    """What the ``trials`` table holds for ``study_name``: states and repeated numbers."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            study_id = connection.execute(
                text("SELECT study_id FROM studies WHERE study_name = :name"), {"name": study_name}
            ).scalar_one()
            states = connection.execute(
                text("SELECT state, COUNT(*) FROM trials WHERE study_id = :id GROUP BY state"),
                {"id": study_id},
            ).all()
            repeated = connection.execute(
                text(
                    "SELECT COUNT(*) FROM (SELECT number FROM trials WHERE study_id = :id "
                    "GROUP BY number HAVING COUNT(*) > 1) AS twice"
                ),
                {"id": study_id},
            ).scalar_one()
    finally:
        engine.dispose()
    return {"states": {str(s): int(n) for s, n in states}, "repeated_numbers": int(repeated)}


def summarize_throughput(
    workers: int,
    budget: int,
    started: float,
    reports: list[dict[str, Any]],
    rows: dict[str, Any],
    cpu: float | None,
    sql: Counter[str],
) -> dict[str, Any]:
    """One run's figures; ``sql``: the statements, commits and checkouts it made."""
    last = max(r["last_tell"] for r in reports if r["last_tell"] is not None)
    claims = np.array([s for r in reports for s in r["claim_s"]]) * 1000
    seconds = last - started
    exact = (
        rows["states"].get("COMPLETE", 0) == budget
        and sum(r["trials"] for r in reports) == budget
        and rows["repeated_numbers"] == 0
        and rows["states"].get("RUNNING", 0) == 0
    )
    return {
        "workers": workers,
        "budget": budget,
        "seconds": seconds,
        "all_returned_s": max(r["returned"] for r in reports) - started,
        "trials_per_s": budget / seconds,
        "trials_per_worker": sorted(r["trials"] for r in reports),
        "states": rows["states"],
        "repeated_numbers": rows["repeated_numbers"],
        "exact": exact,
        "claims": len(claims),
        "claim_ms_median": float(np.median(claims)),
        "claim_ms_p90": float(np.percentile(claims, 90)),
        "advisory_locks_per_claim": sql["advisory_locks"] / len(claims),
        "statements_per_trial": sql["statements"] / budget,
        "checkouts_per_trial": sql["checkouts"] / budget,
        "postgres_cpu_ms_per_trial": None if cpu is None else cpu / budget * 1000,
        "postgres_cpu_share": None if cpu is None else cpu / seconds,
    }


# --- realistic trials: one worker, TPE, the median pruner ----------------------------------


def search_space() -> SearchSpace:
    return SearchSpace(
        optimizers=DEFAULT_OPTIMIZERS,
        schedules=DEFAULT_SCHEDULES,
        lr={name: LR_RANGE for name in DEFAULT_OPTIMIZERS},
    )


class RealisticObjective:
    """``TrialObjective``'s storage calls for a 10-epoch trial (``lrtune/study/_objective.py``).

    Keep the sequence of calls in step with ``TrialObjective.__call__`` and ``_Reporter``;
    nothing is trained, and the losses are synthetic. ``improving``: every trial's losses
    lie below every earlier trial's, so the median pruner never stops one and each reports
    all its epochs (the trials measured); otherwise they depend on the LR, with noise, and
    the pruner stops many (the trials a study is filled with).
    """

    def __init__(self, space: SearchSpace, *, improving: bool, epochs: int = EPOCHS) -> None:
        self.space, self.improving, self.epochs = space, improving, epochs

    def __call__(self, trial: optuna.Trial) -> float:
        config = self.space.sample(trial)
        seed = trial.number
        trial.set_user_attr("config", config.to_dict())
        trial.set_user_attr("seed", seed)
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("device", DEVICE)
        trial.set_user_attr("threads", 1)
        trial.set_user_attr("gpu", GPU)
        write_held(trial)
        losses: list[float] = []
        metrics: list[float | None] = []
        lrs: list[list[float]] = []
        noise = random.Random(seed)
        for epoch in range(self.epochs):
            if self.improving:
                loss = 0.1 + 1.5 * math.exp(-epoch / 2.5) - 1e-5 * trial.number
            else:
                loss = synthetic_loss(config.lr, epoch, noise)
            losses.append(loss)
            metrics.append(max(0.0, 1.0 - loss / 3))
            lrs.append([config.lr * 0.9, config.lr * 0.5, config.lr])
            trial.report(loss, epoch)
            if trial.should_prune():
                save(trial, losses, metrics, lrs, f"pruned by MedianPruner: at epoch {epoch}")
                raise optuna.TrialPruned(f"at epoch {epoch}")
        save(trial, losses, metrics, lrs, None)
        return losses[-1]


def synthetic_loss(lr: float, epoch: int, noise: random.Random) -> float:
    """A validation loss that falls with the epochs and is lowest near lr = 3e-3."""
    shape = 0.2 + 0.3 * (math.log10(lr) + 2.5) ** 2 + 1.5 * math.exp(-epoch / 2.5)
    return shape + 0.02 * noise.random()


def save(
    trial: optuna.Trial,
    losses: list[float],
    metrics: list[float | None],
    lrs: list[list[float]],
    pruned_reason: str | None,
) -> None:
    """``_Reporter.save``: the per-epoch record, one user attribute each."""
    trial.set_user_attr("val_losses", losses)
    trial.set_user_attr("val_metrics", metrics)
    trial.set_user_attr("lrs", lrs)
    trial.set_user_attr("epochs_run", len(losses))
    if pruned_reason is not None:
        trial.set_user_attr("pruned_reason", pruned_reason)


def add_finished(study: optuna.Study, n: int, space: SearchSpace) -> None:
    """Add ``n`` finished trials made by the same objective with LR-dependent losses.

    They are made in memory (random sampler, the median pruner: many are pruned), then
    copied with their parameters, attributes and intermediate values.
    """
    if n == 0:
        return
    setup = StudySetup(epochs=EPOCHS, seed=1)
    memory = optuna.create_study(sampler=RandomSampler(seed=1), pruner=PRUNERS.get("median")(setup))
    memory.optimize(RealisticObjective(space, improving=False), n_trials=n)
    study.add_trials(memory.trials)


def add_running(study: optuna.Study, n: int, space: SearchSpace) -> None:
    """Add ``n`` running trials half-way through, standing for other workers' trials.

    They count against the budget like any running trial, and ``StandInBeats`` beats
    them as their workers would (without beats they would be judged silent or stale,
    failed and queued again after the grace period).
    """
    if n == 0:
        return
    half = optuna.create_study(sampler=RandomSampler(seed=2))
    half.optimize(RealisticObjective(space, improving=False, epochs=EPOCHS // 2), n_trials=n)
    for trial in half.trials:
        attrs = {k: v for k, v in trial.user_attrs.items() if k in ("config", "seed", "host")}
        study.add_trial(
            optuna.trial.create_trial(
                state=TrialState.RUNNING,
                params=trial.params,
                distributions=trial.distributions,
                user_attrs={**attrs, "device": DEVICE, "gpu": GPU},
                intermediate_values=trial.intermediate_values,
            )
        )


class StandInBeats:
    """Heartbeats of the stand-ins for other workers' trials (``add_running``), each every
    ``HEARTBEAT.interval`` seconds as its worker would, one statement per beat as
    ``record_heartbeat`` makes it, from a thread of this process on a connection of its
    own (``pid``: its server process). Other workers' beats are not the measured trial's
    cost: the server's CPU for them is taken out of the trial's (``beats`` and
    ``cpu_s`` count them), and the projection adds the measured trial's own beats instead
    (``BEATS_PER_TRIAL``)."""

    def __init__(self, url: sqlalchemy.URL) -> None:
        # An engine of its own: the trial's SQL count is the worker's engine's.
        self.engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        self.connection = self.engine.connect()
        self.pid = int(self.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        self.connection.commit()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.trial_ids: list[int] = []
        self.beats = 0
        self.per_beat_s: float | None = None

    def __enter__(self) -> StandInBeats:
        query = "SELECT trial_id FROM trials WHERE state = 'RUNNING'"  # only stand-ins run
        self.trial_ids = list(self.connection.exec_driver_sql(query).scalars())
        self.connection.commit()
        self._beat_all()  # before any claim looks for silent or stale trials
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop.set()
        self.thread.join()
        self.per_beat_s = self._calibrate() if self.trial_ids else None
        self.connection.close()
        self.engine.dispose()

    def cpu_s(self) -> float:
        """The CPU seconds of the server process serving the beats so far."""
        return server_process_cpu_s(self.pid) or 0.0

    def _calibrate(self) -> float:
        """The server's CPU seconds per beat, over ``CALIBRATION_BEATS`` more beats after
        the measured trials (the server counts CPU in 10 ms ticks: a few beats read 0)."""
        start = self.cpu_s()
        for i in range(CALIBRATION_BEATS):
            trial_id = self.trial_ids[i % len(self.trial_ids)]
            trial_sql.beat(self.connection, trial_id, wait_for_disk=False)
            self.connection.commit()
        return (self.cpu_s() - start) / CALIBRATION_BEATS

    def totals(self) -> dict[str, Any]:
        """The beats sent while the trials ran, and the server's CPU per beat."""
        per_beat = None if self.per_beat_s is None else self.per_beat_s * 1000
        return {"stand_in_beats_total": self.beats, "server_cpu_ms_per_beat": per_beat}

    def _run(self) -> None:
        while not self.stop.wait(HEARTBEAT.interval):
            self._beat_all()

    def _beat_all(self) -> None:
        for trial_id in self.trial_ids:
            trial_sql.beat(self.connection, trial_id, wait_for_disk=False)
            self.connection.commit()
            self.beats += 1


@dataclass
class TrialRecord:
    number: int = -1
    state: str = ""
    epochs_run: int = 0
    wall_s: float = 0.0
    claim_s: float = 0.0
    storage_s: float = 0.0
    storage_calls: int = 0
    cpu_s: float = 0.0
    sql: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """Trials measured while ``running`` other workers' trials run: after ``warm_up`` more."""

    running: int
    warm_up: int
    measured: int


@dataclass
class Probe:
    """The instruments on one study's storage."""

    timer: StorageTimer
    sql: SqlCounter
    server_cpu: Callable[[], dict[int, float] | None]
    beats: StandInBeats | None = None


def run_realistic(admin_url: str, prefilled: int, stages: Sequence[Stage]) -> list[dict[str, Any]]:
    """One study, ``prefilled`` finished trials first, then each stage in turn."""
    space = search_space()
    results = []
    with fresh_database(admin_url, f"realistic_{prefilled}") as url:
        setup = StudySetup(epochs=EPOCHS, seed=0)
        storage = open_study_storage(url, heartbeat=HEARTBEAT)
        study = optuna.create_study(
            storage=storage,
            study_name=f"realistic-{uuid.uuid4().hex[:8]}",
            sampler=SAMPLERS.get("tpe")(setup),
            pruner=PRUNERS.get("median")(setup),
            direction="minimize",
        )
        clock = time.perf_counter()
        add_finished(study, prefilled, space)
        server_cpu = functools.partial(backend_cpu, admin_url, url)
        probe = Probe(StorageTimer(), SqlCounter(engine_of(storage)), server_cpu)
        probe.timer.wrap_storage(study._storage)
        restore = probe.timer.wrap_count_states()
        try:
            running = 0
            for stage in stages:
                add_running(study, stage.running - running, space)
                running = stage.running
                with StandInBeats(engine_of(storage).url) as probe.beats:
                    records, server_s, finished, beats = measure_trials(study, probe, stage)
                summary = summarize_realistic(finished, stage, records, probe.timer, server_s)
                summary |= beats | probe.beats.totals()
                results.append(summary | {"phase_s": time.perf_counter() - clock})
                clock = time.perf_counter()
        finally:
            restore()
            engine_of(storage).dispose()
    return results


class Enough(Exception):
    """Leaves ``run_trials`` from a callback, after a trial is told."""


def measure_trials(
    study: optuna.Study, probe: Probe, stage: Stage
) -> tuple[list[TrialRecord], float | None, int, dict[str, Any]]:
    """Run the warm-up then the measured trials in lrtune's loop; the measured ones' times.

    Returns each measured trial's record, the server's CPU seconds over them (less the
    stand-ins' beats'), how many finished trials the study held before them, and the
    stand-ins' beats over them (their count and server CPU). ``probe.timer`` holds the
    measured trials' totals afterwards.
    """
    timer, sql = probe.timer, probe.sql
    records: list[TrialRecord] = []
    marks: dict[str, Any] = {}

    def on_start() -> None:
        if not marks:  # a cycle starts with its claim, whose storage time and SQL count
            marks.update(cpu=time.process_time(), storage=timer.total(), sql=sql.snapshot())

    def on_claim(started: float, seconds: float) -> None:
        if "start" not in marks:
            marks.update(start=started, claim=seconds)

    def on_finished(_study: optuna.Study, frozen: optuna.trial.FrozenTrial) -> None:
        storage_s, calls = timer.total()
        now = sql.snapshot()
        records.append(
            TrialRecord(
                number=frozen.number,
                state=frozen.state.name,
                epochs_run=int(frozen.user_attrs.get("epochs_run", 0)),
                wall_s=time.perf_counter() - marks["start"],
                claim_s=marks["claim"],
                storage_s=storage_s - marks["storage"][0],
                storage_calls=calls - marks["storage"][1],
                cpu_s=time.process_time() - marks["cpu"],
                sql={k: v - marks["sql"].get(k, 0) for k, v in now.items()},
            )
        )
        marks.clear()

    def run_until(n: int) -> None:
        def stop(*_: Any) -> None:
            if len(records) >= n:
                raise Enough

        with contextlib.suppress(Enough):
            run_trials(
                study, objective, budget=budget, callbacks=[on_finished, stop], poll_s=POLL_S
            )

    objective = RealisticObjective(search_space(), improving=True)
    # The stand-ins for other workers' trials never finish, so the loop would wait for them
    # at the end of its budget: it is left from the callback instead.
    budget = len(study.trials) + stage.warm_up + stage.measured + 1
    with timed_claims(on_claim, on_start):
        run_until(stage.warm_up)
        marks.clear()
        records.clear()
        timer.reset()
        finished = len(study.get_trials(deepcopy=False, states=gate.FINISHED))
        beats_before, before = beats_sent(probe), probe.server_cpu()
        run_until(stage.measured)
        after = probe.server_cpu()
        beats = {"stand_in_beats": beats_sent(probe) - beats_before}
        server_s = cpu_used(before, after)
        if server_s is not None and probe.beats is not None and before and after:
            pid = probe.beats.pid
            beat_s = after.get(pid, 0.0) - before.get(pid, 0.0)
            server_s -= beat_s  # other workers' beats: not this trial's cost
            beats["stand_in_beat_cpu_ms"] = beat_s * 1000
    return records, server_s, finished, beats


def beats_sent(probe: Probe) -> int:
    return 0 if probe.beats is None else probe.beats.beats


def summarize_realistic(
    finished: int, stage: Stage, records: list[TrialRecord], timer: StorageTimer, cpu: float | None
) -> dict[str, Any]:
    n = len(records)
    return {
        "finished": finished,
        "running": stage.running,
        "warm_up": stage.warm_up,
        "trials": n,
        "states": dict(Counter(r.state for r in records)),
        "epochs_run": dict(Counter(r.epochs_run for r in records)),
        "figures": stats(records),
        "postgres_cpu_ms_per_trial": None if cpu is None else cpu / n * 1000,
        "methods": method_rows(*timer.by(with_caller=False), n),
        "callers": method_rows(*timer.by(with_caller=True), n),
        "per_trial": [
            {
                "number": r.number,
                "state": r.state,
                "epochs_run": r.epochs_run,
                "wall_ms": r.wall_s * 1000,
                "claim_ms": r.claim_s * 1000,
                "storage_ms": r.storage_s * 1000,
                "storage_calls": r.storage_calls,
                "client_cpu_ms": r.cpu_s * 1000,
                "statements": r.sql.get("statements", 0),
            }
            for r in records
        ],
    }


def method_rows(seconds: dict[str, float], calls: Counter[str], n: int) -> list[dict[str, Any]]:
    total = sum(seconds.values())
    return [
        {
            "method": name,
            "calls_per_trial": calls[name] / n,
            "ms_per_trial": seconds[name] / n * 1000,
            "ms_per_call": seconds[name] / calls[name] * 1000,
            "share": seconds[name] / total,
        }
        for name in sorted(seconds, key=seconds.__getitem__, reverse=True)
    ]


def stats(records: Sequence[TrialRecord]) -> dict[str, Any]:
    def ms(values: Sequence[float]) -> tuple[float, float]:
        array = np.array(values) * 1000
        return float(np.median(array)), float(np.percentile(array, 90))

    def median(key: str) -> float:
        return float(np.median([r.sql.get(key, 0) for r in records]))

    wall, storage, claim = (
        ms([r.wall_s for r in records]),
        ms([r.storage_s for r in records]),
        ms([r.claim_s for r in records]),
    )
    return {
        "n": len(records),
        "wall_ms_median": wall[0],
        "wall_ms_p90": wall[1],
        "storage_ms_median": storage[0],
        "storage_ms_p90": storage[1],
        "claim_ms_median": claim[0],
        "claim_ms_p90": claim[1],
        "client_cpu_ms_median": ms([r.cpu_s for r in records])[0],
        "storage_calls_median": float(np.median([r.storage_calls for r in records])),
        "statements_median": median("statements"),
        "commits_median": median("commits"),
        "checkouts_median": median("checkouts"),
        "sql_ms_median": median("sql_s") * 1000,
        "advisory_locks_per_trial": float(
            np.mean([r.sql.get("advisory_locks", 0) for r in records])
        ),
    }


# --- workers per server --------------------------------------------------------------------


def workers_per_database(
    throughput: Sequence[dict[str, Any]], realistic: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """How many workers at ``TRIAL_S`` per trial one server serves: each bound, and the least.

    Every worker keeps one trial running, so W workers mean W running trials; each cost
    is fitted as ``a + b W`` between the prefilled studies without and with running trials.
    """
    top = max(
        (run for run in throughput if run.get("path", "direct") == "direct"),
        key=lambda run: run["workers"],
    )
    idle = min(realistic, key=lambda run: (run["running"], -run["finished"]))
    busy = max(realistic, key=lambda run: (run["running"], run["finished"]))

    def fit(cost: Callable[[dict[str, Any]], float | None]) -> tuple[float, float] | None:
        low, high = cost(idle), cost(busy)
        if low is None or high is None:
            return None
        slope = (high - low) / busy["running"] if busy["running"] > idle["running"] else 0.0
        return low / 1000, max(0.0, slope) / 1000  # seconds; seconds per running trial

    cpu = fit(lambda run: run["postgres_cpu_ms_per_trial"])
    per_beat_s = beat_cpu_s(busy)
    if cpu is not None and per_beat_s is not None:  # the trial's own beats, a fixed number
        cpu = (cpu[0] + BEATS_PER_TRIAL * per_beat_s, cpu[1])
    claim = fit(lambda run: run["figures"]["claim_ms_median"])
    storage = fit(lambda run: run["figures"]["storage_ms_median"])
    bounds = {
        "postgres_cpu": None if cpu is None else most_workers(*cpu),
        "lock": None if claim is None else most_workers(*claim),
    }
    applicable = {name: value for name, value in bounds.items() if value is not None}
    binding = min(applicable, key=applicable.__getitem__)
    workers = round_down(applicable[binding])
    return {
        "trial_s": TRIAL_S,
        "bounds": bounds,
        "binding": binding,
        "workers": workers,
        "fits_s": {"postgres_cpu": cpu, "claim": claim, "storage": storage},
        "storage_s_at_workers": None if storage is None else storage[0] + storage[1] * workers,
        "noop_workers_times_trial_s": TRIAL_S * top["trials_per_s"],
        "noop_workers": top["workers"],
        "noop_trials_per_s": top["trials_per_s"],
        "fitted_between": [f"{run['finished']} + {run['running']}" for run in (idle, busy)],
        "beats_per_trial": BEATS_PER_TRIAL,
        "server_cpu_ms_per_beat": None if per_beat_s is None else per_beat_s * 1000,
    }


def beat_cpu_s(run: dict[str, Any]) -> float | None:
    """The server's CPU seconds per heartbeat, from the stand-ins' beats during ``run``."""
    per_beat_ms = run.get("server_cpu_ms_per_beat")
    return None if per_beat_ms is None else per_beat_ms / 1000


def most_workers(fixed_s: float, per_worker_s: float) -> float:
    """The most W with W / TRIAL_S x (fixed_s + per_worker_s W) <= 1."""
    if per_worker_s <= 0:
        return TRIAL_S / fixed_s
    return (-fixed_s + math.sqrt(fixed_s**2 + 4 * per_worker_s * TRIAL_S)) / (2 * per_worker_s)


def round_down(value: float) -> int:
    """``value`` rounded down to two significant figures."""
    if value < 10:
        return int(value)
    scale = 10 ** (int(math.log10(value)) - 1)
    return int(value // scale * scale)


def target_verdict(realistic: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for run in realistic:
        median = run["figures"]["storage_ms_median"]
        statements = run["figures"]["statements_median"]
        met = "met" if median <= TARGET_MS else f"missed by {median / TARGET_MS:.1f}x"
        said = "met" if statements <= TARGET_STATEMENTS else "missed"
        top = ", ".join(f"`{m['method']}` {m['share']:.0%}" for m in run["methods"][:3])
        lines.append(
            f"{run['finished']} finished + {run['running']} running: median storage time "
            f"{median:.1f} ms per 10-epoch trial, target <= {TARGET_MS:.0f} ms: {met}; "
            f"{statements:.0f} SQL statements, target <= {TARGET_STATEMENTS}: {said} "
            f"(most of the time: {top})"
        )
    return lines


# --- report --------------------------------------------------------------------------------


def markdown(document: dict[str, Any]) -> str:
    dirty = document["dirty"]
    parts = [
        throughput_table(document["throughput"]),
        realistic_table(document["realistic"]),
        methods_table(document["realistic"], "methods", TOP_METHODS),
        methods_table(document["realistic"][-1:], "callers", TOP_CALLERS),
        "\n".join(f"- {line}" for line in document["verdict"]),
        workers_text(document["workers_per_database"]),
        f"Command: `{document['command']}` (commit {document['commit']}"
        + (f", with local changes to {', '.join(dirty)}" if dirty else "")
        + ("; lrtune's files changed during the run" if document["tree_changed_during_run"] else "")
        + f"; {document['elapsed_s']:.0f} s; load average {document['load_before']} before, "
        f"{document['load_after']} after; {document['postgres']})",
    ]
    return "\n\n".join(parts)


def throughput_table(runs: Sequence[dict[str, Any]]) -> str:
    rows = [
        "| path | workers | trials (B) | s | finished trials/s | exact B, no repeats | "
        "claim ms median (p90) | advisory locks per claim | SQL statements per trial | "
        "PostgreSQL CPU ms per trial | PostgreSQL CPU, cores | proxy CPU ms per trial |",
        "| :--- | ---: | ---: | ---: | ---: | :--- |" + " ---: |" * 6,
    ]
    for run in runs:
        cpu, share = run["postgres_cpu_ms_per_trial"], run["postgres_cpu_share"]
        proxy_cpu = run.get("proxy_cpu_ms_per_trial")
        others = {k: v for k, v in run["states"].items() if k != "COMPLETE"}
        exact = ("yes" if run["exact"] else "NO") + (f" (also {others})" if others else "")
        rows.append(
            f"| {run.get('path', 'direct')} | {run['workers']} | {run['budget']} | "
            f"{run['seconds']:.1f} | "
            f"{run['trials_per_s']:.1f} | {exact} | "
            f"{run['claim_ms_median']:.0f} ({run['claim_ms_p90']:.0f}) | "
            f"{run['advisory_locks_per_claim']:.2f} | {run['statements_per_trial']:.0f} | "
            f"{'n/a' if cpu is None else f'{cpu:.1f}'} | "
            f"{'n/a' if share is None else f'{share:.2f}'} | "
            f"{'-' if proxy_cpu is None else f'{proxy_cpu:.1f}'} |"
        )
    return "\n".join(rows)


def realistic_table(runs: Sequence[dict[str, Any]]) -> str:
    rows = [
        "| study holds (finished + running) at the first measured trial | trials | "
        "wall ms median (p90) | storage ms median (p90) | storage / wall | client CPU ms | "
        "storage calls | SQL statements | commits | connection checkouts | claim ms | "
        "PostgreSQL CPU ms per trial |",
        "| :--- |" + " ---: |" * 11,
    ]
    for run in runs:
        f, cpu = run["figures"], run["postgres_cpu_ms_per_trial"]
        rows.append(
            f"| {run['finished']} + {run['running']} | {f['n']} | "
            f"{f['wall_ms_median']:.0f} ({f['wall_ms_p90']:.0f}) | "
            f"{f['storage_ms_median']:.0f} ({f['storage_ms_p90']:.0f}) | "
            f"{f['storage_ms_median'] / f['wall_ms_median']:.2f} | "
            f"{f['client_cpu_ms_median']:.0f} | {f['storage_calls_median']:.0f} | "
            f"{f['statements_median']:.0f} | {f['commits_median']:.0f} | "
            f"{f['checkouts_median']:.0f} | {f['claim_ms_median']:.0f} | "
            f"{'n/a' if cpu is None else f'{cpu:.0f}'} |"
        )
    return "\n".join(rows)


def methods_table(runs: Sequence[dict[str, Any]], key: str, top: int) -> str:
    names: list[str] = []
    for run in runs:
        names += [m["method"] for m in run[key][:top] if m["method"] not in names]
    header = " | ".join(f"{run['finished']} + {run['running']}: calls, ms, share" for run in runs)
    what = "storage method" if key == "methods" else "storage method <- caller"
    rows = [f"| {what} (per trial) | {header} |", "| :--- |" + " ---: |" * len(runs)]
    for name in names:
        cells = []
        for run in runs:
            found = {m["method"]: m for m in run[key]}.get(name)
            cells.append(
                "-"
                if found is None
                else f"{found['calls_per_trial']:.1f}, {found['ms_per_trial']:.1f}, "
                f"{found['share']:.0%}"
            )
        rows.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def workers_text(k: dict[str, Any]) -> str:
    def shown(name: str) -> str:
        value = k["bounds"][name]
        return "n/a" if value is None else f"{value:.0f}"

    storage = k["storage_s_at_workers"]
    waits = (
        ""
        if storage is None
        else f" With that many workers each trial would spend about {storage:.1f} s in "
        f"storage calls ({storage / k['trial_s']:.0%} of its {k['trial_s']:.0f} s)."
    )
    return (
        f"**One PostgreSQL can serve about {k['workers']} GPU workers at "
        f"{k['trial_s']:.0f} s per trial** (bound: `{k['binding']}`). Costs fitted as "
        f"a + b x (running trials) between the studies holding "
        f"{' and '.join(k['fitted_between'])}; workers W within: the server's CPU, "
        f"W/60 s x CPU per trial <= one core: {shown('postgres_cpu')}; the advisory lock, "
        f"W/60 s x claim time <= 1: {shown('lock')}. For comparison, the no-op rate x "
        f"{k['trial_s']:.0f} s = {k['noop_workers_times_trial_s']:.0f} "
        f"({k['noop_trials_per_s']:.1f} no-op trials/s with {k['noop_workers']} workers, which "
        f"share this machine's cores with the server).{waits}{beats_text(k)} Target: at least "
        f"{TARGET_WORKERS:,} workers: {'met' if k['workers'] >= TARGET_WORKERS else 'missed'}."
    )


def beats_text(k: dict[str, Any]) -> str:
    per_beat = k.get("server_cpu_ms_per_beat")
    if per_beat is None:
        return ""
    return (
        f" The server's CPU per trial leaves out the stand-ins' heartbeats (other workers') "
        f"and counts the trial's own {k['beats_per_trial']:.0f} beats instead, at "
        f"{per_beat:.3f} ms each (measured on the stand-ins' beats)."
    )


# --- command line -------------------------------------------------------------------------


def git(*args: str) -> str:
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    return done.stdout.rstrip()


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def counts(text: str) -> tuple[int, ...]:
    """Comma-separated worker counts, each positive (else a usage error)."""
    try:
        values = tuple(int(item) for item in text.split(",") if item.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of positive integers.")
    return values


def paths(text: str) -> tuple[str, ...]:
    """Comma-separated paths, each "direct" or "proxy" (else a usage error)."""
    values = tuple(item.strip() for item in text.split(",") if item.strip())
    if not values or not set(values) <= set(PATHS):
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of {' or '.join(PATHS)}.")
    return values


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="about a minute: smaller runs")
    add("--budget", type=int, help=f"no-op trials per throughput run ({FULL['budget']})")
    add("--workers", type=counts, help="comma-separated worker counts (1,2,4,8)")
    add("--paths", type=paths, default=PATHS, help="direct, proxy or both (direct,proxy)")
    add("--trials", type=int, help=f"measured trials of the fresh study ({FULL['trials']})")
    add("--warm-up", type=int, help=f"warm-up trials of the fresh study ({FULL['warm_up']})")
    add("--big-trials", type=int, help=f"measured, prefilled studies ({FULL['big_trials']})")
    add("--prefill", type=int, help=f"finished trials of those studies ({FULL['prefill']})")
    add("--running", type=int, help=f"other workers' running trials ({FULL['running']})")
    add("--admin-url", default=ADMIN_URL, help="a database to create the others from")
    add("--out", type=Path, help="results JSON (the .md goes beside it)")
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.budget < max(args.workers) or min(args.trials, args.big_trials) < 1:
        parser.error("--budget must be at least the most workers; --trials positive.")
    if "direct" not in args.paths:
        parser.error("--paths must include direct: the workers per server are fitted on it.")
    if args.prefill < 0 or args.running < 1:
        parser.error("--prefill must be zero or more, --running positive.")
    name = "storage_throughput_quick.json" if args.quick else "storage_throughput.json"
    args.out = args.out or RESULTS / name
    return args


def tree() -> tuple[str, list[str]]:
    """The commit, and the files of ``lrtune/`` changed since it."""
    changed = git("status", "--porcelain", "--", "lrtune").splitlines()
    return git("rev-parse", "--short", "HEAD"), [line[3:] for line in changed]


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    started, load_before, clock = utc_now(), load_average(), time.perf_counter()
    commit, dirty = tree()  # the code this process imported
    throughput, restarts = [], 0
    for path in args.paths:
        for workers in args.workers:
            phase = functools.partial(run_throughput, args.admin_url, workers, args.budget, path)
            run, attempts = guarded(args.admin_url, phase)
            throughput.append(run)
            restarts += attempts - 1
            print(throughput_table(throughput[-1:]).splitlines()[-1], file=sys.stderr)
    studies = [
        (0, [Stage(0, args.warm_up, args.trials)]),
        (
            args.prefill,
            [
                Stage(0, BIG_WARM_UP, args.big_trials),
                Stage(args.running, BIG_WARM_UP, args.big_trials),
            ],
        ),
    ]
    realistic: list[dict[str, Any]] = []
    for prefilled, stages in studies:
        study = functools.partial(run_realistic, args.admin_url, prefilled, stages)
        runs, attempts = guarded(args.admin_url, study)
        realistic += runs
        restarts += attempts - 1
        print("\n".join(realistic_table(runs).splitlines()[2:]), file=sys.stderr)
    return {
        "command": command_line(),
        "started_at": started,
        "finished_at": utc_now(),
        "elapsed_s": time.perf_counter() - clock,
        "server_restarts": restarts,
        "commit": commit,
        "dirty": dirty,
        "tree_changed_during_run": tree() != (commit, dirty),
        "load_before": load_before,
        "load_after": load_average(),
        "machine": machine_info()
        | {"optuna": optuna.__version__, "sqlalchemy": sqlalchemy.__version__},
        "postgres": postgres_settings(args.admin_url),
        "settings": {
            "budget": args.budget,
            "workers": list(args.workers),
            "paths": list(args.paths),
            "proxy_threads": PROXY_THREADS,
            "studies": [
                {"prefilled": prefilled, "stages": [vars(stage) for stage in stages]}
                for prefilled, stages in studies
            ],
            "heartbeat": {"interval": HEARTBEAT.interval, "grace": HEARTBEAT.grace},
            "epochs": EPOCHS,
            "poll_s": POLL_S,
            "throughput_sampler": "RandomSampler",
            "realistic_sampler": "lrtune's tpe (multivariate, group)",
            "realistic_pruner": "lrtune's median",
            "target_ms": TARGET_MS,
            "trial_s": TRIAL_S,
        },
        "throughput": throughput,
        "realistic": realistic,
        "verdict": target_verdict(realistic),
        "workers_per_database": workers_per_database(throughput, realistic),
    }


def postgres_settings(admin_url: str) -> str:
    names = ("server_version", "synchronous_commit", "shared_buffers")
    values = [admin_query(admin_url, f"SHOW {name}")[0][0] for name in names]
    return ", ".join(f"{name} {value}" for name, value in zip(names, values, strict=True))


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    quiet_optuna()
    document = run_benchmark(args)
    write_json(args.out, document)
    report = markdown(document)
    args.out.with_suffix(".md").write_text(report + "\n")
    print(report)
    print(f"Results written to {args.out} and {args.out.with_suffix('.md')}", file=sys.stderr)


if __name__ == "__main__":
    main()
