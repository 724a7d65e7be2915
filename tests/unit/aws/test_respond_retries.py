"""An answer is worth more tries than other SWF calls: a lost one is a lost attempt."""

from __future__ import annotations

from typing import Any

from swfbridge.aws import respond
from swfbridge.aws.respond import report_outcome
from swfbridge.aws.retry import Backoff
from swfbridge.wire.outcome import Completed
from tests.support.fakes import FakeBoto, client_error, fake_swf


def test_a_throttled_response_is_tried_more_often_than_the_clients_default(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(
        respond, "RESPOND_BACKOFF", Backoff(base_s=0.001, cap_s=0.002, max_attempts=10)
    )
    answers = [client_error("ThrottlingException")] * 7 + [{}]
    boto = FakeBoto(respond_activity_task_completed=lambda **_: answers.pop(0))
    swf = fake_swf(boto, attempts=3)  # other calls give up after 3 tries

    assert report_outcome(swf, "token", Completed(result="1"), "ctx") is True
    assert len(boto.ops("respond_activity_task_completed")) == 8
