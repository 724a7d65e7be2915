"""S3 claim-check end to end: moto S3 (server mode), the local SWF endpoint, a real
prefork worker and poller on redis, a decider reading the history."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from swfbridge.payloads.store import S3Reference
from swfbridge.testing import LocalSWF, ScheduledActivity, run_activities
from swfbridge.testing.decider import ActivityOutcome
from tests.integration.payload_activities import TASK_LIST, report_ids
from tests.support import processes

ACTIVITIES_MODULE = "tests.integration.payload_activities"
PREFIX = "swfbridge/payloads"
SIX_MB = 6_000_000
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _simpleflow_format() -> Any:
    """simpleflow's jumbo-field code (a dev dependency: the compatibility target)."""
    try:
        import simpleflow.format
    except ImportError:  # pragma: no cover
        pytest.fail("simpleflow is missing: pip install -e '.[dev]'")
    return simpleflow.format


def _flowy(*args: object, **kwargs: object) -> str:
    return json.dumps([list(args), kwargs])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 in server mode, in this process (its own port, beside the local SWF)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def aws_env(s3_endpoint: str) -> Iterator[None]:
    """This process talks to moto's S3 too (as a decider would), with boto3's own settings."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**CREDENTIALS, "AWS_ENDPOINT_URL_S3": s3_endpoint}.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def s3(aws_env: None) -> Any:
    return boto3.client("s3")


@pytest.fixture(scope="module")
def buckets(s3: Any) -> dict[str, str]:
    names = {
        "payloads": f"swfbridge-it-{uuid.uuid4().hex[:8]}",
        "jumbo": f"simpleflow-jumbo-{uuid.uuid4().hex[:8]}",
    }
    for name in names.values():
        s3.create_bucket(Bucket=name)
    return names


def _start_bridge(
    swf: LocalSWF, redis_url: str, log_dir: Path, extra_env: dict[str, str], name: str
) -> tuple[str, list[processes.Process]]:
    domain = f"it-{name}-{uuid.uuid4().hex[:8]}"
    env = processes.bridge_env(
        broker_url=redis_url, swf_endpoint=swf.endpoint_url, activities=ACTIVITIES_MODULE
    )
    env.update(extra_env)
    registered = processes.run_cli(env, "register", "--domain", domain, "--create-domain")
    assert registered.returncode == 0, registered.stdout + registered.stderr
    worker = processes.start_worker(
        env, log_dir, name=f"{name}-worker", concurrency=2, extra=("-Q", f"{TASK_LIST}-{name}")
    )
    poller = processes.start_poller(
        env,
        log_dir,
        domain=domain,
        task_list=TASK_LIST,
        name=f"{name}-poller",
        extra=("--queue", f"{TASK_LIST}-{name}"),
    )
    return domain, [poller, worker]


@pytest.fixture(scope="module")
def simpleflow_input(aws_env: None, buckets: dict[str, str]) -> tuple[str, str]:
    """An input written by simpleflow's own jumbo-field code: (SWF input field, the data)."""
    simpleflow_format = _simpleflow_format()
    data = "ß" + "d" * 60_000
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SIMPLEFLOW_JUMBO_FIELDS_BUCKET", f"{buckets['jumbo']}/decider")
        field = simpleflow_format.input({"args": [data], "kwargs": {}})
    assert field.startswith(f"simpleflow+s3://{buckets['jumbo']}/decider/")
    return field, data


@pytest.fixture(scope="module")
def offloaded(
    local_swf_server: LocalSWF,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    s3_endpoint: str,
    buckets: dict[str, str],
    simpleflow_input: tuple[str, str],
) -> dict[str, ActivityOutcome]:
    """One workflow through a bridge with S3 offload on; the outcome of each activity."""
    log_dir = tmp_path_factory.mktemp("payloads-offload")
    domain, procs = _start_bridge(
        local_swf_server,
        redis_url,
        log_dir,
        {
            "AWS_ENDPOINT_URL_S3": s3_endpoint,
            "SWFBRIDGE_S3_BUCKET": buckets["payloads"],
            "SWFBRIDGE_S3_PREFIX": PREFIX,
            "SWFBRIDGE_S3_INPUT_BUCKETS": buckets["jumbo"],
        },
        "offload",
    )
    try:
        return run_activities(
            local_swf_server.client(),
            domain=domain,
            task_list=TASK_LIST,
            activities=[
                ScheduledActivity("report-200k", "ReportIds", "1", input=_flowy(14_000)),
                ScheduledActivity("blob-6mb", "Blob", "1", input=_flowy(SIX_MB)),
                ScheduledActivity("small", "ReportIds", "1", input=_flowy(3)),
                ScheduledActivity("simpleflow-input", "Digest", "1", input=simpleflow_input[0]),
                ScheduledActivity(
                    "foreign-bucket",
                    "Digest",
                    "1",
                    input=f"simpleflow+s3://someone-elses-bucket/{'k' * 8} 80",
                ),
                ScheduledActivity("fail-big", "FailWithBigDetails", "1", input=_flowy(50_000)),
                ScheduledActivity(
                    "beat-big",
                    "BeatBigThenStall",
                    "1",
                    input=_flowy(5_000, 4.0),
                    heartbeat_timeout="2",
                ),
            ],
            timeout_s=90,
        )
    finally:
        processes.stop_all(*procs)
        print("\n".join(proc.output() for proc in procs))  # shown on failure only


@pytest.fixture(scope="module")
def without_bucket(
    local_swf_server: LocalSWF, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, ActivityOutcome]:
    """One workflow through a bridge with no bucket configured."""
    log_dir = tmp_path_factory.mktemp("payloads-off")
    domain, procs = _start_bridge(local_swf_server, redis_url, log_dir, {}, "nobucket")
    try:
        return run_activities(
            local_swf_server.client(),
            domain=domain,
            task_list=TASK_LIST,
            activities=[
                ScheduledActivity("blob-40k", "Blob", "1", input=_flowy(40_000)),
                ScheduledActivity(
                    "reference-input",
                    "Digest",
                    "1",
                    input=f"simpleflow+s3://some-bucket/{'k' * 8} 80",
                ),
            ],
            timeout_s=60,
        )
    finally:
        processes.stop_all(*procs)


def _completed(outcome: ActivityOutcome) -> str:
    assert outcome.status == "completed", outcome
    assert outcome.result is not None
    return outcome.result


def _failed(outcome: ActivityOutcome) -> tuple[str, dict[str, Any]]:
    assert outcome.status == "failed", outcome
    assert outcome.reason is not None and len(outcome.reason) <= 256
    assert outcome.details is not None
    return outcome.reason, json.loads(outcome.details)


def test_a_200_kb_result_reaches_the_decider_as_a_reference_simpleflow_resolves_exactly(
    offloaded: dict[str, ActivityOutcome], buckets: dict[str, str], aws_env: None
) -> None:
    simpleflow_format = _simpleflow_format()
    field = _completed(offloaded["report-200k"])
    reference = S3Reference.parse(field)
    assert reference.bucket == buckets["payloads"]
    assert len(field) < 200

    value = simpleflow_format.decode(field, use_proxy=False)  # what a simpleflow decider does

    assert value == report_ids(14_000)
    stored = json.dumps(report_ids(14_000), separators=(",", ":")).encode()
    assert reference.size_bytes == len(stored) > 200_000
    assert reference.key == f"{PREFIX}/{hashlib.sha256(stored).hexdigest()}"


def test_a_result_that_fits_is_still_sent_inline(offloaded: dict[str, ActivityOutcome]) -> None:
    assert json.loads(_completed(offloaded["small"])) == report_ids(3)


def test_an_input_stored_in_s3_by_simpleflow_is_fetched_before_run(
    offloaded: dict[str, ActivityOutcome], simpleflow_input: tuple[str, str]
) -> None:
    data = simpleflow_input[1]
    assert json.loads(_completed(offloaded["simpleflow-input"])) == {
        "length": len(data),
        "sha256": hashlib.sha256(data.encode()).hexdigest(),
    }


def test_a_6_mb_result_fails_with_its_size_and_the_cap_in_the_reason(
    offloaded: dict[str, ActivityOutcome],
) -> None:
    reason, details = _failed(offloaded["blob-6mb"])
    assert reason == (
        f"swfbridge: result too large even for S3 offload: {SIX_MB + 2} bytes, "
        f"the cap is 5242880 bytes (SWFBRIDGE_S3_MAX_BYTES)"
    )
    assert details["cause"] == "result_too_large"
    assert (details["size"], details["limit"]) == (SIX_MB + 2, 5_242_880)


def test_an_input_reference_to_a_bucket_not_allowed_fails_without_running(
    offloaded: dict[str, ActivityOutcome],
) -> None:
    reason, details = _failed(offloaded["foreign-bucket"])
    assert "refers to bucket 'someone-elses-bucket', which this worker does not read" in reason
    assert details["cause"] == "input_reference_rejected"


def test_large_failure_details_reach_the_decider_as_a_reference(
    offloaded: dict[str, ActivityOutcome], s3: Any
) -> None:
    outcome = offloaded["fail-big"]
    assert outcome.status == "failed" and outcome.reason == "too many bad rows"
    reference = S3Reference.parse(outcome.details or "")
    body = s3.get_object(Bucket=reference.bucket, Key=reference.key)["Body"].read()
    assert json.loads(body) == {"bad_rows": "r" * 50_000}


def test_large_heartbeat_details_reach_the_decider_as_a_reference(
    offloaded: dict[str, ActivityOutcome], s3: Any
) -> None:
    outcome = offloaded["beat-big"]
    assert outcome.status == "timed_out" and outcome.timeout_type == "HEARTBEAT", outcome
    reference = S3Reference.parse(outcome.details or "")
    body = s3.get_object(Bucket=reference.bucket, Key=reference.key)["Body"].read()
    assert json.loads(body) == {"progress": "p" * 5_000}


def test_without_a_bucket_a_40_kb_result_fails_saying_how_to_enable_offload(
    without_bucket: dict[str, ActivityOutcome],
) -> None:
    reason, details = _failed(without_bucket["blob-40k"])
    assert reason.startswith(
        "swfbridge: result too large: 40002 characters, SWF's limit is 32768; "
        "to send it through S3 instead, set SWFBRIDGE_S3_BUCKET"
    )
    assert (details["cause"], details["size"], details["limit"]) == (
        "result_too_large",
        40_002,
        32_768,
    )


def test_without_a_bucket_an_input_reference_fails_saying_how_to_enable_offload(
    without_bucket: dict[str, ActivityOutcome],
) -> None:
    reason, details = _failed(without_bucket["reference-input"])
    assert "input is an S3 reference but S3 offload is off" in reason
    assert "SWFBRIDGE_S3_BUCKET" in reason
    assert details["cause"] == "input_reference_rejected"
