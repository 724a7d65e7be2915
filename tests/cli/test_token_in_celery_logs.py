"""Celery prints a refused message's body; a job the bridge published never shows its token."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

from celery import Celery

from swfbridge import FLOWY
from swfbridge.activities.task_map import ResolvedRoute
from swfbridge.poller.dispatch import CeleryDispatcher
from swfbridge.testing import LocalSWF
from tests.support import processes
from tests.support.jobs import make_job


class _OneRoute:
    def get(self, name: str, version: str) -> ResolvedRoute:
        return ResolvedRoute("no.such.task", FLOWY, None)


def test_an_unregistered_mapped_task_is_logged_without_its_token(
    local_swf: LocalSWF, tmp_path: Path
) -> None:
    token = "AAAA" + secrets.token_urlsafe(600)  # SWF tokens are long and opaque
    job = make_job(
        task_token=token,
        activity_id="a1",
        activity_name="Mapped",
        input="[[1], {}]",
        polled_at=time.time(),
        deadline=time.time() + 60,
    )
    with processes.redis_server() as redis_url:
        env = processes.bridge_env(
            broker_url=redis_url,
            swf_endpoint=local_swf.endpoint_url,
            activities="tests.cli.activities",
        )
        worker = processes.start_worker(env, tmp_path)
        try:
            app = Celery("poller", broker=redis_url, set_as_current=False)
            route: Any = _OneRoute()
            CeleryDispatcher(app=app, task_map=route).publish(job)
            processes.wait_for(
                lambda: "unregistered task" in worker.output(),
                30,
                "Celery refusing the unknown task",
            )
            output = worker.output()
        finally:
            worker.stop()
    assert "The full contents of the message body was" in output
    assert not any(token[i : i + 16] in output for i in range(0, len(token) - 16, 8))
