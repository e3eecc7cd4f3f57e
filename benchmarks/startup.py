"""Start-up: how long ``lrtune`` takes to answer commands that train nothing (issue 15).

Each command runs as a user runs it, ``python -m lrtune ...`` in a fresh process, on a SQLite
database that holds what a first session leaves: two range tests of one ``lrtune find``
(digits-mlp, AdamW and SGD) and the two-trial study ``quick`` (``studies/quick.toml``, with
its own range tests), made by lrtune before the clock starts (or ``--storage URL``: an
existing database with a study ``quick`` and a range test 1).

Rounds are interleaved (every command once per round) and the medians over ``--repeats``
rounds reported: the wall time, and the CPU time (user + system) of the process and its
children, which a busy machine disturbs less. Most of either is imports: ``runs`` loads
SQLAlchemy, ``studies`` Optuna, ``show`` pandas; ``best`` (the generated code names torch's
classes) still loads torch, as every command did before issue 15.

    python benchmarks/startup.py --repeats 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import command_line, machine_info, utc_now, write_json

REPO = Path(__file__).resolve().parents[1]

COMMANDS = {
    "--help": ["--help"],
    "--version": ["--version"],
    "typo": ["nosuch"],
    "runs": ["runs", "--storage", "{url}"],
    "studies": ["studies", "--storage", "{url}"],
    "show 1": ["show", "1", "--storage", "{url}"],
    "best quick": ["best", "quick", "--storage", "{url}"],
}
"""What is timed, by name: each ``lrtune`` command line (``{url}``: the database)."""


def fill(url: str) -> None:
    """What a first session leaves in the database at ``url``."""
    for args in (
        ["find", "digits-mlp", "-o", "adamw", "-o", "sgd", "--num-iter", "30"],
        ["study", str(REPO / "studies" / "quick.toml"), "--n-trials", "2"],
    ):
        subprocess.run(lrtune(*args, "--storage", url), check=True, capture_output=True)


def lrtune(*args: str) -> list[str]:
    return [sys.executable, "-m", "lrtune", *args]


def time_once(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``args`` in a new process."""
    start = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = 0  # reaped above
    return wall, usage.ru_utime + usage.ru_stime


def measure(url: str, repeats: int) -> dict[str, dict[str, Any]]:
    """Median wall and CPU seconds of each command over ``repeats`` interleaved rounds."""
    lines = {name: lrtune(*(a.format(url=url) for a in args)) for name, args in COMMANDS.items()}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in lines}
    for _ in range(repeats):
        for name, args in lines.items():
            times[name].append(time_once(args))
    return {
        name: {
            "wall_s": statistics.median(wall for wall, _ in runs),
            "cpu_s": statistics.median(cpu for _, cpu in runs),
            "runs": [[round(wall, 3), round(cpu, 3)] for wall, cpu in runs],
        }
        for name, runs in times.items()
    }


def markdown(results: dict[str, dict[str, Any]]) -> str:
    rows = [
        f"| `lrtune {name}` | {r['wall_s']:.2f} | {r['cpu_s']:.2f} |" for name, r in results.items()
    ]
    return "\n".join(["| command | wall (s) | CPU (s) |", "|---|---:|---:|", *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="rounds (median reported)")
    parser.add_argument("--storage", help="an existing database (default: a new one)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/startup.json")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, but got {args.repeats}.")
    with tempfile.TemporaryDirectory() as folder:
        url = args.storage or f"sqlite:///{Path(folder) / 'lrtune.db'}"
        if args.storage is None:
            fill(url)
        results = measure(url, args.repeats)
    write_json(
        args.out,
        {
            "command": command_line(),
            "when": utc_now(),
            "machine": machine_info(),
            "repeats": args.repeats,
            "results": results,
        },
    )
    print(markdown(results))


if __name__ == "__main__":
    main()
