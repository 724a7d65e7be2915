"""Activities for the async and typed-value tests (test_async_typed.py): async
and sync activities side by side in one worker."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from swfbridge import JSON, SIMPLEFLOW, Activity, activity

TASK_LIST = "async-tasks"
COMMON: dict[str, Any] = {"task_list": TASK_LIST, "schedule_to_start": 120}


def _note(path: str, text: str) -> None:
    Path(path).write_text(text)


@activity("1", start_to_close=60, **COMMON)
class AsyncAdd(Activity):
    """Awaits, heartbeats progress, returns the sum."""

    async def run(self, a: int, b: int) -> int:
        for step in (1, 2, 3):
            self.heartbeat({"step": step})
            await asyncio.sleep(0.01)
        return a + b


@activity("1", start_to_close=60, **COMMON)
class SyncAdd(Activity):
    def run(self, a: int, b: int) -> int:
        return a + b


@activity("1", heartbeat=2, start_to_close=60, **COMMON)
class AsyncCooperative(Activity):
    """Heartbeats in an await loop; CancelledError propagates (noted in ``marker``)."""

    async def run(self, seconds: float, marker: str) -> str:
        end = time.monotonic() + seconds
        step = 0
        try:
            while time.monotonic() < end:
                step += 1
                self.heartbeat({"step": step})
                await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            _note(marker, "cancelled")
            raise
        return "finished"


@activity("1", heartbeat=2, start_to_close=60, auto_heartbeat=True, **COMMON)
class AsyncSleeper(Activity):
    """Stuck in ``await asyncio.sleep``; only the automatic liveness heartbeat runs."""

    async def run(self, seconds: float, marker: str) -> str:
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            _note(marker, "cancelled")
            raise
        return "slept"


@activity("1", heartbeat=2, start_to_close=60, auto_heartbeat=True, **COMMON)
class AsyncDeaf(Activity):
    """Swallows every CancelledError and keeps awaiting: only the interrupt ends it."""

    async def run(self, seconds: float, marker: str) -> str:
        end = time.monotonic() + seconds
        cancels = 0
        try:
            while time.monotonic() < end:
                try:
                    await asyncio.sleep(0.2)
                except asyncio.CancelledError:
                    cancels += 1
        finally:
            _note(marker, f"ended after {cancels} cancellation(s)")
        return "ignored"


@activity("1", start_to_close=4, **COMMON)
class AsyncOverrun(Activity):
    """Awaits past its 4 s start-to-close."""

    async def run(self, seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "too late"


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int


@dataclass(frozen=True)
class Order:
    order_id: str
    lines: list[Line]
    note: str | None = None


@dataclass(frozen=True)
class Invoice:
    order_id: str
    units: int
    skus: tuple[str, ...]


@activity("1", start_to_close=60, **COMMON)
class InvoiceOrder(Activity):
    """Typed dataclasses in and out (flowy's wire format)."""

    typed = True

    async def run(self, order: Order, discount: float = 0.0) -> Invoice:
        assert isinstance(order.lines[0], Line)  # converted, not a dict
        return Invoice(
            order.order_id,
            sum(line.quantity for line in order.lines),
            tuple(line.sku for line in order.lines),
        )


class Shipment(pydantic.BaseModel):
    address: str
    weight_kg: float = pydantic.Field(gt=0)


class Label(pydantic.BaseModel):
    address: str
    price_cents: int


@activity("1", start_to_close=60, **COMMON)
class PriceShipment(Activity):
    """Typed Pydantic models in and out, on the json wire format (one value)."""

    typed = True
    wire_format = JSON

    def run(self, shipment: Shipment) -> Label:
        assert isinstance(shipment, Shipment)
        return Label(address=shipment.address, price_cents=round(shipment.weight_kg * 250))


@activity("1", start_to_close=60, **COMMON)
class CountLines(Activity):
    """Typed, on simpleflow's wire format."""

    typed = True
    wire_format = SIMPLEFLOW

    def run(self, order: Order) -> dict[str, int]:
        return {order.order_id: len(order.lines)}


@activity("1", start_to_close=60, **COMMON)
class AsyncLoop(Activity):
    """Returns ``[pid, id of the running loop, jobs this loop has run]``."""

    async def run(self) -> list[int]:
        loop = asyncio.get_running_loop()
        jobs = getattr(loop, "_swfbridge_test_jobs", 0) + 1
        loop._swfbridge_test_jobs = jobs  # type: ignore[attr-defined]
        await asyncio.sleep(0.05)  # long enough for both pool processes to take jobs
        return [os.getpid(), id(loop), jobs]


@activity("1", heartbeat=2, start_to_close=60, auto_heartbeat=True, **COMMON)
class AsyncBlocking(Activity):
    """Blocks its event loop in synchronous code: cancellation cannot reach an await."""

    async def run(self, seconds: float, marker: str) -> str:
        try:
            time.sleep(seconds)
        finally:
            _note(marker, "ended after 1 cancellation(s)")  # the interrupt, not an await
        return "blocked"
