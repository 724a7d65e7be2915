"""The soak's short form: a few hundred activities under chaos, on the real
processes (local SWF over HTTP, a restartable redis-server with append-only
persistence, two supervised ``celery worker`` and two ``swfbridge poll``).

What it asserts (issue 18's rule):

* every activity ended: completed with its result, failed with a reason
  (planned, or ``swfbridge: ...`` for a cause the bridge cannot undo, such as
  a killed pool process), canceled (only those the decider canceled), or timed
  out only if its attempt was running in a process that was killed, or was
  held by a killed poller before it could be enqueued;
* no attempt ran twice;
* every kind of chaos happened at least once (else the run proved nothing).

The full form (10,000 activities) is ``python -m tests.soak``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.soak.chaos import KINDS as CHAOS_KINDS
from tests.soak.runner import SoakConfig, run_soak

pytestmark = pytest.mark.slow

SHORT = SoakConfig(
    activities=300,
    seed=18,
    per_workflow=25,
    parallel_workflows=8,
    chaos_interval_s=1.5,
    max_wall_s=150.0,
)


def test_a_short_soak_under_chaos_ends_every_activity_and_runs_none_twice(
    tmp_path: Path,
) -> None:
    report = run_soak(SoakConfig(**{**SHORT.__dict__, "workdir": tmp_path}), say=lambda line: None)
    table = report.table()
    print(table)
    for kind in CHAOS_KINDS:
        assert report.chaos.get(kind, 0) >= 1, f"no {kind!r} happened\n{table}"
    assert not report.workflow_errors, table
    assert report.verdict.duplicates == 0, table
    assert report.verdict.losses == 0, table
