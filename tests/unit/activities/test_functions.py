"""simpleflow-style activities run by import path, within allowed prefixes only."""

from __future__ import annotations

import json
import sys

import pytest

from swfbridge import SIMPLEFLOW, ConfigurationError, FunctionActivities
from swfbridge.activities.functions import FunctionUnavailable, is_allowed

ALLOWED = "tests.migration.sf_allowed"


def _cause(exc: FunctionUnavailable) -> str:
    assert exc.failure.details is not None
    return str(json.loads(exc.failure.details)["cause"])


@pytest.mark.parametrize(
    ("module", "allowed"),
    [
        ("myapp.activities", True),
        ("myapp.activities.images", True),
        ("myapp.activities_old", False),
        ("myapp", False),
        ("other.myapp.activities", False),
    ],
)
def test_a_prefix_allows_its_module_and_submodules_by_whole_name_parts(
    module: str, allowed: bool
) -> None:
    assert is_allowed(module, ["myapp.activities"]) is allowed


def test_an_allowed_function_resolves_to_an_activity_with_simpleflows_format() -> None:
    entry = FunctionActivities([ALLOWED]).resolve(f"{ALLOWED}.multiply", "7")

    assert entry is not None
    assert entry.cls.wire_format is SIMPLEFLOW
    assert entry.options.auto_heartbeat and entry.options.version == "7"
    assert entry.cls().run(6, b=7) == 42


def test_a_simpleflow_activity_object_is_unwrapped_to_its_function() -> None:
    entry = FunctionActivities([ALLOWED]).resolve(f"{ALLOWED}.shout", "1")

    assert entry is not None and entry.cls().run("hi") == "HI!"


def test_a_path_outside_the_prefixes_is_refused_without_importing_anything() -> None:
    sys.modules.pop("tests.migration.sf_forbidden", None)

    with pytest.raises(FunctionUnavailable) as refused:
        FunctionActivities([ALLOWED]).resolve("tests.migration.sf_forbidden.touch", "1")

    assert _cause(refused.value) == "import_path_not_allowed"
    assert "nothing was imported" in refused.value.failure.reason
    assert "tests.migration.sf_forbidden" not in sys.modules


@pytest.mark.parametrize(
    "name",
    [f"{ALLOWED}.path_join", f"{ALLOWED}.Callable", f"{ALLOWED}.annotations", f"{ALLOWED}.nope"],
)
def test_only_functions_defined_in_the_module_itself_are_run(name: str) -> None:
    with pytest.raises(FunctionUnavailable, match="defines no function"):
        FunctionActivities([ALLOWED]).resolve(name, "1")


def test_private_names_and_dunders_are_never_run() -> None:
    for name in (f"{ALLOWED}._shout", f"{ALLOWED}.__loader__"):
        with pytest.raises(FunctionUnavailable, match="private and dunder names"):
            FunctionActivities([ALLOWED]).resolve(name, "1")


@pytest.mark.parametrize(
    "name",
    [
        "tests.migration._sf_private.touch",
        "tests.migration.__main__.x",
        "tests.migration.sf_allowed.__builtins__.eval",
    ],
)
def test_private_and_dunder_modules_below_the_prefix_are_never_imported(name: str) -> None:
    sys.modules.pop("tests.migration._sf_private", None)

    with pytest.raises(FunctionUnavailable) as refused:
        FunctionActivities(["tests.migration"]).resolve(name, "1")

    assert _cause(refused.value) == "import_path_not_allowed"
    assert "tests.migration._sf_private" not in sys.modules


def test_a_module_that_cannot_be_imported_fails_with_the_import_error() -> None:
    with pytest.raises(FunctionUnavailable) as failed:
        FunctionActivities(["tests.migration"]).resolve("tests.migration.no_such.f", "1")

    assert _cause(failed.value) == "import_failed"
    assert "ModuleNotFoundError" in failed.value.failure.reason


def test_a_name_that_is_not_a_dotted_path_is_just_an_unknown_type() -> None:
    assert FunctionActivities([ALLOWED]).resolve("Resize", "1") is None
    assert FunctionActivities([ALLOWED]).resolve("a..b", "1") is None


def test_prefixes_must_be_dotted_module_names() -> None:
    with pytest.raises(ConfigurationError, match="not a dotted module name"):
        FunctionActivities(["myapp/activities"])
