"""A task spec taken apart: where the task comes from, and the name it goes by there."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class TaskRef:
    """``source`` (a task file, a module or a bundled example name) and ``attr``, the
    ``NAME`` after its last colon, if any::

        TaskRef.parse("tasks/mine.py:make")  # TaskRef(source="tasks/mine.py", attr="make")
        TaskRef.parse("pkg.mod")  # TaskRef(source="pkg.mod", attr=None)

    A colon not followed by a Python name belongs to the path (a Windows drive).
    """

    source: str
    attr: str | None = None

    @classmethod
    def parse(cls, spec: str) -> TaskRef:
        """Split ``spec`` at its last colon when a Python name follows it."""
        source, colon, attr = spec.rpartition(":")
        # A colon not followed by a name belongs to the path itself (C:\tasks\x.py).
        if colon and source and attr.isidentifier():
            return cls(source, attr)
        return cls(spec)

    @property
    def is_path(self) -> bool:
        """Whether ``source`` names a file (``.py`` or a path) rather than a module."""
        return self.source.endswith(".py") or "/" in self.source or os.sep in self.source

    def absolute(self) -> str:
        """The spec with an existing task file's path made absolute, so it loads the same
        from any directory; modules, examples and missing files are left as they are."""
        if not self.is_path or not os.path.isfile(self.source):
            return str(self)
        return str(TaskRef(os.path.abspath(self.source), self.attr))

    def __str__(self) -> str:
        return self.source if self.attr is None else f"{self.source}:{self.attr}"
