"""A whole bridge on one machine, for the demo, the examples and their tests.

:func:`local_bridge` starts, and stops in reverse order whatever happens:
the local SWF endpoint (in process), a relay in front of it that reports
heartbeats, a real Celery worker (prefork, a child process), and one poller per
task list (threads in process). It reads no environment: the caller passes the
environment the worker starts from.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swfbridge.cli._common import redact_url
from swfbridge.demo.broker import DemoBroker
from swfbridge.demo.tap import HeartbeatListener, SwfTap
from swfbridge.errors import SwfBridgeError

log = logging.getLogger(__name__)

CONFIG_MODULE = "swfbridge_demo_celeryconfig"
REGION = "us-east-1"
# Short, so pollers and deciders stop promptly once the work is done.
POLL_TIMEOUT_S = 2.0
WORKER_READY_TIMEOUT_S = 60.0
# Say what the start is waiting for once it takes longer than a healthy start.
WORKER_WAIT_NOTICE_S = 3.0


class BridgeStartError(SwfBridgeError):
    """A part of the local bridge could not start; the message says which, and why."""


@dataclass(frozen=True)
class LocalBridgeConfig:
    """What to run.

    Args:
        broker: The Celery broker.
        work_dir: A private scratch directory (worker log, config module, messages).
        activities: Modules the worker imports (``SWFBRIDGE_ACTIVITIES``).
        task_lists: SWF task lists to poll (one poller each).
        domain: SWF domain (registered on start).
        celery_app: What the worker runs (``celery -A``).
        base_env: The environment the worker starts from (its AWS, Celery and
            swfbridge variables are replaced).
        pythonpath: Directories the worker needs on its ``PYTHONPATH``.
        concurrency: Worker pool processes (prefork).
        pollers: Poll threads per task list.
        task_map: Activity types served by existing Celery tasks (for the poller).
        python: Interpreter for the worker process.
        ready_timeout_s: How long to wait for the worker to be ready (it
            connects to the broker first: a broker that is down shows here).
    """

    broker: DemoBroker
    work_dir: Path
    activities: Sequence[str]
    task_lists: Sequence[str]
    domain: str = "swfbridge-demo"
    celery_app: str = "swfbridge"
    base_env: Mapping[str, str] = field(default_factory=dict)
    pythonpath: Sequence[str] = ()
    concurrency: int = 4
    pollers: int = 2
    task_map: Any = None
    python: str = sys.executable
    ready_timeout_s: float = WORKER_READY_TIMEOUT_S


@dataclass
class LocalBridge:
    """A running local bridge."""

    swf: Any
    domain: str
    queue: str
    pollers: list[Any]
    worker_log: Path

    def client(self) -> Any:
        """A boto3 SWF client for the local endpoint (for deciders)."""
        return self.swf.client()

    @property
    def poller_counts(self) -> dict[str, int]:
        """The pollers' running totals, summed."""
        total: dict[str, int] = {}
        for poller in self.pollers:
            for key, value in poller.counts.items():
                total[key] = total.get(key, 0) + value
        return total


@contextmanager
def local_bridge(
    config: LocalBridgeConfig,
    on_heartbeat: HeartbeatListener | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[LocalBridge]:
    """Start everything, yield the running bridge, stop everything.

    Stopping also deletes the run's Celery queue and its bindings from the
    broker (each run has a queue of its own), so a shared Redis keeps no
    ``_kombu.binding*`` keys of finished runs.

    Args:
        config: What to run.
        on_heartbeat: Called with each heartbeat that reaches SWF.
        on_wait: Called with one line saying what the start is waiting for,
            once it takes longer than a healthy start.

    Raises:
        BridgeStartError: the worker did not start (its log is in the message).
    """
    from swfbridge.testing import LocalSWF

    queue = f"swfbridge-demo-{uuid.uuid4().hex[:8]}"
    worker_log = config.work_dir / "worker.log"
    with ExitStack() as stack:
        swf = LocalSWF(poll_timeout_s=POLL_TIMEOUT_S, retention_s=300).start()
        stack.callback(swf.stop)
        tap = SwfTap(
            upstream_url=swf.endpoint_url,
            on_heartbeat=on_heartbeat or (lambda activity_id, details: None),
        )
        tap.start()
        stack.callback(tap.stop)
        register_types(swf.client(), config.domain)
        # Runs after the worker and the pollers have stopped (ExitStack unwinds backwards).
        stack.callback(_forget_queue, config.broker, queue)
        pollers: list[Any] = []
        # Stopping runs bottom-up: pollers told to stop, then the worker shut
        # down while their last polls end, then the pollers joined.
        stack.callback(_join_all, pollers)
        stack.enter_context(_worker(config, queue, tap.url, worker_log, on_wait))
        pollers += [_poller(config, task_list, queue, tap.url) for task_list in config.task_lists]
        stack.callback(_stop_all, pollers)
        for poller in pollers:
            poller.start()
        yield LocalBridge(
            swf=swf, domain=config.domain, queue=queue, pollers=pollers, worker_log=worker_log
        )


def _stop_all(pollers: list[Any]) -> None:
    for poller in pollers:
        poller.stop()


def _join_all(pollers: list[Any]) -> None:
    for poller in pollers:
        poller.join(2 * POLL_TIMEOUT_S + 1)


def register_types(client: Any, domain: str) -> None:
    """Register ``domain`` and every activity type of the default registry in it."""
    from swfbridge.activities import registration
    from swfbridge.activities.registry import default_registry
    from swfbridge.aws.swf import DomainAlreadyExists, SwfClient

    swf = SwfClient(client=client)
    with suppress(DomainAlreadyExists):
        swf.call("register_domain", name=domain, workflowExecutionRetentionPeriodInDays="1")
    types = [entry.options for entry in default_registry]
    registration.register_missing(swf, domain, registration.plan(swf, domain, types))


def _boto_client(endpoint_url: str) -> Any:
    import boto3
    import botocore.config

    return boto3.session.Session().client(
        "swf",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=botocore.config.Config(
            read_timeout=POLL_TIMEOUT_S + 10, retries={"mode": "standard", "total_max_attempts": 1}
        ),
    )


def _worker_env(config: LocalBridgeConfig, swf_url: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in config.base_env.items()
        if not k.startswith(("AWS_", "CELERY_", "SWFBRIDGE_"))
    }
    env.update(
        CELERY_BROKER_URL=config.broker.url,
        SWFBRIDGE_ACTIVITIES=",".join(config.activities),
        AWS_ENDPOINT_URL_SWF=swf_url,
        AWS_DEFAULT_REGION=REGION,
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        PYTHONUNBUFFERED="1",
    )
    # The claims' Redis: an SQS worker refuses to start without one.
    state_url = config.base_env.get("SWFBRIDGE_STATE_URL")
    if state_url:
        env["SWFBRIDGE_STATE_URL"] = state_url
    paths = [*config.pythonpath]
    if config.broker.settings:
        (config.work_dir / f"{CONFIG_MODULE}.py").write_text(config.broker.config_module_source())
        env["CELERY_CONFIG_MODULE"] = CONFIG_MODULE
        paths.append(str(config.work_dir))
    paths.append(env.get("PYTHONPATH", ""))
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


def _forget_queue(broker: DemoBroker, queue: str) -> None:
    """Delete the run's queue and its exchange binding from the broker (best effort).

    The embedded broker lives in the run's temporary directory and goes with it.
    """
    if broker.settings:
        return
    from kombu import Connection, Exchange, Queue

    try:
        with Connection(broker.url, connect_timeout=5) as connection:
            connection.ensure_connection(max_retries=1)
            # Declared here so this channel knows the binding it deletes (what
            # `celery worker -Q` declared: a direct exchange named like the queue).
            bound = Queue(queue, Exchange(queue, type="direct"), routing_key=queue)(
                connection.default_channel
            )
            bound.declare()
            bound.delete()
    except Exception as exc:  # the demo's outcome does not depend on the cleanup
        log.warning("could not delete the demo's queue %s from the broker: %s", queue, exc)


@contextmanager
def _worker(
    config: LocalBridgeConfig,
    queue: str,
    swf_url: str,
    log_path: Path,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    argv = [
        config.python,
        "-m",
        "celery",
        "-A",
        config.celery_app,
        "worker",
        "-P",
        "prefork",
        "-c",
        str(config.concurrency),
        "-Q",
        queue,
        "-n",
        f"{queue}@%h",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            argv,
            env=_worker_env(config, swf_url),
            cwd=config.work_dir,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ready = False
    try:
        started = time.monotonic()
        told = False
        while " ready." not in log_path.read_text(errors="replace"):
            if process.poll() is not None:
                raise BridgeStartError(
                    f"the Celery worker exited ({process.returncode}); its log:\n{tail(log_path)}"
                )
            waited_s = time.monotonic() - started
            if waited_s > config.ready_timeout_s:
                raise BridgeStartError(
                    f"the Celery worker was not ready after {config.ready_timeout_s:g}s: is "
                    f"the broker at {redact_url(config.broker.url)} up? Its log:\n"
                    f"{tail(log_path)}"
                )
            if not told and waited_s > WORKER_WAIT_NOTICE_S and on_wait is not None:
                on_wait(
                    f"waiting for the Celery worker to connect to the broker at "
                    f"{redact_url(config.broker.url)} and be ready (up to "
                    f"{config.ready_timeout_s:g}s)"
                )
                told = True
            time.sleep(0.1)
        ready = True
        yield
    finally:
        if ready:
            _stop_process(process)
        else:
            # Never connected to the broker, so it holds no job: a warm shutdown
            # would only wait out Celery's connection retry (up to seconds).
            _kill_group(process)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    """Warm shutdown (SIGTERM), then kill the whole process group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
            return
        except subprocess.TimeoutExpired:
            pass
    _kill_group(process)


def _poller(config: LocalBridgeConfig, task_list: str, queue: str, swf_url: str) -> Any:
    from swfbridge.aws.swf import SwfClient
    from swfbridge.poller.build import build_poller, celery_dispatcher
    from swfbridge.poller.loop import PollerConfig

    return build_poller(
        config=PollerConfig(
            domain=config.domain,
            task_list=task_list,
            identity=f"local-poller:{task_list}",
            pollers=config.pollers,
        ),
        swf=SwfClient(client=_boto_client(swf_url)),
        dispatcher=celery_dispatcher(
            config.broker.url,
            queue=queue,
            task_map=config.task_map,
            app_name="swfbridge-local-poller",
            broker_settings=config.broker.settings,
        ),
    )


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file (for error messages)."""
    with suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"
