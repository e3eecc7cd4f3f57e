"""``lrtune storage-proxy``: Optuna's gRPC storage proxy in front of lrtune's database."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from lrtune.cli._common import BadInput, handle_errors, heartbeat_options, storage_option

if TYPE_CHECKING:
    import grpc

    from lrtune.storage import Database, Heartbeat, StaleTrialSweeper

STOP_GRACE_S = 5.0
"""How long requests in flight may take to finish once the proxy is told to stop."""


@click.command("storage-proxy")
@storage_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. 0.0.0.0 serves every network, and the proxy has no "
    "authentication: anyone who reaches the port can read and write every study. "
    "Use it only on a trusted network.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=13000, show_default=True)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Requests served at once.",
)
@heartbeat_options
@handle_errors
def storage_proxy(
    storage: str | None,
    host: str,
    port: int,
    threads: int,
    heartbeat_interval: int,
    grace_period: int,
) -> None:
    """Serve the database to workers over gRPC: they use --storage grpc://HOST:PORT and
    need no database password or connection of their own.

    Workers' trials beat through the proxy; every --heartbeat-interval seconds it fails
    the trials of its workers that have not beaten for --grace-period seconds (a killed
    worker's, say) and queues each for retry. Give the workers a shorter
    --heartbeat-interval than the proxy's --grace-period. SIGTERM or Ctrl-C stops the
    proxy and exits 0.
    """
    from lrtune._extras import require
    from lrtune.storage import Database, Heartbeat, resolve_url, storage_backend

    require("proxy", "lrtune storage-proxy")

    if storage_backend(storage) == "grpc":
        url = resolve_url(storage)
        raise BadInput(f"--storage must name the database, not another proxy: {url!r}.")
    from lrtune.cli._studies import log_to_stderr, quiet_optuna
    from lrtune.study import StopSignals

    heartbeat = Heartbeat(heartbeat_interval, grace_period)
    _check_port_free(host, port)
    quiet_optuna()
    # Before listening: a stop that comes early is caught. The log shows stale trials.
    with StopSignals() as signals, log_to_stderr():
        database = Database.open(storage, heartbeat=heartbeat)
        proxy = start_proxy(database, heartbeat, host, port, threads)
        address = f"grpc://{_grpc_host(host)}:{proxy.port}"
        reach = f"grpc://{_reachable_host(host)}:{proxy.port}"
        click.echo(f"Serving {database.url} on {address}; workers use --storage {reach}")
        while signals.received is None:
            signals.sleep(60.0)
    proxy.stop()
    click.echo(f"Storage proxy stopped by {signals.received}.")


@dataclass
class RunningProxy:
    """A listening proxy and the thread that fails its workers' stale trials."""

    server: grpc.Server
    sweeper: StaleTrialSweeper
    port: int

    def stop(self) -> None:
        self.sweeper.stop()
        self.server.stop(grace=STOP_GRACE_S).wait()


def start_proxy(
    database: Database, heartbeat: Heartbeat, host: str, port: int, threads: int
) -> RunningProxy:
    """Serve ``database`` (opened with ``heartbeat``) on ``host:port``, relaying the
    workers' heartbeats and failing their stale trials (``lrtune.storage._proxy_heartbeats``)."""
    from lrtune.storage import RelayedHeartbeats, StaleTrialSweeper

    served = RelayedHeartbeats(database.studies, heartbeat)
    server, bound = _start_server(served, host, port, threads)
    return RunningProxy(server, StaleTrialSweeper(database.studies, heartbeat).start(), bound)


def _check_port_free(host: str, port: int) -> None:
    """Say plainly why the address cannot be served, before gRPC logs its own lines."""
    try:
        addresses = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as error:
        raise BadInput(f"Cannot listen on {host}:{port}: {error.strerror}.") from error
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            # As servers do, so that a port left in TIME_WAIT by a stopped proxy is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                reason = error.strerror or str(error)
                raise click.ClickException(f"Cannot listen on {host}:{port}: {reason}.") from error


def _start_server(storage: object, host: str, port: int, threads: int) -> tuple[grpc.Server, int]:
    """Optuna's proxy server, listening; built here rather than by ``make_server`` because
    gRPC's default SO_REUSEPORT would let a second proxy share the port without an error."""
    import grpc

    from lrtune._optuna import grpc_service

    api_pb2_grpc, OptunaStorageProxyService = grpc_service()

    server = grpc.server(
        ThreadPoolExecutor(max_workers=threads), options=[("grpc.so_reuseport", 0)]
    )
    api_pb2_grpc.add_StorageServiceServicer_to_server(OptunaStorageProxyService(storage), server)
    try:
        bound = server.add_insecure_port(f"{_grpc_host(host)}:{port}")
    except RuntimeError as error:  # taken between the check and here
        raise click.ClickException(f"Cannot listen on {host}:{port}: in use.") from error
    server.start()
    return server, bound


def _grpc_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _reachable_host(host: str) -> str:
    """The host workers connect to: this machine's name when every address is served."""
    return socket.gethostname() if host.strip("[]") in ("0.0.0.0", "::") else _grpc_host(host)
