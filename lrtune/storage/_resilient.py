"""Surviving a database that restarts or drops connections: retries with backoff.

A connection that died while idle in the pool is replaced when it is next taken (it is
pinged after an idle spell, ``_url.configure_engine``). A connection that dies in the middle
of a query, or just before it, or a server that is down for a few seconds, still fails that
query; ``ResilientRDBStorage`` retries each storage call on such errors, with exponential
backoff, until ``RECONNECT_TIMEOUT_S`` has passed.
"""

from __future__ import annotations

import functools
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Collection, Container, Sequence
from typing import Any, TypeVar

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import exc

from lrtune._exceptions import StorageError
from lrtune._optuna import RDB_PRIVATE_METHODS
from lrtune.storage._trial_sql import trials_of
from lrtune.storage._url import configure_engine, error_reason

logger = logging.getLogger(__name__)

T = TypeVar("T")

RECONNECT_TIMEOUT_S = 120.0
"""How long a storage call keeps retrying an unreachable database before giving up."""
FIRST_DELAY_S = 0.25
MAX_DELAY_S = 8.0

_CHAIN_DEPTH = 6
# A session left holding a connection that died mid-transaction.
_TRANSIENT = (exc.PendingRollbackError,)
# PostgreSQL's SQLSTATEs of a lost or refused connection: class 08 (connection exceptions),
# too many connections, and a server shutting down or starting up. A statement timeout
# (57014), a deadlock (40P01) or a schema error (class 42) is not an outage.
_OUTAGE_SQLSTATES = frozenset({"53300", "57P01", "57P02", "57P03"})

# The storage calls a worker makes; each is retried on its own. Writes are retried too:
# a write whose commit was lost with its connection was rolled back by the server. Where a
# public method only calls a private one (create_new_trial, set_trial_param, get_all_trials,
# get_best_trial), the private one is wrapped: Optuna's trial cache calls it directly.
_RETRIED = (
    "create_new_study",
    "set_study_user_attr",
    "set_study_system_attr",
    "get_study_id_from_name",
    "get_study_name_from_id",
    "get_study_directions",
    "get_study_user_attrs",
    "get_study_system_attrs",
    "get_all_studies",
    "get_trial_param",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "get_trial_id_from_study_id_trial_number",
    "get_trial_user_attrs",
    "get_trial_system_attrs",
    "get_trial",
    "record_heartbeat",
    *RDB_PRIVATE_METHODS,
)


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` says the database could not be reached, rather than refused a query.

    The cause chain is followed: Optuna wraps SQLAlchemy's errors, which wrap the driver's.
    A lost or refused connection is transient, and so is a SQLite file locked by another
    process; a schema or programming error is not, although SQLite reports "no such
    table" as an ``OperationalError`` too.
    """
    seen: BaseException | None = error
    for _ in range(_CHAIN_DEPTH):
        if seen is None:
            return False
        if isinstance(seen, exc.DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, _TRANSIENT):
            return True
        if isinstance(seen, (exc.OperationalError, exc.InterfaceError)):
            return _is_outage(seen.orig)
        seen = seen.__cause__
    return False


def _is_outage(driver_error: BaseException | None) -> bool:
    """Whether the driver's ``OperationalError`` or ``InterfaceError`` is about the
    connection (or, on SQLite, a lock), not about the query."""
    if isinstance(driver_error, sqlite3.Error):
        message = str(driver_error)
        return "database is locked" in message or "table is locked" in message
    sqlstate = getattr(driver_error, "sqlstate", None)
    if sqlstate is None:
        # psycopg's errors without a SQLSTATE (a connection that failed or died), or a
        # driver lrtune does not know: taken to be about the connection, as before.
        return True
    return str(sqlstate).startswith("08") or sqlstate in _OUTAGE_SQLSTATES


def call_with_retries(call: Callable[[], T], what: str, timeout: float = RECONNECT_TIMEOUT_S) -> T:
    """``call()``, retried with exponential backoff while the database is unreachable.

    Raises:
        StorageError: Still unreachable after ``timeout`` seconds (one line, with the reason).
    """
    deadline = time.monotonic() + timeout
    delay = FIRST_DELAY_S
    while True:
        try:
            return call()
        except Exception as error:
            if not is_transient(error):
                raise
            reason = error_reason(error.__cause__ or error)
            # Jitter, so that many workers cut off together do not all come back together.
            wait = delay * random.uniform(0.5, 1.0)
            if time.monotonic() + wait > deadline:
                raise StorageError(
                    f"The database stayed unreachable for {timeout:.0f} s ({what}): {reason}"
                ) from error
            logger.warning("database unreachable (%s); retrying in %.2f s", reason, wait)
        time.sleep(wait)
        delay = min(delay * 2, MAX_DELAY_S)


def _retrying(name: str) -> Callable[..., Any]:
    method = getattr(optuna.storages.RDBStorage, name)

    @functools.wraps(method)
    def wrapper(self: ResilientRDBStorage, *args: Any, **kwargs: Any) -> Any:
        return call_with_retries(lambda: method(self, *args, **kwargs), name, self.reconnect_s)

    return wrapper


class ResilientRDBStorage(optuna.storages.RDBStorage):
    """Optuna's RDB storage whose calls outlast a database restart or a dropped connection.

    Args:
        reconnect_s: How long one call keeps retrying an unreachable database.
        Other arguments are ``RDBStorage``'s.
    """

    def __init__(self, *args: Any, reconnect_s: float = RECONNECT_TIMEOUT_S, **kwargs: Any):
        self.reconnect_s = reconnect_s
        super().__init__(*args, **kwargs)

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)  # a new engine, made by Optuna: lrtune's options again
        configure_engine(self.engine)

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        attempts = 0

        def call() -> bool:
            nonlocal attempts
            attempts += 1
            try:
                return super(ResilientRDBStorage, self).set_trial_state_values(
                    trial_id, state, values
                )
            except UpdateFinishedTrialError:
                # A retry after a commit whose reply was lost finds its own write done.
                if attempts > 1 and self.get_trial(trial_id).state == state:
                    return True
                raise

        return call_with_retries(call, "set_trial_state_values", self.reconnect_s)

    def _get_trials(
        self,
        study_id: int,
        states: Container[TrialState] | None,
        included_trial_ids: set[int],
        trial_id_greater_than: int,
    ) -> list[FrozenTrial]:
        # Two statements (``read_trials``) instead of Optuna's seven: every worker's
        # sampler and every trial cache reads through here.
        def read() -> list[FrozenTrial]:
            return trials_of(
                self.engine, study_id, states, included_trial_ids, trial_id_greater_than
            )

        return call_with_retries(read, "_get_trials", self.reconnect_s)

    def read_trials_but_settled(
        self, study_id: int, included_trial_ids: set[int], trial_id_greater_than: int,
        settled: Collection[int],
    ) -> list[FrozenTrial]:  # fmt: skip
        """``_get_trials`` of every state, less the trials in ``settled`` that still run
        (``read_trials``): the caller keeps its own copies of those."""

        def read() -> list[FrozenTrial]:
            return trials_of(
                self.engine, study_id, None, included_trial_ids, trial_id_greater_than, settled
            )

        return call_with_retries(read, "_get_trials", self.reconnect_s)


for _name in _RETRIED:
    if _name not in ResilientRDBStorage.__dict__:
        setattr(ResilientRDBStorage, _name, _retrying(_name))
