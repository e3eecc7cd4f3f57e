from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lrtune.tasks import Metric
from lrtune.training import Evaluation, accuracy, evaluate


class Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def tiny_loader() -> DataLoader:
    predictions = torch.tensor([[1.0], [2.0], [3.0], [4.0], [5.0]])
    return DataLoader(TensorDataset(predictions, torch.zeros(5, 1)), batch_size=2)


def test_loss_is_the_sample_weighted_mean_over_unequal_batches() -> None:
    result = evaluate(Identity(), tiny_loader(), nn.MSELoss())
    # Batches of 2, 2 and 1: the per-sample mean, not the mean of the three batch means.
    assert result.loss == pytest.approx((1 + 4 + 9 + 16 + 25) / 5)
    assert result.metric is None


def test_metric_is_the_sample_weighted_mean() -> None:
    metric = Metric("first-half", lambda p, t: float((p[:, 0] < 3).float().mean()))
    result = evaluate(Identity(), tiny_loader(), nn.MSELoss(), metric=metric)
    assert result.metric == pytest.approx(2 / 5)


def test_restores_train_mode_and_computes_no_gradients() -> None:
    model = nn.Sequential(nn.Linear(1, 1), nn.Dropout(0.5))
    model.train()
    evaluate(model, tiny_loader(), nn.MSELoss())
    assert model.training
    assert all(parameter.grad is None for parameter in model.parameters())


def test_keeps_eval_mode_when_called_in_eval_mode() -> None:
    model = nn.Linear(1, 1).eval()
    evaluate(model, tiny_loader(), nn.MSELoss())
    assert not model.training


def test_empty_loader_is_an_error() -> None:
    empty = DataLoader(TensorDataset(torch.zeros(0, 1), torch.zeros(0, 1)), batch_size=2)
    with pytest.raises(ValueError, match="empty"):
        evaluate(Identity(), empty, nn.MSELoss())


def test_evaluation_is_frozen() -> None:
    with pytest.raises(AttributeError):
        Evaluation(1.0).loss = 2.0  # type: ignore[misc]


def test_accuracy_of_class_scores_uses_the_argmax() -> None:
    scores = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert accuracy(scores, torch.tensor([1, 0, 0, 0])) == pytest.approx(0.75)


@pytest.mark.parametrize("shape", [(4,), (4, 1)])
def test_accuracy_of_binary_logits_thresholds_at_zero(shape: tuple[int, ...]) -> None:
    logits = torch.tensor([2.0, -1.0, 0.5, -3.0]).reshape(shape)
    targets = torch.tensor([1.0, 0.0, 0.0, 0.0]).reshape(shape)
    assert accuracy(logits, targets) == pytest.approx(0.75)


def test_accuracy_of_a_single_logit_column_with_flat_targets() -> None:
    logits = torch.tensor([[2.0], [-1.0]])
    assert accuracy(logits, torch.tensor([1.0, 1.0])) == pytest.approx(0.5)
