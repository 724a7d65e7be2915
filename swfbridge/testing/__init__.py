"""Test doubles for swfbridge: a local SWF endpoint and a small decider.

- :class:`LocalSWF`: moto's SWF emulation, extended to behave like SWF
  (long polling, thread safety, all four activity timeouts, cancellation,
  size limits, priorities, pruning, fault injection), served over HTTP.
- :func:`run_activities` / :func:`start_activities`: run a workflow that
  schedules activities and collect their outcomes.
- :class:`ActivityEnvironment`: run one activity in-process, as a worker
  would, and read what SWF would get (unit tests of activities).
- The pytest plugin (``swfbridge.testing.pytest_plugin``) provides fixtures.
"""

from swfbridge.testing.activity_env import ActivityEnvironment, ActivityReport
from swfbridge.testing.decider import (
    ActivityOutcome,
    ActivityRun,
    DeciderTimeout,
    ScheduledActivity,
    register_activity_type,
    register_domain,
    run_activities,
    start_activities,
)
from swfbridge.testing.faults import FaultPlan
from swfbridge.testing.server import LocalSWF, LocalSWFConfig

__all__ = [
    "ActivityEnvironment",
    "ActivityOutcome",
    "ActivityReport",
    "ActivityRun",
    "DeciderTimeout",
    "FaultPlan",
    "LocalSWF",
    "LocalSWFConfig",
    "ScheduledActivity",
    "register_activity_type",
    "register_domain",
    "run_activities",
    "start_activities",
]
