"""Checks at the first batch that the model, the loader and the criterion fit together.

A task that is wrong in an ordinary way shows at its first batch: targets outside the
model's classes, a criterion that returns a number or None, or one loss per sample. Said
there, in one line that names the part at fault, instead of an index error deep inside
torch, an ``AttributeError`` at ``backward`` or, on CUDA, a device-side assert that leaves
the process unable to use the GPU. The range test (``lrtune.finder``) and the training of
studies and refine runs (``lrtune.training``) call these once per run, so the steps after
the first cost nothing.
"""

from __future__ import annotations

from typing import Any

import torch

from lrtune._exceptions import TaskError

IGNORE_INDEX = -100
"""The target that ``cross_entropy`` and ``nll_loss`` skip unless told otherwise."""


def check_targets(
    predictions: Any, targets: Any, criterion: Any, loader: str = "the loader"
) -> None:
    """Before the criterion: class-index targets must name one of the model's classes.

    Only the layout of ``cross_entropy`` is checked: float predictions ``(N, C, ...)``
    (or ``(C,)``) and integer targets ``(N, ...)`` (or ``()``). Targets equal to the
    criterion's ``ignore_index`` (-100 by default) are skipped.

    Raises:
        TaskError: A target is at least the number of classes, or negative.
    """
    if not isinstance(predictions, torch.Tensor) or not isinstance(targets, torch.Tensor):
        return
    if not predictions.is_floating_point() or not _is_integer(targets):
        return
    if predictions.dim() != targets.dim() + 1:
        return
    if targets.dim() == 0:
        classes = predictions.shape[0]
    elif predictions.shape[0] == targets.shape[0] and predictions.shape[2:] == targets.shape[1:]:
        classes = predictions.shape[1]
    else:
        return
    ignore = getattr(criterion, "ignore_index", IGNORE_INDEX)
    counted = targets[targets != ignore] if isinstance(ignore, int) else targets.flatten()
    if counted.numel() == 0:
        return
    low, high = torch.stack([counted.min(), counted.max()]).tolist()  # one read of the device
    given = f"the model gives {classes} {_classes(classes)}"
    if high >= classes:
        raise TaskError(
            f"{loader}'s targets go up to {high}, but {given}: number the classes from 0, "
            f"or give the model {high + 1} outputs."
        )
    if low < 0:
        raise TaskError(
            f"{loader}'s targets go down to {low}, but {given}: class indices start at 0."
        )


def check_loss(loss: Any, model: torch.nn.Module | None = None) -> None:
    """After the criterion: the loss must be a floating-point scalar tensor.

    With ``model`` (a training step, gradients on), it must also lead back to the model's
    parameters, or ``backward`` has nothing to differentiate.

    Raises:
        TaskError: The criterion returned something else, naming what it was.
    """
    if not isinstance(loss, torch.Tensor):
        raise TaskError(f"criterion returned {_a(loss)}, not a tensor: {_hint(loss)}")
    if loss.dim() != 0:
        raise TaskError(
            f"criterion returned a loss of shape {tuple(loss.shape)}, not a scalar: "
            "use reduction='mean' (or reduce it to one number yourself)."
        )
    if not loss.is_floating_point():
        raise TaskError(
            f"criterion returned a loss of dtype {loss.dtype}, not a floating-point tensor."
        )
    if model is None or not torch.is_grad_enabled() or loss.requires_grad:
        return
    if not any(p.requires_grad for p in model.parameters()):
        raise TaskError("model has no parameter that requires grad: there is nothing to train.")
    raise TaskError(
        "criterion returned a loss cut off from the model's output (it does not require "
        "grad): keep it a tensor, without .item(), .detach() or torch.tensor(...)."
    )


def _is_integer(tensor: torch.Tensor) -> bool:
    return not (tensor.is_floating_point() or tensor.is_complex() or tensor.dtype == torch.bool)


def _classes(count: int) -> str:
    return "class (0)" if count == 1 else f"classes (0-{count - 1})"


def _a(value: Any) -> str:
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"


def _hint(value: Any) -> str:
    if value is None:
        return "does it end in `return loss`?"
    if isinstance(value, (int, float)):
        return "return the loss tensor itself, not loss.item() or a number."
    return "return the loss as a scalar torch.Tensor."
