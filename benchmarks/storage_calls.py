"""The floor of a trial's storage time: what one commit, one report and one pruner read cost.

A 10-epoch trial on lrtune's storage makes 13 commits and, on PostgreSQL, one round trip that
only reads (TPE's; ``storage_throughput.py``); this script times, in one run on a fresh PostgreSQL
database, the pieces they are made of, so that the realistic trial's storage time can be
read against what this machine's server takes at the least:

- ``SELECT 1`` in a transaction (a pooled connection's checkout and the commit), the
  same with SQLAlchemy's ``pool_pre_ping`` (a ping at every checkout, as before; lrtune
  now pings only a connection idle over ``PING_AFTER_IDLE_S``), and the same alone, outside
  a transaction block (``statement_alone``: how lrtune now sends a statement that is a
  call's only one, on PostgreSQL);
- one row inserted and committed (the same, plus a write the server flushes to disk);
- ``set_trial_intermediate_value`` through ``BatchedStorage`` (a report: one statement,
  alone on PostgreSQL);
- the same statement built anew on every call, as it was before issue 14 (in a transaction);
- ``completed_at_step`` (the median pruner's read, over ``--completed`` completed trials);
- a report and the pruner's read after it, as two round trips (before) and as one (the
  report reads for the pruner, ``BatchedStorage.prefetch_completed``).

Usage::

    python benchmarks/storage_calls.py [--calls 300] [--completed 200] [--admin-url URL]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import optuna
import sqlalchemy
from _common import command_line, machine_info, utc_now
from sqlalchemy import text

from lrtune.storage import Database
from lrtune.storage import _trial_sql as trial_sql

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    name = f"bench_calls_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def per_call_ms(call: Callable[[int], Any], calls: int) -> float:
    """The median of five timings of ``calls`` calls, in ms per call."""
    call(-1)
    runs = []
    for run in range(5):
        started = time.perf_counter()
        for i in range(calls):
            call(run * calls + i)
        runs.append((time.perf_counter() - started) / calls * 1000)
    return statistics.median(runs)


def measure(url: str, calls: int, completed: int) -> dict[str, float]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    database = Database.open(url)
    engine, storage = database.engine, database.studies
    assert engine is not None
    study = optuna.create_study(storage=storage, study_name="calls")
    study.optimize(_reporting, n_trials=completed)
    with storage.claiming(1) as claiming:  # type: ignore[attr-defined]
        claiming.census(study._study_id)
        trial_id = claiming.create(study._study_id)
    claiming.adopt_created()
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE floor (i int)"))

    pinged = sqlalchemy.create_engine(engine.url, pool_pre_ping=True)

    def select_one(_: int) -> None:
        with engine.begin() as connection:
            connection.execute(text("SELECT 1"))

    def select_one_alone(_: int) -> None:
        with trial_sql.statement_alone(engine) as connection:
            connection.execute(text("SELECT 1"))

    def select_one_pinged(_: int) -> None:
        with pinged.begin() as connection:
            connection.execute(text("SELECT 1"))

    def insert_one(i: int) -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO floor VALUES (:i)"), {"i": i})

    def report(i: int) -> None:
        storage.set_trial_intermediate_value(trial_id, 1000 + i, 0.5)

    def report_built_anew(i: int) -> None:
        trial_sql._STATEMENTS.clear()
        with engine.begin() as connection:
            trial_sql.write_intermediate(connection, trial_id, 100_000 + i, 0.5, checked=False)

    def pruner_read(_: int) -> None:
        storage.completed_at_step(study._study_id, 5)

    def report_then_read(_: int) -> None:
        storage.set_trial_intermediate_value(trial_id, 5, 0.5)
        storage.completed_at_step(study._study_id, 5)

    def report_reading(_: int) -> None:
        storage.prefetch_completed(study._study_id, 5)
        report_then_read(_)
        storage.prefetch_completed(study._study_id, 1_000_000)

    figures = {
        "select 1 in a transaction": per_call_ms(select_one, calls),
        "select 1 in a transaction, pinged at checkout": per_call_ms(select_one_pinged, calls),
        "select 1 alone (no transaction block)": per_call_ms(select_one_alone, calls),
        "insert one row and commit": per_call_ms(insert_one, calls),
        "report (BatchedStorage)": per_call_ms(report, calls),
        "report, statement built anew": per_call_ms(report_built_anew, calls),
        f"pruner read over {completed} completed trials": per_call_ms(pruner_read, calls),
        "report, then the pruner's read: two round trips": per_call_ms(report_then_read, calls),
        "report that reads for the pruner: one round trip": per_call_ms(report_reading, calls),
    }
    pinged.dispose()
    return figures


def _reporting(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    for step in range(10):
        trial.report(x + 1.0 / (step + 1), step)
    return x


def load_average() -> str:
    with open("/proc/loadavg") as handle:
        return "load average " + " ".join(handle.read().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--completed", type=int, default=200)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    args = parser.parse_args()
    started = utc_now()
    with fresh_database(args.admin_url) as url:
        figures = measure(url, args.calls, args.completed)
    print(f"| call | ms per call (median of 5 x {args.calls}) |\n| :--- | ---: |")
    for name, ms in figures.items():
        print(f"| {name} | {ms:.2f} |")
    info = machine_info()
    print(f"\n`{command_line()}` ({started}; {info['cpu_count']} CPUs, {load_average()})")


if __name__ == "__main__":
    main()
