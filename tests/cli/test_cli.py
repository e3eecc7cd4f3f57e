"""The command line: what users see, exit codes, and that bad input loses nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from lrtune.cli import cli
from lrtune.storage import Storage

FAST = ["--num-iter", "30"]


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def find(task: Path, storage: str, *extra: str) -> Result:
    return invoke("find", str(task), "--storage", storage, *FAST, *extra)


def test_find_prints_a_table_per_optimizer_and_stores_each(
    task_file: Path, storage_url: str
) -> None:
    result = find(task_file, storage_url, "-o", "adamw", "-o", "sgd")
    assert result.exit_code == 0, result.output
    assert "suggested_lr" in result.stdout
    assert "AdamW" in result.stdout and "SGD" in result.stdout
    with Storage(storage_url) as store:
        stored = store.list_range_tests()
    assert sorted(s.optimizer for s in stored) == ["AdamW", "SGD"]
    assert len({s.group for s in stored}) == 1
    assert all(s.n_points == 30 or s.stop_reason != "completed" for s in stored)


def test_find_json_is_machine_readable(task_file: Path, storage_url: str) -> None:
    result = find(task_file, storage_url, "--json")
    assert result.exit_code == 0, result.output
    [entry] = json.loads(result.stdout)
    assert entry["optimizer"] == "AdamW"
    assert entry["task"] == "tiny"
    assert entry["id"] is not None
    assert entry["min_lr"] < entry["max_lr"]


def test_find_writes_one_plot_for_several_optimizers(task_file: Path, tmp_path: Path) -> None:
    plot = tmp_path / "curves.png"
    result = find(
        task_file, f"sqlite:///{tmp_path / 'p.db'}", "-o", "sgd", "-o", "adam", "--plot", str(plot)
    )
    assert result.exit_code == 0, result.output
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_storage_comes_from_the_environment(task_file: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    result = invoke("find", str(task_file), *FAST, env={"LRTUNE_STORAGE": url})
    assert result.exit_code == 0, result.output
    listing = invoke("runs", env={"LRTUNE_STORAGE": url})
    assert "tiny" in listing.stdout


def test_every_option_can_come_from_the_environment(task_file: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    for optimizer in ("sgd", "adamw"):
        result = invoke(
            "find",
            str(task_file),
            *FAST,
            env={"LRTUNE_FIND_STORAGE": url, "LRTUNE_FIND_OPTIMIZER": optimizer},
        )
        assert result.exit_code == 0, result.output
    listing = invoke("runs", env={"LRTUNE_RUNS_STORAGE": url, "LRTUNE_RUNS_LIMIT": "1"})
    rows = [line for line in listing.stdout.splitlines() if "tiny" in line]
    assert len(rows) == 1 and "AdamW" in rows[0]


def test_runs_lists_newest_first_and_show_prints_and_replots(
    task_file: Path, storage_url: str, tmp_path: Path
) -> None:
    find(task_file, storage_url, "-o", "sgd")
    find(task_file, storage_url, "-o", "adamw")
    listing = invoke("runs", "--storage", storage_url)
    lines = [line for line in listing.stdout.splitlines() if "tiny" in line]
    assert [line.split()[0] for line in lines] == ["2", "1"]
    plot = tmp_path / "again.png"
    shown = invoke("show", "1", "2", "--storage", storage_url, "--plot", str(plot))
    assert shown.exit_code == 0, shown.output
    assert "Range test 1" in shown.stdout and "Range test 2" in shown.stdout
    assert "stopped:" in shown.stdout
    assert plot.exists()


def test_show_json_carries_the_curve_and_can_apply_another_rule(
    task_file: Path, storage_url: str
) -> None:
    find(task_file, storage_url)
    [data] = json.loads(invoke("show", "1", "--storage", storage_url, "--json").stdout)
    assert len(data["history"]["lr"]) == data["points"]
    [valley] = json.loads(
        invoke("show", "1", "--storage", storage_url, "--json", "--rule", "valley").stdout
    )
    assert valley["rule"] == "valley"


def test_show_group_overlays_every_optimizer_of_one_find(task_file: Path, storage_url: str) -> None:
    find(task_file, storage_url, "-o", "sgd", "-o", "adamw")
    group = json.loads(invoke("show", "1", "--storage", storage_url, "--json").stdout)[0]["group"]
    shown = json.loads(invoke("show", "--group", group, "--storage", storage_url, "--json").stdout)
    assert {entry["optimizer"] for entry in shown} == {"SGD", "AdamW"}
    # `runs` shows the group id that `show --group` takes.
    listing = invoke("runs", "--storage", storage_url).stdout.splitlines()
    assert listing[0].split()[:2] == ["id", "group"]
    assert [line.split()[1] for line in listing[2:]] == [group, group]


def test_examples_lists_the_bundled_tasks() -> None:
    result = invoke("examples")
    assert "digits-cnn" in result.stdout and "digits-gru" in result.stdout


# --- bad input: one line, non-zero exit, nothing stored is lost ---------------------------


def _assert_one_line_error(result: Result, expected: str, code: int) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert expected in lines[0]


BAD_FIND_INPUT = [
    pytest.param(["{missing}"], "Task file not found", 2, id="missing-task-file"),
    pytest.param(["{no_task}"], "No lrtune.Task in", 2, id="no-task-in-file"),
    pytest.param(
        ["{task}", "--start-lr", "1", "--end-lr", "0.1"],
        "start_lr must be below end_lr",
        2,
        id="start>=end",
    ),
    pytest.param(
        ["{task}", "--num-iter", "5"], "num_iter must be an integer >= 20", 2, id="num-iter-small"
    ),
    pytest.param(["{empty}"], "train_loader is empty", 2, id="empty-loader"),
    pytest.param(["{broken}"], "train_loader() raised ZeroDivisionError", 2, id="loader-raises"),
    pytest.param(["{task}", "-o", "lion"], "Unknown optimizer 'lion'", 2, id="unknown-optimizer"),
    pytest.param(
        ["{task}", "--rule", "magic"], "Unknown suggestion rule 'magic'", 2, id="unknown-rule"
    ),
    pytest.param(
        ["{task}", "--plot", "{tmp}/curve.txt"], "--plot must name", 2, id="plot-extension"
    ),
    pytest.param(
        ["{task}", "--device", "nonsense"], "not a valid torch device", 2, id="bad-device"
    ),
]


@pytest.mark.parametrize(("args", "expected", "code"), BAD_FIND_INPUT)
def test_bad_find_input_gets_one_line_and_loses_nothing(
    args: list[str],
    expected: str,
    code: int,
    task_file: Path,
    task_variants: dict[str, str],
    storage_url: str,
) -> None:
    assert find(task_file, storage_url).exit_code == 0
    formatted = [a.format(**task_variants) for a in args]
    result = invoke("find", "--storage", storage_url, *FAST, *formatted)
    _assert_one_line_error(result, expected, code)
    with Storage(storage_url) as store:
        assert len(store.list_range_tests()) == 1
        assert len(store.get_range_test(1).history) > 0


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("not a url", "storage URL", id="malformed"),
        pytest.param("foo://x", "foo", id="unknown-dialect"),
        pytest.param(
            "postgresql://postgres@127.0.0.1:1/x", "Cannot open storage", id="unreachable"
        ),
        pytest.param(
            "sqlite:////no/such/folder/x.db", "Cannot open storage", id="sqlite-missing-dir"
        ),
    ],
)
def test_bad_storage_url_gets_one_line_and_exit_1(url: str, expected: str, task_file: Path) -> None:
    for args in (["find", str(task_file), *FAST], ["runs"], ["show", "1"]):
        result = invoke(*args, "--storage", url)
        _assert_one_line_error(result, expected, 1)


def test_a_bad_storage_url_runs_no_sweep(task_file: Path) -> None:
    result = invoke("find", str(task_file), "--storage", "not a url", *FAST)
    assert "suggested_lr" not in result.output


def test_show_of_a_missing_run_is_one_line(storage_url: str, task_file: Path) -> None:
    find(task_file, storage_url)
    _assert_one_line_error(
        invoke("show", "99", "--storage", storage_url), "No range test with id 99", 2
    )
    _assert_one_line_error(invoke("show", "--storage", storage_url), "at least one RUN", 2)
    _assert_one_line_error(invoke("show", "--group", "nope", "--storage", storage_url), "nope", 2)
