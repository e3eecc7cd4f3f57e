"""Storage URLs: resolving one, checking it, and opening an engine on it."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Engine, make_url

from lrtune._exceptions import StorageError

DEFAULT_STORAGE = "sqlite:///lrtune.db"
"""Where results go when neither an argument nor ``LRTUNE_STORAGE`` names a storage."""

STORAGE_ENV_VAR = "LRTUNE_STORAGE"
CONNECT_TIMEOUT_S = 5
"""Short, so that a mistyped host fails in seconds rather than the OS's minutes."""
SQLITE_BUSY_TIMEOUT_MS = 5000
PING_AFTER_IDLE_S = 1.0
"""A pooled connection idle longer than this is pinged before it is used (see ``_ping``)."""

# Driver names as written -> as used. PostgreSQL goes through psycopg 3, the driver lrtune
# depends on, whatever the URL asks for by default (SQLAlchemy's default is psycopg2).
_DRIVERS = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite+pysqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}
_SUPPORTED = "sqlite:///path/to/file.db or postgresql://user:password@host:port/database"
_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)[^@/]*@")
_NOISE = re.compile(r"^(connection failed: )?(connection to server at .*? failed: )?(FATAL:\s+)?")


def resolve_url(url: str | None) -> str:
    """``url`` if given, else the ``LRTUNE_STORAGE`` environment variable, else the default."""
    return url or os.environ.get(STORAGE_ENV_VAR) or DEFAULT_STORAGE


def storage_backend(url: str | None) -> str:
    """What ``url`` (resolved) names, without opening it: "sqlite", "postgresql" or "grpc"."""
    resolved = resolve_url(url)
    if resolved.startswith("grpc://"):
        return "grpc"
    return checked_url(resolved).get_backend_name()


def grpc_address(url: str) -> tuple[str, int] | None:
    """``(host, port)`` of a ``grpc://host:port`` URL (``lrtune storage-proxy``), else None."""
    if not url.startswith("grpc://"):
        return None
    host, _, port = url.removeprefix("grpc://").rstrip("/").rpartition(":")
    if not host or not port.isdigit():
        raise StorageError(f"Malformed storage URL {url!r}: expected grpc://host:port")
    return host, int(port)


def render_url(url: URL) -> str:
    """``url`` as a string fit for messages: the password shown as ``***``."""
    return url.render_as_string(hide_password=True)


def create_engine_for(url: str | URL, *, read_only: bool = False) -> Engine:
    """An engine on ``url``, checked to connect; ``StorageError`` (one line) if it cannot.

    ``read_only``: the database itself refuses writes (SQLite opened ``mode=ro``,
    PostgreSQL sessions with ``default_transaction_read_only``), and a SQLite file
    that does not exist is an error rather than a new, empty database. A ``URL`` is
    taken as ``checked_url`` gave it, with the same ``read_only``.
    """
    parsed = url if isinstance(url, URL) else checked_url(url, read_only=read_only)
    with db_errors(f"Cannot open storage {render_url(parsed)}"):
        engine = sqlalchemy.create_engine(parsed, **engine_options(parsed, read_only=read_only))
    configure_engine(engine)
    _check_connection(engine)
    return engine


def checked_url(url: str, *, read_only: bool = False) -> URL:
    """``url`` parsed, its driver normalized and its SQLite path checked (``StorageError``).

    ``read_only`` as for ``create_engine_for``.
    """
    parsed = _normalize(_parse(url))
    _check_not_in_memory(parsed)
    _check_sqlite_path(parsed)
    return _sqlite_read_only(parsed) if read_only else parsed


READ_ONLY_OPTIONS = "-c default_transaction_read_only=on -c jit=off"
"""PostgreSQL settings of a read-only session (the dashboard's). No JIT: a study's read
is a few index lookups per trial, which PostgreSQL would compile for longer than they
run once its statistics know the study's size (0.5 s for 10,000 trials, as long as the
read itself)."""


def engine_options(url: URL, *, read_only: bool = False) -> dict[str, Any]:
    """``create_engine``'s options for ``url``: a short connect timeout, read-only sessions
    (``READ_ONLY_OPTIONS``)."""
    if url.get_backend_name() == "sqlite":
        return {}
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    if read_only:
        connect_args["options"] = READ_ONLY_OPTIONS
    return {"connect_args": connect_args} if connect_args else {}


def configure_engine(engine: Engine) -> None:
    """Set lrtune's per-connection options on ``engine``, made by lrtune or by Optuna.

    SQLite enforces foreign keys and waits on a busy database; a server's connections are
    pinged when they come out of the pool after an idle spell (``_pinger``). Connections
    already pooled are dropped, so that every connection has them.
    """
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _on_sqlite_connect)
    else:
        event.listen(engine, "checkin", _stamp_idle)
        event.listen(engine, "checkout", _pinger(engine.dialect))
    engine.dispose()


def _stamp_idle(dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _pinger(dialect: Any) -> Any:
    """Ping a connection that sat in the pool over ``PING_AFTER_IDLE_S``; a dead one is
    replaced (``DisconnectionError`` makes the pool open another).

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: a round trip per storage call
    (0.07 ms against 0.37 ms for a ``SELECT 1`` transaction on the development machine,
    ``benchmarks/storage_calls.py``). A connection in steady use skips it; one that dies
    between two close calls fails its statement, which the storage's retries run again on
    a new connection (``ResilientRDBStorage``), as they do for one that dies mid-query.
    """

    def ping(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError(error_reason(error)) from error

    return ping


def shown_url(url: str) -> str:
    """``url`` as a string fit for messages: the password shown as ``***``."""
    return render_url(_parse(url))


def error_reason(error: BaseException) -> str:
    """The driver's own reason for ``error``, on one line and without the driver's preamble."""
    text = str(getattr(error, "orig", None) or error).strip()
    line = text.splitlines()[0].strip() if text else type(error).__name__
    line = _NOISE.sub("", line)
    return line[:1].lower() + line[1:] if line[1:2].islower() else line


@contextmanager
def db_errors(prefix: str) -> Iterator[None]:
    """Re-raise SQLAlchemy's errors as ``StorageError("<prefix>: <reason>")``."""
    try:
        yield
    except exc.SQLAlchemyError as error:
        raise StorageError(f"{prefix}: {error_reason(error)}") from error


def _sqlite_read_only(url: URL) -> URL:
    """``url`` opened through SQLite's URI form with ``mode=ro``; the file must exist."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite":
        return url
    if "uri" in url.query:
        return url.update_query_dict({"mode": "ro"})
    if database in ("", ":memory:") or not Path(database).is_file():
        raise StorageError(f"Cannot open storage {render_url(url)}: no database file there")
    return url.set(database=f"file:{Path(database).resolve()}", query={"mode": "ro", "uri": "true"})


def _parse(url: str) -> URL:
    shown = _PASSWORD_IN_URL.sub(r"\1***@", url)
    try:
        return make_url(url)
    except exc.ArgumentError:
        reason = f"expected a URL such as {_SUPPORTED}"
    except ValueError as error:
        reason = "the port is not a number" if "int()" in str(error) else error_reason(error)
    raise StorageError(f"Malformed storage URL {shown!r}: {reason}")


def _normalize(url: URL) -> URL:
    driver = _DRIVERS.get(url.drivername)
    if driver is None:
        raise StorageError(
            f"Unsupported storage {url.drivername!r} in {render_url(url)!r}: "
            f"lrtune stores to {_SUPPORTED}"
        )
    return url.set(drivername=driver)


def _check_not_in_memory(url: URL) -> None:
    """Refuse an in-memory SQLite database: every result would vanish when lrtune exits."""
    if url.get_backend_name() != "sqlite":
        return
    database = url.database or ""
    uri = "uri" in url.query
    if database in ("", ":memory:") or (
        uri and (database.startswith("file::memory:") or url.query.get("mode") == "memory")
    ):
        raise StorageError(
            f"Cannot use storage {render_url(url)}: an in-memory SQLite database vanishes "
            "when lrtune exits, and every result with it; name a file: sqlite:///path/to/file.db"
        )


def _check_sqlite_path(url: URL) -> None:
    """Name the actual problem, which SQLite reports only as 'unable to open database file'."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or "uri" in url.query:
        return
    path = Path(database)
    if path.is_dir():
        raise StorageError(f"Cannot open storage {render_url(url)}: '{path}' is a directory")
    if not path.parent.is_dir():
        raise StorageError(
            f"Cannot open storage {render_url(url)}: directory '{path.parent}' does not exist"
        )


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _check_connection(engine: Engine) -> None:
    try:
        with engine.connect():
            pass
    except exc.SQLAlchemyError as error:
        engine.dispose()
        reason = error_reason(error)
        raise StorageError(f"Cannot open storage {render_url(engine.url)}: {reason}") from error
