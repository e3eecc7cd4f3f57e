"""Dashboard speed: server time of ``lrtune dashboard`` pages for 2,000- and 10,000-trial
studies and 1,000-point range tests.

The targets (issue 14): every page of a 2,000-trial and of a 10,000-trial study in under
a second of server time cold and under 100 ms warm, on SQLite and PostgreSQL; the range
test page is held to the same.

Data
----
Each storage (a SQLite file in a temporary folder by default; ``--storage URL`` for a
database server: a fresh database ``bench_dashboard_<pid>`` is created on that server and
dropped at the end) gets:

Study ``bench-2000`` (``bench-N`` for the first ``--trials N``)
    A real short study first: ``run_study("digits-mlp", n_trials=6, epochs=10, ...)`` with
    three optimizers and four schedules (its range tests are stored, as always). Then
    1,994 more trials are added with ``study.add_trials``: half are clones of the real
    trials' configurations with the LR jittered, half fresh draws from the study's own
    ``SearchSpace`` (so every optimizer and schedule appears). Each borrows a real trial's
    per-epoch curves (``val_losses``, ``val_metrics``, ``lrs``, intermediate values),
    rescaled to a final loss that depends on the LR's distance from the optimizer's range
    test suggestion, with noise. About 37% are PRUNED after 1-9 epochs (some diverged,
    with a ``None`` last loss), 1.5% FAIL (no value, no curves stored), the rest COMPLETE
    with 10 epochs; start and end times are spread as four workers would leave them. The
    study's budget (``n_trials`` of the ``lrtune`` settings) is then set to 2,000, so the
    study reads as finished.

Study ``bench-10000`` (each further ``--trials N``)
    A new study with the real study's attributes (settings, range test links) and N
    trials made as above (none of them trained), budget N.

Range tests
    Synthetic 1,000-point sweeps (1e-7 .. 10, geometric): loss flat at the start, falling
    to a floor near the real range test's ``max_lr``, then rising, with multiplicative
    noise; ``smoothed_loss`` is the sweep's bias-corrected EMA; suggestion and bounds by
    lrtune's own rule (``suggest``). Optimizer options and model summary are copied from
    the study's real range tests. One stored alone (AdamW, no group): the range test page;
    three stored as one group (AdamW, SGD, NAdam): the overlay page.

Measurement
-----------
The app runs in this process: ``TestClient(create_app(DashboardData(url)))``, after
``lrtune.cli._dashboard._warm_up()`` (what ``lrtune dashboard`` does before serving: it
starts the worker processes that draw the studies' figures, one per core but one, and
waits until each has loaded matplotlib; they hold no study, so one pool serves every app
of the process; then it freezes the loaded modules' objects out of Python's cycle
collector). A page view is every request a browser makes for the page's content, in
this order, one at a time (a browser sends the figures in parallel):

- study: ``/studies/{id}``, its ten figure ``<img>`` sources as the HTML names them
  (``/studies/{id}/figures/{name}.svg?v=VERSION``), ``/api/studies/{id}``,
  ``/api/studies/{id}/trials?offset=0&limit=50&order=asc`` (the first page of the trial
  table, as the page asks for it: ``TRIAL_PAGE_SIZE`` rows). A study's figures are drawn
  in the background, in the worker processes, from the moment a request sees the study in a
  new state: until a figure is drawn at that state its ``<img>`` names its latest drawing
  of an earlier state (answered from memory), or ``?v=pending``, a placeholder answered at
  once, and the page swaps the drawing in when ``/api/studies/{id}`` says it is ready. The
  figures' numbers
  are computed in this process, by a thread that waits (up to 2 s per figure) until
  the requests pause. So the page's server time does not include the drawing,
  and the benchmark reports, beside it, the view's COMPLETE time: the wall time from its
  first request until every figure is drawn at the study's state (waited for in this
  process, ``DashboardData.wait_drawn``, not polled) and the drawings are fetched as the
  page then loads them (their server time, from memory, is the "fill-in" column);
- range test (single, and group of 3): ``/range-tests/{id}``, ``/range-tests/{id}/figure.svg``;
  the JSON ``/api/range-tests/{id}`` is measured as a view of its own;
- overview: ``/``.

The static files (CSS, JS, icon: a few KiB, no computation) are left out. For each request:
the server time, read from the ``Server-Timing: app;dur=<ms>`` header the app's middleware
sets, and the wall time around the call (adds the test client, about 1-2 ms). A page's
total is the sum over its requests; its CPU time is this process's (all threads) during
the view, which other load on the machine inflates less than it inflates the times.
Scenarios:

COLD
    A fresh ``DashboardData`` and app for each page (nothing cached: the first view after
    the server starts; the previous apps' garbage is collected first, as a new server has
    none); repeated ``--repeats`` times, median per request and of the totals.
    Process-wide caches (imports, matplotlib's fonts, compiled templates) stay warm after
    the first repetition: the first repetition's study view is also shown alone
    (``first in process``), as the first page after ``lrtune dashboard`` started.
WARM
    The same view again on the same app (after the importances were ready): the study is
    unchanged, so its figures come from memory without a query (their URLs name the
    drawn version) and its JSON from the cached state. Range tests are not cached by the
    dashboard.
CHANGED
    The study page on a warm app after another connection added one COMPLETE trial
    (``--changes`` times, median): the study's version changes, so the report is computed
    again and every figure drawn again in the background (the page shows the previous
    drawings until then: its COMPLETE time says when the new ones are all there);
    finished trials are still in Optuna's ``_CachedStorage`` (only the new trial is
    read). This is also what an open study page loads when it sees a new trial (all but
    the HTML). The study then holds more than its budget of finished trials, as after a
    worker finished one more.

Contention (not part of the target)
    On a fresh app: the range test page alone, then on another fresh app right after a
    request for the study's importances (before issue 14 that request computed fANOVA
    under the drawing lock, and the range test's figure waited for it; now it starts the
    drawing of all the study's figures in the background).

Importance methods
    On the first storage: ``lrtune.report.importances`` of each study with each of
    ``IMPORTANCE_METHODS`` (PED-ANOVA, fANOVA), in this thread: seconds, and the
    parameters' ranking.

Orders
    Which request pays for data the page's requests share (the study's trials frame,
    which the background also computes for two figures) depends on the order and on the
    background's progress; the page total much less.

Budget: about 25 minutes for both storages on the 2-core development machine (the real
study trains 6 x 10 epochs on the CPU, 3-20 s; adding 2,000 trials 1-2 minutes, 10,000
trials 5-10; fANOVA on the 10,000-trial study a minute or more). The load average before
and after is recorded: other work on the machine lengthens every time measured.

Usage::

    python benchmarks/dashboard_speed.py [--trials 2000 --trials 10000] [--points 1000]
        [--repeats 3] [--changes 3] [--storage sqlite] [--storage postgresql://postgres@127.0.0.1:5432/postgres]
        [--out PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import gc
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import optuna
import pandas as pd
import sqlalchemy
import starlette
from _common import command_line, machine_info, utc_now, write_json
from optuna.distributions import FloatDistribution
from optuna.trial import FrozenTrial, TrialState
from starlette.testclient import TestClient

from lrtune.dashboard import DashboardData, create_app
from lrtune.dashboard._app import TRIAL_PAGE_SIZE
from lrtune.dashboard._data import StudySnapshot
from lrtune.finder import DEFAULT_RULE, FinderOptions, FinderResult, StopReason, suggest
from lrtune.finder._smoothing import ema
from lrtune.report import IMPORTANCE_METHODS, importances
from lrtune.report._study_plots import STUDY_FIGURES
from lrtune.storage import Storage
from lrtune.study import run_study
from lrtune.study._settings import StudySettings, read_settings, write_settings

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_MS = 1000.0
WARM_TARGET_MS = 100.0
TARGETS = {"cold": TARGET_MS, "warm": WARM_TARGET_MS, "changed": TARGET_MS}
SCENARIOS = tuple(TARGETS)
SIZES = (2000, 10000)
TASK = "digits-mlp"
EPOCHS = 10
REAL_TRIALS = 6
OPTIMIZERS = ["adamw", "sgd", "nadam"]
SCHEDULES = ["constant", "cosine", "onecycle", "exponential"]
GROUP = "bench-overlay"
PRUNED_SHARE = 0.37
DIVERGED_SHARE = 0.05
"""Of the pruned trials: those stopped by a diverged epoch (a ``None`` last loss)."""
FAIL_SHARE = 0.015
WORKERS = 4
EPOCH_S = 6.0
BASE_URL = "http://127.0.0.1"
OTHER_PAGES = ("range_test", "range_test_group", "range_test_api", "overview")
PAGE_TITLES = {
    "range_test": "range test page ({points:,} points)",
    "range_test_group": "range test group page (3 x {points:,} points)",
    "range_test_api": "range test JSON ({points:,} points)",
    "overview": "overview",
}
READY_WAIT_S = 600.0
"""How long a view waits for its figures drawn in the background."""


def study_page(size: int) -> str:
    """The page key of the study of ``size`` trials (``study_2000``)."""
    return f"study_{size}"


def study_name(size: int) -> str:
    return f"bench-{size}"


def pages(sizes: Sequence[int]) -> list[str]:
    return [*(study_page(size) for size in sizes), *OTHER_PAGES]


def target_pages(sizes: Sequence[int]) -> list[str]:
    return [*(study_page(size) for size in sizes), "range_test"]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


# --- storages -------------------------------------------------------------------------------


@contextlib.contextmanager
def storage_url(spec: str) -> Iterator[str]:
    """A fresh, empty database for ``spec`` (``sqlite`` or a server URL), removed afterwards."""
    if spec == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench_dashboard_") as folder:
            yield f"sqlite:///{Path(folder) / 'lrtune.db'}"
        return
    with fresh_database(spec) as url:
        yield url


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new database on the server of ``admin_url``, dropped afterwards whatever happens."""
    name = f"bench_dashboard_{os.getpid()}"
    admin = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    drop = sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    try:
        with admin.connect() as connection:
            connection.execute(drop)
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        try:
            url = sqlalchemy.engine.make_url(admin_url).set(database=name)
            yield url.render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(drop)
    finally:
        admin.dispose()


def backend_name(url: str) -> str:
    return sqlalchemy.engine.make_url(url).get_backend_name()


# --- the study ------------------------------------------------------------------------------


@dataclass
class TrialMaker:
    """Makes realistic finished trials for one study from its real trials and settings."""

    settings: StudySettings
    templates: list[FrozenTrial]
    """The real study's finished trials with their curves (the shapes borrowed)."""
    rng: np.random.Generator
    start: dt.datetime

    def __post_init__(self) -> None:
        complete = [t for t in self.templates if t.state == TrialState.COMPLETE]
        self.complete = complete
        self.best_final = min(t.value for t in complete if t.value is not None)
        self.host = complete[0].user_attrs.get("host", "worker")
        self.device = complete[0].user_attrs.get("device", "cpu")
        self.scratch = optuna.create_study(
            sampler=optuna.samplers.RandomSampler(seed=int(self.rng.integers(2**31)))
        )

    def trial(self, number: int, state: TrialState | None = None) -> FrozenTrial:
        """Trial ``number``: a jittered clone of a real one or a fresh draw (half each)."""
        if self.rng.random() < 0.5:
            params, distributions, config = self._clone()
        else:
            params, distributions, config = self._draw()
        if state is None:
            draw = self.rng.random()
            state = (
                TrialState.FAIL
                if draw < FAIL_SHARE
                else TrialState.PRUNED
                if draw < FAIL_SHARE + PRUNED_SHARE
                else TrialState.COMPLETE
            )
        return self._finish(number, state, params, distributions, config)

    def _clone(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        template = self.templates[int(self.rng.integers(len(self.templates)))]
        params, distributions = dict(template.params), dict(template.distributions)
        config = copy.deepcopy(template.user_attrs["config"])
        name = f"{config['optimizer']}.lr"
        lr = _clip(params[name] * float(np.exp(self.rng.normal(0.0, 0.5))), distributions[name])
        params[name] = config["lr"] = lr
        for key, value in list(params.items()):
            dist = distributions[key]
            searched = isinstance(dist, FloatDistribution) and dist.low < dist.high
            if key != name and searched and self.rng.random() < 0.5:
                jittered = value * float(np.exp(self.rng.normal(0.0, 0.2)))
                params[key] = _clip(jittered if value else dist.low, dist)
                family, _, short = key.partition(".")
                section = "optimizer_params" if family in OPTIMIZERS else "schedule_params"
                if short in config.get(section, {}):
                    config[section][short] = params[key]
        return params, distributions, config

    def _draw(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        trial = self.scratch.ask()
        config = self.settings.space.sample(trial).to_dict()
        self.scratch.tell(trial, 0.0)
        return dict(trial.params), dict(trial.distributions), config

    def _finish(
        self,
        number: int,
        state: TrialState,
        params: dict[str, Any],
        distributions: dict[str, Any],
        config: dict[str, Any],
    ) -> FrozenTrial:
        template = self.complete[int(self.rng.integers(len(self.complete)))]
        optimizer, lr = config["optimizer"], config["lr"]
        bounds = self.settings.bounds.get(optimizer)
        good = bounds.suggested_lr if bounds and bounds.suggested_lr else lr
        distance = np.log10(lr / good)
        final = self.best_final * float(np.exp(0.6 * distance**2 + self.rng.normal(0.0, 0.15)))
        final = min(final * (1.25 if state == TrialState.PRUNED else 1.0), 2.3)
        scale = final / template.user_attrs["val_losses"][-1]
        noise = np.exp(self.rng.normal(0.0, 0.02, EPOCHS))
        curve = template.user_attrs["val_losses"]
        losses = [min(v * scale * n, 2.5) for v, n in zip(curve, noise, strict=True)]
        errors = [1.0 - m for m in template.user_attrs["val_metrics"]]
        metrics = [max(0.1, 1.0 - min(0.9, e * scale)) for e in errors]
        ratio = lr / template.user_attrs["config"]["lr"]
        lrs = [[v * ratio for v in row] for row in template.user_attrs["lrs"]]
        attrs: dict[str, Any] = {
            "config": config,
            "seed": self.settings.seed + number,
            "host": self.host,
            "device": self.device,
        }
        epochs, value = EPOCHS, losses[-1]
        if state == TrialState.PRUNED:
            epochs = int(self.rng.integers(1, EPOCHS))
            reported = losses[:epochs]
            if self.rng.random() < DIVERGED_SHARE:
                reason = f"diverged: the validation loss is nan at epoch {epochs}"
                losses, metrics = [*losses[:epochs], None], [*metrics[:epochs], None]
                lrs = lrs[: epochs + 1]
            else:
                reason = f"pruned by MedianPruner: at epoch {epochs - 1}"
                losses, metrics, lrs = losses[:epochs], metrics[:epochs], lrs[:epochs]
            attrs |= {"pruned_reason": reason}
            value = reported[-1]
        elif state == TrialState.FAIL:
            epochs = int(self.rng.integers(0, EPOCHS))
            reported, value = losses[:epochs], None
            if self.rng.random() < 0.5:
                attrs["stopped_by"] = "SIGTERM"
        else:
            reported = losses
        if state != TrialState.FAIL:
            stored = len(losses)
            attrs |= {"val_losses": losses, "val_metrics": metrics, "lrs": lrs}
            attrs["epochs_run"] = stored
        slot = number // WORKERS
        started = self.start + dt.timedelta(seconds=slot * EPOCHS * EPOCH_S + number % WORKERS)
        ended = started + dt.timedelta(seconds=max(1, len(reported)) * EPOCH_S)
        trial = optuna.trial.create_trial(
            state=state,
            value=value,
            params=params,
            distributions=distributions,
            user_attrs=attrs,
            intermediate_values=dict(enumerate(reported)),
        )
        trial.datetime_start, trial.datetime_complete = started, ended
        return trial


def _clip(value: float, dist: FloatDistribution) -> float:
    return float(min(max(value, dist.low), dist.high))


def build_studies(url: str, sizes: Sequence[int], seed: int) -> dict[int, tuple[int, TrialMaker]]:
    """The real short study plus added trials up to ``sizes[0]``; then a study of each
    other size, all of its trials made like the added ones; each one's id and maker."""
    clock = time.perf_counter()
    study = run_study(
        TASK,
        n_trials=REAL_TRIALS,
        epochs=EPOCHS,
        storage=url,
        study_name=study_name(sizes[0]),
        optimizers=OPTIMIZERS,
        schedules=SCHEDULES,
        seed=seed,
    )
    log(f"  real study: {REAL_TRIALS} trials in {time.perf_counter() - clock:.0f} s")
    real = study.get_trials(deepcopy=False)
    templates = [t for t in real if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    settings = read_settings(study)
    last = max(t.datetime_complete for t in real if t.datetime_complete is not None)
    built = {}
    for size in sizes:
        maker = TrialMaker(settings, templates, np.random.default_rng(seed + size), last)
        first = len(real) if size == sizes[0] else 0
        built[size] = (fill_study(url, study, size, maker, first), maker)
    return built


def fill_study(url: str, real: optuna.Study, size: int, maker: TrialMaker, first: int) -> int:
    """Study ``bench-SIZE`` (the real one, or a new one with its attributes) filled with
    made trials from number ``first`` up to ``size``; its id."""
    clock = time.perf_counter()
    added = [maker.trial(number) for number in range(first, size)]
    with fast_writer(url) as storage:
        if first == 0:
            made = optuna.create_study(
                storage=storage, study_name=study_name(size), direction=real.direction
            )
            for key, value in real.user_attrs.items():
                made.set_user_attr(key, value)
        bulk = optuna.load_study(study_name=study_name(size), storage=storage)
        bulk.add_trials(added)
        write_settings(bulk, maker.settings.with_budget(size))
        study_id = bulk._study_id
        states = pd.Series([t.state.name for t in bulk.get_trials(deepcopy=False)])
    log(
        f"  {study_name(size)}: added {len(added)} trials in {time.perf_counter() - clock:.0f} s: "
        + ", ".join(f"{count} {name}" for name, count in states.value_counts().items())
    )
    return study_id


@contextlib.contextmanager
def fast_writer(url: str) -> Iterator[optuna.storages.RDBStorage]:
    """Optuna's storage on ``url`` with commits not waiting for the disk (building only)."""
    if backend_name(url) == "postgresql":
        options = {"connect_args": {"options": "-c synchronous_commit=off"}}
        storage = optuna.storages.RDBStorage(url, engine_kwargs=options)
    else:
        storage = optuna.storages.RDBStorage(url)
        storage.engine.dispose()
        sqlalchemy.event.listen(
            storage.engine,
            "connect",
            lambda connection, _: connection.execute("PRAGMA synchronous=OFF"),
        )
    try:
        yield storage
    finally:
        storage.engine.dispose()


def add_one_trial(url: str, maker: TrialMaker, name: str) -> None:
    """One more COMPLETE trial, written by a connection of its own (another worker)."""
    storage = optuna.storages.RDBStorage(url)
    try:
        study = optuna.load_study(study_name=name, storage=storage)
        number = len(study.get_trials(deepcopy=False))
        study.add_trial(maker.trial(number, TrialState.COMPLETE))
    finally:
        storage.engine.dispose()


# --- range tests ----------------------------------------------------------------------------


def synthetic_range_test(
    like: FinderResult, points: int, rng: np.random.Generator, group: str | None
) -> FinderResult:
    """A ``points``-step sweep shaped like a real one around ``like``'s ``max_lr``."""
    options = FinderOptions(num_iter=points)
    lrs = np.geomspace(options.start_lr, options.end_lr, points)
    x, x0 = np.log10(lrs), np.log10(like.max_lr or 1e-2)
    fall = 1.0 / (1.0 + np.exp(-(x - (x0 - 1.2)) / 0.3))
    rise = np.expm1(np.clip((x - x0 - 0.2) * 1.1, 0.0, None))
    clean = 2.3 - 2.0 * fall + 0.3 * rise
    losses = clean * np.exp(rng.normal(0.0, 0.05, points)) + rng.normal(0.0, 0.02, points)
    history = pd.DataFrame(
        {"lr": lrs, "loss": losses, "smoothed_loss": ema(losses, options.smoothing)}
    )
    found = suggest(history, DEFAULT_RULE)
    finished = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    return FinderResult(
        history=history,
        suggested_lr=found.lr,
        min_lr=found.min_lr,
        max_lr=found.max_lr,
        stop_reason=StopReason.COMPLETED,
        stop_detail=f"Completed all {points} steps.",
        rule=found.rule,
        optimizer=like.optimizer,
        optimizer_options=dict(like.optimizer_options),
        options={**options.to_dict(), "device": "cpu"},
        model_summary=dict(like.model_summary),
        task=like.task,
        started_at=finished - dt.timedelta(seconds=points * 0.02),
        finished_at=finished,
        group=group,
    )


def build_range_tests(url: str, points: int, seed: int) -> tuple[int, int]:
    """One range test alone and a group of three, each of ``points`` points; their ids."""
    storage = Storage(url)
    try:
        real = [storage.get_range_test(s.id) for s in storage.list_range_tests()]
        real.sort(key=lambda r: r.id or 0)
        rng = np.random.default_rng(seed + 1)
        single = storage.save_range_test(synthetic_range_test(real[0], points, rng, None))
        grouped = [
            storage.save_range_test(synthetic_range_test(r, points, rng, GROUP)) for r in real
        ]
    finally:
        storage.close()
    log(f"  range tests: {single} alone, {grouped} as group {GROUP!r}, {points} points each")
    return single, grouped[0]


# --- measuring ------------------------------------------------------------------------------


_FIGURE_SRC = re.compile(r'src="(/(?:studies|range-tests)/[^"]+\.svg[^"]*)"')
_TIMING = re.compile(r"app;dur=([0-9.]+)")
FIRST_PAGE = f"offset=0&limit={TRIAL_PAGE_SIZE}&order=asc"
"""The trial table's query as a study page first asks for it (``study.js``)."""


def get(client: TestClient, path: str) -> dict[str, Any]:
    clock = time.perf_counter()
    response = client.get(path)
    wall_ms = 1000 * (time.perf_counter() - clock)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
    match = _TIMING.search(response.headers.get("server-timing", ""))
    if match is None:
        raise RuntimeError(f"GET {path}: no Server-Timing header")
    return {
        "path": path,
        "label": label(path),
        "server_ms": float(match.group(1)),
        "wall_ms": wall_ms,
        "bytes": len(response.content),
        "body": response.text if "html" in response.headers.get("content-type", "") else "",
    }


def label(path: str) -> str:
    path = path.split("?")[0]
    path = re.sub(r"/\d+", "/{id}", path)
    return path


def view(client: TestClient, page: str, ids: dict[str, int]) -> list[dict[str, Any]]:
    """Every request of one view of ``page``, in a browser's order (see the docstring)."""
    cpu = time.process_time()
    if page.startswith("study_"):
        sid = ids[page]
        html = get(client, f"/studies/{sid}")
        figures = _FIGURE_SRC.findall(html["body"])
        names = [re.sub(r".*/figures/(\w+)\.svg.*", r"\1", f) for f in figures]
        if names != list(STUDY_FIGURES):
            raise RuntimeError(f"the study page shows figures {names}, not {list(STUDY_FIGURES)}")
        rest = [*figures, f"/api/studies/{sid}", f"/api/studies/{sid}/trials?{FIRST_PAGE}"]
        requests = [html, *(get(client, path) for path in rest)]
    elif page in ("range_test", "range_test_group"):
        rid = ids[page]
        html = get(client, f"/range-tests/{rid}")
        figures = _FIGURE_SRC.findall(html["body"])
        if figures != [f"/range-tests/{rid}/figure.svg"]:
            raise RuntimeError(f"the range test page shows {figures}")
        requests = [html, *(get(client, path) for path in figures)]
    elif page == "range_test_api":
        requests = [get(client, f"/api/range-tests/{ids['range_test']}")]
    else:
        requests = [get(client, "/")]
    cpu_ms = 1000 * (time.process_time() - cpu)
    for request in requests:
        request.pop("body")
    requests[0]["view_cpu_ms"] = cpu_ms
    return requests


@contextlib.contextmanager
def fresh_client(url: str) -> Iterator[TestClient]:
    """A new app on ``url`` (nothing cached), after collecting the previous apps' garbage:
    a server started afresh carries none. Its data is ``client.app.state.data``."""
    gc.collect()
    data = DashboardData(url)
    try:
        with TestClient(create_app(data), base_url=BASE_URL) as client:
            yield client
    finally:
        data.close()


def measure(
    url: str, ids: dict[str, int], makers: dict[int, TrialMaker], args: argparse.Namespace
) -> dict:
    """COLD and WARM views of every page, ``args.repeats`` times; CHANGED study views; the
    COMPLETE time of each cold and changed study view."""
    runs: dict[str, dict[str, Any]] = {
        page: {"cold": [], "warm": []} for page in pages(args.trials)
    }
    for repeat in range(args.repeats):
        for page in pages(args.trials):
            with fresh_client(url) as client:
                started = time.perf_counter()
                runs[page]["cold"].append(view(client, page, ids))
                if page.startswith("study_"):
                    done = completed(client, ids[page], started)
                    runs[page].setdefault("complete", []).append(done)
                runs[page]["warm"].append(view(client, page, ids))
            cold, warm = (total(runs[page][k][-1]) for k in ("cold", "warm"))
            done_ms = runs[page].get("complete", [{"ms": 0.0}])[-1]["ms"]
            log(
                f"  {repeat + 1}/{args.repeats} {page}: cold {cold:.0f} ms (complete "
                f"{done_ms:.0f} ms), warm {warm:.0f} ms"
            )
    for size, maker in makers.items():
        page = study_page(size)
        changed: list[list[dict[str, Any]]] = []
        with fresh_client(url) as client:
            view(client, page, ids)
            completed(client, ids[page], time.perf_counter())
            for change in range(args.changes):
                add_one_trial(url, maker, study_name(size))
                started = time.perf_counter()
                changed.append(view(client, page, ids))
                done = completed(client, ids[page], started)
                runs[page].setdefault("changed_complete", []).append(done)
                log(
                    f"  change {change + 1}/{args.changes}: {page} {total(changed[-1]):.0f} ms "
                    f"(complete {done['ms']:.0f} ms)"
                )
        runs[page]["changed"] = changed
    return runs


def completed(client: TestClient, study_id: int, started: float) -> dict[str, Any]:
    """The COMPLETE time of a study view begun at ``started``: milliseconds until every
    figure is drawn at the study's state and fetched as the page then loads it, and the
    fetches' server time (the "fill-in")."""
    data: DashboardData = client.app.state.data  # type: ignore[attr-defined]
    if not data.wait_drawn(study_id, READY_WAIT_S):
        raise RuntimeError(f"the figures of study {study_id} were not drawn in {READY_WAIT_S} s")
    versions = client.get(f"/api/studies/{study_id}").json()["figure_versions"]
    fetched = [
        get(client, f"/studies/{study_id}/figures/{name}.svg?v={version}")
        for name, version in versions.items()
    ]
    return {"ms": 1000 * (time.perf_counter() - started), "fill_in_server_ms": total(fetched)}


def contention(url: str, ids: dict[str, int], page: str) -> dict[str, Any]:
    """The range test page alone, then right after another request asked a fresh app for
    the study's importances (computed in the background since issue 14)."""
    with fresh_client(url) as client:
        get(client, f"/studies/{ids[page]}")
        alone = view(client, "range_test", ids)
    with fresh_client(url) as client:
        found = get(client, f"/studies/{ids[page]}/figures/importances.svg")
        during = view(client, "range_test", ids)
    found.pop("body")
    log(
        f"  range test page alone {total(alone):.0f} ms, right after the importances were "
        f"asked for {total(during):.0f} ms (importances answered in {found['server_ms']:.0f} ms)"
    )
    return {"alone": alone, "during_importances": during, "importances": found}


def compare_importances(url: str, sizes: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Each importance method on each study, in this thread: seconds and the ranking."""
    storage = optuna.storages.RDBStorage(url)
    compared: dict[int, dict[str, Any]] = {}
    try:
        for size in sizes:
            study = StudySnapshot(study_name(size), storage)
            compared[size] = {}
            for method in IMPORTANCE_METHODS:
                clock = time.perf_counter()
                found = importances(study, method=method)
                seconds = time.perf_counter() - clock
                compared[size][method] = {
                    "seconds": seconds,
                    "trials": found.trials,
                    "values": found.values,
                    "reason": found.reason,
                }
                log(f"  importances {method} of {size} trials: {seconds:.1f} s, {found.values}")
    finally:
        storage.engine.dispose()
    return compared


def total(requests: Sequence[dict[str, Any]], key: str = "server_ms") -> float:
    return float(sum(r[key] for r in requests))


def summarize_complete(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median COMPLETE time and fill-in server time of study views, and each run's."""
    return {
        "ms_median": statistics.median(run["ms"] for run in runs),
        "ms": [run["ms"] for run in runs],
        "fill_in_server_ms_median": statistics.median(run["fill_in_server_ms"] for run in runs),
    }


def summarize(runs: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Median per request and of the page totals; the largest request."""
    labels = [r["label"] for r in runs[0]]
    paths = [r["path"] for r in runs[0]]
    per_request = []
    for index, name in enumerate(labels):
        server = [run[index]["server_ms"] for run in runs]
        wall = [run[index]["wall_ms"] for run in runs]
        per_request.append(
            {
                "label": name,
                "path": paths[index],
                "server_ms_median": statistics.median(server),
                "server_ms_max": max(server),
                "wall_ms_median": statistics.median(wall),
                "bytes": runs[0][index]["bytes"],
            }
        )
    largest = max(per_request, key=lambda r: r["server_ms_median"])
    return {
        "n": len(runs),
        "server_ms_total_median": statistics.median(total(run) for run in runs),
        "server_ms_totals": [total(run) for run in runs],
        "wall_ms_total_median": statistics.median(total(run, "wall_ms") for run in runs),
        "cpu_ms_median": statistics.median(run[0]["view_cpu_ms"] for run in runs),
        "largest": {"label": largest["label"], "server_ms_median": largest["server_ms_median"]},
        "requests": per_request,
    }


# --- one storage ----------------------------------------------------------------------------


def run_storage(spec: str, args: argparse.Namespace) -> dict[str, Any]:
    with storage_url(spec) as url:
        backend = backend_name(url)
        log(f"{backend}: building the data")
        clock = time.perf_counter()
        built = build_studies(url, args.trials, args.seed)
        single, group = build_range_tests(url, args.points, args.seed)
        build_s = time.perf_counter() - clock
        ids = {study_page(size): study_id for size, (study_id, _) in built.items()}
        ids |= {"range_test": single, "range_test_group": group}
        log(f"{backend}: measuring")
        runs = measure(url, ids, {size: maker for size, (_, maker) in built.items()}, args)
        blocked = contention(url, ids, study_page(args.trials[0]))
        compared = compare_importances(url, args.trials) if spec == args.storage[0] else None
    summary: dict[str, Any] = {
        page: {
            scenario: summarize(views)
            for scenario, views in scenarios.items()
            if scenario in SCENARIOS
        }
        for page, scenarios in runs.items()
    }
    for page, scenarios in runs.items():
        for scenario in ("complete", "changed_complete"):
            if scenario in scenarios:
                summary[page][scenario] = summarize_complete(scenarios[scenario])
    first = runs[study_page(args.trials[0])]["cold"][0]
    summary["first_in_process"] = summarize([first]) if spec == args.storage[0] else None
    verdict = {
        page: {
            scenario: {
                "server_ms": summary[page][scenario]["server_ms_total_median"],
                "target_ms": TARGETS[scenario],
                "met": summary[page][scenario]["server_ms_total_median"] < TARGETS[scenario],
            }
            for scenario in SCENARIOS
            if scenario in summary[page]
        }
        for page in target_pages(args.trials)
    }
    largest = max(
        (r["server_ms"], page, scenario, r["path"])
        for page, scenarios in runs.items()
        for scenario, views in scenarios.items()
        if scenario in SCENARIOS
        for one in views
        for r in one
    )
    return {
        "storage": backend,
        "build_s": build_s,
        "ids": ids,
        "summary": summary,
        "verdict": verdict,
        "contention": blocked,
        "importance_methods": compared,
        "largest_request": {
            "server_ms": largest[0],
            "page": largest[1],
            "scenario": largest[2],
            "path": label(largest[3]),
        },
        "runs": runs,
    }


# --- report ---------------------------------------------------------------------------------


def markdown(document: dict[str, Any]) -> str:
    settings = document["settings"]
    trials = " and ".join(f"{size:,}" for size in settings["trials"])
    lines = [
        "Produced by:",
        "",
        f"    {document['short_command']}",
        "",
        f"Commit {document['commit']}{' + uncommitted changes' if document['dirty'] else ''}, "
        f"{document['machine']['cpu_count']} CPUs, Python {document['machine']['python']}, "
        f"Optuna {document['machine']['optuna']}, matplotlib {document['machine']['matplotlib']}; "
        f"studies of {trials} trials, {settings['points']} points per "
        f"range test, COLD and WARM medians of {settings['repeats']}, CHANGED of "
        f"{settings['changes']}; took {document['elapsed_s']:.0f} s; load average "
        f"{document['machine']['load_before']} before, {document['machine']['load_after']} after.",
        "",
    ]
    for result in document["storages"]:
        lines += [f"**{result['storage']}**", "", pages_table(result, settings), ""]
        lines += [requests_table(result, settings), ""]
        lines += [*verdict_lines(result, settings), ""]
        if result["importance_methods"]:
            lines += [methods_table(result["importance_methods"]), ""]
    return "\n".join(lines).rstrip()


def title(page: str, settings: dict[str, Any]) -> str:
    if page.startswith("study_"):
        return f"study page ({int(page.removeprefix('study_')):,} trials)"
    return PAGE_TITLES[page].format(**settings)


def pages_table(result: dict[str, Any], settings: dict[str, Any]) -> str:
    summary = result["summary"]
    rows = [
        "| page view | requests | COLD server ms | COLD runs | COLD CPU ms | COLD complete ms "
        "| WARM server ms | CHANGED server ms | CHANGED complete ms | COLD wall ms "
        "| COLD largest request (ms) |",
        "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :--- |",
    ]
    for page in pages(settings["trials"]):
        s = summary[page]
        cold, changed = s["cold"], s.get("changed")
        changed_ms = "-" if changed is None else f"{changed['server_ms_total_median']:.0f}"
        runs = ", ".join(f"{value:.0f}" for value in cold["server_ms_totals"])
        largest = cold["largest"]
        rows.append(
            f"| {title(page, settings)} | {len(cold['requests'])} | "
            f"{cold['server_ms_total_median']:.0f} | {runs} | {cold['cpu_ms_median']:.0f} | "
            f"{complete_ms(s.get('complete'))} | "
            f"{s['warm']['server_ms_total_median']:.0f} | {changed_ms} | "
            f"{complete_ms(s.get('changed_complete'))} | "
            f"{cold['wall_ms_total_median']:.0f} | "
            f"`{largest['label']}` ({largest['server_ms_median']:.0f}) |"
        )
    first = summary.get("first_in_process")
    if first is not None:
        rows.append(
            f"| {title(study_page(settings['trials'][0]), settings)}, first view in the process "
            f"| {len(first['requests'])} | {first['server_ms_total_median']:.0f} | - | "
            f"{first['cpu_ms_median']:.0f} | - | - | - | - | {first['wall_ms_total_median']:.0f} "
            f"| `{first['largest']['label']}` ({first['largest']['server_ms_median']:.0f}) |"
        )
    return "\n".join(rows)


def complete_ms(complete: dict[str, Any] | None) -> str:
    return "-" if complete is None else f"{complete['ms_median']:.0f}"


def requests_table(result: dict[str, Any], settings: dict[str, Any]) -> str:
    summary = result["summary"]
    rows = [
        "| page | request | KiB (warm) | COLD server ms | WARM server ms | CHANGED server ms |",
        "| :--- | :--- | ---: | ---: | ---: | ---: |",
    ]
    for page in pages(settings["trials"]):
        s = summary[page]
        for index, request in enumerate(s["cold"]["requests"]):
            warm = s["warm"]["requests"][index]["server_ms_median"]
            size = s["warm"]["requests"][index]["bytes"]  # drawn (cold: maybe a placeholder)
            changed = s.get("changed")
            changed_ms = (
                "-" if changed is None else f"{changed['requests'][index]['server_ms_median']:.0f}"
            )
            rows.append(
                f"| {title(page, settings)} | `{request['label']}` | {size / 1024:.0f} "
                f"| {request['server_ms_median']:.0f} | {warm:.0f} | {changed_ms} |"
            )
    return "\n".join(rows)


def verdict_lines(result: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    lines = []
    for page, scenarios in result["verdict"].items():
        parts = [
            f"{scenario} {v['server_ms']:.0f} ms < {v['target_ms']:.0f}: "
            f"{'met' if v['met'] else 'NOT met'}"
            for scenario, v in scenarios.items()
        ]
        lines.append(f"- {title(page, settings)}: " + "; ".join(parts))
    for size in settings["trials"]:
        page = study_page(size)
        for scenario in ("complete", "changed_complete"):
            done = result["summary"][page][scenario]
            view_kind = "cold" if scenario == "complete" else "changed"
            lines.append(
                f"- {title(page, settings)} {view_kind.upper()}: every figure drawn (in the "
                f"background) and shown {done['ms_median']:.0f} ms after the view's first "
                f"request (median; runs {', '.join(f'{ms:.0f}' for ms in done['ms'])}): "
                f"{'within' if done['ms_median'] < TARGET_MS else 'NOT within'} "
                f"{TARGET_MS:.0f} ms; the drawings' fetches took "
                f"{done['fill_in_server_ms_median']:.0f} ms of server time"
            )
        for scenario in ("cold", "changed"):
            study = result["summary"][page][scenario]
            largest = study["largest"]
            lines.append(
                f"- {title(page, settings)} {scenario.upper()}: largest request "
                f"`{largest['label']}` {largest['server_ms_median']:.0f} ms "
                f"({largest['server_ms_median'] / study['server_ms_total_median']:.0%} of the page)"
            )
    blocked = result["contention"]
    lines.append(
        f"- Contention (not part of the target): the range test page alone "
        f"{total(blocked['alone']):.0f} ms; right after a fresh app was asked for the study's "
        f"importances (answered in {blocked['importances']['server_ms']:.0f} ms; every "
        f"figure then drawn in the background), {total(blocked['during_importances']):.0f} ms"
    )
    big = result["largest_request"]
    lines.append(
        f"- Largest single request seen: `{big['path']}` {big['server_ms']:.0f} ms "
        f"({title(big['page'], settings)}, {big['scenario']})"
    )
    return lines


def methods_table(compared: dict[int, dict[str, Any]]) -> str:
    """Each importance method's time and ranking on each study."""
    rows = [
        "| study | method | completed trials | seconds | ranking (importance) "
        "| same order as fANOVA |",
        "| ---: | :--- | ---: | ---: | :--- | :--- |",
    ]
    for size, methods in compared.items():
        reference = list(methods["fanova"]["values"])
        for method, found in methods.items():
            ranking = ", ".join(f"{name} ({value:.2f})" for name, value in found["values"].items())
            same = (
                "-"
                if method == "fanova"
                else ("yes" if list(found["values"]) == reference else "no")
            )
            rows.append(
                f"| {size:,} | {method} | {found['trials']:,} | {found['seconds']:.2f} | "
                f"{ranking or found['reason']} | {same} |"
            )
    return "\n".join(rows)


# --- command line ---------------------------------------------------------------------------


def git(*args: str) -> str:
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    return done.stdout.rstrip()


def tree() -> tuple[str, list[str]]:
    """The commit, and the files of ``lrtune/`` changed since it."""
    changed = git("status", "--porcelain", "--", "lrtune").splitlines()
    return git("rev-parse", "--short", "HEAD"), [line[3:] for line in changed]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add(
        "--trials",
        type=int,
        action="append",
        help="trials of a study; may be given more than once (2000 and 10000)",
    )
    add("--points", type=int, default=1000, help="points of each range test (1000)")
    add("--repeats", type=int, default=3, help="fresh apps per page, COLD and WARM (3)")
    add("--changes", type=int, default=3, help="trials added one at a time, CHANGED (3)")
    add(
        "--storage",
        action="append",
        help="'sqlite' (a temporary file; the default) or a database server URL on which a "
        "fresh database is created and dropped; may be given more than once",
    )
    add("--seed", type=int, default=0)
    add("--out", type=Path, help="results JSON (the .md goes beside it)")
    args = parser.parse_args(argv)
    args.storage = args.storage or ["sqlite"]
    args.trials = args.trials or list(SIZES)
    if min(args.trials) <= REAL_TRIALS or args.points < 20 or min(args.repeats, args.changes) < 1:
        parser.error(f"--trials must exceed {REAL_TRIALS}, --points >= 20, the counts >= 1.")
    args.out = args.out or RESULTS / "dashboard_speed.json"
    return args


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def short_command() -> str:
    """The command relative to the repository (no interpreter path)."""
    argv = [a for a in sys.argv[1:]]
    shown = " ".join(re.sub(r"//([^:@/]+):[^@/]+@", r"//\1:***@", a) for a in argv)
    return f"python benchmarks/dashboard_speed.py {shown}".rstrip()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    quiet_optuna()
    started, clock, load_before = utc_now(), time.perf_counter(), load_average()
    commit, dirty = tree()
    from lrtune.cli._dashboard import _warm_up

    warm_clock = time.perf_counter()
    _warm_up()
    warm_up_s = time.perf_counter() - warm_clock
    storages = [run_storage(spec, args) for spec in args.storage]
    document = {
        "command": command_line(),
        "short_command": short_command(),
        "started_at": started,
        "finished_at": utc_now(),
        "elapsed_s": time.perf_counter() - clock,
        "commit": commit,
        "dirty": dirty,
        "machine": machine_info()
        | {
            "optuna": optuna.__version__,
            "sqlalchemy": sqlalchemy.__version__,
            "starlette": starlette.__version__,
            "matplotlib": matplotlib.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "load_before": load_before,
            "load_after": load_average(),
        },
        "settings": {
            "trials": args.trials,
            "points": args.points,
            "repeats": args.repeats,
            "changes": args.changes,
            "seed": args.seed,
            "target_ms": TARGETS,
            "warm_up_s": warm_up_s,
        },
        "storages": storages,
    }
    write_json(args.out, document)
    report = markdown(document)
    args.out.with_suffix(".md").write_text(report + "\n")
    print(report)
    print(f"Results written to {args.out} and {args.out.with_suffix('.md')}", file=sys.stderr)


if __name__ == "__main__":
    main()
