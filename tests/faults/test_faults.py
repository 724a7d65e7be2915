"""Fault injection: real redis-server, local SWF, real workers and pollers.

Each scenario schedules a batch of activities, injects one fault while they
run, and checks the promise: every activity closes; none runs twice; every
completed result is the right one; every failure the bridge causes says why;
nothing times out while queued. The table is printed at the end of the run.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from swfbridge.poller.dispatch import CeleryDispatcher
from swfbridge.testing import LocalSWF, ScheduledActivity, start_activities
from swfbridge.wire.job import ActivityJob
from tests.faults.activities import TASK_LIST
from tests.faults.harness import RestartableRedis, Row, kill9, kill9_group, record
from tests.support import processes

pytestmark = pytest.mark.slow


@dataclass
class Scene:
    """What a fault callback can reach."""

    env: dict[str, str]
    log_dir: Path
    domain: str
    worker: processes.Process
    poller: processes.Process | None
    poller_args: list[str]
    recorder: Any
    broker: RestartableRedis
    swf: LocalSWF
    restarts: int = 0
    facts: dict[str, Any] = field(default_factory=dict)

    def start_poller(self) -> processes.Process:
        self.restarts += 1
        self.poller = processes.start_poller(
            self.env,
            self.log_dir,
            domain=self.domain,
            task_list=TASK_LIST,
            name=f"poller-{self.restarts}",
            extra=self.poller_args,
        )
        return self.poller

    def logs(self) -> str:
        parts = [
            f"--- {p.name}\n{p.output()[-6000:]}"
            for p in (self.worker, self.poller)
            if p is not None
        ]
        return "\n".join(parts)


def _flowy(*args: object) -> str:
    return json.dumps([list(args), {}])


def run_scenario(
    name: str,
    *,
    swf: LocalSWF,
    domain: str,
    env: dict[str, str],
    log_dir: Path,
    recorder: Any,
    broker: RestartableRedis,
    count: int = 40,
    activity_type: str = "Work",
    sleep_s: float = 0.2,
    extra: list[tuple[str, str, float]] = (),  # type: ignore[assignment]
    concurrency: int = 4,
    max_in_flight: int | None = 6,
    pollers: int = 2,
    with_poller: bool = True,
    fault: Callable[[Scene], None] | None = None,
    allowed_timeouts: int = 0,
    timeout_s: float = 120,
) -> tuple[Row, Scene]:
    specs = [(f"{name}-{i}", activity_type, sleep_s) for i in range(count)] + list(extra)
    poller_args = ["--pollers", str(pollers)]
    if max_in_flight is not None:
        poller_args += ["--max-in-flight", str(max_in_flight)]
    # The worker boots while the poller starts: nothing is scheduled before both are up.
    worker = processes.start_worker(
        env, log_dir, name=f"worker-{name}", concurrency=concurrency, ready=False
    )
    try:
        poller = (
            processes.start_poller(
                env, log_dir, domain=domain, task_list=TASK_LIST, name="poller-0", extra=poller_args
            )
            if with_poller
            else None
        )
    except Exception:
        worker.kill()
        raise
    try:
        processes.wait_worker_ready(worker)
    except Exception:
        processes.stop_all(poller)
        raise
    scene = Scene(env, log_dir, domain, worker, poller, poller_args, recorder, broker, swf)
    try:
        run = start_activities(
            swf.client(),
            domain=domain,
            task_list=TASK_LIST,
            timeout_s=timeout_s,
            activities=[
                ScheduledActivity(aid, kind, "1", input=_flowy(aid, sleep))
                for aid, kind, sleep in specs
            ],
        )
        if fault is not None:
            fault(scene)
        outcomes = run.wait(timeout_s + 30)
    finally:
        swf.clear_faults()
        processes.stop_all(scene.poller, scene.worker)
    row = record(name, outcomes, recorder, [aid for aid, _, _ in specs])
    detail = f"{row}\n{scene.logs()}"
    assert len(outcomes) == len(specs), detail
    assert row.duplicates == 0, detail
    assert row.other == 0, detail
    assert row.timed_out <= allowed_timeouts, detail
    assert not any("never ran" in n for n in row.notes) or allowed_timeouts, detail
    return row, scene


def wait_runs(scene: Scene, n: int, timeout_s: float = 30) -> None:
    processes.wait_for(
        lambda: scene.recorder.llen("faults:runs") >= n, timeout_s, f"{n} runs recorded"
    )


def test_baseline_every_activity_completes_once_with_its_result(ctx: dict[str, Any]) -> None:
    row, _ = run_scenario("baseline", **ctx)
    assert row.completed == row.scheduled


def test_sigterm_to_the_poller_mid_poll_loses_nothing_and_it_exits_within_the_poll_window(
    ctx: dict[str, Any],
) -> None:
    def fault(scene: Scene) -> None:
        before = scene.recorder.llen("faults:runs")
        wait_runs(scene, before + 5)
        stopping = time.monotonic()
        assert scene.poller is not None
        scene.poller.signal(signal.SIGTERM)
        code = scene.poller.popen.wait(20)
        scene.facts["exit"] = (code, time.monotonic() - stopping)
        scene.start_poller()

    row, scene = run_scenario("sigterm poller mid-poll", fault=fault, sleep_s=0.3, **ctx)
    code, took_s = scene.facts["exit"]
    assert code == 0
    assert took_s < 2.0 + 8.0  # the local long poll is 2 s; generous slack for a busy box
    assert row.completed == row.scheduled


def test_kill_9_of_a_pool_child_fails_its_attempt_at_once_naming_the_lost_worker(
    ctx: dict[str, Any],
) -> None:
    victim = "kill9-child-victim"

    def fault(scene: Scene) -> None:
        processes.wait_for(
            lambda: scene.recorder.get(f"faults:pid:{victim}") is not None, 30, "victim running"
        )
        kill9(int(scene.recorder.get(f"faults:pid:{victim}")))

    row, _ = run_scenario(
        "kill -9 pool child", fault=fault, count=20, extra=[(victim, "Work", 12.0)], **ctx
    )
    assert row.failed_with_reason == 1
    assert any(
        victim in n and "worker process running the activity was lost" in n for n in row.notes
    ), row.notes
    assert row.completed == row.scheduled - 1


def test_kill_9_of_a_whole_worker_runs_nothing_twice_and_its_slots_heal_by_deadline(
    ctx: dict[str, Any],
) -> None:
    """The worker's main process and pool die at once (a lost host, the OOM
    killer): nothing reports its jobs, so SWF times out what it was running
    (start-to-close), and their capacity slots, held by no one, free themselves
    at the deadline: a replacement worker then runs the rest. (With
    --max-in-flight equal to the pool the worker may hold a job beyond what
    runs, one per child at most: published once the child freed its slot,
    taken by the main process before that child was free. Redelivered past
    its 6 s deadline, it is failed unstarted ("waited too long in the
    queue") unless SWF timed it out first. Reserved jobs of a dead worker:
    tests/faults/test_redelivery.py.)"""

    def fault(scene: Scene) -> None:
        before = scene.recorder.llen("faults:runs")
        wait_runs(scene, before + 8)
        scene.worker.kill()  # SIGKILL to the whole process group
        scene.worker = processes.start_worker(
            scene.env, scene.log_dir, name="worker-replacement", concurrency=4
        )

    # --max-in-flight 4 = the pool: every slot dies with the worker, so the
    # rest can only run once those slots have healed (deadline + grace). A
    # 6 s start-to-close (ShortWork) rather than Work's 15 s: the same heal,
    # 9 s sooner; each activity runs 0.2 s right after its poll.
    row, _ = run_scenario(
        "kill -9 whole worker",
        fault=fault,
        activity_type="ShortWork",
        allowed_timeouts=4,
        max_in_flight=4,
        timeout_s=150,
        **ctx,
    )
    unstarted = [n for n in row.notes if "not started" in n and "too long in the queue" in n]
    assert row.failed_with_reason == len(unstarted) <= 4, row.notes
    assert row.completed + row.timed_out + row.failed_with_reason == row.scheduled
    assert all("START_TO_CLOSE" in n for n in row.notes if "timed out" in n), row.notes


def test_kill_9_of_the_poller_and_a_restart_lose_only_what_was_on_the_wire(
    ctx: dict[str, Any],
) -> None:
    def fault(scene: Scene) -> None:
        before = scene.recorder.llen("faults:runs")
        wait_runs(scene, before + 8)
        assert scene.poller is not None
        kill9_group(scene.poller)
        scene.start_poller()

    # A long poll answered to a dead process is lost in SWF itself (the task
    # times out at start-to-close): at most one per poll thread.
    row, _ = run_scenario(
        "kill -9 poller + restart", fault=fault, allowed_timeouts=2, timeout_s=150, **ctx
    )
    assert row.completed + row.timed_out == row.scheduled


@pytest.mark.parametrize("kind", ["throttle", "error"])
def test_swf_throttling_and_500s_on_every_activity_call_are_retried_never_reported_as_failures(
    ctx: dict[str, Any],
    kind: str,
) -> None:
    def fault(scene: Scene) -> None:
        scene.swf.inject_faults(
            operations=[
                "PollForActivityTask",
                "RespondActivityTaskCompleted",
                "RespondActivityTaskFailed",
                "RecordActivityTaskHeartbeat",
            ],
            fraction=0.3,
            kind=kind,
        )

    label = "SWF throttling 30%" if kind == "throttle" else "SWF 500s 30%"
    row, _ = run_scenario(label, fault=fault, **ctx)
    assert row.completed == row.scheduled


def test_ten_times_overload_with_short_heartbeat_timeouts_times_nothing_out(
    ctx: dict[str, Any],
) -> None:
    # 40 tasks for 2 worker slots; heartbeat timeout 1.5 s, each runs 0.4 s.
    row, _ = run_scenario(
        "10x overload, heartbeat 1.5s",
        activity_type="Beat",
        sleep_s=0.4,
        concurrency=2,
        max_in_flight=4,
        **ctx,
    )
    assert row.completed == row.scheduled


def test_queued_jobs_are_kept_alive_by_the_poller_even_without_a_capacity_limit(
    ctx: dict[str, Any],
) -> None:
    # No --max-in-flight: all 20 are polled at once and wait in Redis up to
    # ~4 s, well past their 1.5 s heartbeat timeout; the poller beats for them.
    row, _ = run_scenario(
        "overload, no limit, keepalive",
        activity_type="Beat",
        count=20,
        sleep_s=0.4,
        concurrency=2,
        max_in_flight=None,
        **ctx,
    )
    assert row.completed == row.scheduled


def test_a_broker_outage_pauses_polling_and_the_bridge_resumes_by_itself(
    ctx: dict[str, Any],
) -> None:
    def fault(scene: Scene) -> None:
        before = scene.recorder.llen("faults:runs")
        wait_runs(scene, before + 5)
        scene.broker.stop()
        time.sleep(3)
        scene.broker.start()
        # Celery 5.7's worker can die on a Redis restart ("Unrecoverable error:
        # AttributeError ... 'hostname'" in kombu's reconnect); a supervisor
        # restarts it, and so do we. Jobs queued meanwhile wait in the broker.
        time.sleep(1)
        if not scene.worker.alive():
            scene.facts["worker_restarted"] = True
            scene.worker = processes.start_worker(
                scene.env, scene.log_dir, name="worker-after-restart", concurrency=4
            )

    # A worker that survives the restart gives back what it had reserved when it
    # reconnects; one that dies meanwhile has its reserved jobs redelivered after
    # the short visibility timeout the worker sets (tests/faults/test_redelivery.py).
    # What was running when the connection dropped may still time out in SWF
    # (start-to-close) and be retried by the decider: at most two per pool
    # process are allowed; nothing else is lost.
    row, scene = run_scenario(
        "redis broker restart", fault=fault, sleep_s=0.3, allowed_timeouts=2 * 4, **ctx
    )
    if scene.facts.get("worker_restarted"):
        row.scenario += " (worker restarted)"
    # A task polled just as the broker went down is failed at once, saying so.
    assert row.completed + row.failed_with_reason + row.timed_out == row.scheduled
    assert all("START_TO_CLOSE" in n for n in row.notes if "timed out" in n), row.notes
    assert all(
        "could not enqueue the job on the Celery broker" in n
        for n in row.notes
        if "timed out" not in n
    ), row
    assert scene.poller is not None
    assert "broker unavailable, not polling" in scene.poller.output()


def test_a_redelivered_copy_of_a_running_attempt_is_dropped_by_its_claim(
    ctx: dict[str, Any],
) -> None:
    """Duplicate deliveries, as a Redis visibility timeout or a RabbitMQ
    consumer_timeout would cause: every job is published three times."""
    from celery import Celery

    app = Celery("dup-publisher", broker=ctx["broker"].url)
    app.conf.update(task_serializer="json", accept_content=["json"])
    dispatcher = CeleryDispatcher(app=app)
    client = ctx["swf"].client()

    def fault(scene: Scene) -> None:
        published = 0
        while published < 10:
            task = client.poll_for_activity_task(
                domain=scene.domain, taskList={"name": TASK_LIST}, identity="dup"
            )
            if not task.get("taskToken"):
                continue
            job = ActivityJob.from_poll(
                task,
                domain=scene.domain,
                task_list=TASK_LIST,
                polled_at=time.time(),
                start_to_close_s=15,
                heartbeat_s=None,
            )
            for _ in range(3):
                dispatcher.publish(job)
            published += 1

    # No bridge poller: the fault function above plays a poller that publishes thrice.
    row, scene = run_scenario(
        "redelivered duplicates x3", fault=fault, count=10, sleep_s=0.5, with_poller=False, **ctx
    )
    assert row.completed == row.scheduled
    assert scene.worker.output().count("duplicate delivery dropped") >= 10
