"""The chaos driver: faults at seeded random intervals, while the soak runs.

Kinds are drawn from a shuffled deck (every kind once, then reshuffled), so
even a short soak meets each kind; the intervals are random (exponential).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from tests.soak.fleet import Fleet

KINDS = (
    "kill -9 pool child",
    "kill -9 worker",
    "kill -9 poller",
    "restart Redis broker",
    "SWF throttling",
    "SWF 500s",
)


@dataclass(frozen=True)
class ChaosConfig:
    seed: int
    mean_interval_s: float = 6.0
    swf_fault_fraction: float = 0.3
    swf_fault_s: tuple[float, float] = (3.0, 8.0)
    broker_down_s: tuple[float, float] = (0.5, 2.0)


@dataclass
class ChaosLog:
    events: list[tuple[float, str, str]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    def counts(self) -> Counter[str]:
        return Counter(kind for _, kind, _ in self.events)


class Chaos:
    """Runs in a thread until :meth:`stop`; every event is in :attr:`log`."""

    def __init__(self, fleet: Fleet, config: ChaosConfig) -> None:
        self.fleet = fleet
        self.config = config
        self.rng = random.Random(config.seed)
        self.log = ChaosLog()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="chaos", daemon=True)
        self._deck: list[str] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        self.fleet.local_swf.clear_faults()

    def covered(self) -> bool:
        """True once every kind has happened at least once."""
        return set(self.log.counts()) >= set(KINDS)

    def _next_kind(self) -> str:
        if not self._deck:
            self._deck = list(KINDS)
            self.rng.shuffle(self._deck)
        return self._deck.pop()

    def _loop(self) -> None:
        while not self._stop.wait(self.rng.expovariate(1 / self.config.mean_interval_s)):
            kind = self._next_kind()
            try:
                what = self._inject(kind)
            except Exception as exc:  # a chaos step that fails is logged, not fatal
                what = f"error: {exc!r}"
            if what is None:
                self.log.skipped[kind] += 1
            else:
                self.log.events.append((time.time(), kind, what))

    def _inject(self, kind: str) -> str | None:
        fleet, rng = self.fleet, self.rng
        if kind == "kill -9 pool child":
            worker = rng.choice(fleet.workers)
            pid = fleet.kill_child(worker, rng.choice)
            return None if pid is None else f"{worker.role} child {pid}"
        if kind == "kill -9 worker":
            worker = rng.choice(fleet.workers)
            pid = fleet.kill_whole(worker)
            return None if pid is None else f"{worker.role} pid {pid}"
        if kind == "kill -9 poller":
            poller = rng.choice(fleet.pollers)
            pid = fleet.kill_whole(poller)
            return None if pid is None else f"{poller.role} pid {pid}"
        if kind == "restart Redis broker":
            down_s = rng.uniform(*self.config.broker_down_s)
            fleet.restart_broker(down_s)
            return f"down {down_s:.1f}s"
        fault = "throttle" if kind == "SWF throttling" else "error"
        window_s = rng.uniform(*self.config.swf_fault_s)
        fleet.local_swf.faults(kind=fault, fraction=self.config.swf_fault_fraction)
        try:
            self._stop.wait(window_s)
        finally:
            fleet.local_swf.clear_faults()
        return f"{self.config.swf_fault_fraction:.0%} of all calls for {window_s:.1f}s"
