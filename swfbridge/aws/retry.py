"""Exponential backoff with full jitter, bounded, interruptible."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Retry pacing: delays grow from ``base_s`` to ``cap_s``, with full jitter.

    ``max_attempts`` counts the first try; None means "retry until stopped".
    """

    base_s: float = 0.1
    cap_s: float = 20.0
    max_attempts: int | None = 6

    def delay_s(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay before try number ``attempt + 1`` (``attempt`` ≥ 1 tries made)."""
        ceiling = min(self.cap_s, self.base_s * (2 ** max(0, attempt - 1)))
        return (rng or random).uniform(ceiling / 2, ceiling)

    def gives_up_after(self, attempt: int) -> bool:
        """True when ``attempt`` tries are all that is allowed."""
        return self.max_attempts is not None and attempt >= self.max_attempts


def sleep(delay_s: float, stop: threading.Event | None) -> bool:
    """Sleep, waking early if ``stop`` is set. Returns True if stopped."""
    if stop is None:
        threading.Event().wait(delay_s)
        return False
    return stop.wait(delay_s)
