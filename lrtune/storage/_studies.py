"""Optuna studies in lrtune's storage: opening Optuna's RDB storage on the same database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import optuna
from sqlalchemy import exc

from lrtune._exceptions import NotFoundError, StorageError
from lrtune.storage._url import engine_arguments, error_reason, resolve_url, shown_url


def open_study_storage(url: str | None = None) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage on ``url`` (resolved as ``Storage`` resolves it).

    PostgreSQL goes through psycopg 3 with ``pool_pre_ping`` so a dropped connection is
    replaced instead of failing the next query.
    """
    resolved = resolve_url(url)
    target, options = engine_arguments(resolved)
    with study_errors(f"Cannot open storage {shown_url(resolved)}"):
        return optuna.storages.RDBStorage(target, engine_kwargs=options)


@contextmanager
def study_errors(prefix: str) -> Iterator[None]:
    """Re-raise database errors met through Optuna as one-line ``StorageError``s."""
    try:
        yield
    except exc.SQLAlchemyError as error:
        raise StorageError(f"{prefix}: {error_reason(error)}") from error
    except optuna.exceptions.StorageInternalError as error:
        cause = error.__cause__ or error
        raise StorageError(f"{prefix}: {error_reason(cause)}") from error


def study_names(storage: optuna.storages.BaseStorage) -> list[str]:
    """The names of every study in ``storage``, oldest first."""
    with study_errors("Cannot list studies"):
        return [s.study_name for s in storage.get_all_studies()]


def load_study(name: str, storage: optuna.storages.BaseStorage) -> optuna.Study:
    """The study called ``name``; ``NotFoundError`` listing the stored names if none is."""
    names = study_names(storage)
    if name not in names:
        known = ", ".join(repr(n) for n in names) if names else "none yet"
        raise NotFoundError(f"No study named {name!r}; stored studies: {known}.")
    with study_errors(f"Cannot load study {name!r}"):
        return optuna.load_study(study_name=name, storage=storage)
