"""One value per process, made again after a fork."""

from __future__ import annotations

import contextlib
import os

from swfbridge.per_process import PerProcess


def test_the_value_is_made_once_in_a_process() -> None:
    made: list[int] = []

    def make() -> int:
        made.append(1)
        return len(made)

    holder = PerProcess(make)

    assert (holder.get(), holder.get()) == (1, 1)


def test_a_forked_child_makes_its_own_value() -> None:
    holder = PerProcess(os.getpid)
    parent_value = holder.get()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report its value, then leave at once
        os.write(write_end, str(holder.get()).encode())
        os._exit(0)
    os.close(write_end)
    child_value = int(os.read(read_end, 64))
    os.close(read_end)
    os.waitpid(child, 0)

    assert child_value == child != parent_value
    assert holder.get() == parent_value


def test_a_failure_to_make_the_value_is_not_kept() -> None:
    calls: list[int] = []

    def make() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("not yet")
        return "made"

    holder = PerProcess(make)
    with contextlib.suppress(OSError):
        holder.get()

    assert holder.get() == "made"
