from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from local_swf_helpers import Workflow, poll_activity, schedule_decision, setup_domain

from swfbridge.testing import LocalSWF

# Every poller long-polls before any task exists, so each batch lands on all
# sixteen at once and each task is raced for by every idle poller.
TASKS = 200
BATCHES = 4
POLLERS = 16


def test_sixteen_concurrent_pollers_never_get_the_same_task_twice(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    delivered: Counter[str] = Counter()
    respond_errors: list[str] = []
    lock = threading.Lock()
    polling = threading.Barrier(POLLERS + 1)
    done = threading.Event()

    def poller() -> None:
        client = local_swf.client()
        polling.wait(30)
        while not done.is_set():
            task = poll_activity(client)
            if not task["taskToken"]:
                continue
            with lock:
                delivered[task["activityId"]] += 1
                if sum(delivered.values()) >= TASKS:
                    done.set()
            try:
                client.respond_activity_task_completed(taskToken=task["taskToken"])
            except Exception as exc:
                with lock:
                    respond_errors.append(repr(exc))

    threads = [threading.Thread(target=poller) for _ in range(POLLERS)]
    for thread in threads:
        thread.start()
    polling.wait(30)
    for batch in range(BATCHES):
        workflow = Workflow(swf_client)
        per_batch = TASKS // BATCHES
        workflow.decide([schedule_decision(f"{batch}-{i}") for i in range(per_batch)])
    for thread in threads:
        thread.join(120)
    assert len(delivered) == TASKS
    assert [aid for aid, n in delivered.items() if n > 1] == []
    assert respond_errors == []
