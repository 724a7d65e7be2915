"""A loopback HTTP relay in front of the SWF endpoint that reports what passes.

SWF does not show heartbeat details to anyone but a timed-out task's decider,
so the demo watches the traffic instead: the worker and the poller talk to SWF
through this relay, which forwards every request unchanged and reports who
polled which activity and each heartbeat's details.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

HeartbeatListener = Callable[[str, Any], None]
"""Called with ``(activity_id, details)`` for each heartbeat that reaches SWF."""

_TARGET_PREFIX = "SimpleWorkflowService."
# Longer than SWF's 60 s long poll, like the bridge's own read timeout.
_UPSTREAM_TIMEOUT_S = 75.0
_HOP_BY_HOP = {"host", "content-length", "connection", "accept-encoding", "transfer-encoding"}


class SwfTap:
    """Relays SWF requests to ``upstream_url`` and reports heartbeats.

    Args:
        upstream_url: The real SWF endpoint (here, the local one).
        on_heartbeat: Called for each successful heartbeat.
        host: Interface to listen on (loopback).
    """

    def __init__(
        self, *, upstream_url: str, on_heartbeat: HeartbeatListener, host: str = "127.0.0.1"
    ) -> None:
        self._upstream = upstream_url.rstrip("/")
        self._on_heartbeat = on_heartbeat
        self._activity_by_token: dict[str, str] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="swfbridge-demo-tap", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SwfTap:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _observe(self, operation: str, request: bytes, status: int, response: bytes) -> None:
        if status != 200:
            return
        try:
            if operation == "PollForActivityTask":
                answer = json.loads(response or b"{}")
                if answer.get("taskToken"):
                    with self._lock:
                        self._activity_by_token[answer["taskToken"]] = answer["activityId"]
            elif operation == "RecordActivityTaskHeartbeat":
                sent = json.loads(request)
                with self._lock:
                    activity_id = self._activity_by_token.get(sent.get("taskToken", ""), "?")
                details = sent.get("details")
                with contextlib.suppress(ValueError):  # plain-text details stay text
                    details = json.loads(details) if details is not None else None
                self._on_heartbeat(activity_id, details)
        except Exception:  # watching must never break the traffic it watches
            log.exception("demo tap could not read a %s exchange", operation)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        tap = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                request = urllib.request.Request(
                    tap._upstream + self.path, data=body, headers=headers, method="POST"
                )
                try:
                    with urllib.request.urlopen(request, timeout=_UPSTREAM_TIMEOUT_S) as answer:
                        status, payload = answer.status, answer.read()
                        content_type = answer.headers.get("Content-Type", "")
                except urllib.error.HTTPError as exc:
                    status, payload = exc.code, exc.read()
                    content_type = exc.headers.get("Content-Type", "")
                except OSError as exc:
                    self.send_error(502, f"SWF endpoint unreachable: {exc}")
                    return
                target = self.headers.get("X-Amz-Target", "")
                tap._observe(target.removeprefix(_TARGET_PREFIX), body, status, payload)
                self.send_response(status)
                self.send_header("Content-Type", content_type or "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler
