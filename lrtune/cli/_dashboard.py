"""``lrtune dashboard``: the read-only web app over a storage."""

from __future__ import annotations

import secrets

import click

from lrtune.cli._common import BadInput, handle_errors, storage_option

TOKEN_ENV_VAR = "LRTUNE_DASHBOARD_TOKEN"


@click.command()
@storage_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--token",
    envvar=TOKEN_ENV_VAR,
    show_envvar=True,
    help="Secret every request must carry; required when --host is not a loopback address.",
)
@handle_errors
def dashboard(storage: str | None, host: str, port: int, token: str | None) -> None:
    """Serve a read-only dashboard of the stored range tests and studies."""
    from lrtune._extras import require

    require("dashboard", "lrtune dashboard")
    from lrtune.dashboard import DashboardData, check_port_free, create_app, is_loopback, serve

    loopback = is_loopback(host)
    if not loopback and not token:
        raise BadInput(
            f"--host {host} serves other machines: give --token (or {TOKEN_ENV_VAR}); "
            f"for example --token {secrets.token_urlsafe(24)}"
        )
    if token is not None and len(token) < 16:
        raise BadInput("--token must be at least 16 characters long.")
    try:
        check_port_free(host, port)  # before the database is opened and the drawing starts
    except OSError as error:
        raise click.ClickException(str(error)) from error
    data = DashboardData(storage)
    try:
        app = create_app(data, token=token, loopback_only=loopback)
        _warm_up()
        shown = f"[{host}]" if ":" in host else host
        link = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
        click.echo(f"lrtune dashboard of {data.url} at {link} (Ctrl-C stops it)")
        try:
            serve(app, host=host, port=port)
        except OSError as error:
            raise click.ClickException(str(error)) from error
    finally:
        data.close()


def _warm_up() -> None:
    """Start the workers that draw the studies' figures now, not on the first request:
    each loads matplotlib, Optuna's importances and its fonts (seconds), while the server
    starts and answers its first requests. Then set what is loaded apart from Python's
    cycle collector (``gc.freeze``): the modules live as long as the server, and a
    collection need not go through their objects every time."""
    import gc

    from lrtune.dashboard import start_drawing_pool

    start_drawing_pool()
    gc.collect()
    gc.freeze()
