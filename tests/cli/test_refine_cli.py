"""``lrtune find --refine`` and ``lrtune show --refine``: output, storage, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from click.testing import CliRunner, Result

from lrtune.cli import cli
from lrtune.refine import STUDY_KIND
from lrtune.storage import Storage

from .conftest import write_task


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def long_task(tmp_path: Path) -> Path:
    """512 rows in batches of 16 for 2 epochs: 64 steps, enough for a small refine."""
    path = write_task(tmp_path, name="longer", n=512)
    return path


def assert_one_line_error(result: Result, expected: str, code: int) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and expected in lines[0], lines[0]


def test_find_refine_prints_the_lr_stores_a_refine_study_and_show_reads_it_back(
    long_task: Path, storage_url: str, tmp_path: Path
) -> None:
    optuna.logging.set_verbosity(optuna.logging.INFO)
    found = invoke(
        "find", str(long_task), "--refine", "--budget", "3", "-o", "sgd", "--storage", storage_url
    )
    assert found.exit_code == 0, found.output
    assert "longer / sgd: train at lr" in found.stdout
    assert optuna.logging.get_verbosity() == optuna.logging.WARNING  # no INFO line per trial
    assert "winner" in found.stdout and "pruned" in found.stdout
    [summary] = optuna.get_all_study_summaries(storage_url)
    assert summary.user_attrs["kind"] == STUDY_KIND
    with Storage(storage_url) as store:
        assert len(store.list_range_tests()) == 1  # the range test refine started from

    plot = tmp_path / "refine.png"
    shown = invoke(
        "show", "--refine", summary.study_name, "--storage", storage_url, "--plot", str(plot)
    )
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == found.stdout + f"Plot written to {plot}\n"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    as_json = json.loads(
        invoke("show", "--refine", summary.study_name, "--storage", storage_url, "--json").stdout
    )
    assert as_json["study"] == summary.study_name
    assert as_json["cost_steps"] <= as_json["budget_steps"] == 3 * 64
    listing = invoke("studies", "--storage", storage_url)
    assert summary.study_name in listing.stdout and "refine" in listing.stdout


@pytest.mark.parametrize(
    ("args", "expected", "code"),
    [
        pytest.param(["--budget", "0"], "budget must be a positive number", 2, id="zero"),
        pytest.param(["--budget", "-1"], "budget must be a positive number", 2, id="negative"),
        pytest.param(["--budget", "nan"], "budget must be", 2, id="nan"),
        pytest.param(["--budget", "0.3"], "leaves too little", 2, id="too-small"),
        pytest.param(["--num-iter", "30"], "--refine runs its own range test", 2, id="sweep-opt"),
    ],
)
def test_bad_refine_input_is_one_line_and_loses_nothing(
    args: list[str], expected: str, code: int, long_task: Path, storage_url: str
) -> None:
    first = invoke("find", str(long_task), "--num-iter", "30", "--storage", storage_url)
    assert first.exit_code == 0, first.output

    result = invoke("find", str(long_task), "--refine", *args, "--storage", storage_url)

    assert_one_line_error(result, expected, code)
    with Storage(storage_url) as store:
        [kept] = store.list_range_tests()
        assert len(store.get_range_test(kept.id).history) == 30
    assert optuna.get_all_study_summaries(storage_url) == []


def test_a_task_without_a_validation_loader_is_one_line(tmp_path: Path, storage_url: str) -> None:
    path = write_task(tmp_path, name="noval", n=512)
    path.write_text(path.read_text().replace("val_loader=_loader,", ""))

    result = invoke("find", str(path), "--refine", "--storage", storage_url)

    assert_one_line_error(result, "has no val_loader", 2)


def test_show_refine_of_a_study_that_is_not_one_is_one_line(storage_url: str) -> None:
    optuna.create_study(storage=storage_url, study_name="plain")

    assert_one_line_error(
        invoke("show", "--refine", "plain", "--storage", storage_url), "not a finished refine", 2
    )
    assert_one_line_error(
        invoke("show", "--refine", "missing", "--storage", storage_url), "missing", 2
    )
