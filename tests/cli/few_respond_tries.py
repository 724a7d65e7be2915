"""Loaded beside the test activities by the worker of one test
(``SWFBRIDGE_ACTIVITIES``): three respond tries instead of ten.

The lost-answer test makes SWF refuse every RespondActivityTaskCompleted; what
it checks is how an answer SWF never got is counted, which does not depend on
how many tries failed. Ten tries are paced over ~25 s (0.1 s doubling, with
jitter); three take well under a second.
"""

from __future__ import annotations

from swfbridge.aws import respond
from swfbridge.aws.retry import Backoff

# Fails the worker's start (and so the test) if the name ever changes, rather
# than leaving the test slow without saying why.
assert isinstance(respond.RESPOND_BACKOFF, Backoff)
respond.RESPOND_BACKOFF = Backoff(max_attempts=3)
