"""The one place where user-facing strings become objects."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from lrtune._exceptions import RegistryError

T = TypeVar("T")


class Registry(Generic[T]):
    """A case-insensitive mapping from names to objects of one kind.

    Args:
        kind: What the registry holds, used in error messages ("optimizer").
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that registers ``obj`` under ``name``."""

        def decorator(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorator

    def add(self, name: str, obj: T) -> None:
        key = name.lower()
        if key in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered.")
        self._entries[key] = obj

    def get(self, name: str) -> T:
        try:
            return self._entries[name.lower()]
        except KeyError:
            choices = ", ".join(self.names())
            raise RegistryError(
                f"Unknown {self.kind} {name!r}; choose one of: {choices}."
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
