"""Help, the version and usage errors answer without loading torch, Optuna or pandas, and
commands that only read stored results without torch (issue 15): those imports cost seconds
of CPU, and nothing in these answers needs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from lrtune.cli import cli

from .conftest import write_task

HEAVY = ("torch", "optuna", "pandas", "matplotlib", "sqlalchemy")

PROBE = f"""
import json, sys
from click.testing import CliRunner
from lrtune.cli import cli
result = CliRunner().invoke(cli, sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
print(json.dumps({{"exit": result.exit_code, "output": result.output, "loaded": loaded}}))
"""


def answer(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def packages(result: dict[str, object]) -> set[str]:
    """The heavy packages ``answer`` found loaded, by top-level name."""
    return {str(module).split(".")[0] for module in result["loaded"]}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "args",
    [["--help"], ["--version"], ["runs", "--help"], ["study", "--help"], ["nosuch"]],
    ids=["help", "version", "runs-help", "study-help", "typo"],
)
def test_answers_that_need_no_model_load_nothing_heavy(args: list[str]) -> None:
    result = answer(*args)
    assert result["loaded"] == [], result
    assert result["exit"] == (2 if args == ["nosuch"] else 0), result


def test_find_help_still_names_every_optimizer_and_rule() -> None:
    output = str(answer("find", "--help")["output"])
    for name in ("adamw", "sgd", "rmsprop", "steepest", "valley", "(default lrtune)"):
        assert name in output.replace("\n", " "), output


SPEC = """
task = "{task}"
study_name = "tiny"
n_trials = 2
epochs = 1
pruner = "none"
optimizers = ["sgd"]
schedules = ["constant"]
device = "cpu"

[finder]
num_iter = 20
"""


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite database as lrtune leaves it: two range tests of one `find`, a study of two
    trials (with its own range test) and a refine run (with its range test)."""
    folder = tmp_path_factory.mktemp("stored")
    task = write_task(folder, n=512)
    spec = folder / "tiny.toml"
    spec.write_text(SPEC.format(task=task))
    url = f"sqlite:///{folder / 'lrtune.db'}"
    for args in (
        ["find", str(task), "-o", "adamw", "-o", "sgd", "--num-iter", "20"],
        ["study", str(spec)],
        ["find", str(task), "--refine", "--budget", "3", "-o", "sgd"],
    ):
        done = CliRunner().invoke(cli, [*args, "--storage", url])
        assert done.exit_code == 0, done.output
    return url


def test_runs_lists_stored_range_tests_without_torch_optuna_or_pandas(stored: str) -> None:
    listed = answer("runs", "--storage", stored, "--json")
    assert packages(listed) == {"sqlalchemy"}, listed
    runs = json.loads(str(listed["output"]))
    assert [r["id"] for r in runs] == [4, 3, 2, 1]
    assert [r["optimizer"] for r in runs] == ["SGD", "SGD", "SGD", "AdamW"]
    assert runs[2]["group"] == runs[3]["group"] is not None  # one `find`, two optimizers
    table = answer("runs", "--storage", stored)
    assert packages(table) == {"sqlalchemy"}, table
    rows = str(table["output"]).splitlines()[2:]
    assert [row.split()[0] for row in rows] == ["4", "3", "2", "1"]
    assert runs[3]["group"] in rows[3] and "AdamW" in rows[3]


def test_studies_lists_studies_and_refine_runs_without_torch_optuna_or_pandas(
    stored: str,
) -> None:
    listed = answer("studies", "--storage", stored, "--json")
    assert packages(listed) == {"sqlalchemy"}, listed
    studies = {s["name"]: s for s in json.loads(str(listed["output"]))}
    [refine] = [name for name in studies if name != "tiny"]
    assert (studies["tiny"]["kind"], studies["tiny"]["state"]) == ("study", "finished")
    assert (studies["tiny"]["finished"], studies["tiny"]["budget"]) == (2, 2)
    assert (studies[refine]["kind"], studies[refine]["state"]) == ("refine", "finished")
    table = answer("studies", "--storage", stored)
    assert packages(table) == {"sqlalchemy"}, table
    row = next(line for line in str(table["output"]).splitlines() if line.startswith("tiny "))
    assert row.split()[:5] == ["tiny", "study", "tiny", "finished", "2/2"]


def test_show_reads_a_range_test_and_a_refine_run_without_torch(stored: str) -> None:
    shown = answer("show", "1", "--storage", stored)
    assert shown["exit"] == 0 and not packages(shown) & {"torch", "matplotlib"}, shown
    assert str(shown["output"]).startswith("Range test 1 (group ")
    studies = json.loads(str(answer("studies", "--storage", stored, "--json")["output"]))
    [refine] = [s["name"] for s in studies if s["kind"] == "refine"]
    run = answer("show", "--refine", refine, "--storage", stored)
    assert run["exit"] == 0 and not packages(run) & {"torch", "matplotlib", "pandas"}, run
    assert f"study:     {refine}" in str(run["output"])


def test_a_light_answer_is_the_answer_with_everything_loaded(stored: str) -> None:
    """What the light path prints is what the command printed before, with torch loaded."""
    for args in (["runs"], ["studies"], ["show", "1", "2"]):
        here = CliRunner().invoke(cli, [*args, "--storage", stored])
        assert answer(*args, "--storage", stored)["output"] == here.output
