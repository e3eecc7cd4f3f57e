"""Checks of plain values that several packages make: integers that are not booleans."""

from __future__ import annotations

from typing import Any, TypeGuard

MAX_SEED = 2**32 - 1
"""The largest seed NumPy's legacy seeding and Optuna's samplers accept."""

MAX_COUNT = 2**31 - 1
"""The largest trial count, epoch or stored id: the ``INTEGER`` columns that hold them
(Optuna's trial numbers and steps, lrtune's range test ids) stop there on PostgreSQL."""

MAX_ROWS = 2**63 - 1
"""The largest row count a query may ask for (SQL's ``LIMIT``: a 64-bit integer)."""


def is_int(value: Any) -> TypeGuard[int]:
    """Whether ``value`` is an integer, ``True`` and ``False`` excluded."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[int | float]:
    """Whether ``value`` is an int or a float, ``True`` and ``False`` excluded."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_seed(value: Any) -> TypeGuard[int]:
    """Whether ``value`` is an integer seed in ``[0, MAX_SEED]``."""
    return is_int(value) and 0 <= value <= MAX_SEED
