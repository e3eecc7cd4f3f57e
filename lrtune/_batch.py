"""Turning any batch into (inputs, targets) and any model output into a tensor.

Users whose data or models do not follow the ``(inputs, targets)`` / tensor-output
convention pass their own ``batch_fn`` and ``output_fn``; these defaults cover tuples,
dicts and the ``.logits`` objects returned by many model libraries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

BatchFn = Callable[[Any], tuple[Any, Any]]
OutputFn = Callable[[Any], torch.Tensor]

TARGET_KEYS = ("target", "targets", "label", "labels", "y")


def default_batch_fn(batch: Any) -> tuple[Any, Any]:
    """Split a batch into ``(inputs, targets)``.

    A sequence of two is ``(inputs, targets)``; a longer sequence is ``(*inputs, targets)``;
    a mapping holds its targets under one of ``TARGET_KEYS`` and its inputs under the rest.
    """
    if type(batch) in (tuple, list) and len(batch) == 2:
        return batch[0], batch[1]  # the common case, ahead of the slower ABC checks
    if isinstance(batch, Mapping):
        return _split_mapping(batch)
    if isinstance(batch, Sequence) and not isinstance(batch, str) and len(batch) >= 2:
        if len(batch) == 2:
            return batch[0], batch[1]
        return tuple(batch[:-1]), batch[-1]
    raise TypeError(
        f"Cannot split a batch of type {type(batch).__name__} into inputs and targets; "
        "pass batch_fn=... to say how."
    )


def _split_mapping(batch: Mapping[str, Any]) -> tuple[Any, Any]:
    keys = [key for key in TARGET_KEYS if key in batch]
    if len(keys) != 1:
        raise TypeError(
            f"A dict batch needs exactly one target key of {TARGET_KEYS}, but has "
            f"{sorted(batch)}; pass batch_fn=... to say how to split it."
        )
    inputs = {name: value for name, value in batch.items() if name != keys[0]}
    return inputs, batch[keys[0]]


def default_output_fn(output: Any) -> torch.Tensor:
    """Return the prediction tensor of a model output (tensor, tuple, dict or object)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Mapping) and "logits" in output:
        return output["logits"]
    if hasattr(output, "logits"):
        return output.logits
    if isinstance(output, Sequence) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise TypeError(
        f"Cannot find the prediction in a model output of type {type(output).__name__}; "
        "pass output_fn=... to say where it is."
    )


def batch_size(targets: Any) -> int:
    """The number of samples in a batch, read from its targets (1 if they have no length)."""
    if isinstance(targets, torch.Tensor) and targets.dim() > 0:
        return int(targets.shape[0])
    return 1


def forward(model: torch.nn.Module, inputs: Any) -> Any:
    """Call ``model`` with ``inputs`` spread as keyword or positional arguments."""
    if isinstance(inputs, torch.Tensor):
        return model(inputs)
    if isinstance(inputs, Mapping):
        return model(**inputs)
    if isinstance(inputs, tuple):
        return model(*inputs)
    return model(inputs)


def to_device(obj: Any, device: torch.device, *, non_blocking: bool = False) -> Any:
    """Move every tensor inside nested tuples, lists and dicts to ``device``."""
    if isinstance(obj, torch.Tensor):
        # Skipping a same-device .to() saves a dispatcher round trip on every step.
        return obj if obj.device == device else obj.to(device, non_blocking=non_blocking)
    if isinstance(obj, Mapping):
        return {
            key: to_device(value, device, non_blocking=non_blocking) for key, value in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(value, device, non_blocking=non_blocking) for value in obj)
    return obj
