"""Output paths: refused before any work when they cannot be written, and a write that
fails anyway (a full disk) turned into one line that names the path and the reason."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from lrtune.cli._common import BadInput

T = TypeVar("T")

_USER_ERRNOS = frozenset(
    {
        errno.ENOENT,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ENAMETOOLONG,
        errno.ELOOP,
    }
)
"""A write failing for one of these is the path's fault (exit 2); any other, such as a
full device, the machine's (exit 1)."""


def check_output_file(option: str, path: str | Path) -> Path:
    """``path`` as a ``Path``, after refusing one that names a folder or lies in none."""
    target = Path(path)
    if target.is_dir():
        raise BadInput(f"{option}: cannot write '{path}': it is a folder; name a file in it.")
    _check_folder(option, path, target.parent)
    return target


def check_output_folder(option: str, path: str | Path) -> Path:
    """``path`` as a ``Path``, after refusing a file, or a folder that cannot be made."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise BadInput(f"{option}: '{path}' is not a folder.")
    if not target.exists():
        blocker = _nearest_existing(target)
        if not blocker.is_dir():
            raise BadInput(
                f"{option}: cannot make the folder '{path}': '{blocker}' is a file, not a folder."
            )
    return target


def _check_folder(option: str, path: str | Path, folder: Path) -> None:
    if folder.is_dir():
        return
    blocker = _nearest_existing(folder)
    if blocker.exists() and not blocker.is_dir():
        raise BadInput(f"{option}: cannot write '{path}': '{blocker}' is a file, not a folder.")
    raise BadInput(f"{option}: cannot write '{path}': the folder '{folder}' does not exist.")


def _nearest_existing(path: Path) -> Path:
    """``path`` or the closest of its parents that exists (as anything)."""
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def written(option: str, path: str | Path, write: Callable[[], T]) -> T:
    """``write()``'s result; an ``OSError`` it raises becomes one line naming the file.

    A file the failed write created is removed, so no half-written output is left behind.
    """
    existed = os.path.lexists(path)
    try:
        return write()
    except OSError as error:
        if not existed and Path(path).is_file() and not Path(path).is_symlink():
            Path(path).unlink(missing_ok=True)
        raise write_error(option, path, error) from error


def write_error(option: str, path: str | Path, error: OSError) -> click.ClickException:
    """One line for a failed write: exit 2 if the path is at fault, else 1."""
    reason = error.strerror or str(error) or type(error).__name__
    where = error.filename if isinstance(error.filename, str) else str(path)
    message = f"{option}: cannot write '{where}': {reason}."
    if error.errno in _USER_ERRNOS:
        return BadInput(message)
    return click.ClickException(message)
