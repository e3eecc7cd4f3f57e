"""``refine_lr``: a constant learning rate validated by training, within a budget.

The result and its plan load with the package; the training (torch) and its pruner (Optuna)
load on first use, so that showing a stored refine run (``lrtune show --refine``) imports
no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lrtune._lazy import lazy_attributes as _lazy_attributes
from lrtune.refine._plan import RefinePlan, plan
from lrtune.refine._result import (
    STUDY_KIND,
    Candidate,
    RefineResult,
    candidate_of,
    result_from_study,
)

if TYPE_CHECKING:
    from lrtune.refine._pruner import HalvingPruner
    from lrtune.refine._refine import refine_lr

_LAZY = {"HalvingPruner": "lrtune.refine._pruner", "refine_lr": "lrtune.refine._refine"}
__getattr__ = _lazy_attributes(__name__, _LAZY)

__all__ = [
    "STUDY_KIND",
    "Candidate",
    "HalvingPruner",
    "RefinePlan",
    "RefineResult",
    "candidate_of",
    "plan",
    "refine_lr",
    "result_from_study",
]
