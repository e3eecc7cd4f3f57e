"""The container deployment: docker-compose.yml, the Dockerfile and .env.example.

The files are read as data and checked for what a deployment relies on (the database
reachable from this host only, no password written in, workers that can be scaled and
stopped cleanly, commands that lrtune accepts). Where Docker Compose is installed, it
also reads the file itself.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from lrtune.cli import cli
from lrtune.study._spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

SPEC_DEFAULT = re.compile(r"^/app/studies/\$\{LRTUNE_SPEC:-(?P<default>[^}]+)\}$")
PASSWORD = r"\$\{POSTGRES_PASSWORD(:?\?[^}]*)?\}"
"""``${POSTGRES_PASSWORD}`` or ``${POSTGRES_PASSWORD:?message}``: no default password."""


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def lrtune_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services.items() if s.get("image") == "lrtune:latest"}


def published(port: str | dict[str, Any]) -> tuple[str, str]:
    """``(host_ip, host_port)`` of a port in the short or the long syntax."""
    if isinstance(port, dict):
        return str(port.get("host_ip", "0.0.0.0")), str(port.get("published", ""))
    parts = str(port).split("/")[0].split(":")
    if len(parts) == 3:
        return parts[0], parts[1]
    return "0.0.0.0", parts[0]


def seconds(duration: str) -> float:
    """Compose's duration (``30s``, ``1m30s``, ``1m``) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    pieces = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert pieces, f"not a duration: {duration!r}"
    return sum(float(value) * units[unit] for value, unit in pieces)


def test_postgres_is_published_on_this_host_only(services):
    ports = services["postgres"]["ports"]
    assert ports, "postgres publishes no port: lrtune on this host cannot reach it"
    assert all(published(port)[0] == "127.0.0.1" for port in ports)


def test_postgres_password_comes_from_the_environment(services):
    password = services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert re.fullmatch(PASSWORD, password), f"a literal password: {password!r}"


def test_postgres_keeps_its_data_and_reports_its_health(services):
    postgres = services["postgres"]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert postgres["restart"] == "unless-stopped"


def test_lrtune_services_store_in_the_compose_postgres(services):
    env = services["postgres"]["environment"]
    expected = rf"postgresql://{env['POSTGRES_USER']}:{PASSWORD}@postgres:5432/{env['POSTGRES_DB']}"
    storages = {
        name: s["environment"]["LRTUNE_STORAGE"] for name, s in lrtune_services(services).items()
    }
    assert set(storages) == {"study", "worker", "dashboard"}
    for name, url in storages.items():
        assert re.fullmatch(expected, url), f"{name}: {url!r}"


def test_study_runs_once_after_postgres_is_healthy(services):
    study = services["study"]
    assert study["command"][0] == "study"
    assert "--create-only" in study["command"]
    assert study.get("restart", "no") == "no"
    assert study["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_worker_starts_once_the_study_is_created(services):
    condition = services["worker"]["depends_on"]["study"]["condition"]
    assert condition == "service_completed_successfully"


def test_worker_can_be_scaled(services):
    worker = services["worker"]
    # A fixed name or a published port would collide between replicas.
    assert "container_name" not in worker
    assert "ports" not in worker
    # A worker whose study's budget is met exits 0 and must stay down.
    assert worker["restart"] == "on-failure"


def test_worker_stops_cleanly(services):
    worker = services["worker"]
    # SIGTERM fails and requeues the running trial; that needs the grace period.
    assert worker.get("stop_signal", "SIGTERM") == "SIGTERM"
    assert seconds(worker["stop_grace_period"]) >= 20
    # Without an init process lrtune is PID 1, which ignores a SIGTERM it has no
    # handler for yet (while it imports torch, say).
    assert worker["init"] is True


def test_worker_reserves_one_nvidia_gpu(services):
    devices = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]


def test_worker_and_study_use_one_spec_that_exists(services):
    spec_study = services["study"]["command"][1]
    spec_worker = services["worker"]["command"][1]
    assert spec_study == spec_worker
    match = SPEC_DEFAULT.fullmatch(spec_study)
    assert match, f"expected /app/studies/${{LRTUNE_SPEC:-NAME}}, got {spec_study!r}"
    path = ROOT / "studies" / match["default"]
    assert path.is_file(), f"the default spec {path} does not exist"
    load_spec(str(path))  # raises on a spec lrtune would refuse


def test_env_example_names_an_existing_spec():
    settings = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert settings["POSTGRES_PASSWORD"]
    assert (ROOT / "studies" / settings["LRTUNE_SPEC"]).is_file()


def test_dashboard_is_opt_in_and_local(services):
    dashboard = services["dashboard"]
    assert dashboard["profiles"] == ["dashboard"]
    ports = dashboard["ports"]
    assert [published(port) for port in ports] == [("127.0.0.1", "8080")]
    command = dashboard["command"]
    assert command[0] == "dashboard"
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == "8080"
    # Listening on 0.0.0.0, lrtune requires a token: it comes from .env, never a default.
    assert dashboard["environment"]["LRTUNE_DASHBOARD_TOKEN"] == "${LRTUNE_DASHBOARD_TOKEN:-}"


@pytest.mark.parametrize("name", ["study", "worker", "dashboard"])
def test_service_command_is_one_lrtune_accepts(services, name):
    command = [
        SPEC_DEFAULT.sub(r"/app/studies/\g<default>", arg) for arg in services[name]["command"]
    ]
    subcommand, *args = command
    assert subcommand in cli.commands, f"`lrtune {subcommand}` does not exist"
    # Parsing checks every option and argument without running the command.
    with click.Context(cli) as parent:
        cli.commands[subcommand].make_context(subcommand, list(args), parent=parent)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of each Dockerfile line, continuations joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_dockerfile_installs_torch_before_the_project():
    steps = dockerfile_instructions()
    runs = [(i, args) for i, (kind, args) in enumerate(steps) if kind == "RUN"]
    torch = [i for i, args in runs if "pip install" in args and "torch==" in args]
    project = [i for i, args in runs if "pip install" in args and "torch==" not in args]
    copies = [i for i, (kind, args) in enumerate(steps) if kind == "COPY" and "pyproject" in args]
    assert torch and project and copies
    # Before the project's files are copied in: a code change keeps the torch layer.
    assert torch[0] < copies[0] < project[0]
    torch_run = steps[torch[0]][1]
    assert "${TORCH_VERSION}" in torch_run and "${TORCH_INDEX_URL}" in torch_run
    assert all("--no-cache-dir" in args for _, args in runs if "pip install" in args)


def test_dockerfile_defaults_to_cpu_torch():
    args = dict(a.partition("=")[::2] for kind, a in dockerfile_instructions() if kind == "ARG")
    assert args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    assert args["TORCH_VERSION"] == "2.13.0"
    assert ("FROM", "python:3.11-slim") in dockerfile_instructions()


def test_dockerfile_runs_lrtune_as_a_user():
    steps = dockerfile_instructions()
    users = [args for kind, args in steps if kind == "USER"]
    # The last USER is the one the container runs as.
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert json.loads(dict(steps)["ENTRYPOINT"]) == ["lrtune"]
    assert dict(steps)["WORKDIR"] == "/app"


def test_dockerfile_copies_what_the_build_needs():
    ignored = [
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = [
        source.rstrip("/")
        for kind, args in dockerfile_instructions()
        if kind == "COPY"
        for source in args.split()[:-1]
    ]
    # pyproject.toml names README.md as the readme: the build fails without it.
    assert {"pyproject.toml", "README.md", "lrtune", "studies", "examples"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source
    assert {".env", ".venv", ".git", "*.db", "tests"} <= set(ignored)


def compose_tool() -> list[str] | None:
    """``docker compose`` (v2) or ``docker-compose`` (v1), whichever is installed."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def compose_config(tool: list[str], env_file: Path) -> subprocess.CompletedProcess[str]:
    # The file's variables must come from env_file alone, not from this shell.
    env = {k: v for k, v in os.environ.items() if k not in {"POSTGRES_PASSWORD", "LRTUNE_SPEC"}}
    return subprocess.run(
        [*tool, "--env-file", str(env_file), "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=60,
    )


@pytest.fixture
def compose() -> list[str]:
    tool = compose_tool()
    if tool is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    return tool


def test_compose_accepts_the_file(compose, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("POSTGRES_PASSWORD=x\n")
    result = compose_config(compose, env_file)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)["services"]
    assert resolved["postgres"]["environment"]["POSTGRES_PASSWORD"] == "x"
    storage = "postgresql://lrtune:x@postgres:5432/lrtune"
    assert resolved["worker"]["environment"]["LRTUNE_STORAGE"] == storage
    assert resolved["worker"]["command"][1] == "/app/studies/digits-mlp.toml"
    assert [published(p) for p in resolved["postgres"]["ports"]] == [("127.0.0.1", "5432")]


def test_compose_uses_the_spec_from_the_env_file(compose, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("POSTGRES_PASSWORD=x\nLRTUNE_SPEC=quick.toml\n")
    result = compose_config(compose, env_file)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)["services"]
    assert resolved["study"]["command"][1] == "/app/studies/quick.toml"
    assert resolved["worker"]["command"][1] == "/app/studies/quick.toml"


def test_compose_refuses_to_run_without_a_password(compose, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("LRTUNE_SPEC=digits-mlp.toml\n")
    result = compose_config(compose, env_file)
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in result.stderr
