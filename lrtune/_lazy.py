"""Names a package exports but imports on first use, so light paths stay light."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_attributes(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``name`` from ``homes[name]`` on first use.

    The value is then set on the package, so later lookups do not come back here.
    """

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__


def homes_by_module(package: str, names_by_module: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """``lazy_attributes``'s ``homes`` from the names each private module of ``package``
    holds: ``{"_suggest": ("suggest",)}`` gives ``{"suggest": "<package>._suggest"}``."""
    return {
        name: f"{package}.{module}" for module, names in names_by_module.items() for name in names
    }
