"""Every command of the README and of the guide pages runs as written.

Each page's marked blocks (see ``docblocks``) run in order in one bash session
in a scratch directory, against a local SWF endpoint and a Redis that the page
itself starts (the documented ports replaced by free ones). A page with a
command or code block that is neither run nor explicitly skipped fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs import docblocks
from tests.support import processes

ROOT = processes.REPO_ROOT
FIRST_WORKFLOW = ROOT / "docs" / "first-workflow.rst"
# Other pages whose commands run end to end (the guide has a test of its own below;
# deploying.rst's service definitions are run by tests/deploy).
RUNNABLE_PAGES = [ROOT / "README.md"]
# Every page: none may hold a command block that says nothing about its test.
ALL_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.rst"))]
DOCUMENTED_PORTS = (6379, 8765)
PAGE_TIMEOUT_S = 420


def run_page(page: Path, work_dir: Path) -> subprocess.CompletedProcess[str]:
    ports = {documented: processes.free_port() for documented in DOCUMENTED_PORTS}
    script = work_dir / "_docs_session.sh"
    script.write_text(docblocks.session_script(docblocks.blocks(page), ports))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "CELERY_", "SWFBRIDGE_", "PYTHON"))
    }
    # The reader's shell: the activated virtualenv first on PATH.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["SWFBRIDGE_CHECKOUT"] = str(ROOT)  # for blocks that install from the checkout
    return subprocess.run(
        ["bash", str(script)],
        cwd=work_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=PAGE_TIMEOUT_S,
    )


@pytest.mark.parametrize("page", ALL_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_block_says_whether_the_docs_test_runs_it(page: Path) -> None:
    page_blocks = docblocks.blocks(page)

    assert [b.where for b in docblocks.unmarked(page_blocks)] == []


@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_page_s_commands_run_as_written(page: Path, tmp_path: Path) -> None:
    page_blocks = docblocks.blocks(page)
    assert any(b.mode not in (None, "skip") for b in page_blocks), "nothing to run"

    done = run_page(page, tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr


def test_the_first_workflow_guide_runs_end_to_end_to_completed_workflows(tmp_path: Path) -> None:
    done = run_page(FIRST_WORKFLOW, tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    # swfbridge run: both activities completed, the failing one reported, exit 1.
    assert "2/2 activities completed (completed)" in out, out
    assert 'Greet-1              completed       "Hello, Ada!"' in out, out
    assert 'failed          invalid amount {"amount":0}' in out, out
    assert "exit status 1" in out, out
    # The boto3 decider and the decider helper finished their workflows.
    assert "charged: {'order_id': 'order-3', 'charged': 30, 'currency': 'USD'}" in out, out
    assert 'completed "Hello, Grace!"' in out, out
