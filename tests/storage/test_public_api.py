"""``lrtune.storage``'s public face."""

from __future__ import annotations

import lrtune.storage


def isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions.
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_complete_and_sorted() -> None:
    # Names loaded on first use (the proxy's gRPC relay) are public too, loaded or not.
    public = {
        name
        for name, value in vars(lrtune.storage).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("lrtune")
    } | set(lrtune.storage._HOMES)
    constants = {"DEFAULT_STORAGE", "SCHEMA_VERSION"}
    assert set(lrtune.storage.__all__) == public | constants
    assert all(getattr(lrtune.storage, name) is not None for name in lrtune.storage.__all__)
    assert lrtune.storage.__all__ == sorted(lrtune.storage.__all__, key=isort_key)
