"""Where lrtune keeps its results: a SQLite file or a PostgreSQL database, via SQLAlchemy.

URLs and the listing of studies (``study_facts``, plain SQL) load with the package; range
tests (``Storage``, SQLAlchemy's ORM), studies (Optuna) and the storage proxy's heartbeat
relay (gRPC) on first use, so that ``lrtune runs`` imports no Optuna and ``lrtune studies``
neither Optuna nor the ORM.
"""

from typing import TYPE_CHECKING

from lrtune._lazy import homes_by_module as _homes_by_module
from lrtune._lazy import lazy_attributes as _lazy_attributes
from lrtune.storage._heartbeat import Heartbeat
from lrtune.storage._study_list import StudyFacts, study_facts
from lrtune.storage._url import DEFAULT_STORAGE, create_engine_for, resolve_url, storage_backend

if TYPE_CHECKING:
    from lrtune.storage._batched import BatchedStorage, Claiming, write_held
    from lrtune.storage._database import Database, open_study_storage
    from lrtune.storage._locks import lock_key
    from lrtune.storage._packed_trials import LightTrial
    from lrtune.storage._proxy_heartbeats import RelayedHeartbeats, StaleTrialSweeper
    from lrtune.storage._range_tests import RangeTestSummary
    from lrtune.storage._read_only import light_studies
    from lrtune.storage._schema import SCHEMA_VERSION
    from lrtune.storage._storage import Storage
    from lrtune.storage._studies import load_study, study_errors, study_names
    from lrtune.storage._trial_sql import Census

_LAZY = {
    "_batched": ("BatchedStorage", "Claiming", "write_held"),
    "_database": ("Database", "open_study_storage"),
    "_locks": ("lock_key",),
    "_packed_trials": ("LightTrial",),
    "_proxy_heartbeats": ("RelayedHeartbeats", "StaleTrialSweeper"),
    "_range_tests": ("RangeTestSummary",),
    "_read_only": ("light_studies",),
    "_schema": ("SCHEMA_VERSION",),
    "_storage": ("Storage",),
    "_studies": ("load_study", "study_errors", "study_names"),
    "_trial_sql": ("Census",),
}

_HOMES = _homes_by_module(__name__, _LAZY)
__getattr__ = _lazy_attributes(__name__, _HOMES)

__all__ = [
    "DEFAULT_STORAGE",
    "SCHEMA_VERSION",
    "BatchedStorage",
    "Census",
    "Claiming",
    "Database",
    "Heartbeat",
    "LightTrial",
    "RangeTestSummary",
    "RelayedHeartbeats",
    "StaleTrialSweeper",
    "Storage",
    "StudyFacts",
    "create_engine_for",
    "light_studies",
    "load_study",
    "lock_key",
    "open_study_storage",
    "resolve_url",
    "storage_backend",
    "study_errors",
    "study_facts",
    "study_names",
    "write_held",
]
