"""``Storage``: range tests kept in a SQLite file or a PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from lrtune._exceptions import NotFoundError, StorageError
from lrtune.finder import FinderResult
from lrtune.storage._models import RangeTestPointRow, RangeTestRow
from lrtune.storage._range_tests import (
    RangeTestSummary,
    point_rows,
    to_result,
    to_row,
    to_summary,
)
from lrtune.storage._schema import check_schema, ensure_schema
from lrtune.storage._url import create_engine_for, db_errors, render_url, resolve_url


class Storage:
    """Range tests in the database at ``url`` (see ``resolve_url`` for the default).

    Opening checks the connection and creates or upgrades lrtune's tables; it raises
    ``StorageError`` with a one-line message if either fails. Use as a context manager
    or call ``close()``.

    ``read_only=True`` (the dashboard) opens the database so that it refuses writes,
    creates nothing, and reads a database without lrtune's tables as one without
    range tests.
    """

    def __init__(self, url: str | None = None, *, read_only: bool = False) -> None:
        self._owns_engine = True
        self._setup(create_engine_for(resolve_url(url), read_only=read_only), read_only)

    @classmethod
    def on_engine(cls, engine: Engine, *, read_only: bool = False) -> Storage:
        """Range tests on an open ``engine`` (a ``Database``'s), which ``close`` leaves open."""
        storage = cls.__new__(cls)
        storage._owns_engine = False
        storage._setup(engine, read_only)
        return storage

    def _setup(self, engine: Engine, read_only: bool) -> None:
        self._engine = engine
        self.url = render_url(engine.url)
        """The storage URL with its password hidden, for messages."""
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._has_tables = True
        self._open_schema(read_only)

    def __repr__(self) -> str:
        return f"Storage({self.url!r})"

    def __enter__(self) -> Storage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the storage's connections (those of an engine it opened itself)."""
        if self._owns_engine:
            self._engine.dispose()

    def save_range_test(self, result: FinderResult) -> int:
        """Store ``result`` with its whole curve; set and return its new ``id``."""
        points = point_rows(result.history)
        with self._session() as session:
            row = to_row(result, n_points=len(points))
            session.add(row)
            session.flush()
            if points:
                rows = [{"range_test_id": row.id, **point} for point in points]
                session.execute(insert(RangeTestPointRow), rows)
        result.id = row.id
        return row.id

    def get_range_test(self, range_test_id: int) -> FinderResult:
        """The stored range test ``range_test_id``; ``NotFoundError`` if there is none."""
        with self._session() as session:
            row = session.get(RangeTestRow, range_test_id) if self._has_tables else None
            if row is None:
                raise NotFoundError(f"No range test with id {range_test_id} in {self.url}")
            return to_result(row, _points(session, row.id))

    def list_range_tests(
        self, *, task: str | None = None, limit: int | None = None
    ) -> list[RangeTestSummary]:
        """Summaries of the stored range tests, newest first, of ``task`` if given."""
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be None or >= 0, but got {limit=}.")
        query = select(RangeTestRow).order_by(
            RangeTestRow.created_at.desc(), RangeTestRow.id.desc()
        )
        if task is not None:
            query = query.where(RangeTestRow.task == task)
        if not self._has_tables:
            return []
        with self._session() as session:
            return [to_summary(row) for row in session.scalars(query.limit(limit))]

    def get_group(self, group: str) -> list[FinderResult]:
        """The range tests of ``group`` in the order they were saved; ``NotFoundError`` if none."""
        query = select(RangeTestRow).where(RangeTestRow.group == group).order_by(RangeTestRow.id)
        with self._session() as session:
            rows = session.scalars(query).all() if self._has_tables else []
            if not rows:
                raise NotFoundError(f"No range tests in group {group!r} in {self.url}")
            return [to_result(row, _points(session, row.id)) for row in rows]

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """A session that commits on success, rolls back on error, and raises StorageError."""
        with db_errors(f"Storage query failed on {self.url}"), self._sessions.begin() as session:
            yield session

    def _open_schema(self, read_only: bool) -> None:
        try:
            with db_errors(f"Cannot open storage {self.url}"):
                if read_only:
                    self._has_tables = check_schema(self._engine)
                else:
                    ensure_schema(self._engine)
        except StorageError:
            self.close()
            raise


def _points(session: Session, range_test_id: int) -> Sequence[Sequence[float | None]]:
    query = (
        select(RangeTestPointRow.lr, RangeTestPointRow.loss, RangeTestPointRow.smoothed_loss)
        .where(RangeTestPointRow.range_test_id == range_test_id)
        .order_by(RangeTestPointRow.step)
    )
    return session.execute(query).all()
