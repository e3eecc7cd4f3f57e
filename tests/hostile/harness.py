"""Running the installed ``lrtune`` in a subprocess and checking how it refused."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

LRTUNE = shutil.which("lrtune", path=str(Path(sys.executable).parent)) or "lrtune"
TIMEOUT_S = 120


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


@dataclass
class Db:
    """A database holding one range test (id 1) and one finished study named ``s``."""

    url: str
    snapshot: Callable[[], object]
    path: Path | None = None


def run_lrtune(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Result:
    environment = {**os.environ, "LRTUNE_STORAGE": "", **(env or {})}
    if not environment["LRTUNE_STORAGE"]:
        del environment["LRTUNE_STORAGE"]
    done = subprocess.run(
        [LRTUNE, *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=TIMEOUT_S,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def assert_refused(result: Result, code: int, fragment: str) -> str:
    """The refusal's one line, after checking its exit code, shape and wording."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.code == code, (result.code, result.stderr)
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0], lines[0]
    return lines[0]
