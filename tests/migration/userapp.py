"""A user's existing Celery app that joins the bridge with one call.

Everything SWF-specific is in the ``install`` call; the tasks in
:mod:`tests.migration.user_tasks` know nothing of SWF.
"""

from __future__ import annotations

import os

from celery import Celery

import swfbridge

app = Celery(
    "userapp",
    broker=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"),
    include=["tests.migration.user_tasks", "tests.migration.flowy_activities"],
)
swfbridge.install(app, function_prefixes=["tests.migration.sf_allowed"])
