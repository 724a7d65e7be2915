"""The whole path: decider → local SWF → poller → Redis → prefork worker → SWF."""

from __future__ import annotations

import json

from swfbridge.testing import ScheduledActivity, register_activity_type, run_activities
from tests.integration.conftest import Bridge


def _flowy(*args: object, **kwargs: object) -> str:
    return json.dumps([list(args), kwargs])


def test_twenty_mixed_activities_each_close_with_the_right_result_or_a_bounded_reason(
    bridge: Bridge,
) -> None:
    client = bridge.client()
    # Known to SWF, unknown to this fleet.
    register_activity_type(
        client,
        domain=bridge.domain,
        name="Ghost",
        version="1",
        task_list=bridge.task_list,
        start_to_close="60",
        schedule_to_start="60",
    )
    specs = {
        "add-positional": ("Add", _flowy(1, 2)),
        "add-default": ("Add", _flowy(5)),
        "add-keyword": ("Add", _flowy(a=3, b=4)),
        "add-mixed": ("Add", _flowy(7, b=1)),
        "echo-one": ("Echo", _flowy("hi")),
        "echo-varargs": ("Echo", _flowy(1, 2, 3, k="v")),
        "echo-empty-input": ("Echo", None),
        "greet-keyword-only": ("Greet", _flowy(name="ada")),
        "greet-keyword-override": ("Greet", _flowy(name="bob", greeting="hey")),
        "token": ("TokenLength", _flowy()),
        "refuse": ("Refuse", _flowy("no stock")),
        "explode-long-message": ("Explode", _flowy(1000)),
        "explode-short": ("Explode", _flowy(3)),
        "non-json-result": ("ReturnSet", _flowy()),
        "huge-result": ("ReturnHuge", _flowy(40_000)),
        "result-just-fits": ("ReturnHuge", _flowy(32_766)),
        "undecodable-input": ("Add", "{not json"),
        "wrong-shape-input": ("Add", json.dumps({"a": 1})),
        "too-many-args": ("Add", _flowy(1, 2, 3)),
        "unknown-type": ("Ghost", _flowy()),
    }
    assert len(specs) == 20
    outcomes = run_activities(
        client,
        domain=bridge.domain,
        task_list=bridge.task_list,
        activities=[
            ScheduledActivity(activity_id, name, "1", input=text)
            for activity_id, (name, text) in specs.items()
        ],
        timeout_s=90,
    )

    def completed(activity_id: str) -> object:
        outcome = outcomes[activity_id]
        assert outcome.status == "completed", (outcome, bridge.logs())
        assert outcome.result is not None
        return json.loads(outcome.result)

    def failed(activity_id: str) -> tuple[str, str | None]:
        outcome = outcomes[activity_id]
        assert outcome.status == "failed", (outcome, bridge.logs())
        assert outcome.reason is not None and len(outcome.reason) <= 256
        assert outcome.details is None or len(outcome.details) <= 32_768
        return outcome.reason, outcome.details

    assert completed("add-positional") == 3
    assert completed("add-default") == 15
    assert completed("add-keyword") == 7
    assert completed("add-mixed") == 8
    assert completed("echo-one") == ["hi"]
    assert completed("echo-varargs") == [1, 2, 3, "v"]
    assert completed("echo-empty-input") == [None]
    assert completed("greet-keyword-only") == "hello ada"
    assert completed("greet-keyword-override") == "hey bob"
    assert 0 < completed("token") <= 1024  # type: ignore[operator]
    assert completed("result-just-fits") == "x" * 32_766

    reason, details = failed("refuse")
    assert reason == "refused: no stock"
    assert details is not None and json.loads(details) == {"why": "no stock"}

    reason, details = failed("explode-long-message")
    assert reason.startswith("ValueError: xxx") and reason.endswith("[TRUNCATED]")
    assert details is not None
    parsed = json.loads(details)
    assert parsed["error"] == "ValueError" and parsed["message"] == "x" * 1000
    assert "Traceback" in parsed["traceback"] and "activities.py" in parsed["traceback"]

    assert failed("explode-short")[0] == "ValueError: xxx"
    assert "result is not JSON-serialisable" in failed("non-json-result")[0]
    assert "result too large: 40002 characters" in failed("huge-result")[0]
    assert "input could not be decoded" in failed("undecodable-input")[0]
    assert "input could not be decoded" in failed("wrong-shape-input")[0]
    assert "input does not match run(" in failed("too-many-args")[0]
    # Tokens are secrets and inputs may be too: neither appears in the logs.
    assert "task_token" not in bridge.logs() and "[[1, 2], {}]" not in bridge.logs()

    reason, details = failed("unknown-type")
    assert "unknown activity type 'Ghost' version '1'" in reason
    assert details is not None and json.loads(details)["cause"] == "unknown_activity_type"
