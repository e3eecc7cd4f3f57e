"""Help, the version and usage errors answer without loading torch, Optuna or pandas (issue
15): those imports cost seconds of CPU, and nothing in these answers needs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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
