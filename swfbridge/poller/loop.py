"""The poller: long-polls SWF for activity tasks and hands each to Celery.

Each poll thread repeats one ordered step:

1. wait until the broker answers (never poll what cannot be enqueued): known
   from the last publish and the last state-store reply when they are fresh
   (within ``PollerConfig.readiness_fresh_s``), asked otherwise;
2. take a capacity slot (when ``max_in_flight`` is set), waiting while the
   fleet is full, so a backlog stays in SWF where its clocks have not started;
3. long-poll SWF; an empty poll gives the slot back;
4. record the job with its slot in the state store (one round trip, which
   also takes the slot of the thread's next poll), then publish it. A task
   that cannot be published is failed at once. Every poller of the task list
   looks after the recorded jobs until a worker claims them:
   keepalive beats (:mod:`swfbridge.poller.keepalive`), and publishing again
   what the broker lost (:mod:`swfbridge.poller.recovery`).

No signal handling here: the CLI calls :meth:`Poller.stop` (graceful) and
:meth:`Poller.abort` (at once) from its handlers.
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

from swfbridge.aws.respond import report_outcome
from swfbridge.aws.retry import Backoff
from swfbridge.aws.swf import POLL_READ_TIMEOUT_S, SwfClient, SwfError, is_misconfiguration
from swfbridge.checks import check_seconds
from swfbridge.errors import ConfigurationError
from swfbridge.poller.dispatch import Dispatcher, JobNotPublishable, PublishError
from swfbridge.poller.keepalive import KeepaliveConfig, QueuedHeartbeats
from swfbridge.poller.recovery import LostJobRecovery, RecoveryConfig
from swfbridge.poller.timeouts import TimeoutResolver
from swfbridge.state.queued import QueuedJobs
from swfbridge.state.store import BridgeState, StateUnavailable, free_slot
from swfbridge.wire.job import ActivityJob, MalformedJob, token_hint
from swfbridge.wire.limits import MAX_IDENTITY
from swfbridge.wire.outcome import BridgeCause, Failed, bridge_failure

log = logging.getLogger(__name__)

# Longest a poll thread waiting for a slot goes without looking at stop().
STOP_CHECK_S = 1.0


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
        max_in_flight: Most jobs dispatched and not finished at once for this
            task list, across every poller sharing the state store; None: no
            limit (the poller polls whatever the fleet's load).
        slot_check_interval_s: Longest gap between two looks of a poll
            thread waiting for a slot. A slot freed by a worker or another
            poll wakes one waiting thread at once; this bounds the wait for
            slots that free themselves by expiring.
        poll_window_s: How long a slot taken for a poll counts if the poller
            dies before the poll ends (SWF's 60 s long poll plus slack).
        error_backoff: Pacing of polls after SWF errors (never gives up).
        broker_backoff: Pacing of broker and state-store checks while they are
            down (never gives up).
        keepalive: Heartbeats for jobs waiting in the broker.
        recovery: When jobs waiting in the broker are looked for there (and
            published again if the broker lost them).
        readiness_fresh_s: How long a successful publish (or state-store
            reply) stands for a broker (or state-store) check. A busy poller
            publishes far more often and never asks; an idle one asks before
            each long poll; a failed publish or state call makes the next poll
            wait for a real check (the task it was for is failed at once).
    """

    domain: str
    task_list: str
    identity: str = field(default_factory=default_identity)
    pollers: int = 1
    max_in_flight: int | None = None
    slot_check_interval_s: float = 0.25
    poll_window_s: float = POLL_READ_TIMEOUT_S
    error_backoff: Backoff = field(
        default_factory=lambda: Backoff(base_s=0.5, cap_s=30.0, max_attempts=None)
    )
    broker_backoff: Backoff = field(
        default_factory=lambda: Backoff(base_s=0.5, cap_s=10.0, max_attempts=None)
    )
    keepalive: KeepaliveConfig = field(default_factory=KeepaliveConfig)
    recovery: RecoveryConfig = field(default_factory=RecoveryConfig)
    readiness_fresh_s: float = 1.0

    def __post_init__(self) -> None:
        check_seconds("readiness_fresh_s", self.readiness_fresh_s)
        if not self.domain or not self.task_list:
            raise ConfigurationError("domain and task_list are required")
        if self.pollers < 1:
            raise ConfigurationError("pollers must be at least 1")
        if self.max_in_flight is not None and self.max_in_flight < 1:
            raise ConfigurationError("max_in_flight must be at least 1 (or None for no limit)")
        if len(self.identity) > MAX_IDENTITY:
            raise ConfigurationError(f"identity is longer than {MAX_IDENTITY} characters")


class _Slot:
    """The capacity slot one poll holds: a placeholder, then the attempt; and the
    slot taken ahead for the same thread's next poll, in the round trip that
    binds this one (:meth:`reserve_ahead`)."""

    def __init__(
        self, state: BridgeState | None, config: PollerConfig, placeholder: str | None
    ) -> None:
        self._state = state
        self._config = config
        self._member = placeholder
        self._ahead: str | None = None
        self.ahead_refused = False
        """The slot asked for ahead was refused: every slot was taken then."""

    def reserve_ahead(self, pipeline: Any) -> str | None:
        """Queue the reservation of the next poll's slot on ``pipeline``; its
        placeholder (taken if the pipeline replies 1 for it), None without slots."""
        if self._state is None or self._member is None or self._config.max_in_flight is None:
            return None
        return self._state.reserve_on(
            pipeline,
            self._config.domain,
            self._config.task_list,
            limit=self._config.max_in_flight,
            hold_s=self._config.poll_window_s,
        )

    def reserved_ahead(self, placeholder: str | None) -> None:
        """The pipeline took ``placeholder`` for the next poll (None: it was refused)."""
        self._ahead = placeholder
        self.ahead_refused = placeholder is None

    def take_ahead(self) -> str | None:
        """The next poll's slot, handed over: :meth:`release` no longer frees it."""
        ahead, self._ahead = self._ahead, None
        return ahead

    def bind(self, job: ActivityJob, pipeline: Any) -> bool:
        """Queue the change of the placeholder into ``job``'s slot on ``pipeline``.

        Returns False when there is no slot to bind (no capacity limit).
        """
        if self._state is None or self._member is None:
            return False
        self._state.bind(
            self._config.domain,
            self._config.task_list,
            self._member,
            attempt_id=job.attempt_id,
            deadline=job.deadline,
            pipeline=pipeline,
        )
        return True

    def bound(self, job: ActivityJob) -> None:
        """The pipeline with :meth:`bind`'s change ran: the slot is the attempt's."""
        if self._state is not None and self._member is not None:
            self._member = job.attempt_id

    def dispatched(self) -> None:
        """The worker frees the slot from now on."""
        self._member = None

    def release(self) -> None:
        """Free the slot unless a worker frees it, and the next poll's unless handed over."""
        if self._state is None:
            return
        for member in (self._member, self.take_ahead()):
            if member is not None:
                free_slot(self._state, self._config.domain, self._config.task_list, member)
        self._member = None


class Poller:
    """Polls one task list and dispatches every task it receives.

    Args:
        config: What to poll.
        swf: SWF client.
        dispatcher: Where jobs go.
        timeouts: Resolves each task's deadline.
        state: Shared slots and claims; required when ``config.max_in_flight``
            is set, and for keeping queued jobs' heartbeats alive.
        clock: Wall clock (epoch seconds).

    Raises:
        ValueError: ``max_in_flight`` is set without a state store.
    """

    def __init__(
        self,
        *,
        config: PollerConfig,
        swf: SwfClient,
        dispatcher: Dispatcher,
        timeouts: TimeoutResolver,
        state: BridgeState | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if config.max_in_flight is not None and state is None:
            raise ConfigurationError("max_in_flight needs a state store (BridgeState)")
        self.config = config
        self._swf = swf
        self._dispatcher = dispatcher
        self._timeouts = timeouts
        self._state = state
        self._clock = clock
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        # Tokens received and not yet handed to the broker: failed by abort().
        self._held: dict[str, str] = {}
        self._aborted = False
        # Monotonic times until which the broker / the state store count as
        # answering, from their last successful reply (0: ask before polling).
        self._broker_fresh_until = 0.0
        self._state_fresh_until = 0.0
        self.fatal_error: SwfError | None = None
        """Set when polling stopped on an error no retry can fix (see is_misconfiguration)."""
        self._keepalive = (
            QueuedHeartbeats(
                swf=swf,
                state=state,
                domain=config.domain,
                task_list=config.task_list,
                config=config.keepalive,
                count=self._count,
                clock=clock,
            )
            if state is not None
            else None
        )
        self._queued = QueuedJobs(state) if state is not None else None
        # Dispatchers that cannot look into their broker get no recovery.
        self._recovery = (
            LostJobRecovery(
                swf=swf,
                state=state,
                dispatcher=dispatcher,  # type: ignore[arg-type]
                domain=config.domain,
                task_list=config.task_list,
                config=config.recovery,
                count=self._count,
                clock=clock,
            )
            if state is not None and callable(getattr(dispatcher, "in_broker", None))
            else None
        )

    @property
    def counts(self) -> dict[str, int]:
        """Running totals.

        ``polls``, ``empty_polls``, ``dispatched``, ``failed_by_bridge``,
        ``poll_errors``; ``broker_unavailable`` and ``state_unavailable``
        (checks that found them down), ``readiness_checks`` (broker and state-store
        checks made because no recent reply answered for them), ``slot_waits``
        (polls that waited for a slot) and ``slot_wait_ms`` (total time waited),
        ``keepalive_beats`` and
        ``keepalive_closed`` (queued tasks SWF closed), ``jobs_republished`` (queued
        jobs the broker lost, published again), ``abandoned_at_shutdown``;
        ``history_pages`` and ``history_cache_hits`` (reads of the tasks' scheduled
        events, and tasks answered without one), ``timeouts_fallback`` (tasks whose
        history could not be used: timeouts from the registration);
        and the gauges ``held`` (tokens received, not yet handed over) and
        ``queued_kept_alive``.
        """
        with self._counts_lock:
            counts = dict(self._counts)
            counts["held"] = len(self._held)
        counts.update(self._timeouts.counts)
        counts["queued_kept_alive"] = self._keepalive.tracked if self._keepalive else 0
        return counts

    def in_flight(self) -> int | None:
        """Jobs in flight for this task list (all pollers), or None without a state store."""
        if self._state is None:
            return None
        try:
            return self._state.in_flight(self.config.domain, self.config.task_list)
        except StateUnavailable:
            return None

    def start(self) -> None:
        """Start the poll threads (and the care of the task list's queued jobs) and return."""
        if self._keepalive is not None:
            self._keepalive.start()
        if self._recovery is not None:
            self._recovery.start()
        for n in range(self.config.pollers):
            thread = threading.Thread(
                target=self._poll_loop, name=f"swfbridge-poll-{n}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop polling: polls under way finish and what they deliver is dispatched."""
        self._stop.set()

    def abort(self) -> int:
        """Stop at once: fail every task received but not yet handed to the broker.

        Polls still under way are abandoned (a task SWF hands them is lost and
        times out in SWF). Returns how many tasks were failed.
        """
        self._stop.set()
        with self._counts_lock:
            self._aborted = True
            held, self._held = self._held, {}
        for token, context in held.items():
            log.error("poller shutting down: failing a task it still holds: %s", context)
            self._count("abandoned_at_shutdown")
            self._fail(
                token,
                bridge_failure(
                    BridgeCause.POLLER_SHUTDOWN,
                    "poller shutting down before the task could be enqueued",
                ),
                context,
            )
        self._stop_care()
        return len(held)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait for the poll threads to finish. Returns True if they all did."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for thread in self._threads:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(left)
        done = not any(t.is_alive() for t in self._threads)
        if done:
            self._stop_care()
        return done

    def _stop_care(self) -> None:
        """Stop the keepalive and recovery threads (other pollers carry on)."""
        if self._keepalive is not None:
            self._keepalive.stop()
        if self._recovery is not None:
            self._recovery.stop()

    def run(self) -> None:
        """Start, and block until :meth:`stop` has been called and polls have ended."""
        self.start()
        self._stop.wait()
        self.join()

    def _count(self, name: str, amount: int = 1) -> None:
        with self._counts_lock:
            self._counts[name] += amount

    # --- the poll loop ---------------------------------------------------------

    def _poll_loop(self) -> None:
        errors = 0
        # A slot for the next poll, taken in the round trip that recorded the last job
        # (full: that round trip found every slot taken).
        ahead: str | None = None
        full = False
        while not self._stop.is_set():
            try:
                try:
                    ready = self._ready()
                except Exception:
                    self._give_back(ahead)  # not held through the back-off
                    ahead, full = None, False
                    raise
                if not ready:
                    self._give_back(ahead)  # not held through a back-off
                    ahead, full = None, False
                    errors += 1
                    self._stop.wait(self.config.broker_backoff.delay_s(errors))
                    continue
                slot = self._take_slot(ahead, full=full)
                ahead, full = None, False
                if slot is None:
                    break
                try:
                    self.poll_once(slot)
                    ahead = slot.take_ahead()
                    full = slot.ahead_refused
                finally:
                    slot.release()
                errors = 0
            except StateUnavailable as exc:
                errors += 1
                self._state_failed()
                self._count("state_unavailable")
                log.warning("state store unavailable, not polling: %s", exc)
                self._stop.wait(self.config.broker_backoff.delay_s(errors))
            except SwfError as exc:
                if is_misconfiguration(exc):  # no retry can fix it: stop, loudly
                    log.error("poll failed for good, stopping: %s", exc)
                    self.fatal_error = exc
                    self._stop.set()
                    break
                errors += 1
                self._count("poll_errors")
                delay = self.config.error_backoff.delay_s(errors)
                log.warning(
                    "poll failed (%s: %s); next poll in %.1fs", exc.code, exc.message, delay
                )
                self._stop.wait(delay)
            except Exception:  # the loop must survive anything
                errors += 1
                self._count("poll_errors")
                log.exception("unexpected error in the poll loop")
                self._stop.wait(self.config.error_backoff.delay_s(errors))
        self._give_back(ahead)

    def _give_back(self, ahead: str | None) -> None:
        """Free a slot taken ahead for a poll that will not be made now."""
        if ahead is not None and self._state is not None:
            free_slot(self._state, self.config.domain, self.config.task_list, ahead)

    def _ready(self) -> bool:
        """True when the broker and the state store answer; logs and counts when not.

        A reply fresher than ``readiness_fresh_s`` (a publish, a slot taken)
        answers for them: no round trip is spent asking.
        """
        now = time.monotonic()
        if now >= self._broker_fresh_until:
            # Dispatchers written before check() existed are taken as always ready.
            check = getattr(self._dispatcher, "check", None)
            try:
                if check is not None:
                    check()
            except PublishError as exc:
                self._count("broker_unavailable")
                log.warning("broker unavailable, not polling: %s", exc)
                return False
            self._count("readiness_checks")
            self._broker_answered()
        if self._state is not None and now >= self._state_fresh_until:
            try:
                self._state.ping()
            except StateUnavailable as exc:
                self._state_failed()
                self._count("state_unavailable")
                log.warning("state store unavailable, not polling: %s", exc)
                return False
            self._count("readiness_checks")
            self._state_answered()
        return True

    def _broker_answered(self) -> None:
        self._broker_fresh_until = time.monotonic() + self.config.readiness_fresh_s

    def _state_answered(self) -> None:
        self._state_fresh_until = time.monotonic() + self.config.readiness_fresh_s

    def _state_failed(self) -> None:
        self._state_fresh_until = 0.0

    def _take_slot(self, ahead: str | None = None, *, full: bool = False) -> _Slot | None:
        """A slot for the next poll, waiting while all are taken; None once stopping.

        ``ahead``: a slot already taken for this poll (given back if stopping).
        ``full``: every slot was taken a moment ago (the slot asked for ahead was
        refused), so wait for a release before asking: a release since then left
        its wake-up in Redis, and asking first would be refused again.

        Raises:
            StateUnavailable: the state store went away (the loop backs off).
        """
        limit = self.config.max_in_flight
        if limit is None or self._state is None:
            return _Slot(None, self.config, None)
        if ahead is not None:
            if self._stop.is_set():
                self._give_back(ahead)
                return None
            return _Slot(self._state, self.config, ahead)
        started: float | None = None
        if full:
            started = time.monotonic()
            self._count("slot_waits")
            self._wait_for_free()
        while not self._stop.is_set():
            placeholder = self._state.reserve(
                self.config.domain,
                self.config.task_list,
                limit=limit,
                hold_s=self.config.poll_window_s,
            )
            self._state_answered()
            if placeholder is not None:
                if started is not None:
                    self._count("slot_wait_ms", int((time.monotonic() - started) * 1000))
                return _Slot(self._state, self.config, placeholder)
            if started is None:
                started = time.monotonic()
                self._count("slot_waits")
            self._wait_for_free()
        return None

    def _wait_for_free(self) -> None:
        assert self._state is not None
        # Woken by the release that frees a slot (a short job frees it within
        # milliseconds), instead of timed looks: with those, the sleep after
        # each full look was time no worker had a job (see BENCHMARKS.md).
        self._state.wait_for_free(
            self.config.domain,
            self.config.task_list,
            timeout_s=min(self.config.slot_check_interval_s, STOP_CHECK_S),
        )

    def poll_once(self, slot: _Slot | None = None) -> bool:
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
        self.handle_task(response, polled_at=self._clock(), slot=slot)
        return True

    def handle_task(
        self, response: dict[str, Any], *, polled_at: float, slot: _Slot | None = None
    ) -> None:
        """Dispatch one polled task; fail it in SWF at once if that is impossible."""
        token = str(response["taskToken"])
        slot = slot or _Slot(None, self.config, None)
        with self._counts_lock:
            if self._aborted:
                aborted = True
            else:
                aborted = False
                self._held[token] = "(not yet decoded)"
        if aborted:
            self._count("abandoned_at_shutdown")
            self._fail(
                token,
                bridge_failure(
                    BridgeCause.POLLER_SHUTDOWN,
                    "poller shutting down before the task could be enqueued",
                ),
                "?",
            )
            return
        try:
            self._dispatch(token, response, polled_at, slot)
        finally:
            with self._counts_lock:
                self._held.pop(token, None)

    def _dispatch(
        self, token: str, response: dict[str, Any], polled_at: float, slot: _Slot
    ) -> None:
        try:
            timeouts = self._timeouts.for_task(response)
            job = ActivityJob.from_poll(
                response,
                domain=self.config.domain,
                task_list=self.config.task_list,
                polled_at=polled_at,
                start_to_close_s=timeouts.start_to_close_s,
                heartbeat_s=timeouts.heartbeat_s,
                timeouts_source=timeouts.source.value,
            )
        except (MalformedJob, KeyError, TypeError) as exc:
            if self._release_held(token):
                self._fail(
                    token,
                    bridge_failure(BridgeCause.MALFORMED_JOB, f"poll response is malformed: {exc}"),
                    "?",
                )
            return
        with self._counts_lock:
            if token in self._held:
                self._held[token] = job.log_context()
            elif self._aborted:
                return  # abort() has failed it already
        # Recorded before publishing, so the worker's release and claim can never
        # precede it.
        unrecorded = self._record(job, slot)
        try:
            self._dispatcher.publish(job)
        except JobNotPublishable as exc:
            log.error("not enqueued (%s): %s", exc, job.log_context())
            self._forget(job, unrecorded)
            slot.release()
            if self._release_held(token):
                self._fail(token, exc.failure, job.log_context())
            return
        except PublishError as exc:
            self._broker_fresh_until = 0.0  # the next poll waits for a real check
            log.error("could not enqueue (%s): %s", exc, job.log_context())
            self._forget(job, unrecorded)
            slot.release()
            if self._release_held(token):
                self._fail(
                    token,
                    bridge_failure(
                        BridgeCause.ENQUEUE_FAILED,
                        f"could not enqueue the job on the Celery broker: {exc}",
                    ),
                    job.log_context(),
                )
            return
        self._broker_answered()
        slot.dispatched()
        self._release_held(token)
        self._count("dispatched")
        log.info(
            "dispatched (start_to_close=%s heartbeat=%s): %s",
            _seconds(job.deadline - job.polled_at if job.deadline is not None else None),
            _seconds(job.heartbeat_timeout_s),
            job.log_context(),
        )
        if self._keepalive is not None:
            if unrecorded is not None:
                self._keepalive.keep_in_memory(job, reason=unrecorded)
            else:
                # Due no later than recorded (polled before): never a missed wake-up.
                self._keepalive.recorded(self._keepalive.first_due(job, job.polled_at))

    def _record(self, job: ActivityJob, slot: _Slot) -> StateUnavailable | None:
        """Bind the slot and record the queued job (its keepalive beats, its loss
        checks) in one round trip; the error if the state store did not take them.

        A slot left unbound expires by itself; a job left unrecorded is beaten
        for from this poller's memory, and not looked after if the broker loses it.
        """
        if self._state is None or self._queued is None:
            return None
        now = self._clock()
        pipeline = self._state.client.pipeline(transaction=False)
        binding = slot.bind(job, pipeline)
        beat_due = self._keepalive.first_due(job, now) if self._keepalive is not None else None
        check_due = (
            self._recovery.first_look(job, now)
            if self._recovery is not None and self._dispatcher.recoverable(job)  # type: ignore[attr-defined]
            else None
        )
        self._queued.record(job, now=now, beat_due=beat_due, check_due=check_due, pipeline=pipeline)
        if not binding and beat_due is None and check_due is None:
            return None
        # The next poll's slot, in the same round trip (it is taken before this
        # job is published; given back if the publish fails).
        ahead = slot.reserve_ahead(pipeline) if binding else None
        try:
            replies = self._state.call(pipeline.execute)
        except StateUnavailable as exc:
            self._state_failed()
            log.warning(
                "could not record the job (%s); its slot expires by itself: %s",
                exc,
                job.log_context(),
            )
            return exc
        self._state_answered()
        slot.bound(job)
        if ahead is not None:
            slot.reserved_ahead(ahead if replies[-1] == 1 else None)
        return None

    def _forget(self, job: ActivityJob, unrecorded: StateUnavailable | None) -> None:
        """Take a job that was never published off the record (best effort: a
        leftover entry ends when its task is found closed in SWF)."""
        if self._queued is None or unrecorded is not None:
            return
        try:
            self._queued.remove(job.domain, job.task_list, job.attempt_id)
        except StateUnavailable as exc:
            log.warning("could not forget the unpublished job (%s): %s", exc, job.log_context())

    def _release_held(self, token: str) -> bool:
        """Stop holding ``token``; False if abort() took (and failed) it already."""
        with self._counts_lock:
            return self._held.pop(token, None) is not None

    def _fail(self, token: str, failure: Failed, context: str) -> None:
        self._count("failed_by_bridge")
        report_outcome(self._swf, token, failure, f"{context} task={token_hint(token)}")


def _seconds(value: float | None) -> str:
    return "none" if value is None else f"{value:g}s"
