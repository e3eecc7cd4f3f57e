"""Where lrtune keeps its results: a SQLite file or a PostgreSQL database, via SQLAlchemy.

The storage proxy's heartbeat relay (gRPC) loads on first use.
"""

from typing import TYPE_CHECKING

from lrtune._lazy import lazy_attributes as _lazy_attributes
from lrtune.storage._batched import BatchedStorage, Claiming, write_held
from lrtune.storage._database import Database, open_study_storage
from lrtune.storage._heartbeat import Heartbeat
from lrtune.storage._locks import lock_key
from lrtune.storage._range_tests import RangeTestSummary
from lrtune.storage._schema import SCHEMA_VERSION
from lrtune.storage._storage import Storage
from lrtune.storage._studies import load_study, study_errors, study_names
from lrtune.storage._trial_sql import Census
from lrtune.storage._url import DEFAULT_STORAGE, create_engine_for, resolve_url, storage_backend

if TYPE_CHECKING:
    from lrtune.storage._proxy_heartbeats import RelayedHeartbeats, StaleTrialSweeper

_LAZY = {
    "RelayedHeartbeats": "lrtune.storage._proxy_heartbeats",
    "StaleTrialSweeper": "lrtune.storage._proxy_heartbeats",
}

__getattr__ = _lazy_attributes(__name__, _LAZY)

__all__ = [
    "DEFAULT_STORAGE",
    "SCHEMA_VERSION",
    "BatchedStorage",
    "Census",
    "Claiming",
    "Database",
    "Heartbeat",
    "RangeTestSummary",
    "RelayedHeartbeats",
    "StaleTrialSweeper",
    "Storage",
    "create_engine_for",
    "load_study",
    "lock_key",
    "open_study_storage",
    "resolve_url",
    "storage_backend",
    "study_errors",
    "study_names",
    "write_held",
]
