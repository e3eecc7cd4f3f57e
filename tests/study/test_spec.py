from __future__ import annotations

import dataclasses
import inspect
import shutil
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest

from lrtune._exceptions import SpecError
from lrtune.examples import EXAMPLES
from lrtune.optimizers import OPTIMIZERS
from lrtune.schedules import SCHEDULES
from lrtune.study import DEFAULT_OPTIMIZERS, DEFAULT_SCHEDULES, FINISHED, run_study
from lrtune.study._options import StudyOptions
from lrtune.study._spec import SPEC_KEYS, load_spec, parse_spec
from lrtune.tasks import load_task

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "studies").glob("*.toml"))
SPEC_PATH = str(Path("specs") / "study.toml")
TASK = 'task = "digits-mlp"\n'
# What the spec's keys are called as run_study's arguments, where that differs.
ARGUMENT = {"finder": "finder_options"}


def spec_error(text: str, path: str = SPEC_PATH) -> str:
    """The message of the SpecError that ``text`` raises, checked to be one line naming
    the file."""
    with pytest.raises(SpecError) as caught:
        parse_spec(text, path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    return message


def as_written(value: Any) -> Any:
    """A TOML value as run_kwargs gives it back: arrays become tuples."""
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return {key: as_written(item) for key, item in value.items()}
    return value


# --- the example specs -----------------------------------------------------------------


def test_there_is_a_spec_for_every_bundled_example_and_a_quick_one() -> None:
    tasks = {tomllib.loads(path.read_text())["task"] for path in SPECS}
    assert set(EXAMPLES) <= tasks
    assert ROOT / "studies" / "quick.toml" in SPECS


@pytest.mark.parametrize("path", SPECS, ids=lambda path: path.name)
def test_example_spec_loads_and_its_run_kwargs_are_the_files_values(path: Path) -> None:
    written = tomllib.loads(path.read_text())
    spec = load_spec(path)
    kwargs = spec.run_kwargs()
    assert spec.task == written.pop("task")
    assert kwargs["study_name"] == written.pop("study_name", path.stem)
    for key, value in written.items():
        assert kwargs[ARGUMENT.get(key, key)] == as_written(value), key


@pytest.mark.parametrize("path", SPECS, ids=lambda path: path.name)
def test_example_spec_names_a_task_that_loads(path: Path) -> None:
    spec = load_spec(path)
    assert load_task(spec.resolved_task()).name == spec.task


def test_quick_spec_is_short_enough_for_a_smoke_test() -> None:
    spec = load_spec(ROOT / "studies" / "quick.toml")
    assert (
        spec.options.n_trials <= 10 and spec.options.epochs is not None and spec.options.epochs <= 3
    )
    assert spec.options.pruner == "none"


def test_run_study_runs_a_spec_as_loaded() -> None:
    spec = load_spec(ROOT / "studies" / "quick.toml").with_overrides(n_trials=1, epochs=1)
    task = load_task(spec.resolved_task())
    storage = optuna.storages.InMemoryStorage()
    study = run_study(task, storage=storage, **spec.run_kwargs())
    assert study.study_name == "quick"
    assert len(study.get_trials(states=FINISHED)) == 1


# --- defaults and run_kwargs -----------------------------------------------------------


def test_omitted_keys_take_their_defaults() -> None:
    spec = parse_spec(TASK, Path("specs") / "my-study.toml")
    assert spec.run_kwargs() == {
        "study_name": "my-study",
        "n_trials": 40,
        "epochs": None,
        "seed": 0,
        "objective": "val_loss",
        "pruner": "median",
        "sampler": "tpe",
        "optimizers": DEFAULT_OPTIMIZERS,
        "schedules": DEFAULT_SCHEDULES,
        "warmup": "off",
        "fixed": {},
        "ranges": {},
        "lr_margin": (10.0, 2.0),
        "warm_start": True,
        "timeout": None,
        "device": "auto",
        "finder_options": {},
    }


def test_run_kwargs_are_the_study_name_and_every_study_option() -> None:
    kwargs = parse_spec(TASK, SPEC_PATH).run_kwargs()
    options = {field.name for field in dataclasses.fields(StudyOptions)}
    assert set(kwargs) == {"study_name"} | options
    # run_study takes each of them by name, over its options' defaults.
    parameters = inspect.signature(run_study).parameters
    assert parameters["study_name"].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["changes"].kind is inspect.Parameter.VAR_KEYWORD


def test_defaults_are_study_options_own() -> None:
    spec = parse_spec(TASK, SPEC_PATH)
    assert spec.options == StudyOptions()
    assert StudyOptions(**{k: v for k, v in spec.run_kwargs().items() if k != "study_name"}) == (
        spec.options
    )


def test_run_kwargs_returns_copies_the_caller_may_change() -> None:
    spec = parse_spec(TASK + '[fixed]\n"sgd.momentum" = 0.9\n', SPEC_PATH)
    spec.run_kwargs()["fixed"]["sgd.momentum"] = 0.5
    assert spec.options.fixed == {"sgd.momentum": 0.9}


def test_bare_dotted_names_mean_the_same_as_quoted_ones() -> None:
    bare = parse_spec(TASK + "[fixed]\nsgd.momentum = 0.9\n[ranges]\nadamw.lr = [1e-4, 0.1]\n", "a")
    quoted = parse_spec(
        TASK + '[fixed]\n"sgd.momentum" = 0.9\n[ranges]\n"adamw.lr" = [1e-4, 0.1]\n', "a"
    )
    assert bare.options.fixed == quoted.options.fixed == {"sgd.momentum": 0.9}
    assert bare.options.ranges == quoted.options.ranges == {"adamw.lr": (1e-4, 0.1)}


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + TASK.encode())
    assert load_spec(path).task == "digits-mlp"


# --- overrides -------------------------------------------------------------------------


def test_overrides_return_a_changed_copy() -> None:
    spec = parse_spec(TASK + "n_trials = 40\n", SPEC_PATH)
    changed = spec.with_overrides(n_trials=5, study_name="other", timeout=30, device="cpu")
    assert (changed.options.n_trials, changed.study_name, changed.options.timeout) == (
        5,
        "other",
        30.0,
    )
    assert changed.options.device == "cpu"
    assert spec.options.n_trials == 40 and spec.study_name == "study"


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"n_trials": 0}, "n_trials must be a positive integer, but got 0"),
        ({"study_name": ""}, "study_name must be a non-empty string"),
        ({"timeout": -1}, "timeout must be a positive number of seconds, but got -1"),
        ({"optimizers": ("sgd", "adamx")}, "unknown optimizer 'adamx'"),
    ],
)
def test_a_bad_override_is_refused_by_name(changes: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_spec(TASK, SPEC_PATH).with_overrides(**changes)


def test_an_unknown_override_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="n_trial"):
        parse_spec(TASK, SPEC_PATH).with_overrides(n_trial=3)


# --- where the task is found -----------------------------------------------------------


@pytest.fixture
def spec_beside_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A spec folder holding tasks/iris.py; the current directory is elsewhere."""
    folder = tmp_path / "specs"
    (folder / "tasks").mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "my_task.py", folder / "tasks" / "iris.py")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return folder


@pytest.mark.parametrize("task", ["tasks/iris.py", "tasks/iris.py:task"])
def test_a_relative_task_file_is_found_beside_the_spec(spec_beside_task: Path, task: str) -> None:
    path = spec_beside_task / "iris.toml"
    path.write_text(f'task = "{task}"\n')
    spec = load_spec(path)
    assert spec.task == task
    assert load_task(spec.resolved_task()).name == "iris-mlp"


def test_a_task_file_not_beside_the_spec_is_looked_for_here(spec_beside_task: Path) -> None:
    shutil.copy(spec_beside_task / "tasks" / "iris.py", Path.cwd() / "here.py")
    path = spec_beside_task / "iris.toml"
    path.write_text('task = "here.py"\n')
    assert load_task(load_spec(path).resolved_task()).name == "iris-mlp"


@pytest.mark.parametrize("task", ["digits-mlp", "lrtune.examples.wine_mlp:task"])
def test_example_names_and_modules_are_left_as_written(task: str) -> None:
    assert parse_spec(f'task = "{task}"\n', SPEC_PATH).resolved_task() == task


def test_loading_a_spec_does_not_load_its_task() -> None:
    spec = parse_spec('task = "no/such/task.py"\n', SPEC_PATH)
    assert spec.resolved_task() == "no/such/task.py"


# --- mistakes in the file itself -------------------------------------------------------


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(SpecError, match=r"nope\.toml: no such spec file"):
        load_spec(path)


def test_a_folder_is_not_a_spec(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="is a folder"):
        load_spec(tmp_path)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('task = "digits-mlp"  # café\n'.encode("latin-1"))
    with pytest.raises(SpecError, match=r"latin1\.toml: not UTF-8 text") as caught:
        load_spec(path)
    assert "\n" not in str(caught.value)


def test_a_toml_syntax_error_gives_its_line_and_column() -> None:
    message = spec_error(TASK + "n_trials = = 3\n")
    assert "invalid TOML" in message and "line 2" in message and "column" in message


def test_an_unknown_key_suggests_the_closest() -> None:
    message = spec_error(TASK + "n_trail = 40\n")
    assert message.endswith("unknown key 'n_trail'; did you mean 'n_trials'?")


def test_an_unknown_key_far_from_any_lists_the_valid_ones() -> None:
    message = spec_error(TASK + "colour = 3\n")
    assert "unknown key 'colour'" in message
    assert "task, study_name, n_trials" in message and "ranges" in message


def test_an_unknown_finder_key_is_named_with_its_table() -> None:
    message = spec_error(TASK + "[finder]\nnum_iters = 100\n")
    assert "unknown key 'num_iters' in [finder]; did you mean 'num_iter'?" in message


def test_the_task_is_required() -> None:
    assert "missing the required key 'task'" in spec_error("n_trials = 3\n")


# --- wrong types -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('n_trials = "40"', "n_trials must be a positive integer, but got '40' (a string)"),
        ("n_trials = true", "n_trials must be a positive integer, but got true (a boolean)"),
        ("n_trials = 4.0", "n_trials must be a positive integer, but got 4.0 (a float)"),
        ("seed = false", "seed must be an integer in [0, 4294967295], but got false"),
        ('optimizers = "sgd"', "optimizers must be a list of optimizer names, but got 'sgd'"),
        ("schedules = [1, 2]", "schedules must be a list of schedule names, but got [1, 2]"),
        ("optimizers = []", "optimizers must be a non-empty list of optimizer names"),
        ('warm_start = "yes"', "warm_start must be true or false, but got 'yes' (a string)"),
        ("task = 3", "task must be a non-empty string, but got 3 (an integer)"),
        ('study_name = ""', "study_name must be a non-empty string, but got ''"),
        ("device = 0", "device must be 'auto' or a torch device"),
        ("lr_margin = true", "[below, above] of numbers >= 1, but got true (a boolean)"),
        ("finder = 100", "finder must be a table, but got 100 (an integer)"),
        ("fixed = [1]", "fixed must be a table, but got [1] (an array)"),
    ],
)
def test_a_value_of_the_wrong_type_is_named_with_its_key(line: str, fragment: str) -> None:
    text = line + "\n" if line.startswith("task") else TASK + line + "\n"
    assert fragment in spec_error(text)


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('num_iter = "100"', "[finder] num_iter must be an integer, but got '100' (a string)"),
        ("num_iter = 100.0", "[finder] num_iter must be an integer, but got 100.0 (a float)"),
        ('end_lr = "1"', "[finder] end_lr must be a number, but got '1' (a string)"),
        ("validation = 1", "[finder] validation must be true or false, but got 1"),
        ("amp = true", "[finder] amp must be a string, but got true (a boolean)"),
    ],
)
def test_a_finder_option_of_the_wrong_type_is_named(line: str, fragment: str) -> None:
    assert fragment in spec_error(f"{TASK}[finder]\n{line}\n")


# --- unknown names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('optimizers = ["sgd", "adamx"]', "optimizers: unknown optimizer 'adamx'"),
        ('optimizers = ["SGD"]', "optimizers: unknown optimizer 'SGD'"),
        ('schedules = ["cosine", "cosin"]', "schedules: unknown schedule 'cosin'"),
        ('pruner = "medain"', "pruner: unknown pruner 'medain'; did you mean 'median'?"),
        ('sampler = "cmaes"', "sampler: unknown sampler 'cmaes'"),
        ('objective = "accuracy"', "objective must be one of 'val_loss', 'metric'"),
        ('warmup = "yes"', "warmup must be one of 'off', 'on', 'search', but got 'yes'"),
        ('device = "gpu"', "device must be 'auto' or a torch device"),
        ('[finder]\nrule = "steep"', "[finder] Unknown suggestion rule 'steep'"),
    ],
)
def test_an_unknown_name_is_refused_with_its_key(line: str, fragment: str) -> None:
    assert fragment in spec_error(f"{TASK}{line}\n")


def test_a_listed_twice_candidate_is_refused() -> None:
    assert "listed twice" in spec_error(TASK + 'optimizers = ["sgd", "sgd"]\n')


# --- values out of range ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("lr_margin = 0.5", "[below, above] of numbers >= 1, but got 0.5 (a float)"),
        ("lr_margin = inf", "[below, above] of numbers >= 1, but got inf"),
        ("timeout = 0", "timeout must be a positive number of seconds, but got 0"),
        ("timeout = -5.0", "timeout must be a positive number of seconds, but got -5.0"),
        ("timeout = nan", "timeout must be a positive number of seconds, but got nan"),
        ("epochs = 0", "epochs must be a positive integer, but got 0 (an integer)"),
        ("n_trials = -1", "n_trials must be a positive integer, but got -1"),
        ("seed = -1", "seed must be an integer in [0, 4294967295], but got -1"),
        ("seed = 4294967296", "seed must be an integer in [0, 4294967295], but got 4294967296"),
        ("[finder]\nnum_iter = 10", "[finder] num_iter must be an integer >= 20"),
        ("[finder]\nstart_lr = 1.0\nend_lr = 0.1", "[finder] start_lr must be below end_lr"),
    ],
)
def test_a_value_out_of_range_is_named_with_its_key(line: str, fragment: str) -> None:
    assert fragment in spec_error(f"{TASK}{line}\n")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("0.1", "[ranges] adamw.weight_decay must be [low, high], but got 0.1 (a float)"),
        ("[0.1]", "[ranges] adamw.weight_decay must be [low, high], but got [0.1]"),
        ("[1e-5, 0.1, 1]", "must be [low, high], but got [1e-05, 0.1, 1] (an array)"),
        ('["a", 0.1]', "must be two numbers [low, high], but got ['a', 0.1]"),
        ("[true, 0.1]", "must be two numbers [low, high], but got [true, 0.1]"),
        ("[0.1, 1e-5]", "[ranges] adamw.weight_decay must have low <= high, but got [0.1, 1e-05]"),
        ("[0, 0.1]", "[ranges] adamw.weight_decay is searched on a log scale, so low must be > 0"),
    ],
)
def test_a_bad_range_is_named(value: str, fragment: str) -> None:
    assert fragment in spec_error(f'{TASK}[ranges]\n"adamw.weight_decay" = {value}\n')


@pytest.mark.parametrize("value", ["[0.0, 0.1]", "[-1e-3, 0.1]"])
def test_an_lr_range_must_be_positive(value: str) -> None:
    message = spec_error(f'{TASK}[ranges]\n"sgd.lr" = {value}\n')
    assert "[ranges] sgd.lr is searched on a log scale, so low must be > 0" in message


def test_a_range_within_a_linear_parameter_may_start_at_zero() -> None:
    spec = parse_spec(f'{TASK}[ranges]\n"rmsprop.momentum" = [0, 0.5]\n', SPEC_PATH)
    assert spec.options.ranges == {"rmsprop.momentum": (0, 0.5)}


# --- [fixed] and [ranges] against the search space -------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[fixed]\n"sgd.momentun" = 0.9', "[fixed] names an unknown parameter 'sgd.momentun'"),
        ('[ranges]\n"adamw.betas" = [0.1, 0.2]', "[ranges] names an unknown parameter"),
        (
            'optimizers = ["adamw"]\n[fixed]\n"sgd.momentum" = 0.9',
            "[fixed] names an unknown parameter 'sgd.momentum'",
        ),
        ('[fixed]\n"cosine.eta_min_ratio" = 2.0', "[fixed] cosine.eta_min_ratio = 2.0"),
        ('[fixed]\n"cosine.eta_min_ratio" = "0"', "[fixed] cosine.eta_min_ratio = '0'"),
        ('[fixed]\n"sgd.nesterov" = 1', "[fixed] sgd.nesterov = 1 is not one of False, True"),
        ('[fixed]\n"sgd.lr" = 0', "[fixed] sgd.lr must be positive, but got 0"),
        (
            '[fixed]\n"adamw.weight_decay" = -1',
            "[fixed] adamw.weight_decay = -1 is not allowed: it must be in [0, 10]",
        ),
        ('schedules = ["cosine"]\n[fixed]\nschedule = "step"', "[fixed] schedule = 'step'"),
        ('[ranges]\n"sgd.nesterov" = [0, 1]', "[ranges] sgd.nesterov takes one of False, True"),
        ("[ranges]\noptimizer = [0, 1]", "[ranges] optimizer takes one of 'sgd', 'adam'"),
        (
            '[ranges]\n"cosine.eta_min_ratio" = [0, 2]',
            "[ranges] cosine.eta_min_ratio must lie within [0, 1], but got [0, 2]",
        ),
    ],
)
def test_fixed_and_ranges_are_checked_against_the_space(text: str, fragment: str) -> None:
    assert fragment in spec_error(f"{TASK}{text}\n")


def test_a_range_may_be_widened_up_to_the_parameters_limits() -> None:
    text = f'{TASK}[ranges]\n"cosine.eta_min_ratio" = [0, 1]\n'
    assert parse_spec(text, SPEC_PATH).options.ranges == {"cosine.eta_min_ratio": (0, 1)}


def test_a_fixed_optimizer_value_outside_its_searched_range_is_accepted() -> None:
    spec = parse_spec(f'{TASK}[fixed]\n"adamw.weight_decay" = 0\n"sgd.lr" = 5.0\n', SPEC_PATH)
    assert spec.options.fixed == {"adamw.weight_decay": 0, "sgd.lr": 5.0}


# --- the documentation -----------------------------------------------------------------


def test_the_readme_documents_every_key_and_parameter_name() -> None:
    readme = (ROOT / "studies" / "README.md").read_text()
    keys = [*SPEC_KEYS[:2], *(field.name for field in dataclasses.fields(StudyOptions))]
    names = [
        f"{family}.{param.name}"
        for registry in (OPTIMIZERS, SCHEDULES)
        for family in registry.names()
        for param in registry.get(family).params
    ]
    for name in [*keys, *names, "start_lr", "num_iter", "amp", "rule", "validation"]:
        assert f"`{name}`" in readme or f"`[{name.removesuffix('_options')}]`" in readme, name
    assert "lrtune study studies/digits-mlp.toml" in readme


def test_the_readme_gives_each_numeric_parameters_searched_range() -> None:
    rows = {
        line.split("|")[1].strip(" `"): line
        for line in (ROOT / "studies" / "README.md").read_text().splitlines()
        if line.startswith("| `")
    }
    for registry in (OPTIMIZERS, SCHEDULES):
        for family in registry.names():
            for param in registry.get(family).params:
                if param.choices is None:
                    assert param.describe() in rows[f"{family}.{param.name}"], param


# --- sizes ------------------------------------------------------------------------------


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.toml"
    path.write_text(TASK + "# " + "x" * 2_000_000 + "\n")
    with pytest.raises(SpecError, match=r"huge.toml: 2.0 MB is far too big for a study spec"):
        load_spec(path)


def test_deep_nesting_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(TASK + "fixed = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(SpecError, match=r"deep.toml: invalid TOML: .*nested too deeply"):
        load_spec(path)


def test_a_long_value_is_quoted_short() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(TASK + f'optimizers = "{"sgd" * 10_000}"\n', SPEC_PATH)
    message = str(caught.value)
    assert len(message) < 300
    assert "characters) (a string)" in message
