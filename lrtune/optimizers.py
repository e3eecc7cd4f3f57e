"""Optimizer families: how each is built, and which of its parameters a study may search.

``OPTIMIZERS`` is the registry the CLI, study files and Optuna choices use. A family builds
an optimizer from parameters, a learning rate and keyword options named as ``torch.optim``
names them; its searchable ``params`` use the names a study reports (``beta1`` and
``beta2`` become torch's ``betas``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from lrtune._params import Param
from lrtune._registry import Registry


@dataclass(frozen=True)
class OptimizerFamily:
    """One optimizer class, lrtune's defaults for it, and its searchable parameters.

    Args:
        name: The registry name (``"adamw"``).
        cls: The ``torch.optim`` class.
        defaults: Keyword options applied unless overridden (SGD's momentum 0.9).
        params: What a study searches besides the learning rate.
    """

    name: str
    cls: Callable[..., torch.optim.Optimizer]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    params: tuple[Param, ...] = ()

    def __call__(self, params: Iterable[Any], lr: float, **options: Any) -> torch.optim.Optimizer:
        """Build the optimizer; ``options`` use torch's names and override the defaults."""
        return self.cls(params, lr=lr, **{**self.defaults, **options})

    def kwargs(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Torch keyword options for searched ``values`` (``beta1``/``beta2`` -> ``betas``)."""
        options = {**self.defaults, **values}
        if "beta1" in options or "beta2" in options:
            torch_betas = inspect.signature(self.cls).parameters["betas"].default
            beta1 = options.pop("beta1", torch_betas[0])
            beta2 = options.pop("beta2", torch_betas[1])
            options["betas"] = (beta1, beta2)
        return options

    def code(self, lr: float, values: Mapping[str, Any], model: str = "model") -> str:
        """A line of Python building this optimizer for ``model`` with ``values``."""
        arguments = [f"{model}.parameters()", f"lr={lr!r}"]
        arguments += [f"{key}={value!r}" for key, value in self.kwargs(values).items()]
        class_name = getattr(self.cls, "__name__", self.name)
        return f"optimizer = torch.optim.{class_name}({', '.join(arguments)})"

    def param_defaults(self) -> dict[str, Any]:
        """Every searchable parameter at its default."""
        return {param.name: param.default for param in self.params}


_DECAY = (0.0, 1.0)  # limits: what makes sense at all, beyond the searched range


def _weight_decay(default: float, low: float, high: float) -> Param:
    help = "L2 penalty / decoupled decay"
    return Param("weight_decay", default, low, high, log=True, help=help, limits=(0.0, 10.0))


_BETAS = (
    Param("beta1", 0.9, 0.8, 0.95, help="first-moment decay (Adam's momentum)", limits=_DECAY),
    Param("beta2", 0.999, 0.95, 0.9999, help="second-moment decay", limits=_DECAY),
)
_ADAM_DECAY = _weight_decay(1e-6, 1e-7, 1e-3)

OPTIMIZERS: Registry[OptimizerFamily] = Registry("optimizer")

for _family in (
    OptimizerFamily(
        "sgd",
        torch.optim.SGD,
        {"momentum": 0.9},
        (
            Param("momentum", 0.9, 0.5, 0.99, limits=_DECAY),
            Param("nesterov", False, choices=(False, True)),
            _weight_decay(5e-4, 1e-6, 1e-2),
        ),
    ),
    OptimizerFamily("adam", torch.optim.Adam, {}, (*_BETAS, _ADAM_DECAY)),
    OptimizerFamily(
        "adamw",
        torch.optim.AdamW,
        {"weight_decay": 0.01},
        (*_BETAS, _weight_decay(0.01, 1e-4, 0.3)),
    ),
    OptimizerFamily("nadam", torch.optim.NAdam, {}, (*_BETAS, _ADAM_DECAY)),
    OptimizerFamily(
        "rmsprop",
        torch.optim.RMSprop,
        {},
        (
            Param("alpha", 0.99, 0.9, 0.999, help="squared-gradient decay", limits=_DECAY),
            Param("momentum", 0.0, 0.0, 0.95, limits=_DECAY),
            _ADAM_DECAY,
        ),
    ),
    OptimizerFamily("radam", torch.optim.RAdam, {}, (*_BETAS, _ADAM_DECAY)),
):
    OPTIMIZERS.add(_family.name, _family)


def build_optimizer(
    name: str, params: Iterable[Any], lr: float, **options: Any
) -> torch.optim.Optimizer:
    """Build the optimizer registered as ``name`` (for example ``"adamw"``)."""
    return OPTIMIZERS.get(name)(params, lr, **options)
