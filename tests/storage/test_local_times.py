"""Stored times (naive UTC) read as Optuna reads them, in naive local time, to the
microsecond, across daylight saving switches, in time zones that switch by half an hour."""

from __future__ import annotations

import datetime
import random
import time
from collections.abc import Iterator

import pytest

from lrtune.storage import _trial_sql


def optunas(stamp: datetime.datetime) -> datetime.datetime:
    return stamp.replace(tzinfo=datetime.timezone.utc).astimezone().replace(tzinfo=None)


@pytest.fixture(params=["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"])
def zone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    _trial_sql._utc_offset.cache_clear()
    yield request.param
    monkeypatch.undo()
    time.tzset()
    _trial_sql._utc_offset.cache_clear()


def test_stored_times_read_as_optuna_reads_them(zone: str) -> None:
    rng = random.Random(zone)
    stamps = [
        datetime.datetime(1990, 1, 1) + datetime.timedelta(seconds=rng.uniform(0, 40 * 365 * 86400))
        for _ in range(5000)
    ]
    for year in (2021, 2026):  # every quarter of an hour around each switch
        for month in (3, 4, 9, 10, 11):
            start = datetime.datetime(year, month, 1)
            stamps += [start + datetime.timedelta(minutes=7.5 * k) for k in range(31 * 24 * 8)]
    read = [_trial_sql._local(stamp) for stamp in stamps]
    assert read == [optunas(stamp) for stamp in stamps]
    assert _trial_sql._local(None) is None
