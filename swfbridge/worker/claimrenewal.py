"""Keep the claim of a running attempt that has no deadline.

Such a claim lives ``no_deadline_ttl_s`` from when it was taken; a job running
longer would lose it, and the copy Redis redelivers every visibility timeout
would then run a second time. A daemon thread pushes the claim on while the
attempt runs (a claim with a deadline lasts past it by itself).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from swfbridge.state.store import BridgeState, StateUnavailable
from swfbridge.wire.job import ActivityJob

log = logging.getLogger(__name__)

RENEWALS_PER_TTL = 3
"""Renew this many times per claim lifetime: two may fail before it lapses."""


@contextmanager
def claim_renewed(state: BridgeState | None, job: ActivityJob, owner: str) -> Iterator[None]:
    """Renew ``job``'s claim (held by ``owner``) while the block runs, if it has no deadline."""
    if state is None or job.deadline is not None:
        yield
        return
    stop = threading.Event()
    every_s = state.config.no_deadline_ttl_s / RENEWALS_PER_TTL

    def renew() -> None:
        while not stop.wait(every_s):
            try:
                if not state.renew_claim(job.attempt_id, owner=owner):
                    log.warning("the attempt's claim was lost while running: %s", job.log_context())
                    return
            except StateUnavailable as exc:
                log.warning("could not renew the attempt's claim (%s): %s", exc, job.log_context())

    thread = threading.Thread(target=renew, name="swfbridge-claim", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
