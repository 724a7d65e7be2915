"""Runs a soak end to end and returns its report (``python -m tests.soak``)."""

from __future__ import annotations

import json
import random
import re
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from swfbridge.testing import ActivityOutcome, ActivityRun, start_activities
from tests.soak.activities import RUNS_KEY, TASK_LIST
from tests.soak.chaos import KINDS as CHAOS_KINDS
from tests.soak.chaos import Chaos, ChaosConfig
from tests.soak.fleet import Fleet, FleetConfig
from tests.soak.plan import PlannedActivity, plan
from tests.soak.verdict import Evidence, Run, Verdict, judge
from tests.support import processes

ACTIVITIES_MODULE = "tests.soak.activities"
_DISPATCHED = re.compile(r"dispatched \(.*?\): workflow=\S+ activity=(\S+) type=\S+ attempt=(\S+)")
_BEAT_RETRIED = re.compile(r"heartbeat failed \(.*?\), retrying.*? activity=(\S+) ")
_RECEIVED = re.compile(r"Task swfbridge\.run_activity\[(\S+?)\] received")
_DROPPED_AS_CLAIMED = re.compile(
    r"duplicate delivery dropped, the attempt is claimed already: workflow=\S+ activity=(\S+) "
)


@dataclass(frozen=True)
class SoakConfig:
    """One soak: how much, how hard, how long at most."""

    activities: int = 10_000
    seed: int = 0
    per_workflow: int = 50
    parallel_workflows: int = 8
    fleet: FleetConfig = field(default_factory=FleetConfig)
    chaos_interval_s: float = 6.0
    chaos: bool = True
    tail_fraction: float = 0.03  # chaos stops once no more than this fraction is left to run
    max_wall_s: float = 3600.0
    cancel_delay_s: tuple[float, float] = (0.3, 1.5)
    workdir: Path | None = None


@dataclass
class SoakReport:
    config: SoakConfig
    verdict: Verdict
    chaos: Counter[str]
    chaos_skipped: Counter[str]
    deaths_by_chaos: Counter[str]
    deaths_on_their_own: Counter[str]
    duplicate_deliveries_dropped: int
    workflow_errors: list[str]
    wall_s: float
    max_in_flight: int
    workdir: Path

    @property
    def ok(self) -> bool:
        return self.verdict.ok and not self.workflow_errors

    def table(self) -> str:
        c = self.config
        lines = [
            f"soak: {c.activities} activities, seed {c.seed}, {c.fleet.workers} workers x "
            f"{c.fleet.concurrency}, {c.fleet.pollers} pollers x {c.fleet.poll_threads} threads, "
            f"max-in-flight {self.max_in_flight}, {c.parallel_workflows} workflows of "
            f"{c.per_workflow} at a time",
            "",
            _rows(
                ("outcome", "count"),
                [
                    *sorted(self.verdict.outcomes.items()),
                    ("unexplained timeouts", self.verdict.unexplained_timeouts),
                    ("duplicates (attempt runs beyond the first)", self.verdict.duplicates),
                ],
            ),
            "",
            _rows(
                ("chaos event", "count"),
                [
                    *((kind, self.chaos.get(kind, 0)) for kind in CHAOS_KINDS),
                    *(
                        (f"died on its own: {role}", n)
                        for role, n in sorted(self.deaths_on_their_own.items())
                    ),
                ],
            ),
            "",
            f"duplicate deliveries dropped by claims: {self.duplicate_deliveries_dropped}",
            f"wall time: {self.wall_s:.0f} s ({c.activities / self.wall_s:.1f} activities/s)",
            f"logs: {self.workdir}",
        ]
        if self.workflow_errors:
            lines.append(f"workflow errors: {self.workflow_errors[:5]}")
        lines += self.verdict.notes[:30]
        lines.append(
            "RESULT: "
            + (
                "OK"
                if self.ok
                else f"FAILED ({self.verdict.losses} lost, {self.verdict.duplicates} duplicates)"
            )
        )
        return "\n".join(lines)


def _rows(headers: tuple[str, str], data: list[tuple[str, int]]) -> str:
    width = max(len(str(x)) for x in (headers[0], *(d[0] for d in data)))
    out = [f"| {headers[0]:<{width}} | {headers[1]:>5} |", f"|{'-' * (width + 2)}|{'-' * 7}|"]
    out += [f"| {name:<{width}} | {n:>5} |" for name, n in data]
    return "\n".join(out)


class _Workflows:
    """Feeds the plan to the decider: ``parallel`` workflows at a time."""

    def __init__(
        self,
        batches: list[list[PlannedActivity]],
        *,
        client: Callable[[], Any],
        domain: str,
        parallel: int,
        timeout_s: float,
        seed: int,
    ) -> None:
        self.batches = batches
        self._client = client
        self.domain = domain
        self.parallel = parallel
        self.timeout_s = timeout_s
        self.seed = seed
        self.runs: list[ActivityRun] = []
        self.run_of: dict[str, ActivityRun] = {}
        self.started_by: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._feed, name="workflows", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def done(self) -> bool:
        return not self._thread.is_alive() and all(run.done() for run in self.runs)

    def _feed(self) -> None:
        for n, batch in enumerate(self.batches):
            while sum(not run.done() for run in self.runs) >= self.parallel:
                if self._stop.wait(0.2):
                    return
            if self._stop.is_set():
                return
            run = start_activities(
                self._client(),
                domain=self.domain,
                task_list=TASK_LIST,
                activities=[a.scheduled() for a in batch],
                timeout_s=self.timeout_s,
                workflow_id=f"soak-{self.seed}-{n:04d}-{uuid.uuid4().hex[:6]}",
                create_domain=False,
                on_event=self._listener(),
            )
            self.runs.append(run)
            for activity in batch:
                self.run_of[activity.key] = run

    def _listener(self) -> Callable[[Mapping[str, Any]], None]:
        scheduled: dict[int, str] = {}

        def on_event(event: Mapping[str, Any]) -> None:
            kind = event["eventType"]
            if kind == "ActivityTaskScheduled":
                attrs = event["activityTaskScheduledEventAttributes"]
                scheduled[int(event["eventId"])] = str(attrs["activityId"])
            elif kind == "ActivityTaskStarted":
                attrs = event["activityTaskStartedEventAttributes"]
                key = scheduled.get(int(attrs["scheduledEventId"]))
                identity = str(attrs.get("identity", ""))
                if key is not None and identity.rpartition(":")[2].isdigit():
                    self.started_by[key] = int(identity.rpartition(":")[2])

        return on_event

    def outcomes(self) -> tuple[dict[str, ActivityOutcome], list[str]]:
        outcomes: dict[str, ActivityOutcome] = {}
        errors = []
        for run in self.runs:
            try:
                outcomes.update(run.wait(0))
            except Exception as exc:  # a workflow that did not finish: its activities did not end
                errors.append(f"{run.workflow_id}: {exc!r}")
        return outcomes, errors


def _decider_client(endpoint: str, poll_timeout_s: float) -> Any:
    """A boto3 client for the deciders that rides out the injected SWF faults."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "swf",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(
            read_timeout=poll_timeout_s + 10,
            connect_timeout=5,
            retries={"mode": "standard", "total_max_attempts": 12},
        ),
    )


def _read_runs(recorder: Any) -> dict[str, list[Run]]:
    runs: dict[str, list[Run]] = defaultdict(list)
    for raw in recorder.lrange(RUNS_KEY, 0, -1):
        entry = json.loads(raw)
        runs[entry["key"]].append(Run(pid=int(entry["pid"]), ppid=int(entry["ppid"])))
    return dict(runs)


def _attempts_in_broker(url: str) -> tuple[set[str], set[str]]:
    """Task ids (attempt ids) in kombu's ``unacked`` hash, and in the queue."""
    broker = redis.Redis.from_url(url)

    def task_id(payload: Any) -> str:
        return str(payload.get("headers", {}).get("id", ""))

    try:
        unacked = {task_id(json.loads(raw)[0]) for raw in broker.hvals("unacked")}
        queued = {task_id(json.loads(raw)) for raw in broker.lrange("celery", 0, -1)}
    except redis.RedisError:  # the verdict then cannot tell these rows apart, nothing more
        return set(), set()
    return unacked, queued


def _key_of_attempt(fleet: Fleet) -> dict[str, str]:
    return {
        attempt: key
        for proc in fleet.incarnations("poller")
        for key, attempt in _DISPATCHED.findall(proc.output())
    }


def _beat_retried(fleet: Fleet) -> frozenset[str]:
    return frozenset(
        key
        for proc in (*fleet.incarnations("poller"), *fleet.incarnations("worker"))
        for key in _BEAT_RETRIED.findall(proc.output())
    )


def _dropped_as_claimed(fleet: Fleet) -> frozenset[str]:
    return frozenset(
        key
        for proc in fleet.incarnations("worker")
        for key in _DROPPED_AS_CLAIMED.findall(proc.output())
    )


def _evidence_from_logs(
    fleet: Fleet, key_of: Mapping[str, str]
) -> tuple[dict[str, int], dict[str, frozenset[int]], int]:
    dispatched_by: dict[str, int] = {}
    for proc in fleet.incarnations("poller"):
        for key, _ in _DISPATCHED.findall(proc.output()):
            dispatched_by[key] = proc.popen.pid
    received: dict[str, set[int]] = defaultdict(set)
    dropped = 0
    for proc in fleet.incarnations("worker"):
        text = proc.output()
        dropped += text.count("duplicate delivery dropped")
        for attempt in _RECEIVED.findall(text):
            if attempt in key_of:
                received[key_of[attempt]].add(proc.popen.pid)
    return dispatched_by, {k: frozenset(v) for k, v in received.items()}, dropped


def run_soak(config: SoakConfig, *, say: Callable[[str], None] = print) -> SoakReport:
    """Run the soak; every process it starts is stopped before it returns."""
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="swfbridge-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    say(f"soak: seed {config.seed}, logs in {workdir}")
    with processes.redis_server() as recorder_url:
        recorder = redis.Redis.from_url(recorder_url)
        fleet = Fleet(
            config.fleet,
            workdir=workdir,
            recorder_url=recorder_url,
            domain=f"soak-{uuid.uuid4().hex[:8]}",
            activities=ACTIVITIES_MODULE,
        )
        try:
            fleet.start()
            return _run(config, fleet, recorder, say)
        except BaseException:
            fleet.kill_everything()
            raise


def _run(config: SoakConfig, fleet: Fleet, recorder: Any, say: Callable[[str], None]) -> SoakReport:
    say(f"soak: fleet up (local SWF {fleet.local_swf.url}, broker {fleet.broker.url})")
    batches = plan(config.activities, per_workflow=config.per_workflow, seed=config.seed)
    planned = [a for batch in batches for a in batch]
    by_key = {a.key: a for a in planned}
    rng = random.Random(config.seed + 1)
    workflows = _Workflows(
        batches,
        client=lambda: _decider_client(fleet.local_swf.url, config.fleet.poll_timeout_s),
        domain=fleet.domain,
        parallel=config.parallel_workflows,
        timeout_s=config.max_wall_s,
        seed=config.seed,
    )
    chaos = Chaos(fleet, ChaosConfig(seed=config.seed, mean_interval_s=config.chaos_interval_s))
    started = time.monotonic()
    workflows.start()
    if config.chaos:
        chaos.start()
    chaos_on = config.chaos
    seen = 0
    ran: set[str] = set()
    cancels: list[tuple[float, str, int]] = []  # (when, key, tries)
    last_progress = started
    while not workflows.done() and time.monotonic() - started < config.max_wall_s:
        time.sleep(0.2)
        for raw in recorder.lrange(RUNS_KEY, seen, -1):
            seen += 1
            key = json.loads(raw)["key"]
            if key not in ran and by_key[key].kind == "cancel":
                cancels.append((time.monotonic() + rng.uniform(*config.cancel_delay_s), key, 0))
            ran.add(key)
        cancels = _request_cancels(cancels, workflows)
        # Chaos goes on until only the tail is left to run, and every kind has
        # happened (a short soak proves nothing about a fault it never met).
        tail = len(ran) >= (1 - config.tail_fraction) * len(planned)
        if chaos_on and tail and (chaos.covered() or len(ran) == len(planned)):
            chaos.stop()
            chaos_on = False
            say("soak: chaos stopped, running the tail")
        if time.monotonic() - last_progress >= 15:
            last_progress = time.monotonic()
            say(
                f"soak: {time.monotonic() - started:.0f}s: {len(ran)}/{len(planned)} ran, "
                f"{sum(r.done() for r in workflows.runs)}/{len(batches)} workflows done, "
                f"{len(chaos.log.events)} chaos events"
            )
    wall_s = time.monotonic() - started
    if chaos_on:
        chaos.stop()
    workflows.stop()
    outcomes, errors = workflows.outcomes()
    key_of = _key_of_attempt(fleet)
    unacked, queued = _attempts_in_broker(fleet.broker.url)  # before workers restore theirs
    fleet.stop()
    dispatched_by, received_by, dropped = _evidence_from_logs(fleet, key_of)
    evidence = Evidence(
        runs=_read_runs(recorder),
        dead_pids=frozenset(fleet.dead_pids),
        started_by=dict(workflows.started_by),
        dispatched_by=dispatched_by,
        received_by=received_by,
        unacked=frozenset(key_of[a] for a in unacked if a in key_of),
        still_queued=frozenset(key_of[a] for a in queued if a in key_of),
        beat_retried=_beat_retried(fleet),
        dropped_as_claimed=_dropped_as_claimed(fleet),
    )
    deaths_by_chaos: Counter[str] = Counter()
    deaths_on_their_own: Counter[str] = Counter()
    for death in fleet.deaths:
        role = death.role.split("-")[0]
        (deaths_by_chaos if death.by_chaos else deaths_on_their_own)[role] += 1
    return SoakReport(
        config=config,
        verdict=judge(planned, outcomes, evidence),
        chaos=chaos.log.counts(),
        chaos_skipped=chaos.log.skipped,
        deaths_by_chaos=deaths_by_chaos,
        deaths_on_their_own=deaths_on_their_own,
        duplicate_deliveries_dropped=dropped,
        workflow_errors=errors,
        wall_s=wall_s,
        max_in_flight=fleet.max_in_flight,
        workdir=fleet.workdir,
    )


def _request_cancels(
    cancels: list[tuple[float, str, int]], workflows: _Workflows
) -> list[tuple[float, str, int]]:
    """Ask the deciders for the cancellations that are due; keep the rest."""
    now = time.monotonic()
    left = []
    for when, key, tries in cancels:
        if when > now:
            left.append((when, key, tries))
            continue
        try:
            workflows.run_of[key].request_cancel(key)
        except Exception:  # SWF faults outlasted the client's retries: try again soon
            if tries < 20:
                left.append((now + 1.0, key, tries + 1))
    return left
