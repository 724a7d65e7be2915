"""Prometheus metrics of Celery workers: how long activities take and how
their attempts end, by type.

A prefork worker runs jobs in several pool processes, so each pool process
keeps its own totals and writes them to a small file after every job; the
worker's main process serves the sum at ``/metrics``. A pool process that is
replaced leaves its file behind, so totals never go backwards.

Turn it on with :func:`install_worker_metrics` on your app, or with
``SWFBRIDGE_WORKER_METRICS_PORT`` for the default app.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import worker_init, worker_ready, worker_shutdown

from swfbridge.prometheus import Counter, Histogram, MetricsServer
from swfbridge.worker.hooks import (
    ENDINGS,
    UNKNOWN_TYPE_LABEL,
    Attempt,
    AttemptHooks,
    add_attempt_hooks,
)

log = logging.getLogger(__name__)

ACTIVITY_BUCKETS_S: tuple[float, ...] = (
    0.01,
    0.05,
    0.1,
    0.5,
    1.0,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
)
_DURATION = "swfbridge_activity_duration_seconds"
_DURATION_HELP = "Time a worker spent on each attempt (decode, run, report), by activity type."
_ATTEMPTS = "swfbridge_worker_attempts_total"
_ATTEMPTS_HELP = (
    f"Attempts a worker ended, by activity type and outcome ({', '.join(ENDINGS)}"
    "; report_failed: SWF never got the answer). Types this worker does not run "
    f'count as type="{UNKNOWN_TYPE_LABEL}".'
)


class _ProcessTotals:
    """One pool process's observations, mirrored to ``<directory>/<pid>.json``."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._series: dict[str, dict[str, Any]] = {}
        self._outcomes: dict[str, dict[str, int]] = {}
        self._started: dict[str, float] = {}

    def start(self, task_id: str) -> None:
        self._started[task_id] = time.monotonic()

    def finish(self, task_id: str, type_label: str, outcome: str) -> None:
        started = self._started.pop(task_id, None)
        if started is None:
            return
        seconds = time.monotonic() - started
        with self._lock:
            series = self._series.setdefault(
                type_label, {"buckets": [0] * (len(ACTIVITY_BUCKETS_S) + 1), "sum": 0.0}
            )
            index = sum(1 for bound in ACTIVITY_BUCKETS_S if seconds > bound)
            series["buckets"][index] += 1
            series["sum"] += seconds
            by_outcome = self._outcomes.setdefault(type_label, {})
            by_outcome[outcome] = by_outcome.get(outcome, 0) + 1
            snapshot = json.dumps({"durations": self._series, "outcomes": self._outcomes})
        path = self._directory / f"{os.getpid()}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(snapshot)
        tmp.replace(path)  # atomic: the main process never reads half a file


def render_directory(directory: Path) -> str:
    """The sum of every pool process's totals, in Prometheus' text format."""
    durations = Histogram(_DURATION, _DURATION_HELP, ("type",), buckets=ACTIVITY_BUCKETS_S)
    attempts = Counter(_ATTEMPTS, _ATTEMPTS_HELP, ("type", "outcome"))
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being replaced right now: counted at the next scrape
        for type_label, by_outcome in data.get("outcomes", {}).items():
            for outcome, count in by_outcome.items():
                attempts.inc(type_label, outcome, amount=count)
        for type_label, series in data.get("durations", {}).items():
            durations.add(series["buckets"], float(series["sum"]), type_label)
    return "\n".join(durations.render() + attempts.render()) + "\n"


class _MetricsHooks(AttemptHooks):
    """Worker metrics on the attempt hooks: timed from ``started`` to ``ended``,
    counted by the type label and ending the attempt reports as data."""

    def __init__(self, totals: _ProcessTotals) -> None:
        self._totals = totals

    def started(self, attempt: Attempt) -> None:
        if attempt.task_id:
            self._totals.start(attempt.task_id)

    def ended(self, attempt: Attempt, ending: str) -> None:
        if not attempt.task_id:
            return
        try:
            self._totals.finish(attempt.task_id, attempt.type_label, ending)
        except OSError as exc:  # metrics must never fail a job
            log.warning("could not record worker metrics: %s", exc)


def install_worker_metrics(
    app: Celery, *, port: int, host: str = "127.0.0.1", directory: Path | None = None
) -> Path:
    """Serve the workers' activity metrics at ``http://host:port/metrics``.

    Call it where the app is defined, so every worker process has it.

    Args:
        app: The Celery app that runs swfbridge jobs.
        port: TCP port of the worker's metrics endpoint (one per worker).
        host: Interface (loopback by default).
        directory: Where pool processes leave their totals (a new temporary
            directory if None; emptied when the worker starts).

    Returns:
        The directory.
    """
    folder = directory or Path(tempfile.mkdtemp(prefix="swfbridge-worker-metrics-"))
    totals = _ProcessTotals(folder)
    servers: list[MetricsServer] = []

    def on_worker_init(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", app) is not app:
            return  # another app's worker in this process
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.json"):
            stale.unlink(missing_ok=True)

    def on_worker_ready(sender: Any = None, **_: Any) -> None:
        # Bound once the pool has forked, so pool processes do not inherit the socket.
        if getattr(sender, "app", app) is not app:
            return
        try:
            server = MetricsServer(render=lambda: render_directory(folder), host=host, port=port)
        except OSError as exc:  # the worker runs on; its metrics are missing, loudly
            log.error("cannot serve worker metrics on %s:%d: %s", host, port, exc)
            return
        servers.append(server.start())
        log.info("worker metrics at %s", server.url)

    def on_worker_shutdown(**_: Any) -> None:
        for server in servers:
            server.stop()

    worker_init.connect(on_worker_init, weak=False)
    worker_ready.connect(on_worker_ready, weak=False)
    worker_shutdown.connect(on_worker_shutdown, weak=False)
    add_attempt_hooks(app, _MetricsHooks(totals))
    return folder
