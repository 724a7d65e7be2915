"""swfbridge: run Amazon SWF activities on a Celery fleet.

Define activities by subclassing :class:`Activity` and registering them with
:func:`activity`; run them with ``celery -A swfbridge worker`` (or
:func:`install` on your own Celery app) fed by ``swfbridge poll``.
"""

from swfbridge.activity import Activity, activity
from swfbridge.errors import (
    ActivityCancelled,
    ActivityFailed,
    ConfigurationError,
    DuplicateActivityError,
    SwfBridgeError,
)
from swfbridge.functions import FunctionActivities
from swfbridge.heartbeat import HeartbeatConfig
from swfbridge.install import install
from swfbridge.options import ActivityOptions
from swfbridge.payloads import OffloadConfig, PayloadError, PayloadStore, S3Reference
from swfbridge.registry import ActivityRegistry, default_registry
from swfbridge.serialization import FLOWY, JSON, SIMPLEFLOW, WireFormat
from swfbridge.task_map import CeleryTaskMap, CeleryTaskRoute, load_task_map
from swfbridge.worker import WorkerConfig

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
