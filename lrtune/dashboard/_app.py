"""The dashboard's web app: pages, SVG figures and the JSON API, all read-only (GET)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from lrtune._collector import collector_paused
from lrtune._exceptions import NotFoundError, StorageError
from lrtune.dashboard._background import Requests
from lrtune.dashboard._data import DashboardData, StudyView
from lrtune.dashboard._figures import optuna_figure, range_test_figure, refine_figure
from lrtune.dashboard._json import (
    optuna_json,
    optuna_trial_table,
    plain,
    range_test_groups_json,
    range_test_json,
    refine_json,
    refine_trial_table,
    study_json,
    table_json,
    trial_table,
)
from lrtune.dashboard._optuna_study import OPTUNA_FIGURES, OptunaView, cell, short
from lrtune.dashboard._refine import RefineView
from lrtune.dashboard._security import SECURITY_HEADERS, LoopbackHosts, TokenGate, with_headers
from lrtune.dashboard._table import QueryError, Table, TableQuery
from lrtune.report import (
    STUDY_FIGURES,
    fmt,
    hyperparameters,
    interval_text,
    stop_label,
    stop_text,
)

REFRESH_S = 5
"""How often an open study page asks whether the study moved on."""

TRIAL_PAGE_SIZES = (25, 50, 100, 500)
"""The rows a study page's trial table may show at once (it asks the API for a page)."""
TRIAL_PAGE_SIZE = 50
"""The rows it shows at first."""

REFINE_FIGURE = "refine"
"""The one figure of a refine run's page: ``/studies/{id}/figures/refine.svg``."""

_HERE = Path(__file__).parent
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_HERE / "templates"),
    autoescape=True,  # every name from the database is text, never markup
    undefined=jinja2.StrictUndefined,
)
_TEMPLATES.filters["fmt"] = fmt
_TEMPLATES.filters["hyperparameters"] = hyperparameters
_TEMPLATES.filters["interval"] = interval_text
_TEMPLATES.filters["stop_label"] = stop_label
_TEMPLATES.filters["stop_text"] = stop_text
_TEMPLATES.filters["cell"] = cell
_TEMPLATES.filters["short"] = short


def create_app(
    data: DashboardData, *, token: str | None = None, loopback_only: bool = True
) -> Starlette:
    """The dashboard over ``data``.

    Args:
        data: What it reads.
        token: If given, every request must carry it (see ``_security``).
        loopback_only: Serve only requests addressed to a loopback name; for a
            dashboard bound to 127.0.0.1 without a token.
    """
    middleware = [
        Middleware(Counted, requests=data.requests),
        Middleware(BaseHTTPMiddleware, dispatch=with_headers),
    ]
    if token is not None:
        middleware.append(Middleware(TokenGate, token=token))
    elif loopback_only:
        middleware.append(Middleware(LoopbackHosts))
    app = Starlette(
        routes=_routes(),
        middleware=middleware,
        exception_handlers={
            NotFoundError: _not_found,
            QueryError: _bad_query,
            StorageError: _unavailable,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    app.state.data = data
    return app


class Counted:
    """Count each request while it is answered (``DashboardData.requests``): the work of
    the background waits for none to be."""

    def __init__(self, app: ASGIApp, requests: Requests) -> None:
        self.app = app
        self.requests = requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with self.requests.serving():
            await self.app(scope, receive, send)


def _routes() -> list[Route | Mount]:
    return [
        Route("/", overview),
        Route("/studies/{study_id:int}", study_page),
        Route("/studies/{study_id:int}/figures/{name}.svg", study_figure_svg),
        Route("/range-tests/{range_test_id:int}", range_test_page),
        Route("/range-tests/{range_test_id:int}/figure.svg", range_test_svg),
        Route("/api", api_index),
        Route("/api/studies", api_studies),
        Route("/api/studies/{study_id:int}", api_study),
        Route("/api/studies/{study_id:int}/trials", api_trials),
        Route("/api/range-tests", api_range_tests),
        Route("/api/range-tests/{range_test_id:int}", api_range_test),
        Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
    ]


def _data(request: Request) -> DashboardData:
    data: DashboardData = request.app.state.data
    return data


def _page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _TEMPLATES.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status)


def overview(request: Request) -> Response:
    data = _data(request)
    return _page(
        "overview.html",
        storage=data.url,
        studies=data.studies(),
        groups=data.range_test_groups(),
    )


def study_page(request: Request) -> Response:
    data = _data(request)
    view = data.study(request.path_params["study_id"])
    if isinstance(view, RefineView):
        return _page(
            "refine.html", storage=data.url, run=view, figure=REFINE_FIGURE, refresh_s=REFRESH_S
        )
    if isinstance(view, OptunaView):
        return _page("optuna_study.html", storage=data.url, study=view, refresh_s=REFRESH_S)
    return _page(
        "study.html",
        storage=data.url,
        study=view,
        figures=data.figure_versions(view),
        refresh_s=REFRESH_S,
        page_sizes=TRIAL_PAGE_SIZES,
        page_size=TRIAL_PAGE_SIZE,
    )


def study_figure_svg(request: Request) -> Response:
    name = request.path_params["name"]
    version = request.query_params.get("v")
    drawn = _data(request).drawn_figure(request.path_params["study_id"], name, version)
    if drawn is not None:
        return Response(drawn, media_type=_SVG)
    view = _data(request).study(request.path_params["study_id"])
    if isinstance(view, RefineView):
        return Response(_refine_svg(view, name), media_type=_SVG)
    if isinstance(view, OptunaView):
        return Response(_optuna_svg(view, name), media_type=_SVG)
    if name not in STUDY_FIGURES:
        raise NotFoundError(f"No figure {name!r}; the figures are {', '.join(STUDY_FIGURES)}")
    return Response(_data(request).study_figure(view, name), media_type=_SVG)


def _refine_svg(view: RefineView, name: str) -> bytes:
    if name != REFINE_FIGURE:
        raise NotFoundError(
            f"No figure {name!r}: study {view.id} is a refine run, its figure is {REFINE_FIGURE!r}"
        )
    drawn = view.figure(refine_figure)
    if drawn is None:
        raise NotFoundError(f"Refine study {view.id} is still running; its figure comes when done")
    return drawn


def _optuna_svg(view: OptunaView, name: str) -> bytes:
    if name not in view.figure_names:
        shown = ", ".join(view.figure_names) or "none"
        raise NotFoundError(
            f"No figure {name!r}: study {view.id} was not made by lrtune, its figures are {shown}"
        )
    return view.figure(name, lambda v: optuna_figure(name, v))


def range_test_page(request: Request) -> Response:
    data = _data(request)
    results = data.range_test_group(request.path_params["range_test_id"])
    shown = request.path_params["range_test_id"]
    return _page("range_test.html", storage=data.url, results=results, shown=shown)


def range_test_svg(request: Request) -> Response:
    data = _data(request)
    results = data.range_test_group(request.path_params["range_test_id"])
    shown = ",".join(str(result.id) for result in results)
    drawn = data.range_figures.get(shown, lambda: range_test_figure(results))
    return Response(drawn, media_type=_SVG)


def api_index(request: Request) -> Response:
    return JSONResponse(
        {
            "studies": "/api/studies",
            "study": "/api/studies/{id}",
            "trials": "/api/studies/{id}/trials",
            "range_tests": "/api/range-tests",
            "range_test": "/api/range-tests/{id}",
            "figures": {
                "study": [f"/studies/{{id}}/figures/{name}.svg" for name in STUDY_FIGURES],
                "refine": f"/studies/{{id}}/figures/{REFINE_FIGURE}.svg",
                "optuna": [f"/studies/{{id}}/figures/{name}.svg" for name in OPTUNA_FIGURES],
                "range_test": "/range-tests/{id}/figure.svg",
            },
        }
    )


def api_studies(request: Request) -> Response:
    return JSONResponse(plain(_data(request).studies()))


def api_study(request: Request) -> Response:
    data = _data(request)
    view = data.study(request.path_params["study_id"])
    if isinstance(view, OptunaView):
        return JSONResponse(optuna_json(view))
    if isinstance(view, StudyView):
        return JSONResponse(study_json(view, data.figure_versions(view), data.drawing(view)))
    return JSONResponse(refine_json(view))


def api_trials(request: Request) -> Response:
    query = TableQuery.parse(request.query_params)  # a bad one is refused before a read
    view = _data(request).study(request.path_params["study_id"])
    return Response(_trials_body(view, query), media_type="application/json")


def _trials_body(view: StudyView | OptunaView | RefineView, query: TableQuery) -> bytes:
    """The page of ``view``'s trial table that ``query`` asks for, as JSON."""
    if isinstance(view, StudyView):  # kept with the study's state: it serves every page
        table = view.answers.get("table", lambda: _study_table(view))
    elif isinstance(view, OptunaView):
        table = optuna_trial_table(view)
    else:
        table = refine_trial_table(view)
    with collector_paused():  # every row of a big study: many objects, no garbage
        return bytes(JSONResponse(table_json(table.page(query))).body)


def _study_table(view: StudyView) -> Table:
    with collector_paused():  # a big study's table: many objects, no garbage
        return trial_table(view)


def api_range_tests(request: Request) -> Response:
    return JSONResponse(range_test_groups_json(_data(request).range_test_groups()))


def api_range_test(request: Request) -> Response:
    results = _data(request).range_test_group(request.path_params["range_test_id"])
    return JSONResponse(range_test_json(results))


_SVG = "image/svg+xml"


def _error(request: Request, status_code: int, message: str) -> Response:
    if request.url.path.startswith("/api"):
        return JSONResponse({"error": message}, status_code=status_code)
    return _page("error.html", status_code, message=message, status_code=status_code)


async def _not_found(request: Request, error: Exception) -> Response:
    return _error(request, 404, str(error))


async def _bad_query(request: Request, error: Exception) -> Response:
    return _error(request, 400, str(error))


async def _unavailable(request: Request, error: Exception) -> Response:
    return _error(request, 503, str(error))


async def _server_error(request: Request, error: Exception) -> Response:
    """A bug's answer: the normal error page or JSON, with the usual headers (it is sent
    from outside every middleware, so ``with_headers`` never sees it). The traceback
    goes to the server's log, not to the reader."""
    response = _error(request, 500, "Internal error: the dashboard's log has the details.")
    response.headers.update(SECURITY_HEADERS)
    return response


async def _http_error(request: Request, error: Exception) -> Response:
    status = getattr(error, "status_code", 500)
    return _error(request, status, str(getattr(error, "detail", error)))
