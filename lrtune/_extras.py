"""The optional parts of lrtune and what each needs installed: ``pip install "lrtune[NAME]"``.

``pip install lrtune`` gives the range test, studies, workers and reports. The dashboard,
the storage proxy (and ``grpc://`` workers) and Parquet exports need more; each checks for
its extra where it starts and names it in one line when it is missing.
"""

from __future__ import annotations

import importlib

from lrtune._exceptions import MissingExtraError

EXTRAS: dict[str, tuple[str, ...]] = {
    "dashboard": ("starlette", "uvicorn", "jinja2"),
    "proxy": ("grpc", "google.protobuf"),
    "parquet": ("pyarrow",),
}
"""Each extra's name and the modules it installs (``pyproject.toml`` lists the packages)."""


def require(extra: str, what: str) -> None:
    """Raise ``MissingExtraError`` naming ``extra`` if a module it installs cannot be imported.

    ``what``: the feature, as the message names it ("lrtune dashboard").
    """
    for module in EXTRAS[extra]:
        try:
            importlib.import_module(module)
        except ImportError:
            raise MissingExtraError(
                f"{what} needs lrtune's {extra} extra ({module} is not installed): "
                f"pip install 'lrtune[{extra}]'"
            ) from None
