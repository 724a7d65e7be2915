"""S3 claim-check: reference format, size decisions, the store's retries and refusals."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import botocore.exceptions
import pytest

from swfbridge import Activity, ActivityFailed, ActivityRegistry, activity
from swfbridge.aws.retry import Backoff
from swfbridge.errors import ConfigurationError
from swfbridge.payloads.store import (
    DEFAULT_MAX_BYTES,
    InvalidReference,
    OffloadConfig,
    PayloadStore,
    PayloadStoreUnavailable,
    PayloadTooLarge,
    Placement,
    S3Reference,
    fit_to_swf,
    is_reference,
    placement,
)
from swfbridge.wire.job import ActivityJob
from swfbridge.wire.limits import MAX_HEARTBEAT_DETAILS, TRUNCATION_MARKER
from swfbridge.wire.outcome import Completed, Failed
from swfbridge.worker.executor import ActivityExecutor
from swfbridge.worker.heartbeat import Heartbeater
from tests.support.fakes import FakeBoto, fake_swf
from tests.support.jobs import make_job

FAST_ATTEMPTS = 3
FAST = Backoff(base_s=0.001, cap_s=0.002, max_attempts=FAST_ATTEMPTS)
DIGEST = "a" * 64


def config(**overrides: Any) -> OffloadConfig:
    values: dict[str, Any] = {"bucket": "payloads", "prefix": "swf", "backoff": FAST}
    values.update(overrides)
    return OffloadConfig(**values)


def client_error(code: str, status: int) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} happened"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "PutObject",
    )


class FakeS3:
    """put_object/get_object over a dict, failing first with the queued errors."""

    def __init__(self, errors: list[Exception] | None = None) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.errors = list(errors or [])
        self.calls: list[str] = []

    def _maybe_fail(self, op: str) -> None:
        self.calls.append(op)
        if self.errors:
            raise self.errors.pop(0)

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, **_: Any) -> dict[str, Any]:
        self._maybe_fail("put")
        self.objects[(Bucket, Key)] = Body
        return {}

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        self._maybe_fail("get")
        data = self.objects[(Bucket, Key)]
        return {"Body": io.BytesIO(data), "ContentLength": len(data)}


# --- references ---------------------------------------------------------------------


def test_a_reference_is_formatted_like_a_simpleflow_jumbo_field() -> None:
    reference = S3Reference("jumbo-bucket", f"with/prefix/{DIGEST}", 5242880)
    assert str(reference) == f"simpleflow+s3://jumbo-bucket/with/prefix/{DIGEST} 5242880"


def test_a_formatted_reference_parses_back_to_itself() -> None:
    reference = S3Reference("my.bucket-1", f"p/{DIGEST}", 123)
    assert S3Reference.parse(str(reference)) == reference


def test_a_reference_written_by_simpleflow_with_a_uuid_key_parses() -> None:
    text = "simpleflow+s3://jumbo-bucket/dir/5d7191af-1b2c-4d5e-8f90-cdd39a31ba61 40000"
    parsed = S3Reference.parse(text)
    assert (parsed.bucket, parsed.key, parsed.size_bytes) == (
        "jumbo-bucket",
        "dir/5d7191af-1b2c-4d5e-8f90-cdd39a31ba61",
        40000,
    )


@pytest.mark.parametrize(
    "text",
    [
        "s3://bucket/key 10",  # wrong scheme
        "simpleflow+s3://bucket/key",  # no size
        "simpleflow+s3://bucket/key  10",  # two spaces
        "simpleflow+s3://bucket/key -1",  # negative size
        "simpleflow+s3://bucket/key 1e3",  # not an integer
        "simpleflow+s3://bucket/key 10 extra",  # a third word
        "simpleflow+s3://bucket 10",  # no key
        "simpleflow+s3://bucket/ 10",  # empty key
        "simpleflow+s3://Bucket/key 10",  # upper-case bucket
        "simpleflow+s3://bu/key 10",  # bucket too short
        "simpleflow+s3://-bucket/key 10",  # bucket starts with a hyphen
        "simpleflow+s3://a..b/key 10",  # bucket with '..'
        "simpleflow+s3://bucket/a/../b 10",  # '..' segment
        "simpleflow+s3://bucket//key 10",  # empty segment (leading slash)
        "simpleflow+s3://bucket/a//b 10",  # empty segment
        "simpleflow+s3://bucket/clé 10",  # not ASCII
        "simpleflow+s3://bucket/a\\b 10",  # backslash
        "simpleflow+s3://bucket/key 10\n",  # trailing newline
        "simpleflow+s3://bucket/" + "k" * 1025 + " 10",  # key over S3's 1024 bytes
    ],
)
def test_a_malformed_reference_is_refused_with_the_expected_format(text: str) -> None:
    with pytest.raises(InvalidReference, match="malformed S3 reference"):
        S3Reference.parse(text)


def test_only_fields_starting_with_the_scheme_count_as_references() -> None:
    assert is_reference("simpleflow+s3://bucket/key 1")
    assert not is_reference('["simpleflow+s3://bucket/key 1"]')
    assert not is_reference(None)


# --- configuration and size decisions -------------------------------------------------


def test_keys_are_content_addressed_under_the_prefix() -> None:
    cfg = config(prefix="/a/b/")
    assert cfg.prefix == "a/b"
    key = cfg.key_for(b"value")
    assert key == cfg.key_for(b"value") != cfg.key_for(b"other")
    assert key.startswith("a/b/") and len(key.rsplit("/", 1)[1]) == 64
    assert OffloadConfig(bucket="payloads").key_for(b"value") == key.rsplit("/", 1)[1]


def test_the_default_cap_is_simpleflows_five_mebibytes() -> None:
    assert OffloadConfig(bucket="payloads").max_bytes == DEFAULT_MAX_BYTES == 5 * 1024 * 1024


@pytest.mark.parametrize(
    "overrides",
    [
        {"bucket": "Not_A_Bucket"},
        {"bucket": ""},
        {"prefix": "has space"},
        {"prefix": "a/../b"},
        {"prefix": "p" * 600},
        {"max_bytes": 0},
        {"max_bytes": True},
        {"allowed_input_buckets": frozenset({"UPPER"})},
        {"read_timeout_s": 0},
    ],
)
def test_an_invalid_offload_config_is_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="S3 offload"):
        config(**overrides)


def test_a_value_at_the_swf_limit_stays_inline() -> None:
    assert placement("x" * 100, swf_limit=100, config=config()) is Placement.INLINE


def test_a_value_one_character_over_the_limit_is_offloaded() -> None:
    assert placement("x" * 101, swf_limit=100, config=config()) is Placement.OFFLOAD


def test_a_value_over_the_limit_without_a_bucket_is_too_large() -> None:
    assert placement("x" * 101, swf_limit=100, config=None) is Placement.TOO_LARGE


def test_a_value_over_the_cap_is_refused() -> None:
    assert placement("x" * 1001, swf_limit=100, config=config(max_bytes=1000)) is (
        Placement.OVER_CAP
    )
    assert placement("x" * 1000, swf_limit=100, config=config(max_bytes=1000)) is (
        Placement.OFFLOAD
    )


def test_the_cap_counts_utf8_bytes_not_characters() -> None:
    text = "é" * 600  # 600 characters, 1,200 bytes
    assert placement(text, swf_limit=100, config=config(max_bytes=1000)) is Placement.OVER_CAP


def test_without_a_bucket_an_oversized_value_fails_saying_size_limit_and_how_to_enable() -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        fit_to_swf("x" * 40_000, swf_limit=32_768, store=None, what="result")
    message = str(caught.value)
    assert "40000 characters" in message and "32768" in message
    assert "SWFBRIDGE_S3_BUCKET" in message
    assert (caught.value.size, caught.value.limit) == (40_000, 32_768)
    assert len("swfbridge: " + message) <= 256  # fits an SWF reason whole


def test_without_a_bucket_a_value_that_fits_is_returned_as_is() -> None:
    assert fit_to_swf("small", swf_limit=32_768, store=None, what="result") == "small"


# --- the store -----------------------------------------------------------------------


def test_an_oversized_value_is_stored_and_replaced_by_its_reference() -> None:
    s3 = FakeS3()
    store = PayloadStore(config(), client=s3)
    value = json.dumps("é" * 40_000)
    reference = S3Reference.parse(store.fit(value, swf_limit=32_768, what="result"))
    assert reference.bucket == "payloads" and reference.key.startswith("swf/")
    assert reference.size_bytes == len(value.encode())
    assert s3.objects[("payloads", reference.key)] == value.encode()
    assert store.resolve(str(reference)) == value


def test_storing_the_same_value_twice_writes_the_same_key() -> None:
    s3 = FakeS3()
    first = PayloadStore(config(), client=s3).put(b"payload")
    second = PayloadStore(config(), client=s3).put(b"payload")
    assert first == second and len(s3.objects) == 1


def test_a_store_does_not_upload_a_value_it_already_stored() -> None:
    s3 = FakeS3()
    store = PayloadStore(config(), client=s3)
    store.put(b"same heartbeat details")
    store.put(b"same heartbeat details")
    assert s3.calls == ["put"]


def test_transient_s3_errors_are_retried_until_the_upload_succeeds() -> None:
    s3 = FakeS3(
        errors=[
            client_error("SlowDown", 503),
            botocore.exceptions.EndpointConnectionError(endpoint_url="http://s3"),
        ]
    )
    reference = PayloadStore(config(), client=s3).put(b"payload")
    assert s3.calls == ["put", "put", "put"]
    assert ("payloads", reference.key) in s3.objects


def test_an_unreachable_s3_fails_after_bounded_retries_with_a_retryable_error() -> None:
    s3 = FakeS3(errors=[client_error("InternalError", 500)] * 10)
    with pytest.raises(PayloadStoreUnavailable) as caught:
        PayloadStore(config(), client=s3).put(b"payload", what="result")
    assert len(s3.calls) == FAST.max_attempts
    assert caught.value.retryable
    assert "storing the result in S3 bucket 'payloads' failed after 3 tries" in str(caught.value)


def test_a_permanent_s3_error_is_not_retried() -> None:
    s3 = FakeS3(errors=[client_error("AccessDenied", 403)])
    with pytest.raises(PayloadStoreUnavailable, match="AccessDenied") as caught:
        PayloadStore(config(), client=s3).put(b"payload")
    assert s3.calls == ["put"] and not caught.value.retryable


def test_a_value_over_the_cap_fails_with_its_size_and_the_cap_without_touching_s3() -> None:
    s3 = FakeS3()
    with pytest.raises(PayloadTooLarge) as caught:
        PayloadStore(config(max_bytes=1000), client=s3).fit(
            "x" * 1001, swf_limit=100, what="result"
        )
    assert "1001 bytes" in str(caught.value) and "cap is 1000 bytes" in str(caught.value)
    assert s3.calls == []


def test_when_s3_fails_details_are_truncated_instead() -> None:
    s3 = FakeS3(errors=[client_error("AccessDenied", 403)])
    text = PayloadStore(config(), client=s3).fit_or_truncate(
        "d" * 5000, swf_limit=2048, what="heartbeat details"
    )
    assert len(text) == 2048 and text.endswith(TRUNCATION_MARKER)


def test_an_input_reference_to_another_bucket_is_refused_without_fetching() -> None:
    s3 = FakeS3()
    with pytest.raises(InvalidReference, match="bucket 'elsewhere'"):
        PayloadStore(config(), client=s3).resolve(f"simpleflow+s3://elsewhere/{DIGEST} 10")
    assert s3.calls == []


def test_an_input_reference_to_an_allowed_bucket_is_fetched() -> None:
    s3 = FakeS3()
    s3.objects[("jumbo", "dir/x")] = b'{"args": [1]}'
    store = PayloadStore(config(allowed_input_buckets=frozenset({"jumbo"})), client=s3)
    assert store.resolve("simpleflow+s3://jumbo/dir/x 13") == '{"args": [1]}'


def test_an_input_reference_declaring_more_than_the_cap_is_refused_without_fetching() -> None:
    s3 = FakeS3()
    with pytest.raises(InvalidReference, match="declares 1001 bytes"):
        PayloadStore(config(max_bytes=1000), client=s3).resolve(
            f"simpleflow+s3://payloads/{DIGEST} 1001"
        )
    assert s3.calls == []


def test_an_input_object_larger_than_the_cap_is_refused_whatever_its_reference_says() -> None:
    s3 = FakeS3()
    s3.objects[("payloads", "big")] = b"x" * 1001
    with pytest.raises(InvalidReference, match="over the cap"):
        PayloadStore(config(max_bytes=1000), client=s3).resolve("simpleflow+s3://payloads/big 1")


def test_an_input_object_that_is_not_utf8_is_refused() -> None:
    s3 = FakeS3()
    s3.objects[("payloads", "bin")] = b"\xff\xfe"
    with pytest.raises(InvalidReference, match="not UTF-8"):
        PayloadStore(config(), client=s3).resolve("simpleflow+s3://payloads/bin 2")


def test_a_missing_input_object_is_a_store_failure_that_is_not_retried() -> None:
    s3 = FakeS3(errors=[client_error("NoSuchKey", 404)])
    with pytest.raises(PayloadStoreUnavailable, match="NoSuchKey") as caught:
        PayloadStore(config(), client=s3).resolve("simpleflow+s3://payloads/gone 2")
    assert not caught.value.retryable and s3.calls == ["get"]


def test_a_value_that_is_not_a_reference_resolves_to_itself() -> None:
    assert PayloadStore(config(), client=FakeS3()).resolve("[[1], {}]") == "[[1], {}]"


# --- the executor (no SWF, no Celery) -------------------------------------------------

executor_registry = ActivityRegistry()


@activity("1", registry=executor_registry)
class Sized(Activity):
    def run(self, size: int) -> str:
        return "x" * size


@activity("1", registry=executor_registry)
class Length(Activity):
    def run(self, data: str) -> int:
        return len(data)


@activity("1", registry=executor_registry)
class FailBig(Activity):
    def run(self, size: int) -> None:
        raise ActivityFailed("bad rows", details="r" * size)


def _executor(s3: FakeS3 | None) -> ActivityExecutor:
    return ActivityExecutor(
        registry=executor_registry,
        swf=fake_swf(FakeBoto()),
        payloads=None if s3 is None else PayloadStore(config(), client=s3),
    )


def _job(name: str, input: str) -> ActivityJob:
    return make_job(task_list="l", activity_name=name, input=input)


def test_the_executor_completes_with_a_reference_to_an_oversized_result() -> None:
    s3 = FakeS3()
    outcome = _executor(s3).execute(_job("Sized", "[[40000], {}]"))
    assert isinstance(outcome, Completed) and outcome.result is not None
    reference = S3Reference.parse(outcome.result)
    assert s3.objects[(reference.bucket, reference.key)] == json.dumps("x" * 40_000).encode()


def test_the_executor_resolves_a_referenced_input_before_run() -> None:
    s3 = FakeS3()
    s3.objects[("payloads", "in/x")] = json.dumps([["abc" * 20_000], {}]).encode()
    outcome = _executor(s3).execute(_job("Length", "simpleflow+s3://payloads/in/x 60008"))
    assert outcome == Completed("60000")


def test_the_executor_fails_a_result_when_s3_is_unreachable_saying_so() -> None:
    s3 = FakeS3(
        errors=[botocore.exceptions.EndpointConnectionError(endpoint_url="http://s3")]
        * FAST_ATTEMPTS
    )
    outcome = _executor(s3).execute(_job("Sized", "[[40000], {}]"))
    assert isinstance(outcome, Failed)
    assert outcome.reason.startswith(
        "swfbridge: storing the result in S3 bucket 'payloads' failed after 3 tries: "
        "EndpointConnectionError"
    )
    details = json.loads(outcome.details or "")
    assert details["cause"] == "payload_store_failed" and details["retryable"] is True


def test_reporting_a_failure_offloads_its_oversized_details() -> None:
    s3 = FakeS3()
    boto = FakeBoto()
    executor = ActivityExecutor(
        registry=executor_registry, swf=fake_swf(boto), payloads=PayloadStore(config(), client=s3)
    )
    job = _job("FailBig", "[[40000], {}]")
    executor.report(job, executor.execute(job))
    [sent] = boto.ops("respond_activity_task_failed")
    reference = S3Reference.parse(sent["details"])
    assert sent["reason"] == "bad rows"
    assert s3.objects[(reference.bucket, reference.key)] == b"r" * 40_000


def test_when_s3_fails_a_failure_is_still_reported_with_truncated_details() -> None:
    s3 = FakeS3(errors=[client_error("AccessDenied", 403)])
    boto = FakeBoto()
    executor = ActivityExecutor(
        registry=executor_registry, swf=fake_swf(boto), payloads=PayloadStore(config(), client=s3)
    )
    job = _job("FailBig", "[[40000], {}]")
    executor.report(job, executor.execute(job))
    [sent] = boto.ops("respond_activity_task_failed")
    assert sent["reason"] == "bad rows"
    assert len(sent["details"]) == 32_768 and sent["details"].endswith(TRUNCATION_MARKER)


def test_without_offload_oversized_failure_details_are_truncated() -> None:
    boto = FakeBoto()
    executor = ActivityExecutor(registry=executor_registry, swf=fake_swf(boto))
    job = _job("FailBig", "[[40000], {}]")
    executor.report(job, executor.execute(job))
    [sent] = boto.ops("respond_activity_task_failed")
    assert len(sent["details"]) == 32_768 and sent["details"].endswith(TRUNCATION_MARKER)


# --- heartbeat hook ------------------------------------------------------------------


class RecordingSwf:
    def __init__(self) -> None:
        self.details: list[str | None] = []

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        self.details.append(params.get("details"))
        return {"cancelRequested": False}


def test_heartbeat_details_are_fitted_in_the_heartbeat_thread_at_send_time() -> None:
    swf = RecordingSwf()
    fitted: list[int] = []

    def fit(text: str) -> str:
        fitted.append(len(text))
        return "ref"

    beater = Heartbeater(
        swf=swf,
        task_token="t",
        interval_s=0.01,  # type: ignore[arg-type]
        fit_details=fit,
    )
    for size in (3000, 4000, 5000):  # coalesced: only what is pending at a beat is fitted
        beater.record("d" * size)
    beater.start()
    try:
        deadline = time.monotonic() + 5
        while not swf.details and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        beater.stop()
    assert swf.details == ["ref"] and fitted == [5000]


def test_without_offload_heartbeat_details_are_truncated_to_swfs_limit() -> None:
    swf = RecordingSwf()
    beater = Heartbeater(swf=swf, task_token="t", interval_s=0.01)  # type: ignore[arg-type]
    beater.record("d" * 5000)
    beater.start()
    try:
        deadline = time.monotonic() + 5
        while not swf.details and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        beater.stop()
    assert swf.details and len(swf.details[0] or "") == MAX_HEARTBEAT_DETAILS


# --- environment (swfbridge/celery.py) -------------------------------------------------

ENV_NAMES = (
    "SWFBRIDGE_S3_BUCKET",
    "SWFBRIDGE_S3_PREFIX",
    "SWFBRIDGE_S3_MAX_BYTES",
    "SWFBRIDGE_S3_INPUT_BUCKETS",
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_no_bucket_in_the_environment_means_offload_is_off(env: pytest.MonkeyPatch) -> None:
    from swfbridge.celery import _payloads

    assert _payloads() is None


def test_the_environment_configures_bucket_prefix_cap_and_input_buckets(
    env: pytest.MonkeyPatch,
) -> None:
    from swfbridge.celery import _payloads

    env.setenv("SWFBRIDGE_S3_BUCKET", "payloads")
    env.setenv("SWFBRIDGE_S3_PREFIX", "swf/results")
    env.setenv("SWFBRIDGE_S3_MAX_BYTES", "1000")
    env.setenv("SWFBRIDGE_S3_INPUT_BUCKETS", "jumbo, other-jumbo")
    assert _payloads() == OffloadConfig(
        bucket="payloads",
        prefix="swf/results",
        max_bytes=1000,
        allowed_input_buckets=frozenset({"jumbo", "other-jumbo"}),
    )


def test_the_environment_accepts_simpleflows_bucket_slash_prefix_form(
    env: pytest.MonkeyPatch,
) -> None:
    from swfbridge.celery import _payloads

    env.setenv("SWFBRIDGE_S3_BUCKET", "jumbo-bucket/with/prefix")
    cfg = _payloads()
    assert cfg is not None and (cfg.bucket, cfg.prefix) == ("jumbo-bucket", "with/prefix")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"SWFBRIDGE_S3_MAX_BYTES": "5MB", "SWFBRIDGE_S3_BUCKET": "payloads"},
            "SWFBRIDGE_S3_MAX_BYTES must be a whole number",
        ),
        ({"SWFBRIDGE_S3_PREFIX": "p"}, "SWFBRIDGE_S3_BUCKET is not"),
        ({"SWFBRIDGE_S3_BUCKET": "b-u-c/p", "SWFBRIDGE_S3_PREFIX": "p"}, "use one"),
        ({"SWFBRIDGE_S3_BUCKET": "Bad_Bucket"}, "invalid bucket name"),
    ],
)
def test_a_broken_environment_is_a_clear_configuration_error(
    env: pytest.MonkeyPatch, values: dict[str, str], message: str
) -> None:
    from swfbridge.celery import _payloads

    for name, value in values.items():
        env.setenv(name, value)
    with pytest.raises(ConfigurationError, match=message):
        _payloads()
