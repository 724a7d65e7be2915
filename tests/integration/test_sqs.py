"""The bridge on Amazon SQS (moto's server mode), claims and slots in Redis.

Real ``celery -A swfbridge worker`` and ``swfbridge poll`` processes with
``CELERY_BROKER_URL=sqs://`` pointed at the local SQS, one queue per task list.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from swfbridge.testing import LocalSWF, ScheduledActivity, run_activities, start_activities
from tests.integration.activities import TASK_LIST as IT_TASKS
from tests.integration.heartbeat_activities import TASK_LIST as HB_TASKS
from tests.support import processes, sqs

ACTIVITIES = "tests.integration.activities,tests.integration.heartbeat_activities"
IT_QUEUE = f"swfbridge.{IT_TASKS}"  # SQS name: swfbridge-it-tasks (kombu maps '.')
HB_QUEUE = f"swfbridge.{HB_TASKS}"


@dataclass
class SqsBridge:
    swf: LocalSWF
    sqs_endpoint: str
    domain: str
    env: dict[str, str]
    tmp: Path
    worker: processes.Process
    pollers: list[processes.Process]

    def client(self) -> Any:
        return self.swf.client()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.output()}" for p in [self.worker, *self.pollers])


@pytest.fixture(scope="module")
def sqs_endpoint() -> Iterator[str]:
    with sqs.local_sqs() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def sqs_bridge(
    local_swf_server: LocalSWF,
    redis_url: str,
    sqs_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SqsBridge]:
    """One worker consuming a queue per task list, one poller per task list."""
    domain = f"it-sqs-{uuid.uuid4().hex[:8]}"
    tmp = tmp_path_factory.mktemp("sqs")
    env = processes.bridge_env(
        broker_url=sqs.broker_url(sqs_endpoint),
        swf_endpoint=local_swf_server.endpoint_url,
        activities=ACTIVITIES,
    )
    env.update(SWFBRIDGE_STATE_URL=redis_url, SWFBRIDGE_CANCEL_GRACE="1")
    registered = processes.run_cli(env, "register", "--domain", domain, "--create-domain")
    assert registered.returncode == 0, registered.stdout + registered.stderr
    worker = processes.start_worker(
        env, tmp, name="sqs-worker", extra=["-Q", f"{IT_QUEUE},{HB_QUEUE}"]
    )
    pollers: list[processes.Process] = []
    try:
        for task_list, queue in ((IT_TASKS, IT_QUEUE), (HB_TASKS, HB_QUEUE)):
            pollers.append(
                processes.start_poller(
                    env,
                    tmp,
                    domain=domain,
                    task_list=task_list,
                    name=f"sqs-poller-{task_list}",
                    extra=["--queue", queue, "--max-in-flight", "4"],
                )
            )
        yield SqsBridge(local_swf_server, sqs_endpoint, domain, env, tmp, worker, pollers)
    finally:
        processes.stop_all(*pollers, worker)


def _flowy(*args: object, **kwargs: object) -> str:
    return json.dumps([list(args), kwargs])


def test_activities_complete_and_fail_through_sqs_one_queue_per_task_list(
    sqs_bridge: SqsBridge,
) -> None:
    outcomes = run_activities(
        sqs_bridge.client(),
        domain=sqs_bridge.domain,
        task_list=IT_TASKS,
        timeout_s=90,
        activities=[
            ScheduledActivity("add", "Add", "1", input=_flowy(1, 2)),
            ScheduledActivity("greet", "Greet", "1", input=_flowy(name="ada")),
            ScheduledActivity("refuse", "Refuse", "1", input=_flowy("no stock")),
            ScheduledActivity("explode", "Explode", "1", input=_flowy(3)),
        ],
    )
    shown = {k: (o.status, o.result, o.reason) for k, o in outcomes.items()}
    assert shown == {
        "add": ("completed", "3", None),
        "greet": ("completed", '"hello ada"', None),
        "refuse": ("failed", None, "refused: no stock"),
        "explode": ("failed", None, "ValueError: xxx"),
    }, sqs_bridge.logs()
    queues = sqs.client(sqs_bridge.sqs_endpoint).list_queues()["QueueUrls"]
    assert {url.rsplit("/", 1)[1] for url in queues} >= {"swfbridge-it-tasks", "swfbridge-hb-tasks"}


def test_progress_details_reach_swf_from_a_worker_on_sqs(sqs_bridge: SqsBridge) -> None:
    activity_id = f"stall-{uuid.uuid4().hex[:6]}"
    outcomes = run_activities(
        sqs_bridge.client(),
        domain=sqs_bridge.domain,
        task_list=HB_TASKS,
        timeout_s=40,
        activities=[ScheduledActivity(activity_id, "Stall", "1", input=_flowy(3, 5))],
    )
    outcome = outcomes[activity_id]
    assert outcome.status == "timed_out" and outcome.timeout_type == "HEARTBEAT", outcome
    assert json.loads(outcome.details or "") == {"step": 3, "of": 3}


def test_a_cancellation_requested_while_the_job_runs_on_sqs_ends_canceled(
    sqs_bridge: SqsBridge,
) -> None:
    victim = f"cancel-{uuid.uuid4().hex[:6]}"
    outcomes = run_activities(
        sqs_bridge.client(),
        domain=sqs_bridge.domain,
        task_list=HB_TASKS,
        timeout_s=60,
        cancel_after_start=lambda activity_id: (
            activity_id == victim and f"activity={victim}" in sqs_bridge.worker.output()
        ),
        activities=[ScheduledActivity(victim, "Cooperative", "1", input=_flowy(30))],
    )
    assert outcomes[victim].status == "canceled", (outcomes[victim], sqs_bridge.logs())
    assert "step" in json.loads(outcomes[victim].details or "")  # its last progress


def test_status_counts_jobs_queued_in_sqs_and_those_expired_there_never_run(
    sqs_bridge: SqsBridge,
) -> None:
    task_list = f"sqs-idle-{uuid.uuid4().hex[:6]}"
    queue = f"swfbridge.{task_list}"  # no worker consumes it yet
    poller = processes.start_poller(
        sqs_bridge.env,
        sqs_bridge.tmp,
        domain=sqs_bridge.domain,
        task_list=task_list,
        name=f"sqs-poller-{task_list}",
        extra=["--queue", queue],
    )
    sqs_bridge.pollers.append(poller)
    markers = [sqs_bridge.tmp / f"marker-{task_list}-{i}" for i in range(3)]
    # Marker's start-to-close is 2 s: all three expire while queued.
    outcomes = run_activities(
        sqs_bridge.client(),
        domain=sqs_bridge.domain,
        task_list=task_list,
        timeout_s=40,
        activities=[
            ScheduledActivity(f"marker-{i}", "Marker", "1", input=_flowy(str(path)))
            for i, path in enumerate(markers)
        ],
    )
    assert {o.status for o in outcomes.values()} == {"timed_out"}, outcomes

    status = processes.run_cli(
        sqs_bridge.env,
        "status",
        "--domain",
        sqs_bridge.domain,
        "--task-list",
        task_list,
        "--queue",
        queue,
        "--json",
    )
    report = json.loads(status.stdout)
    assert report["queued_in_broker"] == 3, (report, status.stderr)
    assert report["slots_held"] == 0, report

    late = processes.start_worker(
        sqs_bridge.env, sqs_bridge.tmp, name="sqs-late", extra=["-Q", queue]
    )
    try:
        sqs_client = sqs.client(sqs_bridge.sqs_endpoint)
        url = sqs_client.get_queue_url(QueueName=f"swfbridge-{task_list}")["QueueUrl"]

        def drained() -> bool:
            attributes = sqs_client.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            return set(attributes.values()) == {"0"}

        processes.wait_for(drained, 60, "the late worker to take the expired jobs")
        time.sleep(1.0)  # a job it had started would have written its marker by now
    finally:
        late.stop()
    assert not any(path.exists() for path in markers), late.output()
    # Celery's check of `expires` on receipt (SQS does not enforce it).
    assert late.output().count("Discarding revoked task") == 3, late.output()


def _status(bridge: SqsBridge, task_list: str, queue: str) -> dict[str, Any]:
    result = processes.run_cli(
        bridge.env,
        "status",
        "--domain",
        bridge.domain,
        "--task-list",
        task_list,
        "--queue",
        queue,
        "--json",
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_status_counts_a_job_a_worker_holds_from_sqs_as_in_flight(sqs_bridge: SqsBridge) -> None:
    blocker = f"block-{uuid.uuid4().hex[:6]}"
    run = start_activities(
        sqs_bridge.client(),
        domain=sqs_bridge.domain,
        task_list=HB_TASKS,
        timeout_s=40,
        activities=[ScheduledActivity(blocker, "Block", "1", input=_flowy(6))],
    )
    processes.wait_for(
        lambda: (
            f"running: workflow={run.workflow_id} activity={blocker}" in sqs_bridge.worker.output()
        ),
        30,
        "the job running",
    )
    report = _status(sqs_bridge, HB_TASKS, HB_QUEUE)
    assert (report["in_flight"], report["from"], report["errors"]) == (1, "sqs", {}), report
    assert run.wait(40)[blocker].status == "completed"


def test_a_job_too_large_for_its_sqs_queue_fails_its_task_with_the_reason(
    sqs_bridge: SqsBridge,
) -> None:
    task_list = f"sqs-small-{uuid.uuid4().hex[:6]}"
    queue = f"swfbridge-{task_list}"
    # SQS's smallest MaximumMessageSize: no job message fits (the default is 1 MiB).
    sqs.client(sqs_bridge.sqs_endpoint).create_queue(
        QueueName=queue, Attributes={"MaximumMessageSize": "1024"}
    )
    sqs_bridge.pollers.append(
        processes.start_poller(
            sqs_bridge.env,
            sqs_bridge.tmp,
            domain=sqs_bridge.domain,
            task_list=task_list,
            name=f"sqs-poller-{task_list}",
            extra=["--queue", queue],
        )
    )
    outcomes = run_activities(
        sqs_bridge.client(),
        domain=sqs_bridge.domain,
        task_list=task_list,
        timeout_s=40,
        activities=[ScheduledActivity("too-big", "Add", "1", input=_flowy(1, 2))],
    )
    outcome = outcomes["too-big"]
    assert outcome.status == "failed", (outcome, sqs_bridge.logs())
    assert outcome.reason is not None and "could not enqueue" in outcome.reason, outcome
    assert "1024 bytes" in (outcome.reason + (outcome.details or "")), outcome


def test_a_poller_stops_polling_while_sqs_does_not_answer(
    local_swf_server: LocalSWF, redis_url: str, tmp_path: Path
) -> None:
    domain = f"it-sqs-down-{uuid.uuid4().hex[:8]}"
    sqs_server = sqs.LocalSqs()
    poller = None
    try:
        env = processes.bridge_env(
            broker_url=sqs.broker_url(sqs_server.endpoint),
            swf_endpoint=local_swf_server.endpoint_url,
            activities=ACTIVITIES,
        )
        env["SWFBRIDGE_STATE_URL"] = redis_url
        registered = processes.run_cli(env, "register", "--domain", domain, "--create-domain")
        assert registered.returncode == 0, registered.stderr
        poller = processes.start_poller(env, tmp_path, domain=domain, task_list=IT_TASKS)
        # One job published: the poller's SQS connection is made and cached.
        start_activities(
            local_swf_server.client(),
            domain=domain,
            task_list=IT_TASKS,
            timeout_s=20,
            activities=[ScheduledActivity("first", "Add", "1", input=_flowy(1, 2))],
        )
        processes.wait_for(lambda: "dispatched" in poller.output(), 30, "the first job")
        sqs_server.stop()
        # SQS is gone. Before its next poll, the check must find SQS down (a
        # kombu SQS connection holds no socket that would notice).
        processes.wait_for(
            lambda: "broker unavailable, not polling" in poller.output(), 90, "the broker check"
        )
    finally:
        if poller is not None:
            poller.stop()
        sqs_server.stop()


def test_a_users_app_joined_with_install_runs_activities_on_sqs_and_warns_of_its_visibility(
    sqs_bridge: SqsBridge, redis_url: str
) -> None:
    task_list = f"sqs-userapp-{uuid.uuid4().hex[:6]}"
    queue = f"swfbridge-{task_list}"
    env = {k: v for k, v in sqs_bridge.env.items() if k not in ("SWFBRIDGE_STATE_URL",)}
    env.update(SWFBRIDGE_ACTIVITIES="", USERAPP_STATE_URL=redis_url)
    worker = processes.start_worker(
        env,
        sqs_bridge.tmp,
        name="sqs-userapp",
        app="tests.integration.sqs_userapp",
        extra=["-Q", queue],
    )
    try:
        sqs_bridge.pollers.append(
            processes.start_poller(
                sqs_bridge.env,
                sqs_bridge.tmp,
                domain=sqs_bridge.domain,
                task_list=task_list,
                name=f"sqs-poller-{task_list}",
                extra=["--queue", queue],
            )
        )
        outcomes = run_activities(
            sqs_bridge.client(),
            domain=sqs_bridge.domain,
            task_list=task_list,
            timeout_s=60,
            activities=[ScheduledActivity("add", "Add", "1", input=_flowy(20, 22))],
        )
    finally:
        worker.stop()
    assert (outcomes["add"].status, outcomes["add"].result) == ("completed", "42"), worker.output()
    assert (
        "unsafe broker setting: the longest start-to-close timeout (60s) exceeds the SQS "
        "visibility timeout (30s)" in worker.output()
    )


def test_status_names_a_missing_sqs_queue_and_does_not_create_it(sqs_bridge: SqsBridge) -> None:
    report = _status(sqs_bridge, IT_TASKS, "swfbridge.never-made")

    assert "no SQS queue named 'swfbridge-never-made'" in report["errors"]["queued_in_broker"]
    queues = sqs.client(sqs_bridge.sqs_endpoint).list_queues().get("QueueUrls", [])
    assert not [url for url in queues if url.endswith("/swfbridge-never-made")]
