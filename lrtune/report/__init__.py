"""Figures and exports: pure data in, matplotlib figures out."""

from lrtune.report._range_test_plot import CurveInfo, curve_info, plot_range_tests

__all__ = ["CurveInfo", "curve_info", "plot_range_tests"]
