"""Finding each task's ActivityTaskScheduled event, with history reads shared per run."""

from __future__ import annotations

import threading

from swfbridge.poller.history import HistoryCache, HistoryCacheConfig
from tests.support.fake_history import FakeHistory


def _cache(history: FakeHistory, **config: float) -> HistoryCache:
    return HistoryCache(swf=history.client(), domain="d", config=HistoryCacheConfig(**config))  # type: ignore[arg-type]


def test_a_thousand_task_fan_out_costs_a_few_history_pages_not_a_walk_per_task() -> None:
    history = FakeHistory()
    scheduled = [history.schedule(f"a{i}", start_to_close=str(10 + i)) for i in range(1000)]
    cache = _cache(history)

    for i, event_id in enumerate(scheduled):
        record = cache.scheduled_for(history.start(event_id))
        assert record is not None and record.start_to_close == str(10 + i)

    assert history.pages <= 3
    assert cache.counts["history_cache_hits"] >= 997


def test_one_activity_per_decision_costs_one_small_page_per_task() -> None:
    history = FakeHistory()
    cache = _cache(history)
    for i in range(30):
        event_id = history.schedule(f"step{i}", heartbeat=str(5 + i))
        record = cache.scheduled_for(history.start(event_id))
        assert record is not None and record.heartbeat == str(5 + i)
        history.close(event_id, "ActivityTaskCompleted")
        for kind in ("DecisionTaskScheduled", "DecisionTaskStarted", "DecisionTaskCompleted"):
            history.add(kind)
    assert history.pages == 30


def test_the_scheduled_event_is_found_on_a_later_page_of_a_long_history() -> None:
    history = FakeHistory()
    first = history.schedule("early", start_to_close="7")
    for i in range(2500):
        history.add("MarkerRecorded", markerName=f"m{i}")
    record = _cache(history).scheduled_for(history.start(first))
    assert record is not None and record.start_to_close == "7"
    assert history.pages == 6  # 10 + 5 × 500 covers the 2,506 events


def test_a_retry_under_the_same_activity_id_gets_its_own_timeouts_not_the_cached_ones() -> None:
    history = FakeHistory()
    cache = _cache(history)
    first = history.schedule("charge", start_to_close="5")
    assert cache.scheduled_for(history.start(first)).start_to_close == "5"  # type: ignore[union-attr]
    history.close(first, "ActivityTaskTimedOut")
    retry = history.schedule("charge", start_to_close="60")

    record = cache.scheduled_for(history.start(retry))

    assert record is not None and record.event_id == retry and record.start_to_close == "60"


def test_a_rescheduled_task_with_other_input_is_read_again_even_if_never_seen_started() -> None:
    history = FakeHistory()
    cache = _cache(history)
    first = history.schedule("resize", input='[["small"], {}]', start_to_close="5")
    other = history.schedule("other")
    cache.scheduled_for(history.start(other))  # caches "resize" while it waits
    history.close(first, "ActivityTaskCanceled")  # closed unstarted, unseen by the cache
    again = history.schedule("resize", input='[["big"], {}]', start_to_close="90")

    record = cache.scheduled_for(history.start(again))

    assert record is not None and record.event_id == again and record.start_to_close == "90"


def test_a_task_another_poller_started_is_matched_exactly_by_its_started_event() -> None:
    history = FakeHistory()
    cache = _cache(history)
    first = history.schedule("a", start_to_close="11")
    elsewhere = history.start(first)  # polled by another poller process
    second = history.schedule("b")
    cache.scheduled_for(history.start(second))
    pages = history.pages

    record = cache.scheduled_for(elsewhere)

    assert record is not None and record.start_to_close == "11"
    assert history.pages == pages


def test_a_history_without_the_tasks_scheduled_event_answers_none() -> None:
    history = FakeHistory()
    response = history.start(history.schedule("a"))
    response["activityId"] = "not-there"
    assert _cache(history).scheduled_for(response) is None


def test_concurrent_tasks_of_one_run_share_one_walk() -> None:
    history = FakeHistory()
    responses = [history.start(history.schedule(f"a{i}")) for i in range(200)]
    cache = _cache(history)
    barrier = threading.Barrier(8)
    results: list[object] = []

    def look(chunk: list[dict[str, object]]) -> None:
        barrier.wait()
        results.extend(cache.scheduled_for(r) for r in chunk)  # type: ignore[arg-type]

    threads = [threading.Thread(target=look, args=(responses[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert None not in results and len(results) == 200
    assert history.pages <= 2


def test_runs_beyond_the_bound_are_forgotten_least_recently_used_first() -> None:
    histories = [FakeHistory(run_id=f"r{i}") for i in range(3)]
    cache = HistoryCache(
        swf=_Router(histories).client(), domain="d", config=HistoryCacheConfig(max_runs=2)
    )  # type: ignore[arg-type]
    for history in histories:
        cache.scheduled_for(history.start(history.schedule("a")))
    assert cache.runs == 2


def test_an_idle_run_is_read_again_after_its_short_life() -> None:
    now = [0.0]
    history = FakeHistory()
    cache = HistoryCache(
        swf=history.client(),
        domain="d",  # type: ignore[arg-type]
        config=HistoryCacheConfig(idle_s=60),
        clock=lambda: now[0],
    )
    a, b = history.schedule("a"), history.schedule("b")
    cache.scheduled_for(history.start(a))
    now[0] = 61.0
    cache.scheduled_for(history.start(b))
    assert history.pages == 2


class _Router:
    """Answers for several runs (one FakeHistory each)."""

    def __init__(self, histories: list[FakeHistory]) -> None:
        self.histories = {h.execution["runId"]: h for h in histories}

    def get_workflow_execution_history(self, **params: object) -> object:
        run_id = params["execution"]["runId"]  # type: ignore[index]
        return self.histories[run_id].get_workflow_execution_history(**params)

    def client(self) -> object:
        from tests.support.fakes import fake_swf

        return fake_swf(self)  # type: ignore[arg-type]


def test_a_retry_of_a_task_this_poller_matched_without_a_read_is_read_again() -> None:
    history = FakeHistory()
    cache = _cache(history)
    first, other = history.schedule("a", start_to_close="5"), history.schedule("b")
    cache.scheduled_for(history.start(other))  # one walk: "a" cached, waiting
    assert cache.scheduled_for(history.start(first)).start_to_close == "5"  # type: ignore[union-attr]
    history.close(first, "ActivityTaskTimedOut")
    retry = history.schedule("a", start_to_close="60")  # same type and input

    record = cache.scheduled_for(history.start(retry))

    assert record is not None and record.start_to_close == "60"
