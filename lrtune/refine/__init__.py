"""``refine_lr``: a constant learning rate validated by training, within a budget."""

from lrtune.refine._plan import RefinePlan, plan
from lrtune.refine._pruner import HalvingPruner
from lrtune.refine._refine import refine_lr
from lrtune.refine._result import (
    STUDY_KIND,
    Candidate,
    RefineResult,
    candidate_of,
    result_from_study,
)

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
