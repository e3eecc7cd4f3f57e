"""The validation pass: a sample-weighted mean loss and metric over a whole loader."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch

from lrtune._batch import (
    BatchFn,
    OutputFn,
    batch_size,
    default_batch_fn,
    default_output_fn,
    forward,
    to_device,
)
from lrtune._first_batch import check_loss, check_targets
from lrtune.tasks import Metric
from lrtune.training._stopping import stop_if_asked

Criterion = Callable[[Any, Any], torch.Tensor]


@dataclass(frozen=True)
class Evaluation:
    """The result of one validation pass.

    Args:
        loss: The loss averaged over every sample of the loader.
        metric: The metric averaged over every sample, or ``None`` without a metric.
    """

    loss: float
    metric: float | None = None


def evaluate(
    model: torch.nn.Module,
    loader: Iterable[Any],
    criterion: Criterion,
    *,
    device: torch.device | str = "cpu",
    batch_fn: BatchFn = default_batch_fn,
    output_fn: OutputFn = default_output_fn,
    metric: Metric | None = None,
) -> Evaluation:
    """Evaluate ``model`` on ``loader`` in eval mode and without gradients.

    Batch means are weighted by batch size, so a short last batch counts for what it
    holds. The model's train/eval mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return _accumulate(
                model, loader, criterion, torch.device(device), batch_fn, output_fn, metric
            )
    finally:
        model.train(was_training)


def _accumulate(
    model: torch.nn.Module,
    loader: Iterable[Any],
    criterion: Criterion,
    device: torch.device,
    batch_fn: BatchFn,
    output_fn: OutputFn,
    metric: Metric | None,
) -> Evaluation:
    # The loss sum stays a tensor so the pass reads the device once, at the end.
    loss_sum, metric_sum, count = torch.zeros((), device=device), 0.0, 0
    for batch in loader:
        inputs, targets = batch_fn(batch)
        inputs, targets = to_device(inputs, device), to_device(targets, device)
        predictions = output_fn(forward(model, inputs))
        size = batch_size(targets)
        if count == 0:  # the first batch: one read of the device, then none per batch
            check_targets(predictions, targets, criterion)
            loss = criterion(predictions, targets)
            check_loss(loss)
        else:
            loss = criterion(predictions, targets)
        loss_sum += loss.detach().float() * size
        if metric is not None:
            metric_sum += float(metric.fn(predictions, targets)) * size
        count += size
        stop_if_asked()
    if count == 0:
        raise ValueError("loader is empty: it yielded no batch.")
    return Evaluation(loss_sum.item() / count, None if metric is None else metric_sum / count)
