"""The small decider, re-exported for tests (it lives in :mod:`swfbridge.decider`,
which needs no ``testing`` extra)."""

from swfbridge.decider import (
    ActivityOutcome,
    ActivityRun,
    CancelTrigger,
    DeciderTimeout,
    EventListener,
    OutcomeStatus,
    ScheduledActivity,
    register_activity_type,
    register_domain,
    register_workflow_type,
    run_activities,
    start_activities,
)

__all__ = [
    "ActivityOutcome",
    "ActivityRun",
    "CancelTrigger",
    "DeciderTimeout",
    "EventListener",
    "OutcomeStatus",
    "ScheduledActivity",
    "register_activity_type",
    "register_domain",
    "register_workflow_type",
    "run_activities",
    "start_activities",
]
