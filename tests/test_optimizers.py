"""The optimizer registry's third-party families: imported only when built, one line when
their package is missing, and code that names them by their module."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from lrtune import LRTuneError
from lrtune.optimizers import OPTIMIZERS, build_optimizer, check_installed

THIRD_PARTY = {
    "prodigy": "prodigyopt",
    "schedulefree-adamw": "schedulefree",
    "dadapt-adam": "dadaptation",
    "dog": "dog",
}


def test_importing_lrtune_imports_no_third_party_optimizer() -> None:
    modules = list(THIRD_PARTY.values())
    code = f"import sys, lrtune; print([m for m in {modules!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(("name", "module"), THIRD_PARTY.items())
def test_each_family_builds_its_packages_class(name: str, module: str) -> None:
    package = pytest.importorskip(module)
    family = OPTIMIZERS.get(name)
    optimizer = build_optimizer(name, torch.nn.Linear(2, 1).parameters(), lr=0.5)
    assert type(optimizer).__module__.split(".")[0] == package.__name__
    assert optimizer.defaults["lr"] == 0.5
    assert family.default_lr is not None
    assert family.imports() == (f"import {module}",)


@pytest.mark.parametrize(
    ("name", "module", "package"),
    [("prodigy", "prodigyopt", "prodigyopt"), ("dog", "dog", "dog-optimizer")],
)
def test_a_missing_package_is_one_line_naming_what_to_install(
    name: str, module: str, package: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # what an absent package looks like
    with pytest.raises(LRTuneError) as error:
        build_optimizer(name, torch.nn.Linear(2, 1).parameters(), lr=1.0)
    assert str(error.value) == (
        f"Optimizer {name!r} needs the package {package}: pip install {package} "
        '(or pip install "lrtune[lrfree]")'
    )
    with pytest.raises(LRTuneError, match=package):
        check_installed(["adamw", name])


def test_schedule_free_code_needs_no_import_to_be_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "schedulefree", None)
    family = OPTIMIZERS.get("schedulefree-adamw")
    assert family.code(0.002, {"beta1": 0.95, "weight_decay": 1e-3}) == (
        "optimizer = schedulefree.AdamWScheduleFree(model.parameters(), lr=0.002, "
        "weight_decay=0.001, betas=(0.95, 0.999))"
    )


def test_torch_families_keep_their_code_and_need_no_import() -> None:
    family = OPTIMIZERS.get("adamw")
    assert family.imports() == ()
    assert family.code(0.01, {"beta2": 0.99}) == (
        "optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.01, "
        "betas=(0.9, 0.99))"
    )


def test_what_each_family_declares() -> None:
    lr_free = {name for name in OPTIMIZERS if OPTIMIZERS.get(name).lr_free}
    train_eval = {name for name in OPTIMIZERS if OPTIMIZERS.get(name).needs_train_eval}
    restricted = {name for name in OPTIMIZERS if OPTIMIZERS.get(name).schedules is not None}
    assert lr_free == {"prodigy", "dadapt-adam", "dog"}
    assert train_eval == restricted == {"schedulefree-adamw"}
    schedule_free = OPTIMIZERS.get("schedulefree-adamw")
    assert schedule_free.default_lr == 0.0025 and not schedule_free.lr_free
    assert schedule_free.allows_schedule("constant")
    assert not schedule_free.allows_schedule("cosine")
    assert all(OPTIMIZERS.get(name).default_lr is None for name in ("sgd", "adam", "adamw"))
