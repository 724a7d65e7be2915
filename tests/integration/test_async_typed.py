"""``async def run`` and typed values on a real prefork worker and poller.

Async and sync activities share one worker; cancellation reaches a coroutine
as ``asyncio.CancelledError``, a coroutine that ignores it is interrupted
after the grace period, and the worker's deadline cancels it. Typed arguments
and results (dataclasses, Pydantic) round-trip through SWF in every wire
format; bad typed input fails naming the parameter.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from swfbridge.testing import LocalSWF, ScheduledActivity, run_activities, start_activities
from tests.integration.async_activities import TASK_LIST
from tests.support import processes
from tests.support.endpoint_calls import RESPONDS, EndpointCalls

ACTIVITIES_MODULE = "tests.integration.async_activities"
CANCEL_GRACE_S = 1.0
DEADLINE_MARGIN_S = 1.0


@dataclass
class AsyncBridge:
    swf: LocalSWF
    domain: str
    worker: processes.Process
    poller: processes.Process
    tmp: Path

    def client(self) -> Any:
        return self.swf.client()

    def logs(self) -> str:
        return f"--- worker\n{self.worker.output()}\n--- poller\n{self.poller.output()}"


@pytest.fixture(scope="module")
def bridge(
    local_swf_server: LocalSWF, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AsyncBridge]:
    domain = f"async-{uuid.uuid4().hex[:8]}"
    tmp = tmp_path_factory.mktemp("async")
    env = processes.bridge_env(
        broker_url=redis_url,
        swf_endpoint=local_swf_server.endpoint_url,
        activities=ACTIVITIES_MODULE,
    )
    env.update(
        SWFBRIDGE_CANCEL_GRACE=str(CANCEL_GRACE_S), SWFBRIDGE_DEADLINE_MARGIN=str(DEADLINE_MARGIN_S)
    )
    registered = processes.run_cli(env, "register", "--domain", domain, "--create-domain")
    assert registered.returncode == 0, registered.stdout + registered.stderr
    worker = processes.start_worker(env, tmp, name="async-worker")
    poller = processes.start_poller(
        env, tmp, domain=domain, task_list=TASK_LIST, name="async-poller"
    )
    try:
        yield AsyncBridge(local_swf_server, domain, worker, poller, tmp)
    finally:
        processes.stop_all(poller, worker)


@pytest.fixture(scope="module")
def endpoint(bridge: AsyncBridge) -> Iterator[EndpointCalls]:
    calls = EndpointCalls()
    with pytest.MonkeyPatch.context() as monkeypatch:
        calls.install(monkeypatch)
        yield calls


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _input(*args: Any, **kwargs: Any) -> str:
    return json.dumps([list(args), kwargs])


def _run(bridge: AsyncBridge, *activities: ScheduledActivity) -> dict[str, Any]:
    return run_activities(
        bridge.client(),
        domain=bridge.domain,
        task_list=TASK_LIST,
        timeout_s=60,
        activities=list(activities),
    )


def _cancel_once_running(
    bridge: AsyncBridge, endpoint: EndpointCalls, activity_type: str, marker: Path
) -> Any:
    victim = _id(activity_type)
    run = start_activities(
        bridge.client(),
        domain=bridge.domain,
        task_list=TASK_LIST,
        timeout_s=60,
        activities=[ScheduledActivity(victim, activity_type, "1", input=_input(30, str(marker)))],
    )
    # Running in the worker once its start-of-job heartbeat reached SWF.
    processes.wait_for(
        lambda: bool(endpoint.of(victim, "record_activity_task_heartbeat")),
        30,
        "the activity to start",
    )
    run.request_cancel(victim)
    outcome = run.wait(60)[victim]
    assert len(endpoint.of(victim, *RESPONDS)) == 1
    return outcome


def test_an_async_activity_completes_and_its_heartbeats_reach_swf(
    bridge: AsyncBridge,
    endpoint: EndpointCalls,
) -> None:
    add = _id("async-add")
    outcome = _run(bridge, ScheduledActivity(add, "AsyncAdd", "1", input=_input(2, 3)))[add]

    assert outcome.status == "completed", (outcome, bridge.logs())
    assert outcome.result == "5"
    beats = endpoint.of(add, "record_activity_task_heartbeat")
    assert beats and all("step" in json.loads(details) for _, _, details in beats)


def test_sync_and_async_activities_share_a_worker_and_each_process_reuses_one_event_loop(
    bridge: AsyncBridge,
) -> None:
    ids = {_id(f"side-{kind}-{n}"): kind for n in range(4) for kind in ("AsyncLoop", "SyncAdd")}
    outcomes = _run(
        bridge,
        *(
            ScheduledActivity(i, kind, "1", input=_input() if kind == "AsyncLoop" else _input(1, 1))
            for i, kind in ids.items()
        ),
    )

    assert {o.status for o in outcomes.values()} == {"completed"}, (outcomes, bridge.logs())
    assert all(outcomes[i].result == "2" for i, kind in ids.items() if kind == "SyncAdd")
    jobs_by_loop: dict[Any, list[int]] = {}
    for i, kind in ids.items():
        if kind == "AsyncLoop":
            pid, loop, job = json.loads(outcomes[i].result or "")
            jobs_by_loop.setdefault((pid, loop), []).append(job)
    pids = {pid for pid, _ in jobs_by_loop}
    # One loop per pool process, counting every async job that process ran.
    assert len(jobs_by_loop) == len(pids)
    assert all(sorted(jobs) == list(range(1, len(jobs) + 1)) for jobs in jobs_by_loop.values())


def test_a_cooperative_async_activity_is_cancelled_with_cancelled_error_and_its_progress(
    bridge: AsyncBridge,
    endpoint: EndpointCalls,
) -> None:
    marker = bridge.tmp / _id("cooperative")
    outcome = _cancel_once_running(bridge, endpoint, "AsyncCooperative", marker)

    assert outcome.status == "canceled", (outcome, bridge.logs())
    assert "step" in json.loads(outcome.details or "")  # its last progress
    assert marker.read_text() == "cancelled"


def test_an_async_activity_stuck_in_asyncio_sleep_is_cancelled_without_an_interrupt(
    bridge: AsyncBridge,
    endpoint: EndpointCalls,
) -> None:
    marker = bridge.tmp / _id("sleeper")
    outcome = _cancel_once_running(bridge, endpoint, "AsyncSleeper", marker)

    assert outcome.status == "canceled", (outcome, bridge.logs())
    assert "interrupted" not in (outcome.details or "")
    assert marker.read_text() == "cancelled"


@pytest.mark.parametrize("activity_type", ["AsyncDeaf", "AsyncBlocking"])
def test_a_coroutine_ignoring_cancellation_is_interrupted_after_the_grace_period(
    bridge: AsyncBridge,
    endpoint: EndpointCalls,
    activity_type: str,
) -> None:
    marker = bridge.tmp / _id(activity_type)
    outcome = _cancel_once_running(bridge, endpoint, activity_type, marker)

    assert outcome.status == "canceled", (outcome, bridge.logs())
    assert outcome.details == f"interrupted {CANCEL_GRACE_S:g}s after cancellation was requested"
    processes.wait_for(marker.exists, 10, "the coroutine's finally block")
    assert marker.read_text().startswith("ended after ")
    assert marker.read_text() != "ended after 0 cancellation(s)"


def test_an_async_activity_reaching_its_deadline_is_cancelled_and_failed_before_swf_times_out(
    bridge: AsyncBridge,
) -> None:
    overrun = _id("overrun")
    outcome = _run(bridge, ScheduledActivity(overrun, "AsyncOverrun", "1", input=_input(30)))[
        overrun
    ]

    assert outcome.status == "failed", (outcome, bridge.logs())
    assert "start-to-close deadline" in (outcome.reason or "")
    details = json.loads(outcome.details or "")
    assert details["cause"] == "deadline_passed" and details["stage"] == "running"


ORDER = {"order_id": "o-1", "lines": [{"sku": "a", "quantity": 2}, {"sku": "b", "quantity": 3}]}


@pytest.mark.parametrize(
    ("activity_type", "input", "result"),
    [
        (
            "InvoiceOrder",
            json.dumps([[ORDER], {"discount": 0.1}]),
            {"order_id": "o-1", "units": 5, "skus": ["a", "b"]},
        ),
        (
            "PriceShipment",
            json.dumps({"address": "1 Main St", "weight_kg": 2}),
            {"address": "1 Main St", "price_cents": 500},
        ),
        ("CountLines", json.dumps({"args": [ORDER]}), {"o-1": 2}),
    ],
    ids=["dataclasses-flowy", "pydantic-json", "dataclass-simpleflow"],
)
def test_typed_arguments_and_results_round_trip_through_swf(
    bridge: AsyncBridge,
    activity_type: str,
    input: str,
    result: Any,
) -> None:
    typed = _id(activity_type)
    outcome = _run(bridge, ScheduledActivity(typed, activity_type, "1", input=input))[typed]

    assert outcome.status == "completed", (outcome, bridge.logs())
    assert json.loads(outcome.result or "") == result


@pytest.mark.parametrize(
    ("activity_type", "input", "parameter", "why"),
    [
        (
            "InvoiceOrder",
            json.dumps([[{"order_id": "o-2", "lines": [{"sku": "a", "quantity": "two"}]}], {}]),
            "order",
            "lines[0].quantity: expected an integer",
        ),
        (
            "PriceShipment",
            json.dumps({"address": "x", "weight_kg": -1}),
            "shipment",
            "weight_kg: Input should be greater than 0",
        ),
    ],
    ids=["dataclass", "pydantic"],
)
def test_typed_input_that_does_not_convert_fails_naming_the_parameter(
    bridge: AsyncBridge,
    activity_type: str,
    input: str,
    parameter: str,
    why: str,
) -> None:
    bad = _id(activity_type)
    outcome = _run(bridge, ScheduledActivity(bad, activity_type, "1", input=input))[bad]

    assert outcome.status == "failed", (outcome, bridge.logs())
    assert outcome.reason.startswith(
        f"swfbridge: input could not be converted: parameter '{parameter}': "
    )
    assert why in outcome.reason
    details = json.loads(outcome.details or "")
    assert details["cause"] == "input_undecodable" and details["parameter"] == parameter
