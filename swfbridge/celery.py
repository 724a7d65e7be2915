"""The default Celery app, found by ``celery -A swfbridge worker``.

This module is a process edge, like the CLI: it reads the environment.

* ``CELERY_BROKER_URL``: the broker (default ``redis://127.0.0.1:6379/0``).
* ``SWFBRIDGE_ACTIVITIES``: comma-separated modules defining activities
  (Celery's ``-I`` works too).
* ``SWFBRIDGE_WIRE_FORMAT``: default wire format of activity classes that
  do not set one (``flowy``, the default, or ``simpleflow``).
* ``SWFBRIDGE_FUNCTION_PREFIXES``: comma-separated module prefixes under which
  simpleflow-style activities (types named by a function's import path) may
  run; unset: none.
* ``CELERY_CONFIG_MODULE``: a module whose settings override swfbridge's defaults.
* boto3's own variables (``AWS_ENDPOINT_URL_SWF``, ``AWS_DEFAULT_REGION``, ...)
  say how workers reach SWF.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from celery import Celery

from swfbridge.install import RECOMMENDED_SETTINGS, install
from swfbridge.registry import load_modules, parse_module_list
from swfbridge.serialization import wire_format

DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"


def _settings() -> dict[str, Any]:
    settings = dict(RECOMMENDED_SETTINGS)
    module_name = os.environ.get("CELERY_CONFIG_MODULE")
    if module_name:
        module = importlib.import_module(module_name)
        settings.update(
            {k: getattr(module, k) for k in dir(module) if k.islower() and not k.startswith("_")}
        )
    return settings


app = Celery("swfbridge", broker=os.environ.get("CELERY_BROKER_URL", DEFAULT_BROKER_URL))
app.config_from_object(_settings())
load_modules(parse_module_list(os.environ.get("SWFBRIDGE_ACTIVITIES")))
_format = os.environ.get("SWFBRIDGE_WIRE_FORMAT")
install(
    app,
    wire_format=wire_format(_format) if _format else None,
    function_prefixes=parse_module_list(os.environ.get("SWFBRIDGE_FUNCTION_PREFIXES")),
)
