"""Plain functions run by import path (types named ``tests.integration.timeout_functions.*``).

test_task_timeouts.py registers their types in SWF itself, with placeholder
"0" defaults, as simpleflow does; the decider sets the real timeouts per task.
"""

from __future__ import annotations


def add(a: int, b: int) -> int:
    return a + b
