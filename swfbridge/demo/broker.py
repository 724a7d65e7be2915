"""Which Celery broker the demo uses, and the settings both sides need for it."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EMBEDDED = "embedded"
AUTO = "auto"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class DemoBroker:
    """A broker for the demo.

    Args:
        url: The Celery broker URL (may hold a password: show it redacted).
        origin: Where the choice came from, for the user.
        settings: Celery settings the poller's app and the worker both need.
    """

    url: str
    origin: str
    settings: dict[str, Any] = field(default_factory=dict)

    def config_module_source(self) -> str:
        """A Celery config module (``CELERY_CONFIG_MODULE``) carrying :attr:`settings`."""
        lines = ['"""Written by swfbridge demo for its Celery worker."""']
        lines += [f"{key} = {value!r}" for key, value in sorted(self.settings.items())]
        return "\n".join(lines) + "\n"


def embedded_broker(work_dir: Path) -> DemoBroker:
    """kombu's filesystem transport: messages are files in ``work_dir``.

    It needs no server and works between processes on one machine, which is
    all the demo needs (it is no production broker: no acknowledgements).
    """
    messages = work_dir / "messages"
    control = work_dir / "control"
    for folder in (messages, control):
        folder.mkdir(parents=True, exist_ok=True)
    return DemoBroker(
        url="filesystem://localhost/",
        origin=f"embedded: kombu's filesystem transport, no server, in {work_dir}",
        settings={
            # kombu's filesystem transport, writing each message atomically.
            "broker_transport": "swfbridge.demo.atomic_fs:Transport",
            "broker_transport_options": {
                "data_folder_in": str(messages),
                "data_folder_out": str(messages),
                "control_folder": str(control),
                "polling_interval": 0.1,
            },
        },
    )


def local_redis_answers(host: str = "127.0.0.1", port: int = 6379, timeout_s: float = 0.5) -> bool:
    """True if something at ``host:port`` answers a Redis PING."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def choose_broker(choice: str, *, env_broker_url: str | None, work_dir: Path) -> DemoBroker:
    """Resolve ``--broker``: ``auto``, ``embedded`` or a broker URL.

    ``auto`` takes ``CELERY_BROKER_URL`` when set (passed in as
    ``env_broker_url``), else a Redis answering on 127.0.0.1:6379, else the
    embedded broker.
    """
    if choice == EMBEDDED:
        return embedded_broker(work_dir)
    if choice != AUTO:
        return DemoBroker(url=choice, origin="--broker")
    if env_broker_url:
        return DemoBroker(url=env_broker_url, origin="CELERY_BROKER_URL")
    if local_redis_answers():
        return DemoBroker(url=LOCAL_REDIS_URL, origin="a local Redis answered on 6379")
    return embedded_broker(work_dir)
