"""The code blocks of README.md and docs/*.rst, and how the docs test runs them.

A block is marked by the line (or comment) just before it:

* reStructuredText: ``.. docs-test: MODE ...`` before a ``.. code-block::``, or
  before the paragraph introducing a ``::`` literal block that starts with a
  command (``swfbridge``, ``celery``, ``pip``, ...);
* Markdown: ``<!-- docs-test: MODE ... -->`` before a fenced block.

Modes:

``run``
    Shell commands, run in the page's one bash session (``set -euo
    pipefail``), in order, so ``export`` and ``cd`` carry over.
``background READY``
    A long-running command ("in another terminal"): started in a process
    group of its own; the session goes on once its output contains READY,
    and the group gets SIGTERM when the page is done.
``file PATH``
    The block is the content of PATH (relative to the session's directory).
``python``
    Python code, run with the session's ``python``.
``skip REASON``
    Not run, and the reason says why (real AWS, an install CI runs itself).

Commands name the ports a reader would use (Redis 6379, the local SWF
endpoint 8765); the test replaces them with free ports, in blocks and READY
texts alike, so a page runs beside anything else on the machine.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MODES = ("run", "background", "file", "python", "skip")
# Languages that hold commands or code: such blocks must say how the test treats them.
COMMAND_LANGUAGES = {
    "sh",
    "shell",
    "bash",
    "console",
    "python",
    "py",
    "ini",
    "yaml",
    "systemd",
    "dockerfile",
}

_RST_MARKER = re.compile(r"^\.\. docs-test:\s*(.*?)\s*$")
_RST_BLOCK = re.compile(r"^(\s*)\.\. code-block::\s*(\S*)\s*$")
_LITERAL_COMMAND = re.compile(
    r"^(\$ |swfbridge |celery |pip |python3? |export |sphinx-build |"
    r"redis-server |supervisor|systemctl )"
)
_MD_MARKER = re.compile(r"^<!--\s*docs-test:\s*(.*?)\s*-->\s*$")
_MD_FENCE = re.compile(r"^```\s*(\S*)\s*$")


@dataclass(frozen=True)
class Block:
    """One code block of a page."""

    path: Path
    line: int
    language: str
    text: str
    mode: str | None  # None: not marked
    argument: str = ""

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The code blocks of a README.md or an .rst page, with their markers."""
    lines = path.read_text().splitlines()
    parse = _markdown if path.suffix == ".md" else _rst
    return parse(path, lines)


def _marker(raw: str, path: Path, line: int) -> tuple[str, str]:
    mode, _, argument = raw.partition(" ")
    if mode not in MODES:
        raise ValueError(f"{path.name}:{line}: unknown docs-test mode {mode!r}")
    if mode in ("background", "file", "skip") and not argument.strip():
        raise ValueError(f"{path.name}:{line}: docs-test {mode} needs an argument")
    return mode, argument.strip()


def _rst(path: Path, lines: list[str]) -> list[Block]:
    found: list[Block] = []
    pending: tuple[str, str] | None = None
    i = 0
    while i < len(lines):
        marker = _RST_MARKER.match(lines[i])
        block = _RST_BLOCK.match(lines[i])
        if marker:
            pending = _marker(marker.group(1), path, i + 1)
        elif block:
            indent = len(block.group(1))
            start = i + 1
            body: list[str] = []
            i += 1
            while i < len(lines) and (
                not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
            ):
                body.append(lines[i])
                i += 1
            while body and re.match(r"^\s*:\w[\w-]*:", body[0]):  # directive options
                body.pop(0)
            text = _dedent(body)
            mode, argument = pending if pending else (None, "")
            found.append(Block(path, start, block.group(2), text, mode, argument))
            pending = None
            continue
        elif lines[i].rstrip().endswith("::") and not lines[i].lstrip().startswith(".."):
            # A literal block: commands when its first line starts like one.
            indent = len(lines[i]) - len(lines[i].lstrip())
            start = i + 2
            body = []
            i += 1
            while i < len(lines) and (
                not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
            ):
                body.append(lines[i])
                i += 1
            text = _dedent(body)
            if _LITERAL_COMMAND.match(text):
                mode, argument = pending if pending else (None, "")
                found.append(Block(path, start, "sh", text, mode, argument))
                pending = None
            continue
        i += 1
    return found


def _markdown(path: Path, lines: list[str]) -> list[Block]:
    found: list[Block] = []
    pending: tuple[str, str] | None = None
    i = 0
    while i < len(lines):
        marker = _MD_MARKER.match(lines[i])
        fence = _MD_FENCE.match(lines[i])
        if marker:
            pending = _marker(marker.group(1), path, i + 1)
        elif fence:
            start = i + 1
            body = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            mode, argument = pending if pending else (None, "")
            found.append(Block(path, start, fence.group(1), "\n".join(body) + "\n", mode, argument))
            pending = None
        elif lines[i].strip() and pending is not None:
            raise ValueError(
                f"{path.name}:{i + 1}: a docs-test marker must be followed by a fenced block"
            )
        i += 1
    return found


def _dedent(body: list[str]) -> str:
    while body and not body[-1].strip():
        body.pop()
    while body and not body[0].strip():
        body.pop(0)
    width = min((len(x) - len(x.lstrip()) for x in body if x.strip()), default=0)
    return "\n".join(x[width:] for x in body) + "\n"


def unmarked(page: list[Block]) -> list[Block]:
    """Blocks holding commands or code that say nothing about how they are tested."""
    return [b for b in page if b.mode is None and b.language in COMMAND_LANGUAGES]


def substitute(text: str, ports: Mapping[int, int]) -> str:
    """``text`` with each documented port replaced by the test's free port."""
    for documented, actual in ports.items():
        text = re.sub(rf"(?<!\d){documented}(?!\d)", str(actual), text)
    return text


BACKGROUND_READY_TIMEOUT_S = 90
# A graceful stop (the docs promise one) must end within this; a kill fails the page.
STOP_TIMEOUT_S = 45
_PRELUDE = r"""set -euo pipefail
_docs_bg_pids=()
_docs_stop_background() {
    local status=$?
    local pid i
    for (( i=${#_docs_bg_pids[@]}-1; i>=0; i-- )); do
        pid=${_docs_bg_pids[i]}
        kill -TERM -- "-$pid" 2>/dev/null || true
        for _ in $(seq 1 STOP_TIMEOUT_DS); do
            kill -0 -- "-$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 -- "-$pid" 2>/dev/null; then
            echo "docs-test: background process group $pid ignored SIGTERM; killed"
            kill -KILL -- "-$pid" 2>/dev/null || true
            status=1
        fi
    done
    for log in _docs_bg_*.log; do
        [ -e "$log" ] && { echo "----- $log"; cat "$log"; }
    done
    exit $status
}
trap _docs_stop_background EXIT
_docs_wait_for() {  # LOG TEXT PID WHERE
    for _ in $(seq 1 $((BACKGROUND_READY_TIMEOUT_S * 10))); do
        grep -qF -- "$2" "$1" && return 0
        kill -0 "$3" 2>/dev/null || { echo "docs-test: $4 exited before printing '$2'"; return 1; }
        sleep 0.1
    done
    echo "docs-test: $4 did not print '$2' in ${BACKGROUND_READY_TIMEOUT_S}s"
    return 1
}
""".replace("BACKGROUND_READY_TIMEOUT_S", str(BACKGROUND_READY_TIMEOUT_S)).replace(
    "STOP_TIMEOUT_DS", str(STOP_TIMEOUT_S * 10)
)


def session_script(page: list[Block], ports: Mapping[int, int]) -> str:
    """One bash script running the page's marked blocks in order."""
    parts = [_PRELUDE]
    for n, block in enumerate(page):
        if block.mode in (None, "skip"):
            continue
        text = substitute(block.text, ports)
        parts.append(f"echo '=== docs-test: {block.mode} {block.where}'")
        if block.mode == "run":
            parts.append(text)
        elif block.mode == "python":
            parts.append(f"python - <<'DOCS_TEST_PY'\n{text}DOCS_TEST_PY")
        elif block.mode == "file":
            target = shlex.quote(block.argument)
            parts.append(
                f'mkdir -p "$(dirname {target})"\n'
                f"cat > {target} <<'DOCS_TEST_FILE'\n{text}DOCS_TEST_FILE"
            )
        elif block.mode == "background":
            ready = substitute(block.argument, ports)
            script, log = f"_docs_bg_{n}.sh", f"_docs_bg_{n}.log"
            parts.append(
                f"cat > {script} <<'DOCS_TEST_BG'\n{text}DOCS_TEST_BG\n"
                f"setsid bash {script} > {log} 2>&1 &\n"
                f"_docs_bg_pids+=($!)\n"
                f"_docs_wait_for {log} {shlex.quote(ready)} $! {shlex.quote(block.where)}"
            )
    return "\n".join(parts) + "\n"
