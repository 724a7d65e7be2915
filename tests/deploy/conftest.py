"""Fixtures for the deployment examples in ``examples/deploy/``: the examples run here
with their production paths and hosts replaced by this machine's."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from swfbridge.testing import LocalSWF
from tests.support import processes

DEPLOY = processes.REPO_ROOT / "examples" / "deploy"
DOMAIN = "shop-prod"  # the examples' domain, registered on the local endpoint
TASK_LIST = "shop"
SHOP_ACTIVITIES = """
from swfbridge import Activity, activity


@activity("1.0", task_list="shop", start_to_close=60)
class Greet(Activity):
    def run(self, name):
        return f"Hello, {name}!"
"""


@dataclass
class Host:
    """This machine dressed as the examples' host: where each production path points."""

    root: Path
    broker_url: str
    swf: LocalSWF

    @property
    def substitutions(self) -> dict[str, str]:
        return {
            "/opt/swfbridge/venv": sys.prefix,
            "/srv/shop": str(self.root / "srv" / "shop"),
            "/etc/swfbridge": str(self.root / "etc"),
            "/var/log/swfbridge": str(self.root / "log"),
            "/run/swfbridge": str(self.root / "run"),
            "redis://redis.internal:6379/0": self.broker_url,
        }

    def render(self, text: str) -> str:
        for production, here in self.substitutions.items():
            text = text.replace(production, here)
        return text

    def base_env(self) -> dict[str, str]:
        """What the service manager's own environment holds here: the local SWF
        endpoint and dummy credentials (on AWS: the instance's role)."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "CELERY_", "SWFBRIDGE_", "PYTHON"))
        }
        env.update(
            AWS_ENDPOINT_URL_SWF=self.swf.endpoint_url,
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",
            PYTHONUNBUFFERED="1",
        )
        return env


@pytest.fixture
def host(tmp_path: Path, local_swf_server: LocalSWF) -> Iterator[Host]:
    """Directories, a Redis, and the examples' domain and activity type, registered."""
    for sub in ("srv/shop/shop", "etc", "log", "run"):
        (tmp_path / sub).mkdir(parents=True)
    package = tmp_path / "srv" / "shop" / "shop"
    (package / "__init__.py").write_text("")
    (package / "activities.py").write_text(SHOP_ACTIVITIES)
    with processes.redis_server() as broker_url:
        host = Host(tmp_path, broker_url, local_swf_server)
        env = {
            **host.base_env(),
            "AWS_DEFAULT_REGION": "us-east-1",
            "CELERY_BROKER_URL": broker_url,
            "SWFBRIDGE_ACTIVITIES": "shop.activities",
        }
        registered = subprocess.run(
            [sys.executable, "-m", "swfbridge", "register", "--domain", DOMAIN, "--create-domain"],
            env=env,
            cwd=tmp_path / "srv" / "shop",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert registered.returncode == 0, registered.stdout + registered.stderr
        yield host


def run_greeting(swf: LocalSWF, *, attempts: int = 1) -> str:
    """Run one Greet activity through whatever serves the task list; its result.

    With ``attempts`` > 1, an attempt that timed out is scheduled again (with a
    short start-to-close): after a poller is killed, SWF may hand the next task
    to the long poll the dead process left open, and that task is lost until
    its start-to-close timeout (on AWS as here). A decider retries it.
    """
    from swfbridge.decider import ScheduledActivity, run_activities

    for _ in range(attempts):
        outcomes = run_activities(
            swf.client(),
            domain=DOMAIN,
            task_list=TASK_LIST,
            timeout_s=120,
            workflow_id=f"deploy-{uuid.uuid4().hex[:8]}",
            activities=[
                ScheduledActivity(
                    "greet",
                    "Greet",
                    "1.0",
                    input='[["ops"], {}]',
                    start_to_close="10" if attempts > 1 else None,
                )
            ],
        )
        outcome = outcomes["greet"]
        if outcome.status != "timed_out":
            break
    assert outcome.status == "completed", outcome
    return str(outcome.result)
