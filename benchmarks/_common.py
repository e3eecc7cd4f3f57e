"""Helpers the benchmark scripts share: machine description, command line, JSON output.

Keep this module small and additive: several benchmark scripts import it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch


def machine_info() -> dict[str, Any]:
    """What the timings and results depend on: CPU count, platform, library versions."""
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def command_line() -> str:
    """The command exactly as typed (interpreter included), quoted for a shell."""
    return shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))


def utc_now() -> str:
    """An ISO-8601 UTC timestamp, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as strict JSON (no NaN/Infinity), atomically: a reader never sees half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")
    os.replace(partial, path)


def comma_choices(
    parser: argparse.ArgumentParser, flag: str, value: str | None, allowed: list[str]
) -> list[str]:
    """The items of a comma-separated ``value``, each one of ``allowed`` (else a usage error)."""
    if value is None:
        return []
    chosen = [item.strip() for item in value.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in allowed]
    if unknown or not chosen:
        parser.error(f"{flag} {value!r}: choose from {', '.join(allowed)}.")
    return chosen
