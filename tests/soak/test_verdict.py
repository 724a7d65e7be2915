"""The soak's judgement of each activity (pure logic, no processes)."""

from __future__ import annotations

import json

from swfbridge.testing import ActivityOutcome
from tests.soak.activities import PLANNED_FAILURE
from tests.soak.plan import KINDS, PlannedActivity, plan
from tests.soak.verdict import (
    NOT_ENDED,
    T_KILLED_CLAIMED,
    T_KILLED_POLLER,
    T_KILLED_RUNNING,
    T_QUEUED,
    T_QUEUED_POLLER_DIED,
    T_RAN_LIVE,
    T_RESERVED_DEAD,
    T_RESERVED_LIVE,
    T_UNACKED,
    WRONG,
    Evidence,
    Run,
    classify,
    judge,
)

QUICK = PlannedActivity("a00001", "quick", 0.1)
BEAT = PlannedActivity("a00004", "beat", 1.0)
CANCEL = PlannedActivity("a00002", "cancel", 30.0)
FAIL = PlannedActivity("a00003", "fail", 0.1)
NOTHING = Evidence(runs={}, dead_pids=frozenset())


def timed_out(key: str, timeout_type: str = "START_TO_CLOSE") -> ActivityOutcome:
    return ActivityOutcome(key, "timed_out", timeout_type=timeout_type)


def test_the_plan_is_the_same_for_a_seed_and_mixes_every_kind() -> None:
    first = plan(2000, per_workflow=50, seed=3)
    assert first == plan(2000, per_workflow=50, seed=3)
    assert len(first) == 40 and all(len(batch) == 50 for batch in first)
    kinds = {a.kind for batch in first for a in batch}
    assert kinds == {k.name for k in KINDS}


def test_a_completion_counts_only_with_its_own_result() -> None:
    right = ActivityOutcome(QUICK.key, "completed", result=json.dumps(f"done:{QUICK.key}"))
    wrong = ActivityOutcome(QUICK.key, "completed", result=json.dumps("done:other"))
    assert classify(QUICK, right, NOTHING) == "completed"
    assert classify(QUICK, wrong, NOTHING) == WRONG


def test_failures_count_when_planned_or_a_bridge_cause_it_cannot_undo() -> None:
    planned = ActivityOutcome(FAIL.key, "failed", reason=PLANNED_FAILURE)
    lost = ActivityOutcome(
        QUICK.key,
        "failed",
        reason="swfbridge: the worker process running the activity was lost",
        details=json.dumps({"cause": "worker_lost"}),
    )
    bug = ActivityOutcome(
        QUICK.key,
        "failed",
        reason="swfbridge: bug",
        details=json.dumps({"cause": "internal_error"}),
    )
    assert classify(FAIL, planned, NOTHING) == "failed: planned"
    assert classify(QUICK, lost, NOTHING) == "failed: swfbridge worker_lost"
    assert classify(QUICK, bug, NOTHING).startswith("LOST")
    assert classify(QUICK, ActivityOutcome(QUICK.key, "failed", reason="x"), NOTHING) == WRONG


def test_only_activities_the_decider_cancels_may_end_canceled() -> None:
    assert classify(CANCEL, ActivityOutcome(CANCEL.key, "canceled"), NOTHING) == "canceled"
    assert classify(QUICK, ActivityOutcome(QUICK.key, "canceled"), NOTHING) == WRONG


def test_an_activity_without_an_outcome_is_lost() -> None:
    assert classify(QUICK, None, NOTHING) == NOT_ENDED


def test_a_timeout_is_acceptable_when_its_run_was_in_a_killed_process_or_its_worker() -> None:
    child_killed = Evidence(runs={QUICK.key: [Run(pid=11, ppid=10)]}, dead_pids=frozenset({11}))
    worker_killed = Evidence(runs={QUICK.key: [Run(pid=11, ppid=10)]}, dead_pids=frozenset({10}))
    alive = Evidence(runs={QUICK.key: [Run(pid=11, ppid=10)]}, dead_pids=frozenset({12}))
    assert classify(QUICK, timed_out(QUICK.key), child_killed) == T_KILLED_RUNNING
    assert classify(QUICK, timed_out(QUICK.key), worker_killed) == T_KILLED_RUNNING
    assert classify(QUICK, timed_out(QUICK.key), alive) == T_RAN_LIVE


def test_a_timeout_that_never_ran_is_lost_unless_a_killed_poller_held_it() -> None:
    on_the_wire = Evidence(runs={}, dead_pids=frozenset({20}), started_by={QUICK.key: 20})
    queued = Evidence(
        runs={},
        dead_pids=frozenset({20}),
        started_by={QUICK.key: 20, BEAT.key: 20},
        dispatched_by={QUICK.key: 20, BEAT.key: 20},
    )
    reserved = Evidence(
        runs={},
        dead_pids=frozenset({30}),
        dispatched_by={QUICK.key: 20},
        received_by={QUICK.key: frozenset({30})},
    )
    unacked = Evidence(
        runs={},
        dead_pids=frozenset(),
        dispatched_by={QUICK.key: 20},
        unacked=frozenset({QUICK.key}),
    )
    assert classify(QUICK, timed_out(QUICK.key), on_the_wire) == T_KILLED_POLLER
    assert classify(BEAT, timed_out(BEAT.key, "HEARTBEAT"), queued) == T_QUEUED_POLLER_DIED
    assert classify(QUICK, timed_out(QUICK.key), queued) == T_QUEUED  # no keepalive to lose
    assert classify(QUICK, timed_out(QUICK.key), reserved) == T_RESERVED_DEAD
    assert classify(QUICK, timed_out(QUICK.key), unacked) == T_UNACKED


def test_a_timeout_claimed_in_a_killed_worker_before_its_run_began_is_acceptable() -> None:
    # The claim is the bridge's "started"; its redelivered copy was dropped by it.
    claimed_then_killed = Evidence(
        runs={},
        dead_pids=frozenset({30}),
        dispatched_by={BEAT.key: 20},
        received_by={BEAT.key: frozenset({30, 31})},
        dropped_as_claimed=frozenset({BEAT.key}),
    )
    assert classify(BEAT, timed_out(BEAT.key, "HEARTBEAT"), claimed_then_killed) == (
        T_KILLED_CLAIMED
    )
    # Without a dead receiver, the claim proves nothing about a killed process.
    live = Evidence(
        runs={},
        dead_pids=frozenset(),
        received_by={BEAT.key: frozenset({31})},
        dropped_as_claimed=frozenset({BEAT.key}),
    )
    assert classify(BEAT, timed_out(BEAT.key, "HEARTBEAT"), live) == T_RESERVED_LIVE


def test_an_attempt_run_twice_is_a_duplicate_and_fails_the_verdict() -> None:
    right = ActivityOutcome(QUICK.key, "completed", result=json.dumps(f"done:{QUICK.key}"))
    twice = Evidence(runs={QUICK.key: [Run(1, 0), Run(2, 0)]}, dead_pids=frozenset())
    verdict = judge([QUICK], {QUICK.key: right}, twice)
    assert verdict.duplicates == 1
    assert not verdict.ok
    assert judge([QUICK], {QUICK.key: right}, NOTHING).ok
