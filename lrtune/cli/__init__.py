"""The ``lrtune`` command line: the only place where errors become exit codes."""

from __future__ import annotations

from typing import Any

import click

from lrtune.cli._common import EXIT_BAD_INPUT, BadInput, handle_errors
from lrtune.cli._dashboard import dashboard
from lrtune.cli._proxy import storage_proxy
from lrtune.cli._range_tests import examples, find, runs, show
from lrtune.cli._studies import best, export, report, studies, study
from lrtune.cli._workers import worker


class _Group(click.Group):
    """lrtune's commands: a usage error too is one line on stderr (exit 2), with the hint
    to ``--help`` on it rather than the usage text above it."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            if error.ctx is None:
                raise
            hint = f" (see '{error.ctx.command_path} --help')"
            raise click.UsageError(f"{error.format_message()}{hint}") from error


@click.group(
    cls=_Group,
    # Every option can come from the environment too: LRTUNE_<COMMAND>_<OPTION>
    # (LRTUNE_FIND_NUM_ITER=50, LRTUNE_RUNS_LIMIT=5); LRTUNE_STORAGE stays the default database.
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "LRTUNE"},
)
@click.version_option(package_name="lrtune")
def cli() -> None:
    """Find learning rates and schedules for PyTorch models."""


for _command in (
    find,
    runs,
    show,
    examples,
    study,
    worker,
    studies,
    best,
    export,
    report,
    storage_proxy,
    dashboard,
):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="lrtune")


__all__ = ["EXIT_BAD_INPUT", "BadInput", "cli", "handle_errors", "main"]
