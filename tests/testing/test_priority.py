from __future__ import annotations

from typing import Any

from local_swf_helpers import Workflow, attributes, poll_activity, schedule_decision, setup_domain

from swfbridge.testing import LocalSWF


def test_higher_priority_first_then_fifo_including_the_type_default(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client, defaultTaskPriority="3")
    workflow = Workflow(swf_client)
    workflow.decide(
        [
            schedule_decision("low", taskPriority="1"),
            schedule_decision("high-1", taskPriority="5"),
            schedule_decision("default"),  # the type's defaultTaskPriority: 3
            schedule_decision("high-2", taskPriority="5"),
            schedule_decision("negative", taskPriority="-2"),
            schedule_decision("zero", taskPriority="0"),
        ]
    )
    order = [poll_activity(swf_client)["activityId"] for _ in range(6)]
    assert order == ["high-1", "high-2", "default", "low", "zero", "negative"]
    scheduled = {
        attributes(e)["activityId"]: attributes(e).get("taskPriority")
        for e in workflow.events_of("ActivityTaskScheduled")
    }
    assert scheduled["default"] == "3"


def test_describe_activity_type_reports_the_default_priority(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client, defaultTaskPriority="7")
    described = swf_client.describe_activity_type(
        domain="test-domain", activityType={"name": "work", "version": "1"}
    )
    assert described["configuration"]["defaultTaskPriority"] == "7"
