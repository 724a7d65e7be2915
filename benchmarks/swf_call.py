"""``python -m benchmarks.swf_call``: CPU per SWF call, boto3 against the direct path.

The same ``SwfClient.call`` with ``direct_calls`` False (boto3) and True
(:mod:`swfbridge.aws.direct`), alternated, against a stub endpoint in another
process that answers every request at once with a poll's answer (so only the
client's own CPU is measured: ``time.process_time`` of this process).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from swfbridge.aws.swf import SwfClient, SwfClientConfig

_ANSWER = json.dumps(
    {
        "taskToken": "t" * 800,
        "activityId": "a1",
        "startedEventId": 5,
        "workflowExecution": {"workflowId": "w", "runId": "r" * 40},
        "activityType": {"name": "noop", "version": "1"},
        "input": json.dumps({"x": 1}),
    }
).encode()


class _Stub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
            f"x-amzn-RequestId: stub\r\nContent-Length: {len(_ANSWER)}\r\n\r\n"
        )
        self.wfile.write(head.encode() + _ANSWER)  # one write: no Nagle stall

    def log_message(self, *args: object) -> None:
        pass


def _serve(port: int) -> None:
    ThreadingHTTPServer(("127.0.0.1", port), _Stub).serve_forever()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ms_per_call(swf: SwfClient, count: int) -> float:
    params = {"domain": "d", "taskList": {"name": "tl"}, "identity": "bench"}
    for _ in range(200):  # warm up: connections, caches
        swf.call("poll_for_activity_task", **params)
    started = time.process_time()
    for _ in range(count):
        swf.call("poll_for_activity_task", **params)
    return (time.process_time() - started) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds")
    parser.add_argument("--stub", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stub:
        _serve(args.stub)
        return
    port = _free_port()
    stub = subprocess.Popen([sys.executable, "-m", "benchmarks.swf_call", "--stub", str(port)])
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    try:
        time.sleep(1.0)
        url = f"http://127.0.0.1:{port}"
        for round_no in range(1, args.rounds + 1):
            figures = []
            for direct in (False, True):
                config = SwfClientConfig(region="us-east-1", endpoint_url=url, direct_calls=direct)
                swf = SwfClient(config=config)
                figures.append(_ms_per_call(swf, args.count))
            print(
                f"round {round_no}: PollForActivityTask CPU per call: boto3 {figures[0]:.3f} ms, "
                f"direct {figures[1]:.3f} ms ({figures[0] / figures[1]:.1f} x)"
            )
    finally:
        stub.terminate()
        stub.wait()


if __name__ == "__main__":
    main()
