"""The local SWF endpoint for benchmarks: ``swfbridge local-swf`` plus a call counter.

Run as its own process (``python -m benchmarks.endpoint``) so that the
endpoint's CPU never lands on the process doing the measuring. It serves
:class:`swfbridge.testing.LocalSWF` unchanged, with one WSGI layer in front
that counts requests by SWF operation (the ``X-Amz-Target`` header):

- ``GET /_bench/counts`` -> ``{"PollForActivityTask": 1234, ...}``
- ``POST /_swfbridge/reset`` (LocalSWF's own reset) also zeroes the counts.

Counting in the server sees every call from every client (poller, workers,
native workers, decider) without a proxy hop that would add latency.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

COUNTS_PATH = "/_bench/counts"
RESET_PATH = "/_swfbridge/reset"
TARGET_PREFIX = "SimpleWorkflowService."

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class CountingApp:
    """WSGI middleware counting SWF operations."""

    def __init__(self, app: WSGIApp) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if path == COUNTS_PATH:
            with self._lock:
                body = json.dumps(dict(self._counts)).encode()
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        if path == RESET_PATH:
            with self._lock:
                self._counts.clear()
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if target.startswith(TARGET_PREFIX):
            with self._lock:
                self._counts[target[len(TARGET_PREFIX) :]] += 1
        return self._app(environ, start_response)


def serve(*, port: int, poll_timeout_s: float, retention_s: float) -> int:
    from swfbridge.testing import LocalSWF

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = LocalSWF(port=port, poll_timeout_s=poll_timeout_s, retention_s=retention_s)
    server.start()
    try:
        # LocalSWF builds its WSGI app inside start(); werkzeug's server reads
        # `.app` on every request, so wrapping it here counts every call.
        wsgi_server = server._server
        if wsgi_server is None or not hasattr(wsgi_server, "app"):
            print(
                "benchmarks.endpoint: LocalSWF internals changed; cannot count calls",
                file=sys.stderr,
            )
            return 2
        wsgi_server.app = CountingApp(wsgi_server.app)
        print(server.endpoint_url, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


class EndpointClient:
    """Talks to a running ``benchmarks.endpoint`` over HTTP (admin routes only)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def counts(self) -> Counter[str]:
        with urllib.request.urlopen(self.url + COUNTS_PATH, timeout=10) as answer:
            data = json.loads(answer.read())
        return Counter({str(k): int(v) for k, v in data.items()})

    def reset(self) -> None:
        request = urllib.request.Request(
            self.url + RESET_PATH,
            data=b"{}",
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.endpoint")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--poll-timeout", type=float, default=5.0)
    parser.add_argument("--retention", type=float, default=600.0)
    args = parser.parse_args(argv)
    return serve(port=args.port, poll_timeout_s=args.poll_timeout, retention_s=args.retention)


if __name__ == "__main__":
    sys.exit(main())
