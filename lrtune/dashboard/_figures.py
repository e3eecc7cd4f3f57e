"""Figures as SVG, drawn by the same functions ``lrtune report`` saves as PNG."""

from __future__ import annotations

import io
import threading
from xml.sax.saxutils import escape

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
# serves requests from a pool of them, so one figure is drawn at a time. Only drawing
# holds the lock: the numbers a figure shows are computed before it is taken.
_DRAWING = threading.Lock()


def svg(figure: Figure) -> bytes:
    """``figure`` as SVG text, the same bytes for the same figure (no date, fixed ids)."""
    buffer = io.BytesIO()
    # Text as text, in the browser's sans-serif, not as outlines: far fewer bytes. The
    # dense parts of a big study's figures are images (``DENSE``), here at 100 dpi.
    with matplotlib.rc_context({"svg.hashsalt": "lrtune", "svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", dpi=100, metadata={"Date": None})
    return buffer.getvalue()


def study_figure(name: str, report: StudyReport) -> bytes:
    """The study figure ``name`` (a key of ``STUDY_FIGURES``) as SVG."""
    figure = STUDY_FIGURES[name]
    data = figure.data(report)
    with _DRAWING:
        return svg(figure.draw(*data))


_PLACEHOLDER = (
    '<?xml version="1.0" encoding="utf-8" standalone="no"?>\n'
    '<svg xmlns="http://www.w3.org/2000/svg" width="576pt" height="360pt" viewBox="0 0 576 360">'
    '<rect width="576" height="360" fill="#ffffff"/>'
    '<text x="288" y="180" text-anchor="middle" font-family="sans-serif" font-size="16" '
    'fill="#555555">{text}</text></svg>'
)


def placeholder(text: str) -> bytes:
    """An SVG the size of a study figure that says ``text`` in its middle (no drawing)."""
    return _PLACEHOLDER.format(text=escape(text)).encode()


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
