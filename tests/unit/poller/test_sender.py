"""The dispatcher's own message sending puts on the broker what ``send_task`` would."""

from __future__ import annotations

import base64
import json
import time
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import Celery, signals

from swfbridge.activities.task_map import CeleryTaskMap, CeleryTaskRoute
from swfbridge.poller.dispatch import CeleryDispatcher, PublishError
from swfbridge.wire.job import ActivityJob
from swfbridge.wire.serialization import FLOWY
from tests.support import processes
from tests.support.jobs import make_job


@pytest.fixture
def broker_url(redis_url: str) -> str:
    # A database of its own: kombu shares one connection pool (10) per broker URL
    # across apps, and each dispatcher here keeps its thread's producer.
    return f"{redis_url.rsplit('/', 1)[0]}/7"


@pytest.fixture
def app(broker_url: str) -> Iterator[Celery]:
    app = Celery("sender-test", broker=broker_url, set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"])
    yield app
    app.close()


def _job(activity: str = "Add", *, deadline_in_s: float | None = 60.0) -> ActivityJob:
    now = time.time()
    return make_job(
        task_token="very-secret-token",
        task_list="l",
        activity_id=f"a-{uuid.uuid4().hex}",
        activity_name=activity,
        input="[[2, 3], {}]",
        polled_at=now,
        deadline=None if deadline_in_s is None else now + deadline_in_s,
    )


def _ignore(**kwargs: Any) -> None:
    pass


def _published(
    client: redis.Redis,
    queue: str,
    dispatcher: CeleryDispatcher,
    job: ActivityJob,
    *,
    by_send_task: bool,
) -> dict[str, Any]:
    """Publish ``job`` and take the raw message off ``queue``.

    A publish signal receiver makes the dispatcher hand the message to
    ``send_task`` (the reference); without one it sends the message itself.
    """
    if by_send_task:
        signals.before_task_publish.connect(_ignore)
    try:
        dispatcher.publish(job)
    finally:
        signals.before_task_publish.disconnect(_ignore)
    raw = client.rpop(queue)
    assert raw is not None and client.llen(queue) == 0
    message: dict[str, Any] = json.loads(raw)
    properties = message["properties"]
    properties.pop("delivery_tag")  # a fresh uuid per message
    expiration = properties.pop("expiration", None)
    message["expiration_s"] = None if expiration is None else round(int(expiration) / 1000)
    message["body"] = json.loads(zlib.decompress(base64.b64decode(message["body"])))
    return message


@pytest.mark.parametrize("deadline_in_s", [60.0, None])
def test_a_job_is_sent_exactly_as_send_task_sends_it(
    app: Celery, broker_url: str, deadline_in_s: float | None
) -> None:
    queue = f"q-{uuid.uuid4().hex}"
    client = redis.Redis.from_url(broker_url)
    dispatcher = CeleryDispatcher(app=app, queue=queue)
    job = _job(deadline_in_s=deadline_in_s)

    own = _published(client, queue, dispatcher, job, by_send_task=False)
    reference = _published(client, queue, dispatcher, job, by_send_task=True)

    assert own == reference
    assert own["headers"]["id"] == job.attempt_id


def test_a_mapped_task_is_sent_with_its_relays_exactly_as_send_task_sends_it(
    app: Celery, broker_url: str
) -> None:
    route_queue = f"img-{uuid.uuid4().hex}"
    client = redis.Redis.from_url(broker_url)
    task_map = CeleryTaskMap(
        {("Thumb", "1"): CeleryTaskRoute("images.thumb", wire_format=FLOWY, queue=route_queue)}
    )
    dispatcher = CeleryDispatcher(app=app, queue="elsewhere", task_map=task_map)
    job = _job("Thumb")

    own = _published(client, route_queue, dispatcher, job, by_send_task=False)
    reference = _published(client, route_queue, dispatcher, job, by_send_task=True)

    assert own == reference
    assert own["headers"]["task"] == "images.thumb"
    assert own["body"][2]["callbacks"][0]["task"] == "swfbridge.relay_result"


def test_the_default_queue_is_used_when_the_dispatcher_names_none(
    app: Celery, broker_url: str
) -> None:
    app.conf.task_default_queue = queue = f"default-{uuid.uuid4().hex}"
    client = redis.Redis.from_url(broker_url)
    dispatcher = CeleryDispatcher(app=app)
    job = _job()

    own = _published(client, queue, dispatcher, job, by_send_task=False)
    reference = _published(client, queue, dispatcher, job, by_send_task=True)

    assert own == reference


def _error_when_the_broker_dies(*, by_send_task: bool) -> str:
    """The publish error after the broker went away under a connected producer."""
    with processes.redis_server() as url:
        app = Celery("sender-test-dies", broker=url, set_as_current=False)
        dispatcher = CeleryDispatcher(app=app, queue="q")
        dispatcher.publish(_job())  # connected
    if by_send_task:
        signals.before_task_publish.connect(_ignore)
    try:
        with pytest.raises(PublishError) as raised:
            dispatcher.publish(_job())
    finally:
        signals.before_task_publish.disconnect(_ignore)
        app.close()
    return str(raised.value).split(":")[0]


def test_a_broker_gone_away_fails_the_publish_with_the_error_send_task_gives() -> None:
    assert _error_when_the_broker_dies(by_send_task=False) == _error_when_the_broker_dies(
        by_send_task=True
    )
