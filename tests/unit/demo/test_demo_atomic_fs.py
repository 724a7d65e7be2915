from __future__ import annotations

import json
import os
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
