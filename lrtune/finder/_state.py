"""Saving and restoring everything a range test touches.

A range test trains the user's own model and optimizer. Users report finders that left
later training different (pytorch-lr-finder #11, Lightning #6675), so lrtune snapshots
weights, buffers (BatchNorm statistics), gradients, train/eval flags, optimizer state and
param-group hyperparameters, every RNG, and the GradScaler, and puts them back exactly.

Schedule-Free optimizers have a train/eval mode of their own (their weights differ between
the two); a sweep needs train mode, and the mode is put back with everything else.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


@dataclass
class RngState:
    python_state: Any
    numpy_state: Any
    torch_state: torch.Tensor
    cuda_states: list[torch.Tensor] | None
    generators: list[tuple[torch.Generator, torch.Tensor]] = field(default_factory=list)

    @classmethod
    def capture(cls, generators: Iterable[torch.Generator] = ()) -> RngState:
        """The global RNGs, and ``generators`` (a DataLoader's own, for instance)."""
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
        own = [(generator, generator.get_state()) for generator in generators]
        return cls(random.getstate(), np.random.get_state(), torch.get_rng_state(), cuda, own)

    def restore(self) -> None:
        random.setstate(self.python_state)
        np.random.set_state(self.numpy_state)
        torch.set_rng_state(self.torch_state)
        if self.cuda_states is not None:
            torch.cuda.set_rng_state_all(self.cuda_states)
        for generator, state in self.generators:
            generator.set_state(state)


def loader_generators(*loaders: object) -> list[torch.Generator]:
    """The ``torch.Generator``s a DataLoader shuffles and seeds its workers with.

    A loader built with ``generator=`` draws from it rather than from the global RNG, so
    a sweep over that loader would otherwise change the order of every later epoch.
    """
    found: dict[int, torch.Generator] = {}
    for loader in loaders:
        batch_sampler = getattr(loader, "batch_sampler", None)
        owners = (loader, getattr(loader, "sampler", None), getattr(batch_sampler, "sampler", None))
        for owner in owners:
            generator = getattr(owner, "generator", None)
            if isinstance(generator, torch.Generator):
                found[id(generator)] = generator
    return list(found.values())


def has_train_mode(optimizer: object) -> bool:
    """Whether ``optimizer`` has a train/eval mode of its own (Schedule-Free's).

    Told by duck typing, so that every Schedule-Free class qualifies without importing
    the package: ``train()`` and ``eval()`` methods, and a ``train_mode`` flag in each
    param group (``AdamWScheduleFree`` and kin) or on the optimizer itself
    (``ScheduleFreeWrapper``).
    """
    if not all(callable(getattr(optimizer, method, None)) for method in ("train", "eval")):
        return False
    groups = getattr(optimizer, "param_groups", None) or [{}]
    return isinstance(getattr(optimizer, "train_mode", None), bool) or "train_mode" in groups[0]


@dataclass
class TrainingState:
    """A copy of the model, optimizer, RNG and scaler state, taken before a sweep.

    ``loaders`` are searched for their own generators (see ``loader_generators``).

    Tensors are copied to the CPU so a sweep on a full GPU does not need twice the memory.
    Buffers are kept by (module, name): moving a module replaces its buffer objects.
    """

    params: list[tuple[torch.nn.Parameter, torch.device, torch.Tensor]]
    buffers: list[tuple[torch.nn.Module, str, torch.device, torch.Tensor]]
    grads: list[torch.Tensor | None]
    modes: list[tuple[torch.nn.Module, bool]]
    optimizer: dict[str, Any]
    rng: RngState
    scaler: dict[str, Any] | None
    optimizer_mode: bool | None = None
    """A ``ScheduleFreeWrapper``'s own ``train_mode``, which its state dict leaves out
    (param groups' ``train_mode`` keys are in the state dict)."""

    @classmethod
    def capture(
        cls,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler | None = None,
        loaders: Iterable[object] = (),
    ) -> TrainingState:
        params = list(model.parameters())
        return cls(
            params=[(p, p.device, _cpu_copy(p)) for p in params],
            buffers=[
                (module, name, buffer.device, _cpu_copy(buffer))
                for module in model.modules()
                for name, buffer in module._buffers.items()
                if buffer is not None
            ],
            grads=[None if p.grad is None else _cpu_copy(p.grad) for p in params],
            modes=[(module, module.training) for module in model.modules()],
            optimizer=_clone_tree(optimizer.state_dict()),
            rng=RngState.capture(loader_generators(*loaders)),
            scaler=None if scaler is None else copy.deepcopy(scaler.__dict__),
            optimizer_mode=_own_train_mode(optimizer),
        )

    def restore(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler | None = None,
    ) -> None:
        """Put everything back; tensors return to their original devices."""
        for (param, device, saved), grad in zip(self.params, self.grads, strict=True):
            param.data = saved.to(device)
            param.grad = None if grad is None else grad.to(device)
        for module, name, device, saved in self.buffers:
            module._buffers[name] = saved.to(device)
        for module, training in self.modes:
            module.training = training
        optimizer.load_state_dict(self.optimizer)
        if self.optimizer_mode is not None:
            # Set, not switched by train()/eval(): those would move the restored weights.
            optimizer.train_mode = self.optimizer_mode  # type: ignore[attr-defined]
        self.rng.restore()
        if scaler is not None and self.scaler is not None:
            scaler.__dict__.update(copy.deepcopy(self.scaler))


def _own_train_mode(optimizer: object) -> bool | None:
    mode = getattr(optimizer, "train_mode", None)
    return mode if isinstance(mode, bool) and has_train_mode(optimizer) else None


def _clone_tree(value: Any) -> Any:
    """A deep copy of an optimizer state dict: tensors cloned, containers rebuilt.

    ``copy.deepcopy`` does the same through its generic machinery at several times the
    cost, which shows on small models where a sweep takes milliseconds.
    """
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {key: _clone_tree(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_clone_tree(item) for item in value)
    return (
        copy.deepcopy(value)
        if not isinstance(value, (int, float, str, bool, type(None)))
        else value
    )


def _cpu_copy(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.detach().to("cpu", copy=True)
