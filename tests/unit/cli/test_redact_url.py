"""Start-up lines and ``swfbridge status`` never print a broker or state-store password."""

from __future__ import annotations

import pytest

from swfbridge.cli._common import redact_url


@pytest.mark.parametrize(
    "url",
    [
        "redis://:PW@h:6379/0",
        "redis://user:PW@h:6379/0",
        "redis://:PW@h:6379/0;redis://:PW@h2:6379/0",
        "redis://h:6379/0?password=PW",
        "redis://h:6379/0?db=1&password=PW&x=1",
        "sentinel://:PW@h1:26379;sentinel://:PW@h2:26379",
        "sentinel://h1:26379;sentinel://h2:26379?sentinel_password=PW",
        "amqp://guest:PW@h:5672//,amqp://guest:PW@h2:5672//",
    ],
)
def test_no_password_survives_redaction(url: str) -> None:
    shown = redact_url(url)
    assert "PW" not in shown
    assert "***" in shown


def test_url_without_password_is_unchanged() -> None:
    url = "redis://h:6379/0;redis://h2:6379/0"
    assert redact_url(url) == url


def test_user_and_host_are_kept() -> None:
    assert redact_url("redis://bob:PW@host:1/0") == "redis://bob:***@host:1/0"
