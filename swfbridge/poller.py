"""The poller: long-polls SWF for activity tasks and hands each to Celery.

No signal handling here: the CLI calls :meth:`Poller.stop` from its handlers.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from swfbridge.dispatch import Dispatcher, JobNotPublishable, PublishError
from swfbridge.job import ActivityJob, MalformedJob, token_hint
from swfbridge.limits import MAX_IDENTITY
from swfbridge.outcome import BridgeCause, Failed, bridge_failure
from swfbridge.respond import report_outcome
from swfbridge.retry import Backoff
from swfbridge.swf import SwfClient, SwfError
from swfbridge.timeouts import TimeoutResolver

log = logging.getLogger(__name__)


def default_identity() -> str:
    """``host:pid``, the identity SWF records on ActivityTaskStarted."""
    import os

    return f"{socket.gethostname()}:{os.getpid()}"[:MAX_IDENTITY]


@dataclass(frozen=True)
class PollerConfig:
    """What one poller process polls and how.

    Args:
        domain: SWF domain.
        task_list: SWF task list to poll.
        identity: Recorded by SWF on each task started (≤ 256 characters).
        pollers: Concurrent long polls (threads).
        error_backoff: Pacing of polls after SWF errors (never gives up).
    """

    domain: str
    task_list: str
    identity: str = field(default_factory=default_identity)
    pollers: int = 1
    error_backoff: Backoff = field(
        default_factory=lambda: Backoff(base_s=0.5, cap_s=30.0, max_attempts=None)
    )

    def __post_init__(self) -> None:
        if not self.domain or not self.task_list:
            raise ValueError("domain and task_list are required")
        if self.pollers < 1:
            raise ValueError("pollers must be at least 1")
        if len(self.identity) > MAX_IDENTITY:
            raise ValueError(f"identity is longer than {MAX_IDENTITY} characters")


class Poller:
    """Polls one task list and dispatches every task it receives.

    Args:
        config: What to poll.
        swf: SWF client.
        dispatcher: Where jobs go.
        timeouts: Resolves each task's deadline.
        clock: Wall clock (epoch seconds).
    """

    def __init__(
        self,
        *,
        config: PollerConfig,
        swf: SwfClient,
        dispatcher: Dispatcher,
        timeouts: TimeoutResolver,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._swf = swf
        self._dispatcher = dispatcher
        self._timeouts = timeouts
        self._clock = clock
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()

    @property
    def counts(self) -> dict[str, int]:
        """Running totals: polls, empty_polls, dispatched, failed_by_bridge, poll_errors."""
        with self._counts_lock:
            return dict(self._counts)

    def start(self) -> None:
        """Start the poll threads and return."""
        for n in range(self.config.pollers):
            thread = threading.Thread(target=self._poll_loop, name=f"swfbridge-poll-{n}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop polling: polls under way finish and what they deliver is dispatched."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait for the poll threads to finish. Returns True if they all did."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for thread in self._threads:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(left)
        return not any(t.is_alive() for t in self._threads)

    def run(self) -> None:
        """Start, and block until :meth:`stop` has been called and polls have ended."""
        self.start()
        self._stop.wait()
        self.join()

    def _count(self, name: str) -> None:
        with self._counts_lock:
            self._counts[name] += 1

    def _poll_loop(self) -> None:
        errors = 0
        while not self._stop.is_set():
            try:
                self.poll_once()
                errors = 0
            except SwfError as exc:
                errors += 1
                self._count("poll_errors")
                delay = self.config.error_backoff.delay_s(errors)
                log.warning("poll failed (%s: %s); next poll in %.1fs", exc.code, exc.message,
                            delay)
                self._stop.wait(delay)
            except Exception:  # the loop must survive anything
                errors += 1
                self._count("poll_errors")
                log.exception("unexpected error in the poll loop")
                self._stop.wait(self.config.error_backoff.delay_s(errors))

    def poll_once(self) -> bool:
        """One long poll, and the dispatch of what it brings. True if a task came."""
        self._count("polls")
        response = self._swf.call(
            "poll_for_activity_task",
            retry=False,
            domain=self.config.domain,
            taskList={"name": self.config.task_list},
            identity=self.config.identity,
        )
        token = response.get("taskToken")
        if not token:
            self._count("empty_polls")
            return False
        self.handle_task(response, polled_at=self._clock())
        return True

    def handle_task(self, response: dict[str, Any], *, polled_at: float) -> None:
        """Dispatch one polled task; fail it in SWF at once if that is impossible."""
        token = str(response["taskToken"])
        try:
            timeouts = self._timeouts.for_task(response)
            job = ActivityJob.from_poll(
                response,
                domain=self.config.domain,
                task_list=self.config.task_list,
                polled_at=polled_at,
                start_to_close_s=timeouts.start_to_close_s,
                heartbeat_s=timeouts.heartbeat_s,
            )
        except (MalformedJob, KeyError, TypeError) as exc:
            self._fail(token, bridge_failure(BridgeCause.MALFORMED_JOB,
                                             f"poll response is malformed: {exc}"), "?")
            return
        try:
            self._dispatcher.publish(job)
        except JobNotPublishable as exc:
            log.error("not enqueued (%s): %s", exc, job.log_context())
            self._fail(token, exc.failure, job.log_context())
            return
        except PublishError as exc:
            log.error("could not enqueue (%s): %s", exc, job.log_context())
            self._fail(token, bridge_failure(
                BridgeCause.ENQUEUE_FAILED,
                f"could not enqueue the job on the Celery broker: {exc}",
            ), job.log_context())
            return
        self._count("dispatched")
        log.info("dispatched: %s", job.log_context())

    def _fail(self, token: str, failure: Failed, context: str) -> None:
        self._count("failed_by_bridge")
        report_outcome(self._swf, token, failure, f"{context} task={token_hint(token)}")
