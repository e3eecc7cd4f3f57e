"""``pip install lrtune`` is lean: the dashboard, the storage proxy and Parquet exports each
name their extra in one line when it is missing (issue 15)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lrtune._extras import EXTRAS

# The CLI with one module made unimportable, as if its extra were not installed.
WITHOUT = """
import sys
sys.modules[sys.argv[1]] = None
from lrtune.cli import main
sys.argv = ["lrtune", *sys.argv[2:]]
main()
"""


def run_without(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT, module, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("extra", "module", "args"),
    [
        ("dashboard", "starlette", ["dashboard", "--storage", "sqlite:///x.db"]),
        ("dashboard", "uvicorn", ["dashboard"]),
        ("proxy", "grpc", ["storage-proxy", "--storage", "sqlite:///x.db"]),
        ("proxy", "grpc", ["worker", "--study", "s", "--storage", "grpc://127.0.0.1:1"]),
        ("parquet", "pyarrow", ["export", "s", "--format", "parquet"]),
    ],
    ids=["dashboard", "dashboard-uvicorn", "storage-proxy", "grpc-worker", "parquet"],
)
def test_a_missing_extra_is_one_line_naming_it(
    extra: str, module: str, args: list[str], tmp_path: Path
) -> None:
    assert module in EXTRAS[extra]
    done = run_without(module, *args, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"Error: {_feature(args)} needs lrtune's {extra} extra ({module} is not installed): "
        f"pip install 'lrtune[{extra}]'"
    ]
    assert list(tmp_path.iterdir()) == []  # nothing was created


def _feature(args: list[str]) -> str:
    if args[0] == "worker":
        return "A grpc:// storage"
    if args[0] == "export":
        return "lrtune export --format parquet"
    return f"lrtune {args[0]}"


def test_every_extra_is_declared_in_pyproject() -> None:
    text = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    for extra in EXTRAS:
        assert f"\n{extra} = [" in text, extra
    assert '"lrtune[dashboard,proxy,parquet]"' in text
