"""Optimizer families: how each is built, and which of its parameters a study may search.

``OPTIMIZERS`` is the registry the CLI, study files and Optuna choices use. A family builds
an optimizer from parameters, a learning rate and keyword options named as ``torch.optim``
names them; its searchable ``params`` use the names a study reports (``beta1`` and
``beta2`` become torch's ``betas``).

Besides ``torch.optim``, four third-party families are registered (``pip install
"lrtune[lrfree]"``); their packages are imported only when one is built, so ``import
lrtune`` works without them:

- learning-rate-free ``prodigy``, ``dadapt-adam`` and ``dog``, which estimate their own
  step size: their ``lr`` (1.0 by default) only scales that estimate;
- schedule-free ``schedulefree-adamw``, whose ``lr`` matters as much as AdamW's, which
  averages its iterates instead of following a schedule, and which evaluates at the
  averaged weights: ``optimizer.train()`` before training steps, ``optimizer.eval()``
  before every evaluation.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from lrtune._exceptions import LRTuneError
from lrtune._params import Param
from lrtune._registry import Registry

EXTRA = "lrfree"
"""The extra of lrtune that installs every third-party optimizer package."""


@dataclass(frozen=True)
class OptimizerFamily:
    """One optimizer class, lrtune's defaults for it, and its searchable parameters.

    Args:
        name: The registry name (``"adamw"``).
        cls: The ``torch.optim`` class, or the import path of a third-party one
            (``"prodigyopt.Prodigy"``), imported only when it is first needed.
        defaults: Keyword options applied unless overridden (SGD's momentum 0.9).
        params: What a study searches besides the learning rate.
        default_lr: The learning rate its authors document as the default; ``None`` for
            torch's own, whose LR a range test finds.
        lr_free: It estimates its own step size, so ``lr`` only scales that estimate
            (Prodigy, D-Adaptation, DoG): a study runs no range test for it and searches
            ``lr`` around ``default_lr``.
        needs_train_eval: It must be switched by ``optimizer.train()`` before training
            steps and ``optimizer.eval()`` before every evaluation (Schedule-Free, whose
            weights differ between the two).
        schedules: The schedules it may be trained with (Schedule-Free's averaging takes
            the place of a schedule: ``("constant",)``); ``None`` for any.
        package: The pip package a third-party ``cls`` comes from, when its name is not
            the module's (``dog-optimizer`` for ``dog``).
    """

    name: str
    cls: Callable[..., torch.optim.Optimizer] | str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    params: tuple[Param, ...] = ()
    default_lr: float | None = None
    lr_free: bool = False
    needs_train_eval: bool = False
    schedules: tuple[str, ...] | None = None
    package: str | None = None

    def __call__(self, params: Iterable[Any], lr: float, **options: Any) -> torch.optim.Optimizer:
        """Build the optimizer; ``options`` use torch's names and override the defaults."""
        return self.optimizer_class()(params, lr=lr, **{**self.defaults, **options})

    def optimizer_class(self) -> Callable[..., torch.optim.Optimizer]:
        """The optimizer class, imported now if it is a third-party one.

        Raises:
            lrtune.LRTuneError: Its package is not installed (the message says how to).
        """
        if not isinstance(self.cls, str):
            return self.cls
        module_name, _, class_name = self.cls.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name.split(".")[0]:
                raise  # the package is there, but something it imports is not
            raise LRTuneError(self._install_hint(module_name)) from None
        optimizer_class: Callable[..., torch.optim.Optimizer] = getattr(module, class_name)
        return optimizer_class

    def _install_hint(self, module_name: str) -> str:
        package = self.package or module_name.split(".")[0]
        return (
            f"Optimizer {self.name!r} needs the package {package}: pip install {package} "
            f'(or pip install "lrtune[{EXTRA}]")'
        )

    def allows_schedule(self, schedule: str) -> bool:
        """Whether this optimizer may be trained with the schedule named ``schedule``."""
        return self.schedules is None or schedule in self.schedules

    def kwargs(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Torch keyword options for searched ``values`` (``beta1``/``beta2`` -> ``betas``)."""
        options = {**self.defaults, **values}
        if "beta1" in options or "beta2" in options:
            # Default betas given in ``defaults`` spare importing a third-party class.
            betas = options.pop("betas", None) or self._signature_default("betas")
            beta1 = options.pop("beta1", betas[0])
            beta2 = options.pop("beta2", betas[1])
            options["betas"] = (beta1, beta2)
        return options

    def _signature_default(self, name: str) -> Any:
        return inspect.signature(self.optimizer_class()).parameters[name].default

    def imports(self) -> tuple[str, ...]:
        """The import lines ``code`` needs besides ``import torch``."""
        if isinstance(self.cls, str):
            return (f"import {self.cls.rpartition('.')[0]}",)
        return ()

    def code(self, lr: float, values: Mapping[str, Any], model: str = "model") -> str:
        """A line of Python building this optimizer for ``model`` with ``values``.

        A third-party class is named by its module (``schedulefree.AdamWScheduleFree``);
        ``imports`` gives the line that imports it.
        """
        arguments = [f"{model}.parameters()", f"lr={lr!r}"]
        arguments += [f"{key}={value!r}" for key, value in self.kwargs(values).items()]
        return f"optimizer = {self._class_path()}({', '.join(arguments)})"

    def _class_path(self) -> str:
        if isinstance(self.cls, str):
            return self.cls
        return f"torch.optim.{getattr(self.cls, '__name__', self.name)}"


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
    # Third-party families keep their packages' defaults but one (D-Adaptation's bias
    # correction). Prodigy's and Schedule-Free's weight decay is decoupled (AdamW's kind),
    # D-Adaptation's and DoG's an L2 penalty.
    OptimizerFamily(
        "prodigy",
        "prodigyopt.Prodigy",
        params=(_weight_decay(1e-4, 1e-5, 0.1),),
        default_lr=1.0,
        lr_free=True,
    ),
    OptimizerFamily(
        "schedulefree-adamw",
        "schedulefree.AdamWScheduleFree",
        # Its betas, spelled out so that generated code needs no import to read them.
        {"betas": (0.9, 0.999)},
        (
            Param(
                "beta1",
                0.9,
                0.8,
                0.98,
                help="momentum (gradients taken between x and z)",
                limits=_DECAY,
            ),
            _weight_decay(1e-4, 1e-5, 0.1),
        ),
        default_lr=0.0025,
        needs_train_eval=True,
        schedules=("constant",),
    ),
    OptimizerFamily(
        "dadapt-adam",
        "dadaptation.DAdaptAdam",
        # Adam's bias correction, off in the package: without it the first steps divide
        # by a second moment still near zero, and at lr=1 runs of a few hundred steps
        # diverged (4 of 5 seeds on diabetes-mlp) or ended above their start (logreg).
        {"use_bias_correction": True},
        (_ADAM_DECAY,),
        default_lr=1.0,
        lr_free=True,
    ),
    OptimizerFamily(
        "dog",
        "dog.DoG",
        params=(
            Param(
                "reps_rel",
                1e-6,
                1e-8,
                1e-4,
                log=True,
                help="first step relative to the weights' norm (r_epsilon)",
                limits=(1e-12, 1.0),
            ),
            _ADAM_DECAY,
        ),
        default_lr=1.0,
        lr_free=True,
        package="dog-optimizer",
    ),
):
    OPTIMIZERS.add(_family.name, _family)


def build_optimizer(
    name: str, params: Iterable[Any], lr: float, **options: Any
) -> torch.optim.Optimizer:
    """Build the optimizer registered as ``name`` (for example ``"adamw"``)."""
    return OPTIMIZERS.get(name)(params, lr, **options)


def check_installed(names: Iterable[str]) -> None:
    """Import the class of every optimizer named, so that a missing package fails now.

    Raises:
        lrtune.LRTuneError: A third-party optimizer's package is not installed.
    """
    for name in names:
        OPTIMIZERS.get(name).optimizer_class()
