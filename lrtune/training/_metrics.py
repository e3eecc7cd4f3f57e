"""Validation metrics for ``lrtune.Metric``."""

from __future__ import annotations

import torch


def accuracy(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of correct predictions in a batch.

    Class scores of shape ``(N, C)`` with ``C > 1`` are read by their argmax; anything
    else (``(N,)`` or ``(N, 1)``) is taken as binary logits and thresholded at 0.
    """
    if predictions.dim() > targets.dim() and predictions.shape[-1] > 1:
        labels = predictions.argmax(dim=-1)
    else:
        labels = (predictions > 0).reshape(targets.shape)
    return (labels.to(targets.dtype) == targets).float().mean().item()
