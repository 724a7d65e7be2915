"""A plain boto3 decider sending the JSON text of one value to an Activity of the json format."""

from __future__ import annotations

import json

from swfbridge.testing import ScheduledActivity, run_activities
from tests.integration.conftest import Bridge

# The JSON text a decider sends, and the value the activity must receive.
VALUES: dict[str, tuple[str | None, list[object]]] = {
    "number": ("42", [42]),
    "object": ('{"k": [1, 2]}', [{"k": [1, 2]}]),
    "string": ('"hello"', ["hello"]),
    "array": ("[1, 2, 3]", [[1, 2, 3]]),
    "two-element-array": ('[["x"], {"k": 2}]', [[["x"], {"k": 2}]]),
    "no-input": (None, []),
    "empty-input": ("", []),
}


def test_each_kind_of_json_value_arrives_as_the_single_argument(bridge: Bridge) -> None:
    outcomes = run_activities(
        bridge.client(),
        domain=bridge.domain,
        task_list=bridge.task_list,
        activities=[
            ScheduledActivity(kind, "DescribeJson", "1", input=text)
            for kind, (text, _) in VALUES.items()
        ]
        + [ScheduledActivity("not-json", "DescribeJson", "1", input="NaN")],
        timeout_s=90,
    )
    for kind, (_, args) in VALUES.items():
        outcome = outcomes[kind]
        assert outcome.status == "completed", (kind, outcome, bridge.logs())
        assert outcome.result is not None
        assert json.loads(outcome.result) == {"args": args}, kind
    refused = outcomes["not-json"]
    assert refused.status == "failed", (refused, bridge.logs())
    assert refused.reason is not None and "not valid JSON" in refused.reason
