"""An existing Celery task exposed as an SWF activity, without changing it.

The task below belongs to a Celery app that knows nothing of SWF, apart from
the one ``swfbridge.install(app)`` line (which registers the bridge's tasks,
including the relays that report the task's result or exception to SWF). The
poller maps the activity type ``AddTax`` version ``1.0`` to the task's name
with a task map (``swfbridge poll --task-map examples.existing_celery_task:TASK_MAP``
in production).

Run it: ``python -m examples.existing_celery_task`` (from the repository root).
"""

from __future__ import annotations

import json
from typing import Any

from celery import Celery

import swfbridge
from swfbridge import FLOWY
from swfbridge.activities.task_map import CeleryTaskMap
from swfbridge.testing import ScheduledActivity, register_activity_type, run_activities

TASK_LIST = "examples-celery-task"

# The app you already have: its broker comes from CELERY_BROKER_URL, its other
# settings from the module named by CELERY_CONFIG_MODULE, if any.
app = Celery("shop")
app.config_from_envvar("CELERY_CONFIG_MODULE", silent=True)
swfbridge.install(app)


@app.task(name="shop.add_tax")
def add_tax(amount: float, rate: float = 0.2) -> dict[str, float]:
    """An ordinary Celery task, called with ``add_tax.delay(...)`` elsewhere in the shop."""
    if amount < 0:
        raise ValueError(f"negative amount: {amount}")
    return {"net": amount, "gross": round(amount * (1 + rate), 2)}


TASK_MAP = CeleryTaskMap({("AddTax", "1.0"): "shop.add_tax"})
"""Activity type -> Celery task (the poller's ``--task-map``)."""


def decide(client: Any, domain: str) -> dict[str, Any]:
    """Call AddTax twice through SWF: once fine, once with a bad amount."""
    # No Activity class describes this type: register it like any SWF type.
    register_activity_type(
        client,
        domain=domain,
        name="AddTax",
        version="1.0",
        task_list=TASK_LIST,
        start_to_close="60",
        schedule_to_start="120",
    )
    outcomes = run_activities(
        client,
        domain=domain,
        task_list=TASK_LIST,
        activities=[
            ScheduledActivity("tax-ok", "AddTax", "1.0", input=FLOWY.encode_input([100.0], {})),
            ScheduledActivity(
                "tax-bad", "AddTax", "1.0", input=FLOWY.encode_input([-5.0], {"rate": 0.1})
            ),
        ],
    )
    ok, bad = outcomes["tax-ok"], outcomes["tax-bad"]
    return {
        "tax-ok": (ok.status, json.loads(ok.result) if ok.result else None),
        "tax-bad": (bad.status, bad.reason),
    }


if __name__ == "__main__":
    from examples._local import run_example

    print(
        "result:",
        run_example(
            decide,
            module="examples.existing_celery_task",
            task_lists=[TASK_LIST],
            celery_app="examples.existing_celery_task",
            task_map=TASK_MAP,
        ),
    )
