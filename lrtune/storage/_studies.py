"""Optuna's storages on lrtune's database: RDB (with retries and heartbeats) and gRPC."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from sqlalchemy import exc
from sqlalchemy.engine import URL

from lrtune._exceptions import NotFoundError, StorageError
from lrtune._extras import require
from lrtune._optuna import experimental_ok
from lrtune.storage._clash import refusing_clashes
from lrtune.storage._heartbeat import Heartbeat
from lrtune.storage._resilient import ResilientRDBStorage
from lrtune.storage._url import configure_engine, engine_options, error_reason, render_url

logger = logging.getLogger(__name__)

GRPC_CONNECT_TIMEOUT_S = 10.0
SCHEMA_RACE_ATTEMPTS = 4
T = TypeVar("T")


def open_rdb_storage(url: URL, heartbeat: Heartbeat | None = None) -> ResilientRDBStorage:
    """Optuna's RDB storage on the checked ``url``, with lrtune's connection options.

    Every call is retried with backoff while the database is unreachable
    (``ResilientRDBStorage``); ``heartbeat`` turns on heartbeats, with stale trials retried.
    """
    target = url.render_as_string(hide_password=False)
    options = engine_options(url)
    with study_errors(f"Cannot open storage {render_url(url)}"), experimental_ok():
        beats = _heartbeat_arguments(heartbeat)
        with refusing_clashes(url):
            storage = _first_open(
                lambda: ResilientRDBStorage(target, engine_kwargs=options, **beats)
            )
    configure_engine(storage.engine)
    return storage


def _first_open(open_storage: Callable[[], T]) -> T:
    """``open_storage()``, again if another process was creating the tables at that moment.

    Optuna creates its tables when it first opens a database; two workers doing so at once
    on a new PostgreSQL database collide ("duplicate key value", "already exists").
    """
    for attempt in range(SCHEMA_RACE_ATTEMPTS):
        try:
            return open_storage()
        except (exc.IntegrityError, exc.ProgrammingError):
            if attempt == SCHEMA_RACE_ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _heartbeat_arguments(heartbeat: Heartbeat | None) -> dict[str, Any]:
    if heartbeat is None:
        return {}
    return {
        "heartbeat_interval": heartbeat.interval,
        "grace_period": heartbeat.grace,
        "heartbeat_stale_trial_callback": RetryHeartbeatStaleTrialCallback(
            max_retry=heartbeat.max_retry
        ),
    }


def grpc_storage(
    host: str, port: int, heartbeat: Heartbeat | None = None
) -> optuna.storages.BaseStorage:
    """Optuna's gRPC client of ``lrtune storage-proxy``; ``heartbeat``: its trials beat
    through the proxy, which fails and retries a silent one (``_proxy_heartbeats``)."""
    require("proxy", "A grpc:// storage")
    from optuna.storages import GrpcStorageProxy

    from lrtune.storage._proxy_heartbeats import GrpcHeartbeatStorage

    with experimental_ok():
        if heartbeat is None:
            proxy = GrpcStorageProxy(host=host, port=port)
        else:
            proxy = GrpcHeartbeatStorage(host=host, port=port, heartbeat=heartbeat)
    try:
        # The proxy connects lazily; fail here, in one line, rather than at the first call.
        proxy.wait_server_ready(timeout=GRPC_CONNECT_TIMEOUT_S)
    except ConnectionError as error:
        proxy.close()
        raise StorageError(
            f"Cannot reach the storage proxy at grpc://{host}:{port} "
            f"(no answer in {GRPC_CONNECT_TIMEOUT_S:.0f} s): is `lrtune storage-proxy` running?"
        ) from error
    return proxy


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
