"""Where a cold view of a big study's page goes, in the dashboard's own process.

``dashboard_speed.py`` gives each request's server time; this splits the study page's
three requests into their parts, called directly (no HTTP): the view (the page's light read
and its digests, ``DashboardData.study``), the summary (``study_json``) and the trial table
(the JSON body of its first page, as the page asks for it: ``TRIAL_PAGE_SIZE`` rows).
Beside them, not part of the page: every row of the table at once (the page's "Trials as
JSON" link), from the same table. Each repeat opens a fresh ``DashboardData`` and waits
for its figures to be drawn before closing it, so that no background work runs beside the
next one.

The study is ``dashboard_speed.py``'s ``bench-SIZE``, built with its builder on first use
in a SQLite file (minutes for 10,000 trials) or found in the database given:

    python benchmarks/dashboard_parts.py [--size 10000] [--storage URL] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import dashboard_speed as speed
import optuna

from lrtune.dashboard import DashboardData
from lrtune.dashboard._app import TRIAL_PAGE_SIZE, _trials_body
from lrtune.dashboard._json import study_json
from lrtune.dashboard._table import TableQuery

DEFAULT_DB = Path("/tmp/lrtune-dashboard-parts.db")


def study_id(url: str, size: int) -> int:
    """The id of study ``bench-SIZE`` at ``url``, built there first if it is missing."""
    name = speed.study_name(size)
    found = [s for s in optuna.get_all_study_summaries(url) if s.study_name == name]
    if not found:
        speed.quiet_optuna()
        return speed.build_studies(url, [size], 0)[size][0]
    return found[0]._study_id


def one_view(url: str, sid: int) -> dict[str, float]:
    """Milliseconds of each part of one cold view."""
    data = DashboardData(url)
    try:
        clock = time.perf_counter()
        view = data.study(sid)
        viewed = time.perf_counter()
        study_json(view, data.figure_versions(view), data.drawing(view))
        summed = time.perf_counter()
        body = _trials_body(view, TableQuery(limit=TRIAL_PAGE_SIZE))
        tabled = time.perf_counter()
        whole = _trials_body(view, TableQuery())
        dumped = time.perf_counter()
        data.wait_drawn(sid, speed.READY_WAIT_S)
    finally:
        data.close()
    parts = {
        "view": viewed - clock,
        "summary": summed - viewed,
        "trial table": tabled - summed,
        "every row": dumped - tabled,
    }
    sizes = {"table KiB": len(body) / 1024, "every row KiB": len(whole) / 1024}
    return {**{k: 1000 * v for k, v in parts.items()}, **sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--storage", default=f"sqlite:///{DEFAULT_DB}")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sid = study_id(args.storage, args.size)
    for repeat in range(args.repeats):
        parts = one_view(args.storage, sid)
        shown = ", ".join(f"{name} {value:.0f}" for name, value in parts.items())
        print(f"{repeat + 1}/{args.repeats}: {shown} (ms; sizes in KiB)", flush=True)


if __name__ == "__main__":
    main()
