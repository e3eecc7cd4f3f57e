"""The ORM tables lrtune keeps; all named ``lrtune_*`` to share a database with Optuna's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Double, ForeignKey, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints let a later migration drop or alter one by a name known in advance.
_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """lrtune's tables, on their own metadata so that ``create_all`` never touches others'."""

    metadata = MetaData(naming_convention=_NAMING)


class SchemaRow(Base):
    """The schema version the tables are at; the table holds a single row, ``id`` 1."""

    __tablename__ = "lrtune_schema"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class RangeTestRow(Base):
    """One range test: a ``FinderResult`` without its history."""

    __tablename__ = "lrtune_range_tests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group: Mapped[str | None] = mapped_column(String(255), index=True)
    task: Mapped[str | None] = mapped_column(String(255), index=True)
    optimizer: Mapped[str] = mapped_column(String(255))
    optimizer_options: Mapped[dict[str, Any]] = mapped_column(JSON)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    model_summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    suggested_lr: Mapped[float | None] = mapped_column(Double)
    min_lr: Mapped[float | None] = mapped_column(Double)
    max_lr: Mapped[float | None] = mapped_column(Double)
    # Where the best constant LR likely lies; added in schema 2.
    lr_low: Mapped[float | None] = mapped_column(Double)
    lr_high: Mapped[float | None] = mapped_column(Double)
    rule: Mapped[str] = mapped_column(String(64))
    stop_reason: Mapped[str] = mapped_column(String(32))
    stop_detail: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    n_points: Mapped[int] = mapped_column(Integer)


class RangeTestPointRow(Base):
    """One step of a range test's curve."""

    __tablename__ = "lrtune_range_test_points"

    range_test_id: Mapped[int] = mapped_column(
        ForeignKey(RangeTestRow.id, ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    lr: Mapped[float] = mapped_column(Double)
    # Nullable because SQLite stores a NaN loss as NULL; reading maps NULL back to NaN.
    loss: Mapped[float | None] = mapped_column(Double)
    smoothed_loss: Mapped[float | None] = mapped_column(Double)
