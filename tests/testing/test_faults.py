from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError
from local_swf_helpers import DOMAIN, error_code, http_status, setup_domain

from swfbridge.testing import LocalSWF


def _admin(
    swf: LocalSWF, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    headers = headers or {}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{swf.endpoint_url}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _outcomes(client: Any, calls: int) -> list[str]:
    seen = []
    for _ in range(calls):
        try:
            client.count_pending_activity_tasks(domain=DOMAIN, taskList={"name": "t"})
            seen.append("ok")
        except ClientError as exc:
            seen.append(error_code(exc))
    return seen


def test_injected_throttling_hits_only_the_chosen_operations(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    local_swf.inject_faults(operations={"CountPendingActivityTasks"}, fraction=1.0)
    with pytest.raises(ClientError) as raised:
        swf_client.count_pending_activity_tasks(domain=DOMAIN, taskList={"name": "t"})
    assert error_code(raised.value) == "ThrottlingException"
    assert http_status(raised.value) == 400
    swf_client.count_pending_decision_tasks(domain=DOMAIN, taskList={"name": "t"})
    local_swf.clear_faults()
    assert _outcomes(swf_client, 3) == ["ok"] * 3


def test_injected_errors_answer_http_500(local_swf: LocalSWF, swf_client: Any) -> None:
    setup_domain(swf_client)
    local_swf.inject_faults(operations={"CountPendingActivityTasks"}, kind="error")
    with pytest.raises(ClientError) as raised:
        swf_client.count_pending_activity_tasks(domain=DOMAIN, taskList={"name": "t"})
    assert http_status(raised.value) == 500


def test_a_fraction_of_requests_fail(local_swf: LocalSWF, swf_client: Any) -> None:
    setup_domain(swf_client)
    local_swf.inject_faults(operations={"CountPendingActivityTasks"}, fraction=0.5)
    seen = _outcomes(swf_client, 200)
    assert 50 <= seen.count("ThrottlingException") <= 150
    assert set(seen) == {"ok", "ThrottlingException"}


def test_faults_can_be_set_and_cleared_through_the_admin_endpoint(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    status, body = _admin(
        local_swf,
        "POST",
        "/_swfbridge/faults",
        {"operations": ["CountPendingActivityTasks"], "fraction": 1, "kind": "throttle"},
    )
    assert status == 200
    assert body["plan"]["operations"] == ["CountPendingActivityTasks"]
    assert _outcomes(swf_client, 2) == ["ThrottlingException"] * 2
    assert _admin(local_swf, "GET", "/_swfbridge/faults")[1]["plan"]["kind"] == "throttle"
    assert _admin(local_swf, "DELETE", "/_swfbridge/faults") == (200, {"plan": None})
    assert _outcomes(swf_client, 2) == ["ok"] * 2


def test_the_admin_endpoint_rejects_a_bad_plan(local_swf: LocalSWF) -> None:
    status, body = _admin(local_swf, "POST", "/_swfbridge/faults", {"fraction": 2})
    assert status == 400
    assert "fraction" in body["error"]


def test_admin_reset_forgets_state_and_the_server_keeps_working(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    local_swf.inject_faults(operations={"ListDomains"})
    assert _admin(local_swf, "POST", "/_swfbridge/reset") == (200, {"reset": True})
    assert swf_client.list_domains(registrationStatus="REGISTERED")["domainInfos"] == []
    setup_domain(swf_client)  # registering again works


def test_moto_reset_keeps_long_polling_and_timeouts_working(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    from local_swf_helpers import Workflow, attributes, poll_activity

    setup_domain(swf_client)
    Workflow(swf_client).schedule("old")
    assert _admin(local_swf, "POST", "/moto-api/reset")[0] == 200
    setup_domain(swf_client)
    workflow = Workflow(swf_client)
    workflow.schedule("a1", startToCloseTimeout="0.3")
    assert poll_activity(swf_client)["activityId"] == "a1"
    assert attributes(workflow.wait_for("ActivityTaskTimedOut"))["timeoutType"] == "START_TO_CLOSE"


def test_health_endpoint_answers_ok(local_swf: LocalSWF) -> None:
    assert _admin(local_swf, "GET", "/_swfbridge/health") == (200, {"status": "ok"})


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/_swfbridge/reset"),
        ("POST", "/_swfbridge/faults"),
        ("DELETE", "/_swfbridge/faults"),
        ("POST", "/moto-api/reset"),
    ],
)
def test_admin_requests_a_web_page_could_send_are_refused(
    local_swf: LocalSWF, method: str, path: str
) -> None:
    # What a cross-site form or no-cors fetch can send: a "simple" content type.
    assert _admin(local_swf, method, path, {}, {"Content-Type": "text/plain"})[0] == 403
    foreign = {"Origin": "http://evil.example"}
    assert _admin(local_swf, method, path, {}, foreign)[0] == 403


def test_no_cors_and_no_moto_dashboard(local_swf: LocalSWF, swf_client: Any) -> None:
    setup_domain(swf_client)
    status, body = _admin(
        local_swf, "GET", "/moto-api/data.json", None, {"Origin": "http://evil.example"}
    )
    assert status == 404 and "off" in body["error"]
    preflight = urllib.request.Request(
        f"{local_swf.endpoint_url}/",
        method="OPTIONS",
        headers={
            "Origin": "http://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-amz-target,content-type",
            "X-Amz-Target": "SimpleWorkflowService.ListDomains",
        },
    )
    try:
        with urllib.request.urlopen(preflight, timeout=5) as response:
            headers = list(response.headers)
    except urllib.error.HTTPError as exc:
        headers = list(exc.headers)
    assert not [h for h in headers if h.lower().startswith("access-control-")]
