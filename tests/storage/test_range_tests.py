"""The storage contract for range tests, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

from lrtune._exceptions import NotFoundError
from lrtune.finder._result import StopReason
from lrtune.storage import RangeTestSummary, Storage

from .conftest import MakeResult


def test_round_trip_keeps_every_field(
    storage: Storage, make_result: MakeResult, assert_same_result
) -> None:
    result = make_result(1000)
    range_test_id = storage.save_range_test(result)
    assert result.id == range_test_id
    loaded = storage.get_range_test(range_test_id)
    assert loaded.id == range_test_id
    assert_same_result(loaded, result)


def test_round_trip_keeps_none_and_empty_fields(
    storage: Storage, make_result: MakeResult, assert_same_result
) -> None:
    result = make_result(
        30,
        suggested_lr=None,
        min_lr=None,
        max_lr=None,
        stop_reason=StopReason.COMPLETED,
        optimizer_options={},
        options={},
        model_summary={},
        task=None,
        started_at=None,
        finished_at=None,
        group=None,
    )
    assert_same_result(storage.get_range_test(storage.save_range_test(result)), result)


def test_empty_history_round_trips(storage: Storage, make_result: MakeResult) -> None:
    loaded = storage.get_range_test(storage.save_range_test(make_result(0)))
    assert loaded.history.empty
    assert list(loaded.history.columns) == ["lr", "loss", "smoothed_loss"]


def test_non_finite_losses_round_trip(
    storage: Storage, make_result: MakeResult, assert_same_result
) -> None:
    result = make_result(50, stop_reason=StopReason.NON_FINITE)
    result.history.loc[47, "loss"] = np.inf
    result.history.loc[48, "loss"] = -np.inf
    result.history.loc[49, ["loss", "smoothed_loss"]] = np.nan
    assert_same_result(storage.get_range_test(storage.save_range_test(result)), result)


def test_history_is_read_back_in_step_order(storage: Storage, make_result: MakeResult) -> None:
    # A shuffled index must not reorder the curve: steps follow row order, not labels.
    result = make_result(100)
    result.history.index = np.random.default_rng(1).permutation(100)
    loaded = storage.get_range_test(storage.save_range_test(result))
    np.testing.assert_array_equal(loaded.history["lr"], result.history["lr"].to_numpy())


def test_aware_timestamps_are_stored_as_naive_utc(
    storage: Storage, make_result: MakeResult
) -> None:
    plus_two = timezone(timedelta(hours=2))
    result = make_result(20, started_at=datetime(2024, 5, 1, 14, 0, 0, 5, tzinfo=plus_two))
    loaded = storage.get_range_test(storage.save_range_test(result))
    assert loaded.started_at == datetime(2024, 5, 1, 12, 0, 0, 5)


def test_numpy_scalars_are_stored_as_floats(storage: Storage, make_result: MakeResult) -> None:
    result = make_result(20, suggested_lr=np.float32(0.5), min_lr=np.float64(0.25))
    loaded = storage.get_range_test(storage.save_range_test(result))
    assert (loaded.suggested_lr, loaded.min_lr) == (0.5, 0.25)


def test_saving_a_1000_point_curve_is_fast(storage: Storage, make_result: MakeResult) -> None:
    result = make_result(1000)
    started = time.perf_counter()
    storage.save_range_test(result)
    # Row-by-row ORM inserts take several seconds here; one executemany takes milliseconds.
    assert time.perf_counter() - started < 1.0


def test_points_go_with_their_range_test(
    storage: Storage, make_result: MakeResult, raw_engine: Engine
) -> None:
    # Deleting through a plain connection checks the foreign key cascades on both backends
    # (SQLite enforces foreign keys only with the pragma lrtune sets).
    range_test_id = storage.save_range_test(make_result(10))
    with storage._engine.begin() as connection:
        connection.execute(
            text("DELETE FROM lrtune_range_tests WHERE id = :id"), {"id": range_test_id}
        )
    with raw_engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM lrtune_range_test_points")) == 0


def test_history_without_a_column_is_a_value_error(
    storage: Storage, make_result: MakeResult
) -> None:
    result = make_result(10)
    result.history = result.history.drop(columns="smoothed_loss")
    with pytest.raises(ValueError, match="smoothed_loss"):
        storage.save_range_test(result)
    assert storage.list_range_tests() == []


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), object()])
def test_option_that_is_not_json_is_a_value_error(
    storage: Storage, make_result: MakeResult, bad: object
) -> None:
    # JSON has no NaN or infinity; SQLite would keep them but PostgreSQL refuses, so both refuse.
    with pytest.raises(ValueError, match=r"result\.options cannot be stored as JSON"):
        storage.save_range_test(make_result(10, options={"threshold": bad}))
    assert storage.list_range_tests() == []


def test_missing_id_is_not_found(storage: Storage) -> None:
    with pytest.raises(NotFoundError, match=r"^No range test with id 7 in ") as caught:
        storage.get_range_test(7)
    assert storage.url in str(caught.value)


def test_list_is_newest_first(storage: Storage, make_result: MakeResult) -> None:
    ids = [storage.save_range_test(make_result(5, optimizer=name)) for name in "ABC"]
    summaries = storage.list_range_tests()
    assert [summary.id for summary in summaries] == ids[::-1]
    assert [summary.optimizer for summary in summaries] == ["C", "B", "A"]


def test_list_filters_by_task_and_limits(storage: Storage, make_result: MakeResult) -> None:
    for task in ["mlp", "cnn", "mlp", None, "mlp"]:
        storage.save_range_test(make_result(5, task=task))
    assert [s.task for s in storage.list_range_tests(task="mlp")] == ["mlp"] * 3
    assert len(storage.list_range_tests(task="mlp", limit=2)) == 2
    assert len(storage.list_range_tests(limit=4)) == 4
    assert storage.list_range_tests(task="rnn") == []


def test_list_rejects_a_negative_limit(storage: Storage) -> None:
    with pytest.raises(ValueError, match="limit=-1"):
        storage.list_range_tests(limit=-1)


def test_list_summarizes_each_range_test(storage: Storage, make_result: MakeResult) -> None:
    before = datetime.now(timezone.utc).replace(tzinfo=None)
    result = make_result(25)
    storage.save_range_test(result)
    (summary,) = storage.list_range_tests()
    assert isinstance(summary, RangeTestSummary)
    assert summary == RangeTestSummary(
        id=result.id,  # type: ignore[arg-type]
        group="sweep-1",
        task="digits-mlp",
        optimizer="AdamW",
        suggested_lr=result.suggested_lr,
        min_lr=result.min_lr,
        max_lr=result.max_lr,
        stop_reason=StopReason.DIVERGED,
        n_points=25,
        created_at=summary.created_at,
    )
    assert before <= summary.created_at <= datetime.now(timezone.utc).replace(tzinfo=None)


def test_group_returns_its_members_in_save_order(
    storage: Storage, make_result: MakeResult, assert_same_result
) -> None:
    members = [make_result(40, seed=i, optimizer=name, group="g") for i, name in enumerate("XY")]
    storage.save_range_test(make_result(10, group="other"))
    for member in members:
        storage.save_range_test(member)
    loaded = storage.get_group("g")
    assert [result.optimizer for result in loaded] == ["X", "Y"]
    for got, saved in zip(loaded, members, strict=True):
        assert_same_result(got, saved)


def test_unknown_group_is_not_found(storage: Storage) -> None:
    with pytest.raises(NotFoundError, match="No range tests in group 'nope'"):
        storage.get_group("nope")


def test_storage_closes_as_a_context_manager(storage_url: str) -> None:
    with Storage(storage_url) as opened:
        assert opened.list_range_tests() == []
    pool = opened._engine.pool
    assert isinstance(pool, QueuePool)
    assert pool.checkedout() == 0


def test_frame_with_extra_columns_keeps_only_the_curve(
    storage: Storage, make_result: MakeResult
) -> None:
    result = make_result(10)
    result.history["step_time"] = 1.0
    loaded = storage.get_range_test(storage.save_range_test(result))
    pd.testing.assert_frame_equal(loaded.history, result.history.drop(columns="step_time"))
