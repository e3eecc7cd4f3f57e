"""Every storage test runs on SQLite and on PostgreSQL through the ``storage_url`` fixture."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy
from sqlalchemy.engine import Engine

from lrtune.finder._result import FinderResult, StopReason
from lrtune.storage import Storage

MakeResult = Callable[..., FinderResult]


@pytest.fixture
def storage(storage_url: str) -> Iterator[Storage]:
    with Storage(storage_url) as opened:
        yield opened


@pytest.fixture
def raw_engine(storage_url: str) -> Iterator[Engine]:
    """A plain engine on the same database, to look at or tamper with it behind lrtune's back."""
    engine = sqlalchemy.create_engine(storage_url)
    yield engine
    engine.dispose()


@pytest.fixture
def make_result() -> MakeResult:
    return build_result


@pytest.fixture
def assert_same_result() -> Callable[[FinderResult, FinderResult], None]:
    return check_same_result


def build_result(n_points: int = 1000, *, seed: int = 0, **fields: Any) -> FinderResult:
    """A ``FinderResult`` with every field set and a curve of ``n_points`` awkward floats."""
    rng = np.random.default_rng(seed)
    loss = 2.0 + rng.standard_normal(n_points) / 3.0
    history = pd.DataFrame(
        {
            "lr": np.geomspace(1e-7, 10.0, n_points),
            "loss": loss,
            "smoothed_loss": pd.Series(loss).ewm(alpha=0.05).mean().to_numpy(),
        }
    )
    defaults: dict[str, Any] = {
        "history": history,
        "suggested_lr": 3.0e-3 + 1e-19,
        "min_lr": 1.0 / 3.0 * 1e-4,
        "max_lr": 0.1 + 0.2,
        "stop_reason": StopReason.DIVERGED,
        "stop_detail": "Stopped at step 812 (lr 2.3): the smoothed loss passed 4x its best.",
        "rule": "steepest",
        "optimizer": "AdamW",
        "optimizer_options": {
            "betas": [0.9, 0.999],
            "eps": 1e-8,
            "weight_decay": 0.01,
            "amsgrad": False,
            "foreach": None,
            "nested": {"list": [1, 2.5, "x", None, True], "depth": {"n": -3}},
        },
        "options": {"start_lr": 1e-7, "end_lr": 10.0, "num_iter": n_points, "amp": None},
        "model_summary": {"class": "MLP", "parameters": 12_345, "trainable": 12_000},
        "task": "digits-mlp",
        "started_at": datetime(2024, 5, 1, 12, 0, 0, 123456),
        "finished_at": datetime(2024, 5, 1, 12, 3, 7, 654321),
        "group": "sweep-1",
        "lr_interval": (1.0 / 3.0 * 1e-3, 0.01 + 0.02),
    }
    return FinderResult(**{**defaults, **fields})


def check_same_result(loaded: FinderResult, original: FinderResult) -> None:
    """Every field equal, floats exactly; the history float64 in step order."""
    pd.testing.assert_frame_equal(loaded.history, original.history, check_exact=True)
    assert list(loaded.history.dtypes) == [np.dtype("float64")] * 3
    for name in FinderResult.__dataclass_fields__:
        if name not in ("history", "id"):
            assert getattr(loaded, name) == getattr(original, name), name
    assert type(loaded.stop_reason) is StopReason
