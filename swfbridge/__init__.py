"""swfbridge: run Amazon SWF activities on a Celery fleet.

Define activities by subclassing :class:`Activity` and registering them with
:func:`activity`; run them with ``celery -A swfbridge worker`` (or
:func:`install` on your own Celery app) fed by ``swfbridge poll``.
"""

from swfbridge.activities.activity import Activity, activity
from swfbridge.activities.functions import FunctionActivities
from swfbridge.activities.options import ActivityOptions
from swfbridge.activities.registry import ActivityRegistry, default_registry
from swfbridge.activities.task_map import CeleryTaskMap, CeleryTaskRoute, load_task_map
from swfbridge.errors import (
    ActivityCancelled,
    ActivityFailed,
    ConfigurationError,
    DuplicateActivityError,
    SwfBridgeError,
)
from swfbridge.payloads.store import OffloadConfig, PayloadError, PayloadStore, S3Reference
from swfbridge.wire.serialization import FLOWY, JSON, SIMPLEFLOW, WireFormat
from swfbridge.worker.executor import WorkerConfig
from swfbridge.worker.heartbeat import HeartbeatConfig
from swfbridge.worker.install import install

__all__ = [
    "FLOWY",
    "JSON",
    "SIMPLEFLOW",
    "Activity",
    "ActivityCancelled",
    "ActivityFailed",
    "ActivityOptions",
    "ActivityRegistry",
    "CeleryTaskMap",
    "CeleryTaskRoute",
    "ConfigurationError",
    "DuplicateActivityError",
    "FunctionActivities",
    "HeartbeatConfig",
    "OffloadConfig",
    "PayloadError",
    "PayloadStore",
    "S3Reference",
    "SwfBridgeError",
    "WireFormat",
    "WorkerConfig",
    "activity",
    "default_registry",
    "install",
    "load_task_map",
]

__version__ = "0.1.0"
