"""Runs an example on a whole bridge on this machine (no AWS, no server needed).

Each example defines its activities and a decider; :func:`run_example` starts
the local SWF endpoint, a broker (``CELERY_BROKER_URL``, a local Redis, or the
embedded one, like ``swfbridge demo``), a real Celery worker that imports the
example's module, and a poller, then runs the decider against them.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from swfbridge.demo.bridge import LocalBridgeConfig, local_bridge
from swfbridge.demo.broker import choose_broker

REPO_ROOT = Path(__file__).resolve().parents[1]
DOMAIN = "examples"

T = TypeVar("T")


def run_example(
    decide: Callable[[Any, str], T],
    *,
    module: str,
    task_lists: Sequence[str],
    celery_app: str = "swfbridge",
    task_map: Any = None,
    on_heartbeat: Callable[[str, Any], None] | None = None,
) -> T:
    """Run ``decide(client, domain)`` with a bridge whose worker imports ``module``.

    Args:
        decide: The example's decider: gets a boto3 SWF client and the domain.
        module: The example's module (the worker imports it by this name).
        task_lists: Task lists to poll.
        celery_app: What the worker runs (``celery -A``).
        task_map: Activity types served by existing Celery tasks.
        on_heartbeat: Called with ``(activity_id, details)`` per heartbeat.
    """
    with tempfile.TemporaryDirectory(prefix="swfbridge-example-") as work:
        broker = choose_broker(
            os.environ.get("SWFBRIDGE_EXAMPLE_BROKER", "auto"),
            env_broker_url=os.environ.get("CELERY_BROKER_URL"),
            work_dir=Path(work),
        )
        config = LocalBridgeConfig(
            broker=broker,
            work_dir=Path(work),
            activities=[module],
            task_lists=task_lists,
            domain=DOMAIN,
            celery_app=celery_app,
            base_env=dict(os.environ),
            pythonpath=[str(REPO_ROOT)],
            concurrency=4,
            pollers=2,
            task_map=task_map,
        )
        print(
            f"[example] broker: {broker.origin}; worker: celery -A {celery_app} (imports {module})",
            file=sys.stderr,
        )
        with local_bridge(config, on_heartbeat=on_heartbeat) as bridge:
            return decide(bridge.client(), bridge.domain)
