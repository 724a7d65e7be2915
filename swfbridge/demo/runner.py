"""Runs the demo: local SWF, a broker, a real Celery worker, the poller, a decider.

Everything is started here and stopped in reverse order, whatever happens.
The caller (the ``swfbridge demo`` command) chooses the broker and passes the
environment the worker process starts from; this module reads no environment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swfbridge.demo.activities import TASK_LIST
from swfbridge.demo.broker import DemoBroker
from swfbridge.demo.tap import SwfTap
from swfbridge.demo.workflow import CANCELED_ACTIVITY, Step, demo_steps

ACTIVITIES_MODULE = "swfbridge.demo.activities"
DOMAIN = "swfbridge-demo"
CONFIG_MODULE = "swfbridge_demo_celeryconfig"
REGION = "us-east-1"
# Short, so the poller and decider stop promptly once the workflow is done.
POLL_TIMEOUT_S = 2.0
WORKER_READY_TIMEOUT_S = 60.0
CANCEL_AFTER_RUNNING_S = 1.5

Emit = Callable[[str], None]


class DemoError(Exception):
    """The demo could not run (a part failed to start); the message says which."""


@dataclass(frozen=True)
class DemoConfig:
    """How to run the demo.

    Args:
        broker: The Celery broker to use.
        work_dir: A private scratch directory (worker log, config module, messages).
        base_env: The environment the worker process starts from (AWS and
            Celery variables in it are replaced).
        concurrency: Worker pool processes (prefork).
        pollers: Poll threads.
        timeout_s: Deadline for the whole workflow.
        python: Interpreter for the worker process.
    """

    broker: DemoBroker
    work_dir: Path
    base_env: Mapping[str, str] = field(default_factory=dict)
    concurrency: int = 4
    pollers: int = 2
    timeout_s: float = 60.0
    python: str = sys.executable


@dataclass(frozen=True)
class DemoResult:
    """How the demo went."""

    outcomes: dict[str, Any]
    unexpected: list[str]
    elapsed_s: float
    poller_counts: dict[str, int]
    worker_log: Path

    @property
    def ok(self) -> bool:
        return not self.unexpected


class _Clock:
    def __init__(self, emit: Emit) -> None:
        self._started = time.monotonic()
        self._emit = emit
        self._lock = threading.Lock()

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self._started

    def line(self, what: str, subject: str = "", detail: str = "") -> None:
        text = f"{self.elapsed_s:5.1f}s  {what:<16} {subject:<10} {detail}".rstrip()
        with self._lock:
            self._emit(text)


def run_demo(config: DemoConfig, emit: Emit = print) -> DemoResult:
    """Run the demo workflow end to end and return how it went.

    Raises:
        DemoError: the local SWF endpoint, the worker or the poller could not start.
    """
    from swfbridge.testing import LocalSWF, start_activities

    clock = _Clock(emit)
    steps = demo_steps()
    queue = f"swfbridge-demo-{uuid.uuid4().hex[:8]}"
    worker_log = config.work_dir / "worker.log"
    with ExitStack() as stack:
        swf = LocalSWF(poll_timeout_s=POLL_TIMEOUT_S, retention_s=300).start()
        stack.callback(swf.stop)
        tap = SwfTap(upstream_url=swf.endpoint_url,
                     on_heartbeat=lambda aid, details: clock.line("heartbeat", aid,
                                                                  _progress(details)))
        tap.start()
        stack.callback(tap.stop)
        clock.line("started", "local SWF", swf.endpoint_url)

        _register_types(swf.client())
        clock.line("registered", "types", f"{len(steps)} activities in domain {DOMAIN}")

        stack.enter_context(_worker(config, queue, tap.url, worker_log))
        clock.line("started", "worker", f"celery prefork x{config.concurrency}, queue {queue}")

        poller = _poller(config, queue, tap.url)
        poller.start()
        stack.callback(poller.join, 2 * POLL_TIMEOUT_S + 1)
        stack.callback(poller.stop)
        clock.line("started", "poller", f"{config.pollers} long-poll threads")

        run = start_activities(swf.client(), domain=DOMAIN, task_list=TASK_LIST,
                               activities=[s.activity for s in steps],
                               timeout_s=config.timeout_s,
                               workflow_id=f"swfbridge-demo-{uuid.uuid4().hex[:8]}")
        run_id = run.wait_started()
        clock.line("workflow", run.workflow_id, f"started: {len(steps)} activities")
        _watch(swf.client(), run, run_id, clock)
        outcomes = run.wait()
        elapsed_s = clock.elapsed_s
        counts = poller.counts
        clock.line("stopping", "", "poller, worker, local SWF")
    unexpected = _unexpected(steps, outcomes)
    clock.line("stopped")
    return DemoResult(outcomes=outcomes, unexpected=unexpected, elapsed_s=elapsed_s,
                      poller_counts=counts, worker_log=worker_log)


def _register_types(client: Any) -> None:
    from swfbridge import registration
    from swfbridge.registry import default_registry
    from swfbridge.swf import SwfClient

    swf = SwfClient(client=client)
    swf.call("register_domain", name=DOMAIN, workflowExecutionRetentionPeriodInDays="1")
    types = [e.options for e in default_registry if e.cls.__module__ == ACTIVITIES_MODULE]
    registration.register_missing(swf, DOMAIN, registration.plan(swf, DOMAIN, types))


def _boto_client(endpoint_url: str) -> Any:
    import boto3
    import botocore.config

    return boto3.session.Session().client(
        "swf", endpoint_url=endpoint_url, region_name=REGION,
        aws_access_key_id="demo", aws_secret_access_key="demo",
        config=botocore.config.Config(read_timeout=POLL_TIMEOUT_S + 10,
                                      retries={"mode": "standard", "total_max_attempts": 1}),
    )


def _worker_env(config: DemoConfig, queue: str, swf_url: str) -> dict[str, str]:
    env = {k: v for k, v in config.base_env.items()
           if not k.startswith(("AWS_", "CELERY_", "SWFBRIDGE_"))}
    env.update(
        CELERY_BROKER_URL=config.broker.url,
        SWFBRIDGE_ACTIVITIES=ACTIVITIES_MODULE,
        AWS_ENDPOINT_URL_SWF=swf_url,
        AWS_DEFAULT_REGION=REGION,
        AWS_ACCESS_KEY_ID="demo",
        AWS_SECRET_ACCESS_KEY="demo",
        PYTHONUNBUFFERED="1",
    )
    if config.broker.settings:
        (config.work_dir / f"{CONFIG_MODULE}.py").write_text(
            config.broker.config_module_source())
        env["CELERY_CONFIG_MODULE"] = CONFIG_MODULE
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(config.work_dir), env.get("PYTHONPATH", "")) if p)
    return env


@contextmanager
def _worker(config: DemoConfig, queue: str, swf_url: str, log_path: Path) -> Iterator[None]:
    argv = [config.python, "-m", "celery", "-A", "swfbridge", "worker", "-P", "prefork",
            "-c", str(config.concurrency), "-Q", queue, "-n", f"{queue}@%h",
            "--loglevel", "INFO", "--without-gossip", "--without-mingle",
            "--without-heartbeat"]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(argv, env=_worker_env(config, queue, swf_url),
                                   cwd=config.work_dir, stdout=log_file,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + WORKER_READY_TIMEOUT_S
        while " ready." not in log_path.read_text(errors="replace"):
            if process.poll() is not None:
                raise DemoError(f"the Celery worker exited ({process.returncode}); "
                                f"its log:\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                raise DemoError(f"the Celery worker was not ready after "
                                f"{WORKER_READY_TIMEOUT_S:.0f}s; its log:\n{_tail(log_path)}")
            time.sleep(0.1)
        yield
    finally:
        _stop_process(process)


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    """Warm shutdown (SIGTERM), then kill the whole process group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
            return
        except subprocess.TimeoutExpired:
            pass
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _poller(config: DemoConfig, queue: str, swf_url: str) -> Any:
    from celery import Celery

    from swfbridge.dispatch import CeleryDispatcher
    from swfbridge.poller import Poller, PollerConfig
    from swfbridge.registry import default_registry
    from swfbridge.swf import SwfClient
    from swfbridge.timeouts import TimeoutResolver

    app = Celery("swfbridge-demo-poller", broker=config.broker.url)
    app.conf.update(task_serializer="json", accept_content=["json"],
                    broker_connection_retry_on_startup=True, **config.broker.settings)
    swf = SwfClient(client=_boto_client(swf_url))
    return Poller(
        config=PollerConfig(domain=DOMAIN, task_list=TASK_LIST, identity="swfbridge-demo-poller",
                            pollers=config.pollers),
        swf=swf,
        dispatcher=CeleryDispatcher(app=app, queue=queue),
        timeouts=TimeoutResolver(registry=default_registry, swf=swf, domain=DOMAIN),
    )


def _watch(client: Any, run: Any, run_id: str, clock: _Clock) -> None:
    """Print the workflow's history as it grows, and cancel the long backup once it runs."""
    seen = 0
    activity_ids: dict[int, str] = {}
    running_since: dict[str, float] = {}
    cancel_sent = False
    while True:
        finished = run.done()
        events = _history(client, run.workflow_id, run_id)
        for event in events[seen:]:
            _print_event(event, activity_ids, running_since, clock)
        seen = len(events)
        started = running_since.get(CANCELED_ACTIVITY)
        if not cancel_sent and started is not None and (
                clock.elapsed_s - started >= CANCEL_AFTER_RUNNING_S):
            clock.line("decider", CANCELED_ACTIVITY, "asks SWF to cancel it")
            run.request_cancel(CANCELED_ACTIVITY)
            cancel_sent = True
        if finished:
            return
        time.sleep(0.25)


def _history(client: Any, workflow_id: str, run_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {"domain": DOMAIN,
                              "execution": {"workflowId": workflow_id, "runId": run_id}}
    while True:
        page = client.get_workflow_execution_history(**params)
        events += page.get("events", [])
        if not page.get("nextPageToken"):
            return sorted(events, key=lambda e: int(e["eventId"]))
        params["nextPageToken"] = page["nextPageToken"]


def _print_event(event: dict[str, Any], activity_ids: dict[int, str],
                 running_since: dict[str, float], clock: _Clock) -> None:
    kind = str(event["eventType"])
    attrs: dict[str, Any] = event.get(kind[0].lower() + kind[1:] + "EventAttributes", {})
    aid = activity_ids.get(int(attrs.get("scheduledEventId", 0) or 0), "?")
    if kind == "ActivityTaskScheduled":
        activity_ids[int(event["eventId"])] = attrs["activityId"]
        clock.line("scheduled", attrs["activityId"], attrs["activityType"]["name"])
    elif kind == "ActivityTaskStarted":
        running_since[aid] = clock.elapsed_s
        clock.line("running", aid, f"polled by {attrs.get('identity', '?')}")
    elif kind == "ActivityTaskCompleted":
        clock.line("done", aid, f"completed: {_short(attrs.get('result'))}")
    elif kind == "ActivityTaskFailed":
        clock.line("done", aid, f"failed: {attrs.get('reason')!r} {_short(attrs.get('details'))}")
    elif kind == "ActivityTaskCancelRequested":
        clock.line("cancel requested", attrs.get("activityId", "?"))
    elif kind == "ActivityTaskCanceled":
        clock.line("done", aid, f"canceled: {_short(attrs.get('details'))}")
    elif kind == "ActivityTaskTimedOut":
        clock.line("done", aid, f"timed out ({attrs.get('timeoutType')})")
    elif kind.startswith("WorkflowExecution") and kind != "WorkflowExecutionStarted" and (
            kind != "WorkflowExecutionSignaled"):
        clock.line("workflow", "", kind.removeprefix("WorkflowExecution").lower())


def _progress(details: Any) -> str:
    if isinstance(details, dict) and "percent" in details:
        return f"progress {details['percent']}%"
    return f"progress {_short(json.dumps(details))}"


def _short(text: str | None, limit: int = 70) -> str:
    if text is None:
        return "-"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unexpected(steps: list[Step], outcomes: Mapping[str, Any]) -> list[str]:
    wrong = []
    for step in steps:
        aid = step.activity.activity_id
        outcome = outcomes.get(aid)
        status = outcome.status if outcome is not None else "missing"
        if status != step.expected:
            wrong.append(f"{aid}: expected {step.expected}, got {status}")
    return wrong


def _tail(path: Path, lines: int = 30) -> str:
    with suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


def summarize(result: DemoResult) -> list[str]:
    """The closing lines: one per activity, then the totals."""
    statuses = Counter(o.status for o in result.outcomes.values())
    totals = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
    verdict = "all as expected" if result.ok else "NOT as expected: " + "; ".join(
        result.unexpected)
    lines = [f"summary: {len(result.outcomes)} activities in {result.elapsed_s:.1f}s: "
             f"{totals} ({verdict})"]
    for aid, outcome in result.outcomes.items():
        what = outcome.result if outcome.status == "completed" else (
            outcome.reason or outcome.details or "")
        lines.append(f"  {aid:<10} {outcome.status:<10} {_short(what)}")
    counts = result.poller_counts
    lines.append(f"poller: {counts.get('polls', 0)} polls ({counts.get('empty_polls', 0)} empty), "
                 f"{counts.get('dispatched', 0)} dispatched to Celery, "
                 f"{counts.get('failed_by_bridge', 0)} failed by the bridge")
    return lines
