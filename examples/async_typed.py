"""An ``async def`` activity with typed arguments and result.

``typed = True`` converts the JSON input to the dataclasses annotated on
``run`` and the returned dataclass back to JSON; the wire stays plain JSON, so
any decider can schedule it. ``run`` is a coroutine: the worker runs it on its
pool process's event loop, and a cancellation arrives as
``asyncio.CancelledError`` at the current ``await``.

Run it: ``python -m examples.async_typed`` (from the repository root).
Unit-test it without a worker with ``swfbridge.testing.ActivityEnvironment``
(see ``tests/examples/test_example_activities.py``).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from swfbridge import FLOWY, Activity, activity
from swfbridge.testing import ScheduledActivity, run_activities

TASK_LIST = "examples-async-typed"


@dataclass(frozen=True)
class Item:
    sku: str
    quantity: int


@dataclass(frozen=True)
class Quote:
    total_cents: int
    lines: int


PRICES_CENTS = {"apple": 40, "pear": 55}


@activity("1.0", task_list=TASK_LIST, heartbeat=10, start_to_close=60)
class QuoteBasket(Activity):
    typed = True

    async def run(self, items: list[Item]) -> Quote:
        total = 0
        for done, item in enumerate(items, 1):
            await asyncio.sleep(0.05)  # e.g. an aiohttp call to the price service
            total += PRICES_CENTS[item.sku] * item.quantity
            self.heartbeat({"priced": done, "of": len(items)})  # never blocks
        return Quote(total_cents=total, lines=len(items))


def decide(client: Any, domain: str) -> dict[str, Any]:
    basket = [{"sku": "apple", "quantity": 3}, {"sku": "pear", "quantity": 2}]
    outcomes = run_activities(
        client,
        domain=domain,
        task_list=TASK_LIST,
        activities=[
            ScheduledActivity("quote", "QuoteBasket", "1.0", input=FLOWY.encode_input([basket], {}))
        ],
    )
    outcome = outcomes["quote"]
    assert outcome.status == "completed", outcome
    return dict(json.loads(outcome.result or "{}"))


if __name__ == "__main__":
    from examples._local import run_example

    print("result:", run_example(decide, module="examples.async_typed", task_lists=[TASK_LIST]))
