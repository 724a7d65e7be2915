"""An in-process local SWF endpoint: moto's SWF, extended, over HTTP."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from swfbridge.checks import check_seconds
from swfbridge.errors import ConfigurationError
from swfbridge.testing import _runtime
from swfbridge.testing.faults import INJECTOR, FaultPlan

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

logger = logging.getLogger(__name__)

DEFAULT_POLL_TIMEOUT_S = 60.0
DEFAULT_RETENTION_S = 300.0
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class LocalSWFConfig:
    """Settings of a :class:`LocalSWF`.

    Attributes:
        host: interface to bind; loopback by default.
        port: TCP port; 0 picks a free one.
        poll_timeout_s: how long an empty long poll waits (SWF: 60 s).
        retention_s: how long closed executions are kept before being forgotten.
        sweep_interval_s: how often timeouts are checked and old executions pruned.
    """

    host: str = "127.0.0.1"
    port: int = 0
    poll_timeout_s: float = DEFAULT_POLL_TIMEOUT_S
    retention_s: float = DEFAULT_RETENTION_S
    sweep_interval_s: float = 0.1

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigurationError(f"port must be within [0, 65535], got {self.port}")
        check_seconds("poll_timeout_s", self.poll_timeout_s)
        check_seconds("retention_s", self.retention_s)
        check_seconds("sweep_interval_s", self.sweep_interval_s, allow_zero=False)


def _quiet_handler() -> type:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class QuietRequestHandler(MotoRequestHandler):
        """moto's request handler, HTTP/1.1, no per-request log line.

        werkzeug's server still answers ``Connection: close``: every request to
        the local endpoint opens a connection (SWF itself keeps them alive).
        """

        protocol_version = "HTTP/1.1"

        def log_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    return QuietRequestHandler


def reset_swf_state() -> None:
    """Forget every SWF domain, type, execution and task in this process."""
    from moto.swf.models import swf_backends

    with _runtime.LOCK:
        for account_backends in list(swf_backends.values()):
            account_backends.reset()
        _runtime.bump_epoch()


class LocalSWF:
    """A faithful-enough SWF endpoint served over HTTP from a background thread.

    Use it as a context manager::

        with LocalSWF(poll_timeout_s=2, retention_s=5) as swf:
            client = swf.client()
            ...

    moto keeps its state per process, so every ``LocalSWF`` in one process
    shares the same SWF state and settings (the latest started wins); run one
    at a time. Starting one resets the SWF state.

    Args:
        host: interface to bind; loopback by default.
        port: TCP port; 0 picks a free one.
        poll_timeout_s: how long an empty long poll waits (SWF: 60 s).
        retention_s: how long closed executions are kept before being forgotten.
        sweep_interval_s: how often timeouts are checked and old executions pruned.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        poll_timeout_s: float = DEFAULT_POLL_TIMEOUT_S,
        retention_s: float = DEFAULT_RETENTION_S,
        sweep_interval_s: float = 0.1,
    ) -> None:
        self.config = LocalSWFConfig(
            host=host,
            port=port,
            poll_timeout_s=poll_timeout_s,
            retention_s=retention_s,
            sweep_interval_s=sweep_interval_s,
        )
        self._server: BaseWSGIServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    # --- life cycle ---------------------------------------------------------

    def start(self) -> LocalSWF:
        """Patch moto, reset SWF state, and start serving; returns self.

        Raises:
            MotoVersionError: if moto[server]==5.2.5 is not installed.
            RuntimeError: if already started.
            OSError: if the port cannot be bound.
        """
        if self._server is not None:
            raise RuntimeError("LocalSWF is already started")
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        from swfbridge.testing import _moto_patches
        from swfbridge.testing._admin import AdminApp

        _moto_patches.apply()
        _runtime.SETTINGS.poll_timeout_s = self.config.poll_timeout_s
        _runtime.SETTINGS.retention_s = self.config.retention_s
        reset_swf_state()
        INJECTOR.clear()
        app = AdminApp(
            app=DomainDispatcherApplication(create_backend_app),
            swf_app=create_backend_app("swf"),
            injector=INJECTOR,
            reset=reset_swf_state,
        )
        self._server = make_server(
            self.config.host,
            self.config.port,
            app,
            threaded=True,
            request_handler=_quiet_handler(),
        )
        self._stopping.clear()
        self._threads = [
            threading.Thread(target=self._server.serve_forever, name="local-swf-http", daemon=True),
            threading.Thread(target=self._sweep_loop, name="local-swf-sweeper", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        logger.info("local SWF serving at %s (%s)", self.endpoint_url, self.config)
        return self

    def stop(self) -> None:
        """Stop serving; waiting polls return empty at once. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        with _runtime.LOCK:
            _runtime.bump_epoch()
        server.shutdown()
        server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self) -> LocalSWF:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _sweep_loop(self) -> None:
        from swfbridge.testing._patch_backend import sweep_all

        while not self._stopping.wait(self.config.sweep_interval_s):
            try:
                sweep_all(time.time())
            except Exception:  # keep sweeping: one bad execution must not stop timeouts
                logger.exception("local SWF sweep failed")

    # --- access -------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """``http://host:port`` of the running server.

        Raises:
            RuntimeError: if not started.
        """
        if self._server is None:
            raise RuntimeError("LocalSWF is not started")
        host, port = self._server.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{port}"

    def client(self, *, region_name: str = DEFAULT_REGION, max_pool_connections: int = 32) -> Any:
        """A boto3 SWF client for this endpoint.

        Dummy credentials, a read timeout above the poll timeout, and no
        retries (``total_max_attempts=1``) so tests see every error.
        """
        import boto3
        from botocore.config import Config

        session = boto3.session.Session()
        return session.client(
            "swf",
            endpoint_url=self.endpoint_url,
            region_name=region_name,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(
                read_timeout=self.config.poll_timeout_s + 10,
                connect_timeout=5,
                retries={"mode": "standard", "total_max_attempts": 1},
                max_pool_connections=max_pool_connections,
            ),
        )

    # --- control ------------------------------------------------------------

    def reset(self) -> None:
        """Forget all SWF state and clear injected faults."""
        reset_swf_state()
        INJECTOR.clear()

    def inject_faults(
        self, *, operations: Iterable[str] = (), fraction: float = 1.0, kind: str = "throttle"
    ) -> FaultPlan:
        """Make ``fraction`` of the requests to ``operations`` fail.

        Args:
            operations: SWF operation names; empty means every operation.
            fraction: probability in [0, 1] that a matching request fails.
            kind: ``"throttle"`` (HTTP 400 ThrottlingException) or
                ``"error"`` (HTTP 500 InternalFailure).

        Returns:
            The plan now in force.

        Raises:
            ValueError: on a bad kind or fraction.
        """
        plan = FaultPlan.build(operations=operations, fraction=fraction, kind=kind)
        INJECTOR.set(plan)
        return plan

    def clear_faults(self) -> None:
        """Stop injecting faults."""
        INJECTOR.clear()
