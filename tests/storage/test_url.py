"""Storage URLs: resolving them, and failing to open bad ones with a one-line StorageError."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from lrtune._exceptions import StorageError
from lrtune.storage import DEFAULT_STORAGE, Storage, _url, create_engine_for, resolve_url


def open_error(url: str) -> str:
    """The message ``Storage(url)`` fails with, checked to be a single line."""
    with pytest.raises(StorageError) as caught:
        Storage(url)
    message = str(caught.value)
    assert "\n" not in message, message
    return message


def test_resolve_prefers_the_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRTUNE_STORAGE", "sqlite:///env.db")
    assert resolve_url("sqlite:///arg.db") == "sqlite:///arg.db"


def test_resolve_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRTUNE_STORAGE", "sqlite:///env.db")
    assert resolve_url(None) == "sqlite:///env.db"


def test_resolve_falls_back_to_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LRTUNE_STORAGE", raising=False)
    assert resolve_url(None) == DEFAULT_STORAGE == "sqlite:///lrtune.db"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not a url", "Malformed storage URL 'not a url': expected a URL such as"),
        ("postgresql://u@127.0.0.1:notaport/x", "the port is not a number"),
        ("sqlite:////", "'/' is a directory"),
    ],
)
def test_malformed_url(url: str, reason: str) -> None:
    assert reason in open_error(url)


def test_malformed_url_hides_the_password() -> None:
    message = open_error("postgresql://u:hunter2@127.0.0.1:notaport/x")
    assert "hunter2" not in message
    assert "u:***@" in message


@pytest.mark.parametrize(
    ("url", "named"),
    [("foo://x", "'foo'"), ("mysql://u@h/d", "'mysql'"), ("postgresql+psycopg2://h/d", "psycopg2")],
)
def test_unsupported_dialect_or_driver_is_named(url: str, named: str) -> None:
    message = open_error(url)
    assert message.startswith("Unsupported storage")
    assert named in message


def test_unreachable_server_fails_fast_on_one_line() -> None:
    started = time.perf_counter()
    message = open_error("postgresql://postgres@127.0.0.1:1/x")
    assert time.perf_counter() - started < 10
    assert message == (
        "Cannot open storage postgresql+psycopg://postgres@127.0.0.1:1/x: connection refused"
    )


def test_sqlite_in_a_missing_directory(tmp_path: Path) -> None:
    message = open_error(f"sqlite:///{tmp_path}/missing/lrtune.db")
    assert f"directory '{tmp_path}/missing' does not exist" in message
    assert not (tmp_path / "missing").exists()


def test_sqlite_enforces_foreign_keys_and_waits_when_busy(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path}/lrtune.db")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    engine.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file::memory:?uri=true",
        "sqlite:///file:db?mode=memory&uri=true",
    ],
)
def test_sqlite_in_memory_is_refused(url: str) -> None:
    assert "vanishes when lrtune exits" in open_error(url)


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg"])
def test_postgres_urls_use_psycopg_3(postgres_url: str, scheme: str) -> None:
    engine = create_engine_for(postgres_url.replace("postgresql+psycopg", scheme, 1))
    assert engine.url.drivername == "postgresql+psycopg"
    engine.dispose()


@pytest.mark.postgres
def test_a_connection_killed_while_idle_is_replaced_and_one_in_use_is_not_pinged(
    postgres_url: str, postgres_admin_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_url, "PING_AFTER_IDLE_S", 0.5)
    engine = create_engine_for(postgres_url)
    pings: list[int] = []
    ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(1) or ping(c))

    def backend_pid() -> int:
        with engine.connect() as connection:
            return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())

    first = backend_pid()
    assert [backend_pid() for _ in range(5)] == [first] * 5 and pings == []  # in steady use
    with postgres_admin_engine.connect() as admin:
        admin.exec_driver_sql(f"SELECT pg_terminate_backend({first})")
    time.sleep(0.6)
    assert backend_pid() != first and pings == [1]  # pinged after idling, found dead, replaced
    engine.dispose()


@pytest.mark.postgres
def test_missing_postgres_database(postgres_admin_engine: Engine) -> None:
    url = postgres_admin_engine.url.set(database="lrtune_no_such_db")
    message = open_error(url.render_as_string(hide_password=False))
    assert message.endswith('database "lrtune_no_such_db" does not exist')


@pytest.mark.postgres
def test_auth_failure_hides_the_password(postgres_admin_engine: Engine) -> None:
    url = postgres_admin_engine.url.set(username="lrtune_no_such_role", password="hunter2")
    message = open_error(url.render_as_string(hide_password=False))
    assert "hunter2" not in message
    assert "lrtune_no_such_role:***@" in message
    assert message.endswith('role "lrtune_no_such_role" does not exist')


@pytest.mark.postgres
def test_storage_url_hides_the_password(postgres_url: str) -> None:
    # The test server trusts local connections, so any password gets in.
    with_password = postgres_url.replace("postgres@", "postgres:hunter2@", 1)
    with Storage(with_password) as storage:
        assert "hunter2" not in storage.url
        assert "postgres:***@" in storage.url
        assert "hunter2" not in repr(storage)
