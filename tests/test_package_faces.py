"""Sub-packages import each other through their ``__init__``, never a private module.

A back-door import reaches into another package's private module
(``from lrtune.finder._suggest import X`` outside ``lrtune/finder/``). A package's own
files may import its private modules, and ``lrtune/_*.py`` are shared by every package.
Every import counts: at module level, in a function, under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from pathlib import Path

import lrtune

ROOT = Path(lrtune.__file__).parent


def back_doors(source: str, path: str) -> list[str]:
    """``path:line: import`` for each import in ``source`` (the file at ``path``, relative
    to the folder holding ``lrtune/``) that goes past another package's ``__init__``."""
    home = ".".join(Path(path).parent.parts)
    imports = [
        node
        for node in ast.walk(ast.parse(source, filename=path))
        if isinstance(node, ast.Import | ast.ImportFrom)
        and any(_is_back_door(name, home) for name in _imported(node, home))
    ]
    return [f"{path}:{node.lineno}: {ast.unparse(node)}" for node in sorted(imports, key=_line)]


def _line(node: ast.stmt) -> int:
    return node.lineno


def _imported(node: ast.Import | ast.ImportFrom, home: str) -> Iterator[str]:
    """Every dotted name ``node`` reaches, the names a ``from`` import takes included
    (``from lrtune.finder import _state`` reaches ``lrtune.finder._state``)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    module = _absolute(node.module, node.level, home)
    yield module
    yield from (f"{module}.{alias.name}" for alias in node.names if alias.name != "*")


def _absolute(module: str | None, level: int, home: str) -> str:
    """A relative import's module: level 1 is the importing file's own package."""
    if level == 0:
        return module or ""
    parts = home.split(".")
    base = parts[: len(parts) - level + 1]
    return ".".join([*base, module] if module else base)


def _is_back_door(name: str, home: str) -> bool:
    parts = name.split(".")
    if parts[0] != "lrtune":
        return False
    # parts[1] private is a shared top-level module (lrtune._lazy); past it, the first
    # private part belongs to the package named by the parts before it.
    for index in range(2, len(parts)):
        if parts[index].startswith("_"):
            owner = ".".join(parts[:index])
            return home != owner and not home.startswith(f"{owner}.")
    return False


def test_no_package_imports_another_through_a_back_door() -> None:
    offenders = [
        line
        for file in sorted(ROOT.rglob("*.py"))
        for line in back_doors(file.read_text(), file.relative_to(ROOT.parent).as_posix())
    ]
    assert not offenders, "import these from the package instead:\n" + "\n".join(offenders)


BACK_DOORS = textwrap.dedent(
    """
    from typing import TYPE_CHECKING

    from lrtune.finder._suggest import BOUNDS_RATIO
    import lrtune.finder._state

    if TYPE_CHECKING:
        from lrtune.tasks._task import Task


    def later():
        from lrtune.finder import _horizon
        from .._exceptions import TaskError
        from ..refine._plan import plan
    """
)

FRONT_DOORS = textwrap.dedent(
    """
    from typing import TYPE_CHECKING

    import lrtune.finder
    from lrtune._lazy import lazy_attributes
    from lrtune.finder import BOUNDS_RATIO
    from lrtune.schedules._base import Length
    from ._registry import SCHEDULES
    from . import _step

    if TYPE_CHECKING:
        from lrtune.tasks import Task


    def later():
        from lrtune.refine import plan
        import lrtune.schedules._warmup
    """
)


def test_the_check_finds_back_doors_at_any_depth() -> None:
    found = back_doors(BACK_DOORS, "lrtune/schedules/_cyclic.py")

    assert found == [
        "lrtune/schedules/_cyclic.py:4: from lrtune.finder._suggest import BOUNDS_RATIO",
        "lrtune/schedules/_cyclic.py:5: import lrtune.finder._state",
        "lrtune/schedules/_cyclic.py:8: from lrtune.tasks._task import Task",
        "lrtune/schedules/_cyclic.py:12: from lrtune.finder import _horizon",
        "lrtune/schedules/_cyclic.py:14: from ..refine._plan import plan",
    ]


def test_the_check_passes_the_face_and_a_package_s_own_modules() -> None:
    assert back_doors(FRONT_DOORS, "lrtune/schedules/_cyclic.py") == []
    assert back_doors(FRONT_DOORS, "lrtune/schedules/__init__.py") == []


def test_the_check_stops_a_top_level_module_at_the_face() -> None:
    source = "from lrtune.finder._state import RngState\nfrom lrtune._batch import forward\n"

    assert back_doors(source, "lrtune/optimizers.py") == [
        "lrtune/optimizers.py:1: from lrtune.finder._state import RngState"
    ]
