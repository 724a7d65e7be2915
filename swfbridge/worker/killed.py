"""What to tell SWF when Celery killed the process or the task running an attempt.

Celery's hard time limit (``TimeLimitExceeded``, set by the poller from the
deadline) and a lost pool process (``WorkerLostError``) reach the bridge in
two places: ``run_activity``'s ``task_failure`` handler and the failure relay
of mapped Celery tasks. Both classify them here.
"""

from __future__ import annotations

from billiard.exceptions import WorkerLostError
from celery.exceptions import TimeLimitExceeded

from swfbridge.wire.deadlines import deadline_passed
from swfbridge.wire.outcome import BridgeCause, Failed, bridge_failure


def killed_failure(exc: BaseException | None, subject: str) -> Failed | None:
    """The failure for ``subject`` ("the activity", "Celery task 'x'") killed by
    Celery; None when ``exc`` is not such a kill.
    """
    if isinstance(exc, TimeLimitExceeded):
        return deadline_passed(f"{subject} ran past its start-to-close deadline ({exc})")
    if isinstance(exc, WorkerLostError):
        return bridge_failure(
            BridgeCause.WORKER_LOST, f"the worker process running {subject} was lost ({exc})"
        )
    return None
