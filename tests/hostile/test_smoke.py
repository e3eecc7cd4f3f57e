"""The harness itself: a refusal is checked, and a change to the database is caught."""

from __future__ import annotations

from collections.abc import Callable

from tests.hostile.harness import Db, run_lrtune


def test_reading_commands_leave_the_database_as_it_was(db: Db) -> None:
    before = db.snapshot()
    for args in (["runs"], ["studies"], ["show", "1"], ["best", "s"]):
        result = run_lrtune(*args, "--storage", db.url)
        assert result.code == 0, result.stderr
    assert db.snapshot() == before


def test_a_refusal_is_one_line_and_a_non_zero_exit(db: Db, refused: Callable[..., str]) -> None:
    refused(2, "No range test with id 99", "show", "99", "--storage", db.url)


def test_the_snapshot_sees_a_write(db: Db) -> None:
    before = db.snapshot()
    args = ("study", "studies/quick.toml", "--storage", db.url, "--study-name", "w")
    assert run_lrtune(*args, "--n-trials", "1").code == 0
    assert db.snapshot() != before
