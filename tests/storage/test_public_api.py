"""``lrtune.storage``'s public face."""

from __future__ import annotations

import lrtune.storage


def isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions.
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_complete_and_sorted() -> None:
    public = {name for name in vars(lrtune.storage) if not name.startswith("_")}
    assert set(lrtune.storage.__all__) == public
    assert lrtune.storage.__all__ == sorted(lrtune.storage.__all__, key=isort_key)
