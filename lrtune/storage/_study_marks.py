"""Whether a study moved since it was last read, in one statement and no trial read.

A reader that keeps what it read of a study (the dashboard) asks this on every request:
its trials' counts by state, its last trial number, the values its unfinished trials
reported so far, when its last trial ended, and its attributes (budget, results). A
finished trial never changes and none is ever deleted, so a study whose marks are the
same still holds the same trials in the same states with the same reported values as
when they were taken: reading it again would find nothing new.
"""

from __future__ import annotations

import datetime
import hashlib
from typing import Any, NamedTuple

from optuna.trial import TrialState
from sqlalchemy import String, bindparam, cast, func, literal, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Connection

from lrtune._optuna import rdb_models
from lrtune.storage._trial_sql import _statement, tables

_UNFINISHED = (TrialState.RUNNING, TrialState.WAITING)


class StudyMarks(NamedTuple):
    """What ``study_marks`` read: ``digest`` changes when a trial is added, changes state
    or reports a value, or the study's attributes change; ``last_end`` is when its last
    trial ended (naive UTC, as stored), ``now`` the database's time then (naive UTC)."""

    digest: str
    last_end: datetime.datetime | None
    now: datetime.datetime

    def seconds_since_end(self) -> float | None:
        """Seconds from the last trial's end to the read, if a trial ended."""
        return None if self.last_end is None else (self.now - self.last_end).total_seconds()


def study_marks(connection: Connection, study_id: int) -> StudyMarks | None:
    """The marks of study ``study_id``; ``None`` if there is no such study."""
    query = _statement(connection, "study_marks", lambda _: _build(connection.dialect.name))
    row = connection.execute(query, {"study": study_id}).first()
    if row is None or row[0] is None:
        return None
    _, *counted, last_end, steps, attrs = row
    digest = hashlib.sha1(repr((counted, last_end, steps, attrs)).encode()).hexdigest()[:12]
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    return StudyMarks(digest, _naive(last_end), now)


def _build(dialect: str) -> Any:
    tb = tables()
    s, t, i = tb.studies, tb.trials, tb.intermediate
    a = rdb_models().StudyUserAttributeModel.__table__
    study: Any = bindparam("study")
    steps = (
        select(func.count())
        .select_from(i.join(t, i.c.trial_id == t.c.trial_id))
        .where(t.c.study_id == study, t.c.state.in_(_UNFINISHED))
    )
    attr = cast(a.c.key, String).concat(literal("=")).concat(a.c.value_json)
    if dialect == "postgresql":
        joined = func.string_agg(attr, aggregate_order_by(literal(";"), a.c.key))
    else:
        joined = func.group_concat(attr, ";")
    return (
        select(
            select(s.c.study_id).where(s.c.study_id == study).scalar_subquery(),
            *(func.count().filter(t.c.state == state) for state in TrialState),
            func.max(t.c.number),
            func.max(t.c.datetime_complete),
            steps.scalar_subquery(),
            select(joined).where(a.c.study_id == study).scalar_subquery(),
        )
        .select_from(t)
        .where(t.c.study_id == study)
    )


def _naive(stamp: Any) -> datetime.datetime | None:
    if isinstance(stamp, str):  # SQLite through a scalar subquery: the stored text
        stamp = datetime.datetime.fromisoformat(stamp)
    if isinstance(stamp, datetime.datetime) and stamp.tzinfo is not None:
        stamp = stamp.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return stamp
