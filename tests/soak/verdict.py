"""How each activity of the soak ended, and whether that is acceptable.

Pure logic over what the soak gathered: the outcomes in SWF's histories, the
runs the activities recorded (pid, parent pid), the processes that died, the
pollers' ``dispatched`` lines and the workers' ``received`` lines.

The rule (issue 18): every activity ends — completed with its result, failed
with a reason, canceled, or timed out only if its attempt was held by a
process that was killed — and no attempt runs twice.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from swfbridge.testing import ActivityOutcome
from tests.soak.activities import PLANNED_FAILURE, result_for
from tests.soak.plan import PlannedActivity

# Failures the bridge reports for faults it cannot undo: acceptable ends.
ACCEPTED_BRIDGE_CAUSES = frozenset(
    {"worker_lost", "enqueue_failed", "poller_shutdown", "deadline_passed"}
)

# Acceptable timeouts.
T_KILLED_RUNNING = "timed out: was running in a killed process"
T_KILLED_POLLER = "timed out: held by a killed poller, not yet enqueued"
# The worker's claim is the bridge's "started": a pool child that claimed the
# attempt and was killed before the activity's run began recorded no run, but a
# redelivered copy was dropped by its claim.
T_KILLED_CLAIMED = "timed out: claimed in a killed worker, killed before its run began"
# Losses (the rule is broken).
T_RESERVED_DEAD = "LOST timed out: reserved by a worker that died, never started"
T_RESERVED_LIVE = "LOST timed out: reserved by a live worker, never started"
T_UNACKED = "LOST timed out: taken from the queue, never acked nor started"
T_STILL_QUEUED = "LOST timed out: still in the queue at the end"
T_QUEUED_POLLER_DIED = "LOST timed out: queued when its poller died, never received"
T_QUEUED = "LOST timed out: queued, never received"
T_RAN_LIVE = "LOST timed out: ran in a live process"
T_NOT_DISPATCHED = "LOST timed out: never dispatched by a live poller"
NOT_ENDED = "LOST not ended (workflow did not finish)"
WRONG = "LOST wrong outcome"


@dataclass(frozen=True)
class Run:
    pid: int
    ppid: int


@dataclass(frozen=True)
class Evidence:
    """Everything the soak knows about where each attempt went.

    Attributes:
        runs: key -> every run the activity recorded.
        dead_pids: every process that died (killed, or exited by itself).
        started_by: key -> pid of the poller SWF handed the task to
            (the ``ActivityTaskStarted`` identity).
        dispatched_by: key -> pid of the poller that enqueued it.
        received_by: key -> pids of the worker main processes that received it.
        unacked: keys whose message sat in the broker's ``unacked`` hash at the
            end (taken by a consumer that died or lost its connection first).
        still_queued: keys whose message was still in the queue at the end.
        beat_retried: keys whose heartbeat (worker's or poller's keepalive) had
            to be retried after an SWF error (logged ``heartbeat failed``).
        dropped_as_claimed: keys a copy of which a worker dropped because the
            attempt was claimed already (logged ``duplicate delivery dropped``).
    """

    runs: Mapping[str, Sequence[Run]]
    dead_pids: frozenset[int]
    started_by: Mapping[str, int] = field(default_factory=dict)
    dispatched_by: Mapping[str, int] = field(default_factory=dict)
    received_by: Mapping[str, frozenset[int]] = field(default_factory=dict)
    unacked: frozenset[str] = frozenset()
    still_queued: frozenset[str] = frozenset()
    beat_retried: frozenset[str] = frozenset()
    dropped_as_claimed: frozenset[str] = frozenset()


@dataclass
class Verdict:
    outcomes: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def losses(self) -> int:
        return sum(n for name, n in self.outcomes.items() if name.startswith("LOST"))

    @property
    def unexplained_timeouts(self) -> int:
        return sum(n for name, n in self.outcomes.items() if name.startswith("LOST timed out"))

    @property
    def ok(self) -> bool:
        return self.losses == 0 and self.duplicates == 0


def _bridge_cause(outcome: ActivityOutcome) -> str:
    try:
        details = json.loads(outcome.details or "{}")
    except ValueError:
        return "unknown"
    return str(details.get("cause", "unknown")) if isinstance(details, dict) else "unknown"


def classify(planned: PlannedActivity, outcome: ActivityOutcome | None, evidence: Evidence) -> str:
    """The row of the table this activity counts in."""
    key = planned.key
    if outcome is None:
        return NOT_ENDED
    expected = planned.spec.expected
    if outcome.status == "completed":
        if outcome.result is None or json.loads(outcome.result) != result_for(key):
            return WRONG
        return "completed" if expected != "canceled" else "completed (cancel not honoured)"
    if outcome.status == "canceled":
        return "canceled" if expected == "canceled" else WRONG
    if outcome.status == "failed":
        reason = outcome.reason or ""
        if reason == PLANNED_FAILURE and expected == "failed":
            return "failed: planned"
        if reason.startswith("swfbridge: "):
            cause = _bridge_cause(outcome)
            prefix = "failed" if cause in ACCEPTED_BRIDGE_CAUSES else "LOST failed"
            return f"{prefix}: swfbridge {cause}"
        return WRONG
    if outcome.status == "timed_out":
        return _timeout(planned, outcome, evidence)
    return WRONG


def _timeout(planned: PlannedActivity, outcome: ActivityOutcome, evidence: Evidence) -> str:
    key = planned.key
    row = _where(key, evidence)
    if row == T_QUEUED_POLLER_DIED and outcome.timeout_type != "HEARTBEAT":
        row = T_QUEUED  # not a missed keepalive: its poller's death did not matter
    if row.startswith("LOST") and key in evidence.beat_retried:
        row += " (a heartbeat was retried after an SWF error)"
    return row


def _where(key: str, evidence: Evidence) -> str:
    dead = evidence.dead_pids
    runs = evidence.runs.get(key, ())
    if runs:
        if all(run.pid in dead or run.ppid in dead for run in runs):
            return T_KILLED_RUNNING
        return T_RAN_LIVE
    received = evidence.received_by.get(key, frozenset())
    if received:
        if received & dead and key in evidence.dropped_as_claimed:
            return T_KILLED_CLAIMED
        return T_RESERVED_DEAD if received & dead else T_RESERVED_LIVE
    if key in evidence.unacked:
        return T_UNACKED
    if key in evidence.still_queued:
        return T_STILL_QUEUED
    dispatcher = evidence.dispatched_by.get(key)
    if dispatcher is not None:
        return T_QUEUED_POLLER_DIED if dispatcher in dead else T_QUEUED
    if evidence.started_by.get(key) in dead:
        return T_KILLED_POLLER
    return T_NOT_DISPATCHED


def judge(
    planned: Sequence[PlannedActivity],
    outcomes: Mapping[str, ActivityOutcome],
    evidence: Evidence,
) -> Verdict:
    verdict = Verdict()
    for activity in planned:
        row = classify(activity, outcomes.get(activity.key), evidence)
        verdict.outcomes[row] += 1
        if row.startswith("LOST"):
            outcome = outcomes.get(activity.key)
            verdict.notes.append(f"{activity.key} ({activity.kind}): {row}; {outcome}")
    for key, runs in evidence.runs.items():
        if len(runs) > 1:
            verdict.duplicates += len(runs) - 1
            verdict.notes.append(f"{key}: ran {len(runs)} times: {list(runs)}")
    return verdict
