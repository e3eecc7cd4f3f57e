"""The pinned Optuna still has every private name ``lrtune._optuna`` uses.

An Optuna upgrade that renames one fails here, by name, rather than inside a worker.
"""

from __future__ import annotations

import inspect
import re
import warnings
from pathlib import Path

import optuna
import pytest

from lrtune import _optuna

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def study(tmp_path: Path) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'private.db'}")
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    return study


def test_study_and_trial_accessors_read_what_the_public_api_reports(study: optuna.Study) -> None:
    storage = _optuna.storage_of(study)
    assert isinstance(storage, optuna.storages.BaseStorage)
    assert isinstance(_optuna.backend_of(storage), optuna.storages.RDBStorage)
    study_id = _optuna.study_id_of(study)
    assert storage.get_study_id_from_name(study.study_name) == study_id
    [summary] = optuna.get_all_study_summaries(storage)
    assert _optuna.study_id_of(summary) == study_id  # type: ignore[arg-type]
    [frozen_study] = storage.get_all_studies()
    assert _optuna.study_id_of(frozen_study) == study_id
    for frozen in study.trials:
        trial_id = _optuna.trial_id_of(frozen)
        assert storage.get_trial_id_from_study_id_trial_number(study_id, frozen.number) == trial_id
    trial = study.ask()
    assert storage.get_trial(_optuna.trial_id_of(trial)).number == trial.number


def test_the_trial_cache_can_be_read_and_forgotten(study: optuna.Study) -> None:
    assert len(_optuna.cached_trials(study, deepcopy=False, states=None)) == 2
    assert hasattr(study._thread_local, "cached_all_trials")
    _optuna.forget_cached_trials(study)
    assert study._thread_local.cached_all_trials is None
    assert "use_cache" in inspect.signature(optuna.Study._get_trials).parameters


def test_storage_internals_exist(study: optuna.Study) -> None:
    backend = _optuna.backend_of(_optuna.storage_of(study))
    for name in _optuna.RDB_PRIVATE_METHODS:
        assert callable(getattr(optuna.storages.RDBStorage, name)), name
    assert isinstance(backend, optuna.storages.RDBStorage)
    cached = _optuna.with_trial_cache(backend)  # type: ignore[arg-type]
    assert cached.get_all_studies()[0].study_name == study.study_name
    assert _optuna.is_heartbeat_enabled(backend) is False
    assert issubclass(optuna.storages.RDBStorage, _optuna.BaseHeartbeat)


def test_the_stale_trial_query_is_the_one_heartbeats_use(tmp_path: Path) -> None:
    with warnings.catch_warnings():  # experimental; meant for Study.optimize
        warnings.simplefilter("ignore")
        storage = optuna.storages.RDBStorage(
            f"sqlite:///{tmp_path / 'beats.db'}", heartbeat_interval=1, grace_period=2
        )
        study = optuna.create_study(storage=storage)
        trial = study.ask()
    storage.record_heartbeat(_optuna.trial_id_of(trial))
    assert _optuna.stale_trial_ids(storage, _optuna.study_id_of(study)) == []
    assert "_get_stale_trial_ids" in _optuna.BaseHeartbeat.__abstractmethods__
    without = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'beats.db'}")
    assert _optuna.stale_trial_ids(without, _optuna.study_id_of(study)) == []
    assert _optuna.RemoteHeartbeat._get_stale_trial_ids.__name__ == "_get_stale_trial_ids"


def test_tables_and_the_grpc_service_exist() -> None:
    models = _optuna.rdb_models()
    for table in (
        "TrialModel",
        "TrialValueModel",
        "TrialParamModel",
        "TrialUserAttributeModel",
        "TrialSystemAttributeModel",
        "TrialIntermediateValueModel",
    ):
        assert hasattr(getattr(models, table), "__table__"), table
    assert callable(models.TrialValueModel.stored_repr_to_value)
    assert callable(models.TrialIntermediateValueModel.stored_repr_to_intermediate_value)
    generated, servicer = _optuna.grpc_service()
    assert callable(generated.add_StorageServiceServicer_to_server)
    assert isinstance(servicer, type)


PRIVATE_MODULE = re.compile(r"\boptuna(\.\w+)*\._\w")
PRIVATE_ATTRIBUTE = re.compile(r"\._(storage|study_id|trial_id|thread_local|get_trials)\b")


def test_no_other_module_touches_optuna_internals() -> None:
    """Optuna's private modules and attributes are used only in ``lrtune/_optuna.py``."""
    outside = []
    for path in sorted((REPO / "lrtune").rglob("*.py")):
        if path.name == "_optuna.py" and path.parent.name == "lrtune":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            is_import = code.lstrip().startswith(("from ", "import "))
            if PRIVATE_MODULE.search(code) or (not is_import and PRIVATE_ATTRIBUTE.search(code)):
                outside.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert outside == []
