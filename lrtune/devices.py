"""Where a run trains: ``"auto"``, a device name or a ``torch.device``, checked up front."""

from __future__ import annotations

import torch


def resolve_device(
    device: str | torch.device | None, model: torch.nn.Module | None = None
) -> torch.device:
    """``"auto"``: CUDA when present, else MPS, else the CPU; ``None``: where ``model`` is
    (the CPU without a model, or for one without parameters).

    Raises:
        ValueError: ``device`` is not a valid torch device, or names CUDA where there is none.
    """
    if device is None:
        return _device_of(model)
    if device == "auto":
        return _best_device()
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device {device!r} is not a valid torch device: {error}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for, but CUDA is not available.")
    return resolved


def _device_of(model: torch.nn.Module | None) -> torch.device:
    parameters = () if model is None else model.parameters()
    return next((p.device for p in parameters), torch.device("cpu"))


def _best_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


__all__ = ["resolve_device"]
