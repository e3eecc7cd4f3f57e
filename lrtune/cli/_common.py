"""What every command shares: turning errors into one line and an exit code, common options."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from lrtune._exceptions import LRTuneError, MissingExtraError, NotFoundError, StorageError

if TYPE_CHECKING:
    import optuna

F = TypeVar("F", bound=Callable[..., Any])

EXIT_BAD_INPUT = 2
MAX_HEARTBEAT_INTERVAL_S = 3600
MAX_GRACE_S = 86_400
"""Bounds of the heartbeat options: an hour between beats, a day of silence at most."""


class LazyHelp(click.Option):
    """An option whose help comes from ``help_from()``, called only when help is shown:
    help that names a registry's entries would otherwise import torch on every command."""

    def __init__(self, *args: Any, help_from: Callable[[], str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help_from = help_from

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = self.help_from()
        return super().get_help_record(ctx)


class BadInput(click.ClickException):
    """A mistake in what the user asked for: one line, exit code 2."""

    exit_code = EXIT_BAD_INPUT


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def handle_errors(command: F) -> F:
    """Turn lrtune's errors into one line on stderr and a non-zero exit, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except click.ClickException:
            raise
        except NotFoundError as error:  # a mistyped id or name: the user's mistake
            raise BadInput(_one_line(error)) from error
        except (StorageError, MissingExtraError) as error:
            raise click.ClickException(_one_line(error)) from error
        except (LRTuneError, ValueError) as error:
            raise BadInput(_one_line(error)) from error
        except (RuntimeError, TypeError) as error:
            # Shape mismatches and the like in the user's model or data.
            raise click.ClickException(f"{type(error).__name__}: {_one_line(error)}") from error
        except Exception as error:
            if not type(error).__module__.startswith("grpc"):
                raise
            # The gRPC storage proxy went away or failed mid-run.
            raise click.ClickException(f"The storage proxy failed: {_rpc_reason(error)}") from error

    return wrapper  # type: ignore[return-value]


def _rpc_reason(error: Exception) -> str:
    details = getattr(error, "details", None)
    code = getattr(error, "code", None)
    text = details() if callable(details) else str(error)
    name = getattr(code(), "name", "") if callable(code) else ""
    reason = f"{name} {text}".strip()
    return reason.splitlines()[0] if reason else type(error).__name__


def read_studies(storage: str | None) -> optuna.storages.BaseStorage:
    """Optuna's storage for a command that only reads: it writes nothing and creates no
    database, so that a mistyped path is an error, not a new empty file. Through the
    gRPC proxy, the proxy's (which the command then only reads)."""
    from lrtune.storage import Database, storage_backend

    if storage_backend(storage) == "grpc":
        return Database.open(storage).studies
    return Database.open_read_only(storage).studies


storage_option = click.option(
    "--storage",
    envvar="LRTUNE_STORAGE",
    show_envvar=True,
    help="SQLAlchemy URL of the database [default: sqlite:///lrtune.db].",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


MAX_THREADS = 1024


def threads_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--threads``: torch's CPU threads in this process."""
    return click.option(
        "--threads",
        type=click.IntRange(1, MAX_THREADS),
        default=None,
        help="torch's CPU threads in this process [default: torch's, one per core; with "
        "--workers N, the cores shared out among the workers].",
    )(command)


def use_threads(threads: int | None) -> None:
    """Give torch ``threads`` CPU threads in this process (``None``: leave torch's)."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def heartbeat_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--heartbeat-interval`` and ``--grace-period``, for workers and the study."""
    command = click.option(
        "--grace-period",
        type=click.IntRange(2, MAX_GRACE_S),
        default=40,
        show_default=True,
        help="Seconds without a heartbeat before a trial is failed and retried elsewhere.",
    )(command)
    return click.option(
        "--heartbeat-interval",
        type=click.IntRange(1, MAX_HEARTBEAT_INTERVAL_S),
        default=10,
        show_default=True,
        help="Seconds between a running trial's heartbeats.",
    )(command)
