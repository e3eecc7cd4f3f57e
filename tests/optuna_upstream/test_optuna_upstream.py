"""Optuna's own storage, TPE and median-pruner tests pass on lrtune's classes.

Optuna ships its tests in its sdist, not in its wheel. The ``optuna_tests`` fixture fetches
the sdist of the installed Optuna with pip, once, into a cache folder, and keeps its
``tests/`` (and the ``pyproject.toml`` that configures them). Fetched rather than vendored:
the tests then always match the installed Optuna (``optuna>=5,<6`` lets it move), and no
copy of Optuna's code goes stale in this repository; the price is one download per Optuna
version. Offline, put the sdist in the cache folder (``LRTUNE_OPTUNA_TESTS_CACHE``, default
``~/.cache/lrtune/optuna-tests``) as ``pip download optuna==VERSION --no-binary :all:
--no-deps -d FOLDER`` writes it.

Each backend runs them in a subprocess, ``pytest -p optuna_upstream_plugin`` (the plugin's
docstring says what it swaps in and which tests it selects), and checks that every test
passes except those in ``EXPECTED_FAILURES``, which must fail: a listed test that passes
fails here too, so that the list stays exact. A second run, on Optuna's own classes, checks
each listed test as its entry says: one that fails there as well, or one that passes there
(lrtune differs, for the reason its entry gives). So the list cannot hide a regression.

Not run: ``rdb_tests/`` (``RDBStorage``'s constructor, URLs and schema upgrades, which
``ResilientRDBStorage`` inherits unchanged), the journal, Redis and gRPC storages (lrtune
replaces none of them), and Optuna's other samplers and pruners.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest
from sqlalchemy.engine import Engine

# Processes that run hundreds of Optuna's tests: about 70 s of CPU for both backends.
pytestmark = pytest.mark.slow

PLUGIN_FOLDER = Path(__file__).resolve().parent
CACHE_ENV_VAR = "LRTUNE_OPTUNA_TESTS_CACHE"
RUN_TIMEOUT_S = 600

STORAGES = "tests/storages_tests"
# Optuna's test modules each backend runs. test_cached_storage.py makes its own SQLite
# storages; the TPE tests run on SQLite only, for time: their storage reads are those that
# test_storages.py runs on both. (test_percentile.py tests no class of lrtune's.)
OPTUNA_TESTS = {
    "sqlite": [
        f"{STORAGES}/test_storages.py",
        f"{STORAGES}/test_heartbeat.py",
        f"{STORAGES}/test_cached_storage.py",
        "tests/pruners_tests/test_median.py",
        "tests/samplers_tests/tpe_tests/test_sampler.py",
    ],
    "postgresql": [
        f"{STORAGES}/test_storages.py",
        f"{STORAGES}/test_heartbeat.py",
        "tests/pruners_tests/test_median.py",
    ],
}

OPTUNA_FAILS_TOO = "fails on Optuna's own classes as well"
LRTUNE_DIFFERS = "passes on Optuna's own classes: lrtune differs"


@dataclass(frozen=True)
class Expected:
    """A test of Optuna's that fails on lrtune's classes, and why."""

    on_optuna: str  # OPTUNA_FAILS_TOO or LRTUNE_DIFFERS
    reason: str
    backends: tuple[str, ...] = ("sqlite", "postgresql")


EXPECTED_FAILURES = {
    "tests/samplers_tests/tpe_tests/test_sampler.py::test_infer_relative_search_space": Expected(
        LRTUNE_DIFFERS,
        # The test passes a Mock(spec=Study); a real study has the per-thread trial cache.
        "OneReadTPESampler refreshes the study's per-thread trial cache, which the test's "
        "mock study lacks",
        backends=("sqlite",),
    ),
}


# --- Optuna's tests ------------------------------------------------------------------------


def _cache_folder() -> Path:
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lrtune" / "optuna-tests"


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """The cache folder to this process alone (pytest-xdist's workers share it)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _fetch_sdist(cache: Path, version: str) -> Path:
    sdist = cache / f"optuna-{version}.tar.gz"
    if sdist.exists():
        return sdist
    with tempfile.TemporaryDirectory(dir=cache) as download:
        command = [sys.executable, "-m", "pip", "download", f"optuna=={version}"]
        command += ["--no-binary", ":all:", "--no-deps", "--quiet", "-d", download]
        done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        fetched = sorted(Path(download).glob("optuna-*.tar.gz"))
        if done.returncode != 0 or not fetched:
            pytest.fail(
                f"Cannot fetch Optuna {version}'s sdist, which holds its tests "
                f"({done.stderr.strip().splitlines()[-1:]}); put it in {cache}",
                pytrace=False,
            )
        fetched[0].replace(sdist)
    return sdist


def _extract_tests(sdist: Path, into: Path, version: str) -> None:
    """Optuna's ``tests/`` and ``pyproject.toml`` (its pytest settings), not its package:
    the tests must import the installed Optuna that lrtune runs on."""
    top = f"optuna-{version}"
    with tarfile.open(sdist) as archive:
        members = [
            member
            for member in archive.getmembers()
            if member.name.startswith(f"{top}/tests/") or member.name == f"{top}/pyproject.toml"
        ]
        with tempfile.TemporaryDirectory(dir=into.parent) as unpacked:
            if hasattr(tarfile, "data_filter"):
                archive.extractall(unpacked, members=members, filter="data")
            else:  # Python before 3.10.12 and 3.11.4
                archive.extractall(unpacked, members=members)
            (Path(unpacked) / top).replace(into)


@pytest.fixture(scope="session")
def optuna_tests() -> Path:
    """The folder holding Optuna's ``tests/``, for the installed Optuna's version."""
    version = optuna.__version__
    cache = _cache_folder()
    root = cache / f"optuna-{version}"
    with _locked(cache):
        if not (root / "tests").is_dir():
            shutil.rmtree(root, ignore_errors=True)
            _extract_tests(_fetch_sdist(cache, version), root, version)
    return root


# --- running them --------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    outcomes: dict[str, str]
    summary: str

    def with_outcome(self, outcome: str) -> set[str]:
        return {test for test, seen in self.outcomes.items() if seen == outcome}


def _run(
    root: Path, backend: str, classes: str, tests: list[str], admin_url: str, scratch: Path
) -> Run:
    """Optuna's ``tests`` in a subprocess, on ``classes`` ("lrtune" or "optuna")."""
    outcomes = scratch / f"{classes}-{backend}.json"
    command = [sys.executable, "-m", "pytest", "-p", "optuna_upstream_plugin"]
    command += ["-p", "no:cacheprovider", "-q", "--color=no", "-rfE", "--tb=line"]
    command += ["--disable-warnings", "--show-capture=no"]
    command += [f"--backend={backend}", f"--optuna-classes={classes}", f"--outcomes={outcomes}"]
    if backend == "postgresql":
        command.append(f"--postgres-admin-url={admin_url}")
    # Not this run's pytest options (pytest-xdist's -n, say) nor its worker's variables.
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGIN_FOLDER), env.get("PYTHONPATH")]))
    # SQLite files in memory where the machine has a RAM disk: fsyncs then cost nothing.
    ram_disk = Path("/dev/shm")
    env["TMPDIR"] = str(ram_disk if os.access(ram_disk, os.W_OK) else scratch)
    done = subprocess.run(
        [*command, *tests], cwd=root, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    tail = "\n".join(done.stdout.splitlines()[-40:] + done.stderr.splitlines()[-20:])
    # 0: all passed, 1: some failed; anything else (usage, internal error, no tests) is not
    # a run of Optuna's tests.
    assert done.returncode in (0, 1), f"pytest exited {done.returncode}:\n{tail}"
    return Run(json.loads(outcomes.read_text()), tail)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_optunas_own_tests_pass_on_lrtunes_classes(
    backend: str, optuna_tests: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    admin_url = ""
    if backend == "postgresql":
        engine: Engine = request.getfixturevalue("postgres_admin_engine")
        admin_url = engine.url.render_as_string(hide_password=False)
    tests = OPTUNA_TESTS[backend]
    run = _run(optuna_tests, backend, "lrtune", tests, admin_url, tmp_path)

    for module in tests:
        assert any(test.startswith(f"{module}::") for test in run.with_outcome("passed")), (
            f"no test of {module} passed:\n{run.summary}"
        )
    expected = {test for test, entry in EXPECTED_FAILURES.items() if backend in entry.backends}
    failed = run.with_outcome("failed")
    assert not failed - expected, (
        f"Optuna's tests fail on lrtune's classes: {sorted(failed - expected)}\n{run.summary}"
    )
    assert not expected - failed, (
        f"listed in EXPECTED_FAILURES, but did not fail: {sorted(expected - failed)}"
    )

    if expected:
        on_optuna = _run(optuna_tests, backend, "optuna", sorted(expected), admin_url, tmp_path)
        wrong = {
            test: on_optuna.outcomes.get(test, "not run")
            for test in expected
            if on_optuna.outcomes.get(test)
            != ("failed" if EXPECTED_FAILURES[test].on_optuna == OPTUNA_FAILS_TOO else "passed")
        }
        assert not wrong, (
            f"EXPECTED_FAILURES says otherwise of these on Optuna's own classes: {wrong}\n"
            f"{on_optuna.summary}"
        )
