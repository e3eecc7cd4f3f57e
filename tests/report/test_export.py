"""``export_trials`` writes ``trials_frame`` to CSV and Parquet, and reads back the same."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from lrtune.report import export_trials, trials_frame


@pytest.fixture(scope="module")
def study(study_factory: Callable[[], optuna.Study]) -> optuna.Study:
    """A real study, plus a trial interrupted before it recorded anything."""
    study = study_factory()
    study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL))
    return study


def test_parquet_round_trips_the_frame_with_its_types(study: optuna.Study, tmp_path: Path) -> None:
    path = tmp_path / "trials.parquet"
    assert export_trials(study, path, "parquet") == len(study.trials)
    pd.testing.assert_frame_equal(pd.read_parquet(path), trials_frame(study))


def test_csv_round_trips_the_rows(study: optuna.Study, tmp_path: Path) -> None:
    path = tmp_path / "trials.csv"
    assert export_trials(study, path, "csv") == len(study.trials)
    frame = trials_frame(study)
    types = frame.dtypes.drop("datetime_start").to_dict()
    back = pd.read_csv(path, dtype=types, parse_dates=["datetime_start"])
    assert list(back["number"]) == [t.number for t in study.trials]
    assert list(back["state"]) == [t.state.name for t in study.trials]
    # Read with the frame's types, CSV gives back every value (floats to the last digit).
    pd.testing.assert_frame_equal(back, frame, check_exact=True)


def test_an_unknown_format_is_refused_by_name(study: optuna.Study, tmp_path: Path) -> None:
    path = tmp_path / "trials.xlsx"
    with pytest.raises(
        ValueError, match=r"fmt must be one of \('csv', 'parquet'\), but got fmt='xlsx'"
    ):
        export_trials(study, path, "xlsx")  # type: ignore[arg-type]
    assert not path.exists()


def test_a_study_without_trials_exports_the_header_only(tmp_path: Path) -> None:
    empty = optuna.create_study(storage=optuna.storages.InMemoryStorage())
    path = tmp_path / "empty.csv"
    assert export_trials(empty, path, "csv") == 0
    assert pd.read_csv(path).columns[:3].tolist() == ["number", "state", "value"]
