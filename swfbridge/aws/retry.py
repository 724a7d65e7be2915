"""Exponential backoff with full jitter, bounded, interruptible; the one retry loop."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)


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


E = TypeVar("E", bound=Exception)
T = TypeVar("T")


@dataclass(frozen=True)
class Failure(Generic[E]):
    """How one failed try is seen: the error to raise if this is the last try,
    whether trying again may help, and the short code logged between tries."""

    error: E
    retryable: bool
    code: str


def call_with_retries(
    call: Callable[[], T],
    *,
    backoff: Backoff,
    classify: Callable[[Exception, int], Failure[E]],
    label: str,
    stop: threading.Event | None = None,
) -> T:
    """``call()``, tried again with ``backoff`` while its failures are retryable.

    Args:
        call: One try.
        backoff: Pacing and the number of tries.
        classify: Reads a failed try (the exception and how many tries were
            made); translating vendor errors happens there, once.
        label: What is called, for the line logged before each retry.
        stop: Set to give up while waiting between tries.

    Raises:
        Exception: ``classify``'s error for the last try (chained to the original).
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except Exception as exc:  # classified by the caller's one translation
            failure = classify(exc, attempt)
            if not failure.retryable or backoff.gives_up_after(attempt):
                raise failure.error from exc
            delay = backoff.delay_s(attempt)
            log.warning("%s failed (%s), retry %d in %.2fs", label, failure.code, attempt, delay)
            if sleep(delay, stop):
                raise failure.error from exc
