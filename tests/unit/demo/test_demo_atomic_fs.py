from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from swfbridge.demo import atomic_fs


def test_a_message_appears_under_its_queue_name_only_once_fully_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel: Any = atomic_fs.Channel.__new__(atomic_fs.Channel)  # only _put is exercised
    channel.data_folder_out = str(tmp_path)
    seen_before_rename: list[list[str]] = []
    real_replace = os.replace

    def spying_replace(src: str, dst: str) -> None:
        # What a consumer listing the folder right now could pick up:
        seen_before_rename.append(
            [n for n in os.listdir(tmp_path) if n.partition(".")[2] == "celery.msg"]
        )
        real_replace(src, dst)

    monkeypatch.setattr(atomic_fs.os, "replace", spying_replace)
    channel._put("celery", {"body": "x" * 100_000})

    assert seen_before_rename == [[]]
    (name,) = os.listdir(tmp_path)
    assert name.endswith(".celery.msg")
    assert json.loads((tmp_path / name).read_text()) == {"body": "x" * 100_000}


def _waits(monkeypatch: pytest.MonkeyPatch, answers: list[str]) -> list[float]:
    """kombu's own wait, replaced: each call takes the next answer (a message or a
    timeout); once they are used up, it waits its timeout out and times out."""
    from kombu.transport import filesystem

    calls: list[float] = []

    def kombu_wait(self: Any, connection: Any, timeout: float | None = None) -> None:
        calls.append(timeout or 0.0)
        if not answers:
            time.sleep(timeout or 0.0)
            raise TimeoutError()
        if answers.pop(0) == "timeout":
            raise TimeoutError()

    monkeypatch.setattr(filesystem.Transport, "drain_events", kombu_wait)
    return calls


def test_a_wait_for_messages_ends_at_once_when_the_celery_worker_is_stopping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from celery.worker import state

    calls = _waits(monkeypatch, [])
    transport: Any = atomic_fs.Transport.__new__(atomic_fs.Transport)
    for flag in ("should_stop", "should_terminate"):
        monkeypatch.setattr(state, "should_stop", None)
        monkeypatch.setattr(state, "should_terminate", None)
        monkeypatch.setattr(state, flag, 0)  # a warm/cold shutdown with exit code 0

        with pytest.raises(TimeoutError):
            transport.drain_events(None, timeout=2.0)

    assert calls == []


def test_a_wait_for_messages_keeps_waiting_in_steps_until_a_message_comes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from celery.worker import state

    monkeypatch.setattr(state, "should_stop", None)
    monkeypatch.setattr(state, "should_terminate", None)
    calls = _waits(monkeypatch, ["timeout", "timeout", "message"])
    transport: Any = atomic_fs.Transport.__new__(atomic_fs.Transport)

    transport.drain_events(None, timeout=None)

    assert calls == [atomic_fs.SHUTDOWN_CHECK_S] * 3


def test_a_wait_for_messages_still_times_out_when_no_worker_is_stopping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from celery.worker import state

    monkeypatch.setattr(state, "should_stop", None)
    monkeypatch.setattr(state, "should_terminate", None)
    calls = _waits(monkeypatch, [])
    transport: Any = atomic_fs.Transport.__new__(atomic_fs.Transport)

    with pytest.raises(TimeoutError):
        transport.drain_events(None, timeout=0.05)

    assert calls and all(0 < t <= 0.05 for t in calls)
