"""The default Celery app, found by ``celery -A swfbridge worker``.

This module is a process edge, like the CLI: it reads the environment.

* ``CELERY_BROKER_URL``: the broker (default ``redis://127.0.0.1:6379/0``).
* ``SWFBRIDGE_ACTIVITIES``: comma-separated modules defining activities
  (Celery's ``-I`` works too).
* ``SWFBRIDGE_WIRE_FORMAT``: default wire format of activity classes that
  do not set one (``flowy``, the default, ``simpleflow`` or ``json``).
* ``SWFBRIDGE_FUNCTION_PREFIXES``: comma-separated module prefixes under which
  simpleflow-style activities (types named by a function's import path) may
  run; unset: none.
* ``CELERY_CONFIG_MODULE``: a module whose settings override swfbridge's defaults.
* ``SWFBRIDGE_S3_BUCKET``: turns on S3 offload of values over SWF's limits
  (``bucket`` or ``bucket/prefix``, as simpleflow's jumbo-fields bucket);
  ``SWFBRIDGE_S3_PREFIX`` (key prefix), ``SWFBRIDGE_S3_MAX_BYTES`` (cap,
  default 5 MiB), ``SWFBRIDGE_S3_INPUT_BUCKETS`` (comma-separated extra buckets
  input references may point to). See docs/payloads.rst.
* ``SWFBRIDGE_HEARTBEAT_MAX_INTERVAL``: longest gap between two heartbeats, in
  seconds (default 30).
* ``SWFBRIDGE_CANCEL_GRACE``: seconds an activity has to stop by itself after
  SWF asked to cancel it, before it is interrupted (default 5).
* ``SWFBRIDGE_DEADLINE_MARGIN``: seconds before SWF's start-to-close deadline
  at which the worker ends an activity (default 2).
* ``SWFBRIDGE_MIN_TIME_LEFT``: a job with less time than this left is not
  started (default 1).
* ``SWFBRIDGE_STATE_URL``: the Redis holding attempt claims and capacity
  slots (default: the broker, when it is Redis; required for claims with a
  RabbitMQ broker; required with an SQS broker, where the worker refuses to
  start without it).
* ``SWFBRIDGE_WORKER_METRICS_PORT``: serve the workers' Prometheus metrics
  (activity durations by type) on this port, on loopback unless
  ``SWFBRIDGE_WORKER_METRICS_HOST`` says otherwise. See docs/operating.rst.
* boto3's own variables (``AWS_ENDPOINT_URL_SWF``, ``AWS_DEFAULT_REGION``, ...)
  say how workers reach SWF.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from celery import Celery

from swfbridge.activities.registry import load_modules, parse_module_list
from swfbridge.aws.swf import SwfClientConfig, direct_calls_from
from swfbridge.errors import ConfigurationError
from swfbridge.payloads.store import DEFAULT_MAX_BYTES, OffloadConfig
from swfbridge.state.store import StateConfig
from swfbridge.wire.serialization import wire_format
from swfbridge.worker.executor import WorkerConfig
from swfbridge.worker.heartbeat import DEFAULT_MIN_INTERVAL_S, HeartbeatConfig
from swfbridge.worker.install import RECOMMENDED_SETTINGS, install

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


def _seconds_from_env(name: str) -> float | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of seconds, got {text!r}") from None


def _worker_config() -> WorkerConfig:
    heartbeat: dict[str, float] = {}
    worker: dict[str, float] = {}
    for env_name, target, key in (
        ("SWFBRIDGE_HEARTBEAT_MAX_INTERVAL", heartbeat, "max_interval_s"),
        ("SWFBRIDGE_CANCEL_GRACE", heartbeat, "cancel_grace_s"),
        ("SWFBRIDGE_DEADLINE_MARGIN", worker, "deadline_margin_s"),
        ("SWFBRIDGE_MIN_TIME_LEFT", worker, "min_time_left_s"),
    ):
        value = _seconds_from_env(env_name)
        if value is not None:
            target[key] = value
    if "max_interval_s" in heartbeat:
        # A cap below the default floor lowers the floor too.
        heartbeat["min_interval_s"] = min(DEFAULT_MIN_INTERVAL_S, heartbeat["max_interval_s"])
    try:
        return WorkerConfig(heartbeat=HeartbeatConfig(**heartbeat), **worker)
    except ConfigurationError as exc:
        raise ConfigurationError(f"swfbridge worker settings from the environment: {exc}") from exc


def _swf_config() -> SwfClientConfig:
    text = os.environ.get("SWFBRIDGE_SWF_CALLS", "").strip()
    try:
        return SwfClientConfig(direct_calls=direct_calls_from(text) if text else True)
    except ValueError as exc:
        raise ConfigurationError(f"SWFBRIDGE_SWF_CALLS: {exc}") from None


def _configure(app: Celery) -> None:
    load_modules(parse_module_list(os.environ.get("SWFBRIDGE_ACTIVITIES")))
    state_url = os.environ.get("SWFBRIDGE_STATE_URL")
    fmt = os.environ.get("SWFBRIDGE_WIRE_FORMAT")
    install(
        app,
        wire_format=wire_format(fmt) if fmt else None,
        function_prefixes=parse_module_list(os.environ.get("SWFBRIDGE_FUNCTION_PREFIXES")),
        payloads=_payloads(),
        worker=_worker_config(),
        state=StateConfig(url=state_url) if state_url else None,
        swf=_swf_config(),
    )
    if os.environ.get("SWFBRIDGE_WORKER_METRICS_PORT"):
        from swfbridge.worker.metrics import install_worker_metrics

        install_worker_metrics(
            app,
            port=int(os.environ["SWFBRIDGE_WORKER_METRICS_PORT"]),
            host=os.environ.get("SWFBRIDGE_WORKER_METRICS_HOST", "127.0.0.1"),
        )


app = Celery("swfbridge", broker=os.environ.get("CELERY_BROKER_URL", DEFAULT_BROKER_URL))
app.config_from_object(_settings())
try:
    _configure(app)
except (ConfigurationError, ValueError) as exc:
    # One line naming the fix, not Celery's chained "no attribute 'app'" traceback.
    raise SystemExit(f"swfbridge: error: {exc}") from None
