"""Training with the third-party families: Schedule-Free evaluated at its averaged weights,
and the learning-rate-free ones at their documented default LR."""

from __future__ import annotations

import math

import pytest
import torch

from lrtune.examples import load_example
from lrtune.optimizers import OPTIMIZERS
from lrtune.tasks import Task
from lrtune.training import TrainingConfig, seed_everything, train, train_constant_lr

SEED = 3
EPOCHS = 3
LR = 0.01


@pytest.fixture(scope="module")
def logreg() -> Task:
    return load_example("breast-cancer-logreg")


def _val_loss(task: Task, model: torch.nn.Module) -> float:
    """The sample-weighted mean loss over the validation set, as ``evaluate`` takes it."""
    model.eval()
    total, count = torch.zeros(()), 0
    with torch.no_grad():
        for batch in task.make_val_loader():
            inputs, targets = task.batch_fn(batch)
            size = len(targets)
            total += task.criterion(task.output_fn(model(inputs)), targets).float() * size
            count += size
    return total.item() / count


def reference_val_losses(task: Task, *, optimizer_eval: bool) -> list[float]:
    """Schedule-Free's documented loop, by hand: ``optimizer.train()`` before training,
    ``optimizer.eval()`` before evaluating (left out with ``optimizer_eval=False``)."""
    schedulefree = pytest.importorskip("schedulefree")
    seed_everything(SEED)
    model = task.build_model()
    optimizer = schedulefree.AdamWScheduleFree(model.parameters(), lr=LR)
    train_loader = task.make_train_loader()
    losses = []
    for epoch in range(EPOCHS + 1):
        if epoch > 0:
            model.train()
            optimizer.train()
            for batch in train_loader:
                inputs, targets = task.batch_fn(batch)
                loss = task.criterion(task.output_fn(model(inputs)), targets)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        if optimizer_eval:
            optimizer.eval()
        losses.append(_val_loss(task, model))
    return losses


def test_schedule_free_is_validated_at_its_averaged_weights(logreg: Task) -> None:
    run = train_constant_lr(logreg, "schedulefree-adamw", LR, seed=SEED, epochs=EPOCHS)
    assert [run.initial_val_loss, *run.val_losses] == reference_val_losses(
        logreg, optimizer_eval=True
    )


def test_schedule_free_validated_at_its_training_weights_would_differ(logreg: Task) -> None:
    run = train_constant_lr(logreg, "schedulefree-adamw", LR, seed=SEED, epochs=EPOCHS)
    without_eval = reference_val_losses(logreg, optimizer_eval=False)
    assert run.initial_val_loss == without_eval[0]  # no step yet: both points coincide
    for trained, at_train_weights in zip(run.val_losses, without_eval[1:], strict=True):
        assert trained != at_train_weights


@pytest.mark.parametrize(
    ("name", "module"), [("prodigy", "prodigyopt"), ("dadapt-adam", "dadaptation"), ("dog", "dog")]
)
def test_lr_free_optimizers_train_at_their_default_lr(name: str, module: str, logreg: Task) -> None:
    pytest.importorskip(module)
    family = OPTIMIZERS.get(name)
    assert family.lr_free and family.default_lr is not None
    run = train_constant_lr(logreg, name, family.default_lr)
    assert not run.diverged
    assert math.isfinite(run.final_val_loss)
    assert run.final_val_loss < run.initial_val_loss


def test_schedule_free_refuses_a_schedule(logreg: Task) -> None:
    config = TrainingConfig("schedulefree-adamw", LR, schedule="cosine")
    with pytest.raises(ValueError, match=r"takes only the schedules \('constant',\).*'cosine'"):
        train(logreg, config, epochs=1)
