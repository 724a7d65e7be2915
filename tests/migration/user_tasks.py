"""Plain Celery tasks of the user's app: no SWF anywhere."""

from __future__ import annotations

from typing import Any

from tests.migration.userapp import app


@app.task(name="images.resize")
def resize(width: int, height: int, scale: int = 1) -> dict[str, int]:
    return {"width": width * scale, "height": height * scale}


@app.task(name="images.thumb")
def thumb(path: str, size: int = 64) -> str:
    return f"{path}@{size}px"


@app.task(name="images.explode")
def explode(message: str) -> None:
    raise ValueError(message)


@app.task(name="images.tags")
def tags() -> Any:
    return {"a", "b"}  # a set: not JSON


@app.task(name="images.describe")
def describe(*args: Any) -> dict[str, list[Any]]:
    return {"args": list(args)}
