"""lrtune's exceptions.

The hierarchy::

    LRTuneError
    ├── TaskError          a task file or module cannot be loaded, or holds no Task, or
    │                      its model, loader and criterion do not fit (at the first batch)
    ├── StorageError       a storage URL is malformed or unreachable, or a query failed
    │   └── NotFoundError  a stored record (range test, study) does not exist
    ├── RegistryError      an unknown name (optimizer, suggestion rule, ...) was given
    ├── SpecError          a study spec (TOML) is malformed or holds a bad value
    ├── StudyError         a study cannot be created, resumed or read as asked
    └── MissingExtraError  an optional part is used without its extra installed

Bad argument values raise ``ValueError`` naming the argument and the value it got.
Errors are raised here and turned into exit codes only by the CLI.
"""

from __future__ import annotations


class LRTuneError(Exception):
    """Base class of every error lrtune raises on purpose."""


class TaskError(LRTuneError):
    """A task could not be loaded, or its parts do not fit together at the first batch."""


class StorageError(LRTuneError):
    """The storage could not be opened or a query against it failed."""


class NotFoundError(StorageError):
    """A requested record does not exist in the storage."""


class RegistryError(LRTuneError, ValueError):
    """A name did not match anything in one of lrtune's registries."""


class SpecError(LRTuneError):
    """A study spec is malformed; the message names the key and the file."""


class StudyError(LRTuneError):
    """A study cannot be created or resumed as asked (a different search space, say)."""


class MissingExtraError(LRTuneError, ImportError):
    """An optional part of lrtune was used without its extra (``pip install "lrtune[x]"``)."""
