"""Figures and exports: pure data in, matplotlib figures out.

The range-test and refine figures load with the package; the study half (Optuna, SQLAlchemy,
pandas frames of trials) loads on first use, so ``FinderResult.plot()`` pulls in neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lrtune._lazy import lazy_attributes as _lazy_attributes
from lrtune.report._range_test_plot import CurveInfo, curve_info, plot_range_tests
from lrtune.report._refine_plot import RungPoints, plot_refine, rung_points
from lrtune.report._refine_text import refine_dict, refine_summary, refine_table
from lrtune.report._text import (
    fmt,
    hyperparameters,
    interval_text,
    result_details,
    result_dict,
    stop_label,
    stop_text,
    suggestion_table,
    table,
)

if TYPE_CHECKING:
    from lrtune.report._best import (
        BestConfig,
        best_code,
        best_config,
        best_dict,
        best_script,
        best_table,
    )
    from lrtune.report._export import export_trials
    from lrtune.report._optuna_plots import (
        ParetoPoints,
        plot_intermediate_values,
        plot_pareto_front,
    )
    from lrtune.report._study_data import (
        OPTIMIZER_PREFIX,
        SCHEDULE_PREFIX,
        TRIAL_COLUMNS,
        EpochCurves,
        History,
        Importances,
        StudyObjective,
        StudyReport,
        TopTrial,
        best_by,
        epoch_curves,
        history,
        importances,
        study_objective,
        top_trials,
        trials_frame,
    )
    from lrtune.report._study_plots import (
        STUDY_FIGURES,
        plot_best_by,
        plot_epoch_curves,
        plot_history,
        plot_importances,
        plot_top_trials,
        write_report,
    )

_LAZY = {
    "_best": ("BestConfig", "best_code", "best_config", "best_dict", "best_script", "best_table"),
    "_export": ("export_trials",),
    "_optuna_plots": ("ParetoPoints", "plot_intermediate_values", "plot_pareto_front"),
    "_study_data": (
        "OPTIMIZER_PREFIX",
        "SCHEDULE_PREFIX",
        "TRIAL_COLUMNS",
        "EpochCurves",
        "History",
        "Importances",
        "StudyObjective",
        "StudyReport",
        "TopTrial",
        "best_by",
        "epoch_curves",
        "history",
        "importances",
        "study_objective",
        "top_trials",
        "trials_frame",
    ),
    "_study_plots": (
        "STUDY_FIGURES",
        "plot_best_by",
        "plot_epoch_curves",
        "plot_history",
        "plot_importances",
        "plot_top_trials",
        "write_report",
    ),
}
_MODULE_OF = {name: f"{__name__}.{module}" for module, names in _LAZY.items() for name in names}
__getattr__ = _lazy_attributes(__name__, _MODULE_OF)

__all__ = [
    "OPTIMIZER_PREFIX",
    "SCHEDULE_PREFIX",
    "STUDY_FIGURES",
    "TRIAL_COLUMNS",
    "BestConfig",
    "CurveInfo",
    "EpochCurves",
    "History",
    "Importances",
    "ParetoPoints",
    "RungPoints",
    "StudyObjective",
    "StudyReport",
    "TopTrial",
    "best_by",
    "best_code",
    "best_config",
    "best_dict",
    "best_script",
    "best_table",
    "curve_info",
    "epoch_curves",
    "export_trials",
    "fmt",
    "history",
    "hyperparameters",
    "importances",
    "interval_text",
    "plot_best_by",
    "plot_epoch_curves",
    "plot_history",
    "plot_importances",
    "plot_intermediate_values",
    "plot_pareto_front",
    "plot_range_tests",
    "plot_refine",
    "plot_top_trials",
    "refine_dict",
    "refine_summary",
    "refine_table",
    "result_details",
    "result_dict",
    "rung_points",
    "stop_label",
    "stop_text",
    "study_objective",
    "suggestion_table",
    "table",
    "top_trials",
    "trials_frame",
    "write_report",
]
