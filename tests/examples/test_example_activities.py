"""The examples' activities, unit-tested in-process with ActivityEnvironment
(no broker, worker or SWF endpoint): what a worker would report for them."""

from __future__ import annotations

import json

from examples.async_typed import QuoteBasket
from examples.cancellation import CopyFiles
from examples.fan_out import Square
from examples.hello_world import Hello
from examples.progress import EncodeVideo
from examples.retry_in_decider import ReserveStock
from swfbridge import FLOWY
from swfbridge.testing import ActivityEnvironment


def _input(*args: object, **kwargs: object) -> str:
    return FLOWY.encode_input(list(args), dict(kwargs))


def test_hello_greets_with_the_default_punctuation() -> None:
    report = ActivityEnvironment().run(Hello, _input("world"))

    assert report.value() == "hello, world!"


def test_square_squares() -> None:
    assert ActivityEnvironment().run(Square, _input(7)).value() == 49


def test_encode_video_heartbeats_each_chunk_and_completes() -> None:
    report = ActivityEnvironment().run(EncodeVideo, _input("talk.mp4", chunks=3))

    assert report.value() == {"video": "talk.mp4", "encoded": "talk.mp4.webm"}
    assert report.heartbeats == (
        {"chunk": 1, "of": 3},
        {"chunk": 2, "of": 3},
        {"chunk": 3, "of": 3},
    )


def test_encode_video_stops_when_swf_no_longer_knows_the_task() -> None:
    env = ActivityEnvironment()
    env.on_heartbeat = lambda details: env.close_task()
    report = env.run(EncodeVideo, _input("talk.mp4", chunks=20))

    # heartbeat() returned False; the task is closed in SWF, so nothing is sent.
    assert report.status == "abandoned" and report.response is None
    assert len(report.heartbeats) < 20


def test_copy_files_is_canceled_with_its_progress_when_cancellation_is_requested() -> None:
    env = ActivityEnvironment()
    env.on_heartbeat = lambda details: env.request_cancel() if details["copied"] == 3 else None
    report = env.run(CopyFiles, _input("/data", files=100))

    assert report.status == "canceled"
    copied = json.loads(report.details or "")["copied"]
    assert 3 < copied < 100


def test_reserve_stock_fails_with_a_temporary_error_on_early_attempts() -> None:
    report = ActivityEnvironment().run(ReserveStock, _input("sku-1", 1))

    assert report.status == "failed"
    assert report.reason == "TemporaryError: warehouse busy (attempt 1)"
    assert json.loads(report.details or "")["error_type"].endswith("TemporaryError")


def test_quote_basket_converts_typed_items_and_returns_a_typed_quote() -> None:
    basket = [{"sku": "apple", "quantity": 3}, {"sku": "pear", "quantity": 2}]
    report = ActivityEnvironment().run(QuoteBasket, _input(basket))

    assert report.value() == {"total_cents": 230, "lines": 2}
    assert report.heartbeats[-1] == {"priced": 2, "of": 2}


def test_quote_basket_refuses_an_item_without_a_quantity_naming_the_parameter() -> None:
    report = ActivityEnvironment().run(QuoteBasket, _input([{"sku": "apple"}]))

    assert report.cause == "input_undecodable"
    assert report.reason == (
        "swfbridge: input could not be converted: parameter 'items': "
        "[0]: missing field 'quantity' of Item"
    )
