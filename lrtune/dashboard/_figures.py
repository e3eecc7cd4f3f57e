"""Figures as SVG, drawn by the same functions ``lrtune report`` saves as PNG."""

from __future__ import annotations

import io
import threading

import matplotlib
from matplotlib.figure import Figure

from lrtune.dashboard._optuna_study import HISTORY, INTERMEDIATE, PARETO, OptunaView
from lrtune.finder import FinderResult
from lrtune.refine import RefineResult
from lrtune.report import (
    STUDY_FIGURES,
    StudyReport,
    plot_history,
    plot_intermediate_values,
    plot_pareto_front,
    plot_range_tests,
    plot_refine,
)

# Matplotlib's caches (fonts, text layout) are not guarded for threads; the dashboard
# serves requests from a pool of them, so one figure is drawn at a time.
_DRAWING = threading.Lock()


def svg(figure: Figure) -> bytes:
    """``figure`` as SVG text, the same bytes for the same figure (no date, fixed ids)."""
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "lrtune", "svg.fonttype": "path"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def study_figure(name: str, report: StudyReport) -> bytes:
    """The study figure ``name`` (a key of ``STUDY_FIGURES``) as SVG."""
    with _DRAWING:
        return svg(STUDY_FIGURES[name](report))


def optuna_figure(name: str, view: OptunaView) -> bytes:
    """The figure ``name`` (one of ``view.figure_names``) of a study lrtune did not
    create, as SVG."""
    with _DRAWING:
        if name == HISTORY:
            return svg(plot_history(view.history()))
        if name == INTERMEDIATE:
            return svg(plot_intermediate_values(view.curves()))
        if name == PARETO:
            return svg(plot_pareto_front(view.pareto_points()))
    raise ValueError(f"No figure {name!r} for a study lrtune did not create.")


def refine_figure(result: RefineResult) -> bytes:
    """A refine run's validation losses against LR per rung, as ``lrtune find --refine
    --plot`` draws them, as SVG."""
    with _DRAWING:
        return svg(plot_refine(result))


def range_test_figure(results: list[FinderResult]) -> bytes:
    """The range tests' curves overlaid, as ``lrtune show --plot`` draws them, as SVG."""
    with _DRAWING:
        return svg(plot_range_tests(results))
