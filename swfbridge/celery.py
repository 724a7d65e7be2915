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
* ``SWFBRIDGE_S3_BUCKET``: turns on S3 offload of values over SWF's limits
  (``bucket`` or ``bucket/prefix``, as simpleflow's jumbo-fields bucket);
  ``SWFBRIDGE_S3_PREFIX`` (key prefix), ``SWFBRIDGE_S3_MAX_BYTES`` (cap,
  default 5 MiB), ``SWFBRIDGE_S3_INPUT_BUCKETS`` (comma-separated extra buckets
  input references may point to). See docs/payloads.rst.
* ``SWFBRIDGE_STATE_URL``: the Redis holding attempt claims and capacity
  slots (default: the broker, when it is Redis; required for claims with a
  RabbitMQ broker).
* boto3's own variables (``AWS_ENDPOINT_URL_SWF``, ``AWS_DEFAULT_REGION``, ...)
  say how workers reach SWF.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from celery import Celery

from swfbridge.errors import ConfigurationError
from swfbridge.inflight import StateConfig
from swfbridge.install import RECOMMENDED_SETTINGS, install
from swfbridge.payloads import DEFAULT_MAX_BYTES, OffloadConfig
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


def _payloads() -> OffloadConfig | None:
    """S3 offload from ``SWFBRIDGE_S3_*``; None when no bucket is set."""
    bucket = os.environ.get("SWFBRIDGE_S3_BUCKET", "").strip()
    prefix = os.environ.get("SWFBRIDGE_S3_PREFIX", "").strip()
    max_bytes = os.environ.get("SWFBRIDGE_S3_MAX_BYTES", "").strip()
    inputs = os.environ.get("SWFBRIDGE_S3_INPUT_BUCKETS", "").strip()
    if not bucket:
        if prefix or max_bytes or inputs:
            raise ConfigurationError(
                "SWFBRIDGE_S3_PREFIX/_MAX_BYTES/_INPUT_BUCKETS are set but "
                "SWFBRIDGE_S3_BUCKET is not: set it to turn S3 offload on"
            )
        return None
    if "/" in bucket:  # simpleflow's "bucket/prefix" form
        if prefix:
            raise ConfigurationError(
                "SWFBRIDGE_S3_BUCKET has a prefix and SWFBRIDGE_S3_PREFIX is set: use one"
            )
        bucket, prefix = bucket.split("/", 1)
    try:
        cap = int(max_bytes) if max_bytes else DEFAULT_MAX_BYTES
    except ValueError:
        raise ConfigurationError(
            f"SWFBRIDGE_S3_MAX_BYTES must be a whole number of bytes, got {max_bytes!r}"
        ) from None
    return OffloadConfig(
        bucket=bucket,
        prefix=prefix,
        max_bytes=cap,
        allowed_input_buckets=frozenset(b.strip() for b in inputs.split(",") if b.strip()),
    )


app = Celery("swfbridge", broker=os.environ.get("CELERY_BROKER_URL", DEFAULT_BROKER_URL))
app.config_from_object(_settings())
load_modules(parse_module_list(os.environ.get("SWFBRIDGE_ACTIVITIES")))
_state_url = os.environ.get("SWFBRIDGE_STATE_URL")
_format = os.environ.get("SWFBRIDGE_WIRE_FORMAT")
install(
    app,
    wire_format=wire_format(_format) if _format else None,
    function_prefixes=parse_module_list(os.environ.get("SWFBRIDGE_FUNCTION_PREFIXES")),
    payloads=_payloads(),
    state=StateConfig(url=_state_url) if _state_url else None,
)
