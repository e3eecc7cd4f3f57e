"""``BatchedStorage``: the same trials as Optuna's own storage writes, in a few statements.

Every test runs on SQLite and on PostgreSQL (``storage_url``).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator
from typing import Any

import optuna
import pytest
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import event, exc

from lrtune._optuna import backend_of, storage_of, study_id_of, trial_id_of
from lrtune.storage import BatchedStorage, Claiming, Database, Heartbeat, write_held
from lrtune.storage import _resilient as resilient
from lrtune.storage import _trial_sql as trial_sql
from lrtune.study._choices import PRUNERS, SAMPLERS, StudySetup
from lrtune.study._gate import claim_trial
from lrtune.study._loop import run_trials

EPOCHS = 10
SETUP = StudySetup(epochs=EPOCHS, seed=3)


@pytest.fixture(autouse=True)
def quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture
def database(storage_url: str) -> Iterator[Database]:
    with Database.open(storage_url, heartbeat=Heartbeat(interval=10, grace=40)) as opened:
        yield opened


def new_study(storage: optuna.storages.BaseStorage, name: str) -> optuna.Study:
    return optuna.create_study(
        storage=storage,
        study_name=name,
        sampler=SAMPLERS.get("tpe")(SETUP),
        pruner=PRUNERS.get("median")(SETUP),
    )


def objective(trial: optuna.Trial) -> float:
    """A worker's trial in miniature: conditional parameters, attributes, ten reports."""
    lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
    kind = trial.suggest_categorical("kind", ["sgd", "adam"])
    if kind == "sgd":
        trial.suggest_float("momentum", 0.0, 0.99)
    trial.set_user_attr("config", {"lr": lr, "kind": kind})
    trial.set_user_attr("host", "here")
    write_held(trial)
    losses = []
    for epoch in range(EPOCHS):
        loss = (math.log10(lr) + 2.5) ** 2 + 1.0 / (epoch + 1) + (kind == "adam") * 0.1
        losses.append(loss)
        trial.report(loss, epoch)
        if trial.should_prune():
            trial.set_user_attr("val_losses", losses)
            raise optuna.TrialPruned()
    trial.set_user_attr("val_losses", losses)
    return losses[-1]


def comparable(trial: FrozenTrial) -> tuple[Any, ...]:
    return (
        trial.number,
        trial.state,
        trial.values,
        trial.params,
        trial.distributions,
        trial.user_attrs,
        trial.intermediate_values,
        {k: v for k, v in trial.system_attrs.items()},
    )


def test_a_study_run_on_it_is_the_study_optuna_would_store(
    database: Database, storage_url: str
) -> None:
    """Same sampler draws, same pruning, same rows: read back by plain Optuna, the trials
    equal those of the same study run on Optuna's own storage."""
    assert isinstance(database.studies, BatchedStorage)
    ours = new_study(database.studies, "batched")
    run_trials(ours, objective, budget=24, database=database)
    plain_storage = optuna.storages.RDBStorage(storage_url)
    theirs = new_study(plain_storage, "plain")
    run_trials(theirs, objective, budget=24)

    read_back = optuna.load_study(study_name="batched", storage=storage_url).trials
    expected = theirs.trials
    assert [comparable(t) for t in read_back] == [comparable(t) for t in expected]
    assert {t.state for t in read_back} == {TrialState.COMPLETE, TrialState.PRUNED}
    # lrtune's own two-statement read gives what Optuna's reader gives.
    assert storage_of(ours).get_all_trials(study_id_of(ours)) == read_back


def test_a_ten_epoch_trial_takes_23_statements_on_postgresql_and_29_elsewhere(
    database: Database,
) -> None:
    study = new_study(database.studies, "counted")
    run_trials(study, objective, budget=12, database=database)  # past TPE's start-up
    statements: list[str] = []
    engine = database.engine
    assert engine is not None

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    at_tell: list[int] = []
    try:
        run_trials(
            study,
            objective_without_pruning,
            budget=13,
            database=database,
            callbacks=[lambda *_: at_tell.append(len(statements))],
        )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    last = study.trials[-1]
    assert last.state == TrialState.COMPLETE and len(last.intermediate_values) == EPOCHS
    # From its claim to its end: the claim (4), one read for TPE (2), the configuration
    # (4), ten reports, the end (3); and six pruner reads after the warm-up, which
    # PostgreSQL answers in the reports' own statements.
    most = 23 if engine.dialect.name == "postgresql" else 29
    assert at_tell == [at_tell[0]] and at_tell[0] <= most, statements


def objective_without_pruning(trial: optuna.Trial) -> float:
    trial.suggest_float("lr", 1e-5, 1.0, log=True)
    trial.suggest_categorical("kind", ["sgd", "adam"])
    trial.set_user_attr("config", {"x": 1})
    write_held(trial)
    for epoch in range(EPOCHS):
        trial.report(-1.0 - epoch, epoch)  # lower than every finished trial: never pruned
        trial.should_prune()
    trial.set_user_attr("val_losses", [1.0] * EPOCHS)
    return -float(EPOCHS)


@pytest.mark.postgres
def test_on_postgresql_reports_beats_and_reads_run_outside_a_transaction_block(
    postgres_url: str,
) -> None:
    """A statement alone is its own transaction: a trial's reports, its beats and the
    sampler's and pruner's reads send no BEGIN, COMMIT or ROLLBACK (psycopg in autocommit
    sends none); the claim, the configuration and the end are a trial's only transaction
    blocks. What the statements alone wrote is there for another connection."""
    with Database.open(postgres_url, heartbeat=Heartbeat(interval=10, grace=40)) as database:
        study = new_study(database.studies, "alone")
        run_trials(study, objective, budget=12, database=database)  # past TPE's start-up
        engine = database.engine
        assert engine is not None
        seen: list[tuple[str, bool]] = []
        commits: list[int] = []

        def record(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            seen.append((statement, conn.connection.dbapi_connection.autocommit))

        event.listen(engine, "before_cursor_execute", record)
        event.listen(engine, "commit", lambda *_: commits.append(1))
        run_trials(study, objective_without_pruning, budget=13, database=database)
        last = study.trials[-1]
        storage_of(study).record_heartbeat(trial_id_of(last))
        reports = [alone for sql, alone in seen if "INTO trial_intermediate_values" in sql]
        assert len(reports) == EPOCHS and all(reports)
        reads = [alone for sql, alone in seen if sql.startswith("SELECT trials.trial_id")]
        assert reads and all(reads)  # the sampler's
        assert seen[-1][1] and "INTO trial_heartbeats" in seen[-1][0]  # a beat of its own
        # Each transaction block is a claim (the advisory lock first), the configuration
        # (the trial locked first) or the end (its state set first).
        firsts = ("SELECT set_config('idle_in_transaction", "SELECT trials.state", "UPDATE trials")
        assert len(commits) == sum(" ".join(sql.split()).startswith(firsts) for sql, _ in seen)
        assert len(commits) >= 3
        stored = optuna.load_study(study_name="alone", storage=postgres_url).trials[-1]
        assert stored.state == TrialState.COMPLETE and len(stored.intermediate_values) == EPOCHS


def claimed_trial(database: Database, study: optuna.Study) -> optuna.Trial:
    storage = storage_of(study)
    assert isinstance(storage, BatchedStorage)
    with storage.claiming(1) as claiming:
        claiming.census(study_id_of(study))
        trial_id = claiming.create(study_id_of(study))
    claiming.adopt_created()
    return optuna.Trial(study, trial_id)


def test_a_trial_failed_elsewhere_refuses_what_it_held_and_writes_nothing(
    database: Database, storage_url: str
) -> None:
    study = new_study(database.studies, "stale")
    trial = claimed_trial(database, study)
    trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    trial.set_user_attr("config", {"held": True})
    other = optuna.storages.RDBStorage(storage_url)  # another worker fails it as stale
    other.set_trial_state_values(trial_id_of(trial), TrialState.FAIL)

    with pytest.raises(UpdateFinishedTrialError):
        trial.report(1.0, 0)
    stored = other.get_trial(trial_id_of(trial))
    assert stored.state == TrialState.FAIL
    assert stored.params == {} and stored.user_attrs == {} and stored.intermediate_values == {}


def test_held_writes_reach_the_database_at_the_first_report(
    database: Database, storage_url: str
) -> None:
    study = new_study(database.studies, "held")
    trial = claimed_trial(database, study)
    trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    trial.set_user_attr("config", {"a": 1})
    other = optuna.storages.RDBStorage(storage_url)
    assert other.get_trial(trial_id_of(trial)).params == {}  # held
    trial.report(0.5, 0)
    stored = other.get_trial(trial_id_of(trial))
    assert stored.params == trial.params
    assert stored.user_attrs == {"config": {"a": 1}}
    assert stored.intermediate_values == {0: 0.5}


def test_a_report_reads_what_the_pruner_asks_next_and_still_refuses_a_failed_trial(
    database: Database, storage_url: str
) -> None:
    study = new_study(database.studies, "prefetched")
    elsewhere = optuna.load_study(study_name="prefetched", storage=storage_url)
    for value in (1.0, 2.0, 3.0):  # three completed trials; the second reported nothing
        elsewhere.optimize(lambda t, v=value: report_at_3(t, v), n_trials=1)
    storage = storage_of(study)
    assert isinstance(storage, BatchedStorage)
    storage.prefetch_completed(study_id_of(study), 2)
    trial = claimed_trial(database, study)
    trial.report(0.5, 1)  # before the prefetch's first step: nothing read
    assert storage._prefetched == {}
    trial.report(0.5, 3)
    with database.engine.connect() as connection:  # type: ignore[union-attr]
        direct = trial_sql.completed_at_step(connection, study_id_of(study), 3)
    assert direct == (3, [1.0, 3.0])
    assert storage.completed_at_step(study_id_of(study), 3) == direct
    assert storage._prefetched == {}  # answered once, then read afresh

    optuna.storages.RDBStorage(storage_url).set_trial_state_values(
        trial_id_of(trial), TrialState.FAIL
    )
    with pytest.raises(UpdateFinishedTrialError):
        trial.report(0.25, 4)
    assert (
        4
        not in optuna.load_study(study_name="prefetched", storage=storage_url)
        .trials[-1]
        .intermediate_values
    )


@pytest.mark.postgres
@pytest.mark.parametrize("prefetch", [False, True])
def test_a_report_commits_lazily_and_only_its_own_transaction(
    postgres_url: str, prefetch: bool
) -> None:
    with Database.open(postgres_url) as database:
        study = new_study(database.studies, "lazy")
        trial = claimed_trial(database, study)
        engine = database.engine
        assert engine is not None

        def setting_after_report(step: int, wait_for_disk: bool) -> str:
            with engine.begin() as connection:
                if prefetch:
                    trial_sql.report_and_read_completed(
                        connection, study_id_of(study), trial_id_of(trial), step, 0.5,
                        wait_for_disk=wait_for_disk,
                    )  # fmt: skip
                else:
                    assert trial_sql.write_intermediate(
                        connection, trial_id_of(trial), step, 0.5, checked=False,
                        wait_for_disk=wait_for_disk,
                    )  # fmt: skip
                return str(connection.exec_driver_sql("SHOW synchronous_commit").scalar())

        assert setting_after_report(0, wait_for_disk=False) == "off"
        assert setting_after_report(1, wait_for_disk=True) == "on"
        with engine.connect() as connection:  # the next transaction waits for the disk again
            assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        stored = optuna.load_study(study_name="lazy", storage=postgres_url).trials[0]
        assert stored.intermediate_values == {0: 0.5, 1: 0.5}


@pytest.mark.postgres
def test_a_heartbeat_of_its_own_commits_lazily_and_the_claims_waits(postgres_url: str) -> None:
    """A beat in a transaction of its own (every 10 s of a running trial) need not wait
    for the disk; the first beat, in the claim's transaction, leaves the claim durable."""
    with Database.open(postgres_url) as database:
        study = new_study(database.studies, "beats")
        trial = claimed_trial(database, study)
        engine = database.engine
        assert engine is not None
        settings = []
        for wait_for_disk in (False, True):
            with engine.begin() as connection:
                trial_sql.beat(connection, trial_id_of(trial), wait_for_disk=wait_for_disk)
                settings.append(connection.exec_driver_sql("SHOW synchronous_commit").scalar())
        assert settings == ["off", "on"]
        seen: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
        storage_of(study).record_heartbeat(trial_id_of(trial))
        assert any("set_config" in sql and "trial_heartbeats" in sql for sql in seen), seen
        with engine.connect() as connection:
            beats = "SELECT count(*) FROM trial_heartbeats WHERE trial_id = %(id)s"
            assert connection.exec_driver_sql(beats, {"id": trial_id_of(trial)}).scalar() == 1


def report_at_3(trial: optuna.Trial, value: float) -> float:
    if value != 2.0:
        trial.report(value, 3)
    return value


def test_the_samplers_read_does_not_reread_what_running_trials_report(
    database: Database, storage_url: str
) -> None:
    study = new_study(database.studies, "sampling")
    storage = storage_of(study)
    assert isinstance(storage, BatchedStorage)
    elsewhere = optuna.load_study(study_name="sampling", storage=storage_url)  # plain Optuna
    elsewhere.optimize(lambda t: t.suggest_float("lr", 1e-4, 1e-1, log=True), n_trials=1)
    running = elsewhere.ask()
    running.suggest_float("lr", 1e-4, 1e-1, log=True)
    starting = elsewhere.ask()  # running, nothing reported yet: read whole every time
    running.report(1.0, 0)

    def view() -> dict[int, FrozenTrial]:
        return {t.number: t for t in storage.trials_for_sampling(study_id_of(study))}

    assert view()[running.number].intermediate_values == {0: 1.0}
    running.report(0.5, 1)
    running.set_user_attr("epoch", 1)
    starting.suggest_float("lr", 1e-4, 1e-1, log=True)
    seen = view()
    assert seen[running.number].params == running.params  # all a sampler reads of it
    assert seen[running.number].intermediate_values == {0: 1.0}  # not read again
    assert seen[starting.number].params == starting.params
    assert [t.number for t in seen.values()] == [0, 1, 2]
    fresh = {t.number: t for t in storage.get_all_trials(study_id_of(study))}
    assert fresh[running.number].intermediate_values == {0: 1.0, 1: 0.5}  # the cache rereads
    assert fresh[running.number].user_attrs == {"epoch": 1}

    running.report(0.25, 2)
    elsewhere.tell(running, 0.25)
    done = view()[running.number]  # finished: read whole
    assert done.state == TrialState.COMPLETE and done.values == [0.25]
    assert done.intermediate_values == {0: 1.0, 1: 0.5, 2: 0.25}


def test_a_parameter_of_another_kind_than_stored_is_refused(
    database: Database, storage_url: str
) -> None:
    study = new_study(database.studies, "kinds")
    elsewhere = optuna.load_study(study_name="kinds", storage=storage_url)
    elsewhere.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=1)
    trial = claimed_trial(database, study)
    trial.suggest_categorical("x", ["a", "b"])  # held: checked against the stored one
    with pytest.raises(ValueError, match="different distribution kind"):
        write_held(trial)
    assert optuna.load_study(study_name="kinds", storage=storage_url).trials[-1].params == {}


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
@pytest.mark.parametrize("many", [False, True])
def test_reading_trials_gives_what_optuna_reads(
    database: Database, storage_url: str, many: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if many:  # the fallback for id lists longer than a statement may hold
        monkeypatch.setattr(trial_sql, "MAX_IDS_IN_LIST", 2)
    study = new_study(database.studies, "reads")
    run_trials(study, objective, budget=8, database=database)
    for _ in range(4):
        study.ask().set_user_attr("left", "running")
    plain = optuna.storages.RDBStorage(storage_url)
    backend = storage_of(study).backend  # type: ignore[attr-defined]
    study_id = study_id_of(study)
    running = {trial_id_of(t) for t in study.get_trials(states=(TrialState.RUNNING,))}
    cases = [
        (None, set(), -1),
        ((TrialState.COMPLETE,), set(), -1),
        ((TrialState.COMPLETE, TrialState.RUNNING), set(), 3),
        (None, running, max(running) - 1),
    ]
    reader = backend_of(Database.open_read_only(storage_url).studies)  # the dashboard's
    for states, included, greater in cases:
        expected = plain._get_trials(study_id, states, included, greater)
        assert backend._get_trials(study_id, states, included, greater) == expected
        assert reader._get_trials(study_id, states, included, greater) == expected
    for storage in (backend, reader):
        with pytest.raises(KeyError):
            storage._get_trials(study_id + 1000, None, set(), -1)


def test_the_census_counts_states_and_sees_a_silent_trial(database: Database) -> None:
    study = new_study(database.studies, "census")
    run_trials(study, lambda t: t.suggest_float("x", 0.0, 1.0), budget=3, database=database)
    storage = storage_of(study)
    assert isinstance(storage, BatchedStorage)
    trial = claimed_trial(database, study)
    with storage.claiming(1) as claiming:
        census = claiming.census(study_id_of(study))
    assert census.counts[TrialState.COMPLETE] == 3 and census.counts[TrialState.RUNNING] == 1
    assert not census.may_have_stale(40)
    assert census.oldest_beat is None  # the test's claim did not beat
    storage.record_heartbeat(trial_id_of(trial))
    with storage.claiming(1) as claiming:
        census = claiming.census(study_id_of(study))
    assert census.oldest_beat is not None
    assert not census.may_have_stale(40)
    assert census.may_have_stale(-1.0)  # any beat is older than a negative grace
    with pytest.raises(KeyError), storage.claiming(1) as claiming:
        claiming.census(study_id_of(study) + 1000)


def test_a_trial_left_running_by_a_plain_optuna_process_is_failed_and_retried(
    storage_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Its process died without a heartbeat ever: after the grace period an lrtune worker
    fails it, queues it again and finishes the budget instead of waiting for ever."""
    with Database.open(storage_url, heartbeat=Heartbeat(interval=1, grace=2)) as database:
        study = optuna.create_study(storage=database.studies, study_name="mixed")
        plain = optuna.load_study(study_name="mixed", storage=storage_url)
        plain.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=2)
        left = plain.ask()  # a plain process that died in its trial
        left.suggest_float("x", 0.0, 1.0)
        outcome = run_trials(
            study,
            lambda t: t.suggest_float("x", 0.0, 1.0),
            budget=4,
            database=database,
            poll_s=0.2,
            timeout=20,  # without the fix it waits for the dead trial for ever
        )
    trials = optuna.load_study(study_name="mixed", storage=storage_url).trials
    states = [t.state for t in trials]
    assert outcome.finished == 4
    assert states.count(TrialState.COMPLETE) == 4 and TrialState.RUNNING not in states
    assert trials[left.number].state == TrialState.FAIL
    retry = next(t for t in trials if t.system_attrs.get("failed_trial") == left.number)
    assert retry.params == trials[left.number].params
    assert "never sent a heartbeat" in caplog.text


def test_a_claim_cut_off_by_the_database_is_run_again(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim's transaction, rolled back when its connection dropped, runs again."""
    study = new_study(database.studies, "cut")
    counted: list[int] = []
    census = Claiming.census

    def dropped_once(self: Claiming, study_id: int) -> Any:
        counted.append(study_id)
        if len(counted) == 1:
            raise exc.OperationalError("SELECT", {}, Exception("server closed the connection"))
        return census(self, study_id)

    monkeypatch.setattr(Claiming, "census", dropped_once)
    monkeypatch.setattr(resilient.time, "sleep", lambda _: None)
    claim = claim_trial(study, budget=1)
    assert claim.trial_id is not None and len(counted) == 2
    assert [t.state for t in study.get_trials()] == [TrialState.RUNNING]


@pytest.mark.postgres
def test_rereading_a_few_trials_finds_their_rows_by_index_in_a_big_study(
    postgres_url: str,
) -> None:
    """The trial cache's read of the new and unfinished trials, the one every worker makes
    for each trial it samples, finds their child rows by their trial ids: under the plan
    PostgreSQL settles on for a statement run many times (generic), a subquery made it scan
    the study's every child row, a cost that grew with the study (5 ms at 300 trials)."""
    with Database.open(postgres_url) as database:
        assert database.engine is not None
        study = new_study(database.studies, "big")
        running = study.ask()  # older than the finished trials: listed by id
        running.report(1.0, 0)
        for number in range(300):
            study.add_trial(
                optuna.trial.create_trial(
                    params={"x": number / 300},
                    distributions={"x": optuna.distributions.FloatDistribution(0, 1)},
                    value=float(number),
                    user_attrs={f"a{i}": i for i in range(10)},
                    intermediate_values={step: float(step) for step in range(10)},
                )
            )
        statements: list[tuple[str, Any]] = []

        def seen(_c: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
            statements.append((sql, params))

        with database.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
            event.listen(connection, "before_cursor_execute", seen)
            last_finished = max(trial_id_of(t) for t in study.trials if t.state.is_finished())
            [read] = trial_sql.read_trials(
                connection, study_id_of(study), None, {trial_id_of(running)}, last_finished
            )
            event.remove(connection, "before_cursor_execute", seen)
            assert read.intermediate_values == {0: 1.0}
            for sql, params in statements:
                plan = generic_plan(connection, sql, params)
                scans = [line for line in plan if any(f"Seq Scan on {t}" in line for t in BIG)]
                assert not scans, "\n".join(plan)
                assert not listed_ids_filtered_in_a_scan(plan), "\n".join(plan)


def listed_ids_filtered_in_a_scan(plan: list[str]) -> bool:
    """Whether a scan of the trials tests each row it reads against the listed ids (a
    cost of trials x ids) rather than finding the listed ids by the primary key: a
    ``Filter`` with ``ANY`` under a scan of ``trials``, before the plan's next node."""
    for i, line in enumerate(plan):
        if re.search(r"Scan on trials\b", line):
            below = itertools.takewhile(lambda row: "->" not in row, plan[i + 1 :])
            if any("Filter:" in row and "ANY" in row for row in below):
                return True
    return False


BIG = ("trial_intermediate_values", "trial_user_attributes")
"""The child tables with ten rows per trial in that test: a scan of them is not cheap."""


def generic_plan(connection: Any, sql: str, params: dict[str, Any]) -> list[str]:
    """PostgreSQL's generic plan of ``sql`` (psycopg's ``%(name)s`` parameters): the plan
    a prepared statement run many times settles on (PostgreSQL 15 has no ``EXPLAIN
    (GENERIC_PLAN)``)."""
    numbers: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        return f"${numbers.setdefault(match.group(1), len(numbers) + 1)}"

    prepared = re.sub(r"%\((\w+)\)s", number, sql)
    args = ", ".join(_literal(params[name]) for name in numbers)
    connection.exec_driver_sql(f"PREPARE probe AS {prepared}")
    try:
        return list(connection.exec_driver_sql(f"EXPLAIN EXECUTE probe({args})").scalars())
    finally:
        connection.exec_driver_sql("DEALLOCATE probe")


def _literal(value: Any) -> str:
    if isinstance(value, list):
        return f"ARRAY[{', '.join(str(int(v)) for v in value)}]::integer[]"
    return str(int(value))


@pytest.mark.postgres
def test_a_reread_has_one_text_however_many_trials_run(postgres_url: str) -> None:
    """On PostgreSQL the ids of the unfinished trials go as one array: the statement's text,
    and the plan the server keeps for it, do not change with how many trials run (with a
    parameter per id, 2,000 running trials made a new text of 2,000 parameters at each
    change)."""
    with Database.open(postgres_url) as database:
        assert database.engine is not None
        study = new_study(database.studies, "texts")
        running = [study.ask() for _ in range(3)]
        texts: list[set[str]] = []

        def seen(_c: Any, _cursor: Any, sql: str, *_: Any) -> None:
            texts[-1].add(sql)

        with database.engine.connect() as connection:
            event.listen(connection, "before_cursor_execute", seen)
            for count in (1, 3):
                texts.append(set())
                ids = {trial_id_of(trial) for trial in running[:count]}
                last = max(trial_id_of(trial) for trial in running)  # none newer: ids only
                found = trial_sql.read_trials(connection, study_id_of(study), None, ids, last)
                assert {trial_id_of(trial) for trial in found} == ids
        assert texts[0] == texts[1] and len(texts[0]) == 2
