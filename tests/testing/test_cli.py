from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CLIENT_SCRIPT = """
import boto3
from botocore.config import Config
client = boto3.client(
    "swf", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x",
    config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
)
client.register_domain(name="cli-domain", workflowExecutionRetentionPeriodInDays="1")
names = [d["name"] for d in client.list_domains(registrationStatus="REGISTERED")["domainInfos"]]
answer = client.poll_for_activity_task(domain="cli-domain", taskList={"name": "t"})
print(names, repr(answer["taskToken"]))
"""


def test_local_swf_command_serves_other_processes_and_exits_cleanly_on_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "swfbridge", "local-swf", "--port", "0", "--poll-timeout", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        client = subprocess.run(
            [sys.executable, "-c", CLIENT_SCRIPT],
            env={**env, "AWS_ENDPOINT_URL_SWF": url},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert client.returncode == 0, client.stderr
        assert client.stdout.strip() == "['cli-domain'] ''"
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
