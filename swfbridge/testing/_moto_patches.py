"""The one place that extends moto's SWF emulation; see :func:`apply`."""

from __future__ import annotations

import threading

from swfbridge.errors import SwfBridgeError

MOTO_VERSION = "5.2.5"

_applied = False
_apply_lock = threading.Lock()


class MotoVersionError(SwfBridgeError, RuntimeError):
    """The installed moto is not the version these patches were written for."""


def apply() -> None:
    """Patch moto's SWF models, backend and responses, once per process.

    Raises:
        MotoVersionError: if moto is missing or not version 5.2.5.
    """
    global _applied
    with _apply_lock:
        if _applied:
            return
        try:
            import moto
        except ImportError as exc:
            raise MotoVersionError(
                f"swfbridge.testing needs moto[server]=={MOTO_VERSION}: install swfbridge[testing]"
            ) from exc
        if moto.__version__ != MOTO_VERSION:
            raise MotoVersionError(
                f"swfbridge.testing patches moto {MOTO_VERSION} internals but moto "
                f"{moto.__version__} is installed: pip install 'moto[server]=={MOTO_VERSION}'"
            )
        from swfbridge.testing import _patch_backend, _patch_models, _patch_responses

        _patch_models.apply()
        _patch_backend.apply()
        _patch_responses.apply()
        _applied = True
