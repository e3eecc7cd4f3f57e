"""Where lrtune keeps its results: a SQLite file or a PostgreSQL database, via SQLAlchemy."""

from lrtune.storage._range_tests import RangeTestSummary
from lrtune.storage._schema import SCHEMA_VERSION
from lrtune.storage._storage import Storage
from lrtune.storage._studies import load_study, open_study_storage, study_names
from lrtune.storage._url import DEFAULT_STORAGE, create_engine_for, resolve_url

__all__ = [
    "DEFAULT_STORAGE",
    "SCHEMA_VERSION",
    "RangeTestSummary",
    "Storage",
    "create_engine_for",
    "load_study",
    "open_study_storage",
    "resolve_url",
    "study_names",
]
