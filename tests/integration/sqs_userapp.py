"""A user's own Celery app on SQS that joins the bridge with ``install``.

Its visibility timeout (30 s) is shorter than its activities' start-to-close
(60 s): the worker must say so at start.
"""

from __future__ import annotations

import os

from celery import Celery

import swfbridge
from swfbridge.state.store import StateConfig

app = Celery(
    "sqs-userapp",
    broker=os.environ["CELERY_BROKER_URL"],
    include=["tests.integration.activities"],
)
app.conf.update(
    worker_prefetch_multiplier=1,
    broker_transport_options={"visibility_timeout": 30},
)
swfbridge.install(app, state=StateConfig(url=os.environ["USERAPP_STATE_URL"]))
