"""The admin HTTP endpoints served next to SWF, under ``/_swfbridge/``.

- ``GET /_swfbridge/health`` -> ``{"status": "ok"}``
- ``GET /_swfbridge/faults`` -> the active plan, or ``{"plan": null}``
- ``POST /_swfbridge/faults`` with JSON ``{"operations": ["PollForActivityTask"],
  "fraction": 0.5, "kind": "throttle" | "error"}`` -> sets the plan (400 on bad input).
  An empty or missing ``operations`` means every operation.
- ``DELETE /_swfbridge/faults`` -> stops injecting faults.
- ``POST /_swfbridge/reset`` -> forgets all SWF state and clears faults.

moto's own ``POST /moto-api/reset`` still works (it resets every moto service);
the rest of ``/moto-api/`` (moto's dashboard and ``data.json``, which holds every
task token and input) is off.

A test tool on loopback must not be drivable from a web page the user visits:
no response carries CORS headers, and every request that changes state (any
method but GET/HEAD, on ``/_swfbridge/`` and ``/moto-api/reset``) must be sent
with ``Content-Type: application/json`` (a cross-site form or ``fetch`` cannot
send that without a CORS preflight, which is refused) and without a foreign
``Origin``; otherwise it is answered 403.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from swfbridge.testing.faults import FaultInjector, FaultPlan

PREFIX = "/_swfbridge/"
MOTO_API_PREFIX = "/moto-api"
MOTO_RESET = "/moto-api/reset"
SAFE_METHODS = frozenset({"GET", "HEAD"})
SWF_TARGET_PREFIX = "SimpleWorkflowService."

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def plan_to_json(plan: FaultPlan | None) -> dict[str, Any]:
    """The JSON shape of a plan, as the admin endpoint reports it."""
    if plan is None:
        return {"plan": None}
    return {
        "plan": {
            "operations": sorted(plan.operations),
            "fraction": plan.fraction,
            "kind": plan.kind,
        }
    }


def _answer(start_response: Callable[..., Any], status: str, body: Any) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
    )
    return [payload]


def _without_cors(start_response: Callable[..., Any]) -> Callable[..., Any]:
    """``start_response`` that drops every CORS header moto would add."""

    def wrapped(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
        kept = [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
        return start_response(status, kept, *args)

    return wrapped


def _cross_site(environ: dict[str, Any]) -> str | None:
    """Why a state-changing request is refused as possibly cross-site (None: allowed)."""
    content_type = str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()
    if content_type != "application/json":
        return "admin requests that change state must be sent with 'Content-Type: application/json'"
    origin = str(environ.get("HTTP_ORIGIN", ""))
    if origin and origin.split("://", 1)[-1] != str(environ.get("HTTP_HOST", "")):
        return f"cross-site admin request refused (Origin {origin})"
    return None


class AdminApp:
    """WSGI middleware: serves ``/_swfbridge/*`` and passes everything else on."""

    def __init__(
        self,
        *,
        app: WSGIApp,
        swf_app: WSGIApp,
        injector: FaultInjector,
        reset: Callable[[], None],
    ) -> None:
        self._app = app
        self._swf_app = swf_app
        self._injector = injector
        self._reset = reset

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        start_response = _without_cors(start_response)
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if target.startswith(SWF_TARGET_PREFIX):
            # Skip moto's per-request scan of every service's URL patterns.
            return self._swf_app(environ, start_response)
        path = str(environ.get("PATH_INFO", ""))
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        if path.startswith(MOTO_API_PREFIX):
            if path.rstrip("/") != MOTO_RESET or method != "POST":
                return _answer(
                    start_response,
                    "404 Not Found",
                    {
                        "error": "moto's dashboard (/moto-api/) is off; only "
                        "POST /moto-api/reset is served"
                    },
                )
            refused = _cross_site(environ)
            if refused:
                return _answer(start_response, "403 Forbidden", {"error": refused})
            return self._app(environ, start_response)
        if not path.startswith(PREFIX):
            return self._app(environ, start_response)
        refused = _cross_site(environ) if method not in SAFE_METHODS else None
        if refused:
            return _answer(start_response, "403 Forbidden", {"error": refused})
        status, body = self._handle(method, path, environ)
        return _answer(start_response, status, body)

    def _handle(self, method: str, path: str, environ: dict[str, Any]) -> tuple[str, Any]:
        route = path[len(PREFIX) :].rstrip("/")
        if route == "health" and method == "GET":
            return "200 OK", {"status": "ok"}
        if route == "reset" and method == "POST":
            self._reset()
            self._injector.clear()
            return "200 OK", {"reset": True}
        if route == "faults":
            if method == "GET":
                return "200 OK", plan_to_json(self._injector.plan)
            if method == "DELETE":
                self._injector.clear()
                return "200 OK", plan_to_json(None)
            if method == "POST":
                return self._set_faults(environ)
        return "404 Not Found", {"error": f"no admin route {method} {path}"}

    def _set_faults(self, environ: dict[str, Any]) -> tuple[str, Any]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b"{}"
            data = json.loads(raw or b"{}")
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            plan = FaultPlan.build(
                operations=data.get("operations") or (),
                fraction=float(data.get("fraction", 1.0)),
                kind=str(data.get("kind", "throttle")),
            )
        except (ValueError, TypeError) as exc:
            return "400 Bad Request", {"error": str(exc)}
        self._injector.set(plan)
        return "200 OK", plan_to_json(plan)
