"""Who may read the dashboard: loopback by default, a token elsewhere; read-only always."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy
from click.testing import CliRunner
from starlette.testclient import TestClient

from lrtune.cli import cli
from lrtune.dashboard import DashboardData, create_app
from lrtune.dashboard._security import COOKIE, is_loopback
from tests.dashboard.conftest import database_dump, fill

TOKEN = "s3cret-token-for-the-tests"


@pytest.fixture
def gated(dashboard_db: str) -> TestClient:
    return TestClient(create_app(DashboardData(dashboard_db), token=TOKEN, loopback_only=False))


@pytest.mark.parametrize("path", ["/", "/api/studies", "/studies/1", "/static/study.js"])
def test_without_the_token_every_request_is_refused(gated: TestClient, path: str) -> None:
    response = gated.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    wrong = gated.get(path, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401


def test_a_bearer_token_is_accepted(gated: TestClient) -> None:
    response = gated.get("/api/studies", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.json()


def test_a_token_link_sets_a_cookie_and_drops_the_token_from_the_address(
    gated: TestClient,
) -> None:
    response = gated.get(f"/studies/1?token={TOKEN}&x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].endswith("/studies/1?x=1")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={TOKEN}") and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert gated.get("/api/studies").status_code == 200  # the cookie now carries it


def test_a_loopback_dashboard_refuses_other_host_names(dashboard_db: str) -> None:
    app = create_app(DashboardData(dashboard_db))
    assert TestClient(app, base_url="http://127.0.0.1:8080").get("/").status_code == 200
    assert TestClient(app, base_url="http://localhost:8080").get("/").status_code == 200
    rebound = TestClient(app, base_url="http://attacker.example:8080").get("/")
    assert rebound.status_code == 400


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("192.168.1.4", False),
        ("example.org", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_binding_elsewhere_without_a_token_is_refused(dashboard_db: str) -> None:
    result = CliRunner().invoke(
        cli,
        ["dashboard", "--storage", dashboard_db, "--host", "0.0.0.0"],
        env={"LRTUNE_DASHBOARD_TOKEN": ""},
    )
    assert result.exit_code == 2
    assert "give --token (or LRTUNE_DASHBOARD_TOKEN)" in result.output
    assert "Traceback" not in result.output


def test_a_short_token_is_refused(dashboard_db: str) -> None:
    result = CliRunner().invoke(cli, ["dashboard", "--storage", dashboard_db, "--token", "abc"])
    assert result.exit_code == 2 and "at least 16 characters" in result.output


def test_a_missing_database_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["dashboard", "--storage", f"sqlite:///{tmp_path}/none.db"])
    assert result.exit_code == 1
    assert result.output.strip().endswith("no database file there")
    assert not (tmp_path / "none.db").exists()


def test_served_elsewhere_the_token_comes_from_the_environment(serve, dashboard_db: str) -> None:
    server = serve(
        "--storage", dashboard_db, "--host", "0.0.0.0", env={"LRTUNE_DASHBOARD_TOKEN": TOKEN}
    )
    server.wait_ready()
    assert f"?token={TOKEN}" in server.first_line
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{server.url()}/api/studies", timeout=10)
    assert refused.value.code == 401
    request = urllib.request.Request(
        f"{server.url()}/api/studies", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
    assert server.stop() == 0


def test_a_port_in_use_is_one_line(serve, dashboard_db: str) -> None:
    first = serve("--storage", dashboard_db)
    first.wait_ready()
    result = CliRunner().invoke(
        cli, ["dashboard", "--storage", dashboard_db, "--port", str(first.port)]
    )
    assert result.exit_code == 1
    assert f"Cannot listen on 127.0.0.1:{first.port}: already in use" in result.output


def _visit_everything(client: TestClient) -> None:
    studies = client.get("/api/studies").json()
    groups = client.get("/api/range-tests").json()
    paths = ["/", "/api"]
    for s in studies:
        paths += [
            f"/studies/{s['id']}",
            f"/api/studies/{s['id']}",
            f"/api/studies/{s['id']}/trials",
        ]
        paths += [f"/studies/{s['id']}/figures/{n}.svg" for n in ("history", "importances")]
    for group in groups:
        paths += [f"/range-tests/{group[0]['id']}", f"/range-tests/{group[0]['id']}/figure.svg"]
    for path in paths:
        assert client.get(path).status_code == 200, path


def test_reading_everything_changes_nothing_in_sqlite(dashboard_db: str, tmp_path: Path) -> None:
    path = tmp_path / "copy.db"
    shutil.copy(dashboard_db.removeprefix("sqlite:///"), path)
    before = database_dump(path)
    data = DashboardData(f"sqlite:///{path}")
    _visit_everything(TestClient(create_app(data), base_url="http://127.0.0.1"))
    with pytest.raises(Exception, match="readonly"), data.range_tests._engine.begin() as db:
        db.exec_driver_sql("DELETE FROM lrtune_range_tests")
    data.close()
    assert database_dump(path) == before


@pytest.mark.postgres
def test_reading_everything_changes_nothing_in_postgres(postgres_url: str) -> None:
    fill(postgres_url)
    engine = sqlalchemy.create_engine(postgres_url)
    tables = sqlalchemy.inspect(engine).get_table_names()

    def dump() -> list[object]:
        with engine.connect() as connection:
            return [
                (t, *row)
                for t in sorted(tables)
                for row in connection.exec_driver_sql(f'SELECT * FROM "{t}" ORDER BY 1')
            ]

    before = dump()
    data = DashboardData(postgres_url)
    _visit_everything(TestClient(create_app(data), base_url="http://127.0.0.1"))
    with pytest.raises(Exception, match="read-only"), data.range_tests._engine.begin() as db:
        db.exec_driver_sql("DELETE FROM lrtune_range_tests")
    data.close()
    engine.dispose()
    assert dump() == before


def test_a_database_without_studies_shows_its_range_tests_only(tmp_path: Path) -> None:
    from lrtune.storage import Storage

    url = f"sqlite:///{tmp_path / 'tests.db'}"
    Storage(url).close()  # lrtune's tables only, no Optuna ones
    client = TestClient(create_app(DashboardData(url)), base_url="http://127.0.0.1")
    assert client.get("/api/studies").json() == []
    assert "No studies stored yet" in client.get("/").text
    assert client.get("/studies/1").status_code == 404
