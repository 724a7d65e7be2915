"""Prometheus' text exposition format, for the poller's and the workers' metrics.

Small on purpose: counters, histograms, one-sample counters and gauges, and
a loopback HTTP server for ``/metrics``. Both sides render through it, so
the format (escaping, numbers, bucket bounds) is written once.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Family:
    """One metric family: its samples by label values."""

    kind = "untyped"

    def __init__(self, name: str, help_text: str, label_names: Sequence[str] = ()) -> None:
        self.name = name
        self.help_text = help_text
        self.label_names = tuple(label_names)
        self._lock = threading.Lock()

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help_text}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Family):
    """A monotonically increasing count, per label values."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, label_names: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, label_names)
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, *label_values: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[label_values] = self._values.get(label_values, 0.0) + amount

    def value(self, *label_values: str) -> float:
        with self._lock:
            return self._values.get(label_values, 0.0)

    def render(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return self.header() + [
            f"{self.name}{_labels(self.label_names, k)} {number(v)}" for k, v in items
        ]


class Histogram(_Family):
    """Observations counted in cumulative buckets, per label values."""

    kind = "histogram"

    def __init__(
        self,
        name: str,
        help_text: str,
        label_names: Sequence[str] = (),
        *,
        buckets: Sequence[float],
    ) -> None:
        super().__init__(name, help_text, label_names)
        self.buckets = tuple(sorted(buckets))
        self._series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}

    def observe(self, value: float, *label_values: str) -> None:
        with self._lock:
            counts, totals = self._series.setdefault(
                label_values, ([0] * (len(self.buckets) + 1), [0.0])
            )
            counts[bisect.bisect_left(self.buckets, value)] += 1
            totals[0] += value

    def add(self, counts: Sequence[int], total: float, *label_values: str) -> None:
        """Add observations counted elsewhere: ``counts`` per bucket (not cumulative,
        the last one above every bound), ``total`` their sum."""
        if len(counts) != len(self.buckets) + 1:
            raise ValueError(
                f"{self.name}: {len(counts)} bucket counts for {len(self.buckets) + 1} buckets"
            )
        with self._lock:
            mine, totals = self._series.setdefault(
                label_values, ([0] * (len(self.buckets) + 1), [0.0])
            )
            for index, count in enumerate(counts):
                mine[index] += int(count)
            totals[0] += float(total)

    def render(self) -> list[str]:
        with self._lock:
            series = sorted((k, (list(c), t[0])) for k, (c, t) in self._series.items())
        lines = self.header()
        for key, (counts, total) in series:
            cumulative = 0
            for bound, count in zip((*self.buckets, float("inf")), counts, strict=True):
                cumulative += count
                le = f'le="{number(bound)}"'
                lines.append(f"{self.name}_bucket{_labels(self.label_names, key, le)} {cumulative}")
            lines.append(f"{self.name}_sum{_labels(self.label_names, key)} {number(total)}")
            lines.append(f"{self.name}_count{_labels(self.label_names, key)} {cumulative}")
        return lines


def counter_lines(name: str, help_text: str, value: float) -> list[str]:
    """A counter with one sample and no labels."""
    return [f"# HELP {name} {help_text}", f"# TYPE {name} counter", f"{name} {number(value)}"]


def gauge_lines(name: str, help_text: str, value: float) -> list[str]:
    """A gauge with one sample and no labels."""
    return [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {number(value)}"]


class MetricsServer:
    """Serves ``render()`` at ``/metrics`` over HTTP from a background thread.

    Args:
        render: Produces the exposition text.
        host: Interface (loopback by default: metrics are for a local scraper
            or an explicitly exposed port).
        port: TCP port; 0 picks a free one (see :attr:`port`).

    Raises:
        OSError: The port cannot be bound.
    """

    def __init__(
        self, *, render: Callable[[], str], host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._render = render
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="swfbridge-metrics", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self._server.server_address[0]
        return f"http://{host!s}:{self.port}/metrics"

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port (also when never started)."""
        if self._thread.is_alive():
            self._server.shutdown()  # waits for serve_forever, so only once it runs
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        render = self._render

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] not in ("/metrics", "/"):
                    self.send_error(404, "metrics are at /metrics")
                    return
                try:
                    body = render().encode()
                except Exception:  # a scrape must never take the poller down
                    log.exception("rendering metrics failed")
                    self.send_error(500, "rendering metrics failed")
                    return
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler
