"""CPU time and peak memory of process trees, read from /proc (no psutil).

CPU is ``utime + stime`` of every live process in a tree (children of a
prefork pool included), sampled before and after a measured window; the
delta is what the tree spent in that window. Processes that exit inside the
window are not seen: the benchmarks keep their processes alive throughout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:  # the process exited meanwhile
        return None


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (all its threads' children)."""
    found: list[int] = []
    task_dir = f"/proc/{pid}/task"
    try:
        tids = os.listdir(task_dir)
    except OSError:
        return found
    for tid in tids:
        text = _read(f"{task_dir}/{tid}/children")
        if text:
            found.extend(int(p) for p in text.split())
    return found


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants alive now."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo.extend(children(current))
    return pids


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:
        return 0.0
    # Fields after the command name, which may contain spaces and parentheses.
    fields = text[text.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _TICKS_PER_S


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid`` and its live descendants."""
    return sum(cpu_s(p) for p in tree(pid))


def status_kb(pid: int, key: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (VmHWM: peak RSS, VmRSS: RSS now)."""
    text = _read(f"/proc/{pid}/status") or ""
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def peak_rss_mb(pid: int) -> float:
    """Peak resident set size of one process, in MiB."""
    return status_kb(pid, "VmHWM") / 1024


def rss_mb(pid: int) -> float:
    """Resident set size of one process now, in MiB."""
    return status_kb(pid, "VmRSS") / 1024


@dataclass
class CpuWindow:
    """CPU spent by a set of process trees between :meth:`start` and :meth:`stop`."""

    roots: dict[str, list[int]]
    _before: dict[str, float] | None = None
    spent_s: dict[str, float] | None = None

    def _sample(self) -> dict[str, float]:
        return {name: sum(tree_cpu_s(p) for p in pids) for name, pids in self.roots.items()}

    def start(self) -> None:
        self._before = self._sample()

    def stop(self) -> dict[str, float]:
        assert self._before is not None, "start() first"
        after = self._sample()
        self.spent_s = {name: after[name] - self._before[name] for name in self.roots}
        return self.spent_s
