"""Payloads over SWF's limits: an S3 claim-check in simpleflow's "jumbo field" format.

A value too big for its SWF field (result, details, heartbeat details) is
stored in S3 and the field carries a reference instead::

    simpleflow+s3://<bucket>/<prefix>/<sha256 of the value> <size in bytes>

simpleflow deciders resolve such references when they read the history, so a
simpleflow workflow gets the full value back. Keys are content-addressed: a
retried upload writes the same object again (idempotent), and the key's last
segment is unique per value, which simpleflow's decider-side cache relies on.

Inputs that arrive as references are fetched before the activity runs; as an
input comes from outside, its reference is parsed strictly and only buckets
the operator allowed are read.

Nothing here reads the environment: the operator's settings come in as an
:class:`OffloadConfig` (``swfbridge/celery.py`` builds one from
``SWFBRIDGE_S3_*``).
"""

from __future__ import annotations

import enum
import hashlib
import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import botocore.config
import botocore.exceptions

from swfbridge.aws.clients import make_boto_session
from swfbridge.aws.errors import aws_answer
from swfbridge.aws.retry import Backoff, Failure, call_with_retries
from swfbridge.errors import ConfigurationError, SwfBridgeError
from swfbridge.per_process import PerProcess
from swfbridge.wire.limits import truncate
from swfbridge.wire.outcome import BridgeCause, Failed, bridge_failure

log = logging.getLogger(__name__)

REFERENCE_SCHEME = "simpleflow+s3://"
"""How a field that holds a reference starts (simpleflow's ``JUMBO_FIELDS_PREFIX``)."""

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
"""Largest value stored in S3 by default: 5 MiB, simpleflow's ``JUMBO_FIELDS_MAX_SIZE``."""

ENABLE_HINT = "set SWFBRIDGE_S3_BUCKET or install(app, payloads=OffloadConfig(...))"
"""How to turn offload on, quoted in failure reasons."""

# S3 bucket naming rules (general purpose buckets): 3-63 characters, lower-case
# letters, digits, dots and hyphens, starting and ending with a letter or digit.
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# A key for our purposes: printable, no whitespace (the reference is two
# whitespace-separated words), no backslash.
_KEY_RE = re.compile(r"[!-\[\]-~]+")
_REFERENCE_RE = re.compile(
    re.escape(REFERENCE_SCHEME) + r"(?P<bucket>[^/\s]+)/(?P<key>\S+) (?P<size>0|[1-9][0-9]{0,15})"
)
_MAX_KEY_BYTES = 1024  # S3's limit
_MAX_PREFIX_CHARS = 512  # leaves room for the digest within S3's and SWF's limits
_UPLOADED_MEMORY = 256  # keys this process knows are stored (repeated heartbeat details)

# S3 error codes worth another try; any 5xx is too.
_RETRYABLE_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "InternalError",
        "ServiceUnavailable",
        "503",
    }
)


class PayloadError(SwfBridgeError):
    """A payload could not be offloaded to or fetched from S3.

    ``retryable`` says whether the same attempt could succeed later (S3 was
    unreachable) or never will (too large, refused reference).
    """

    retryable = False


class PayloadTooLarge(PayloadError):
    """The value exceeds SWF's limit and cannot be offloaded (no bucket, or past the cap).

    Attributes:
        size: The value's size (characters when offload is off, bytes past the cap).
        limit: The limit it exceeds, in the same unit.
    """

    def __init__(self, message: str, *, size: int, limit: int) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit


class InvalidReference(PayloadError):
    """A field starts like a reference but is not a valid one, or is refused."""


class PayloadStoreUnavailable(PayloadError):
    """S3 failed (unreachable, throttling, 5xx past the retries, access denied, missing key)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


# --- references -----------------------------------------------------------------


@dataclass(frozen=True)
class S3Reference:
    """A claim-check: where a value lives in S3, and its size in bytes.

    Attributes:
        bucket: S3 bucket name.
        key: Object key.
        size_bytes: Size of the stored value (its UTF-8 encoding), for readers
            deciding whether to fetch it.
    """

    bucket: str
    key: str
    size_bytes: int

    def __str__(self) -> str:
        return f"{REFERENCE_SCHEME}{self.bucket}/{self.key} {self.size_bytes}"

    @classmethod
    def parse(cls, text: str) -> S3Reference:
        """Parse ``simpleflow+s3://bucket/key <size>``, strictly.

        The bucket must be a valid S3 bucket name; the key printable ASCII
        without whitespace, without ``..`` segments or empty segments; the size
        a decimal integer; one space between the two words.

        Raises:
            InvalidReference: ``text`` is not such a reference (the message says why).
        """
        match = _REFERENCE_RE.fullmatch(text)
        if match is None:
            shown = text if len(text) <= 120 else text[:120] + "…"
            raise InvalidReference(
                f"malformed S3 reference {shown!r}: expected "
                f"'{REFERENCE_SCHEME}<bucket>/<key> <size in bytes>'"
            )
        bucket, key = match["bucket"], match["key"]
        problem = _bucket_problem(bucket) or _key_problem(key)
        if problem is not None:
            raise InvalidReference(f"malformed S3 reference: {problem}")
        return cls(bucket=bucket, key=key, size_bytes=int(match["size"]))


def is_reference(text: str | None) -> bool:
    """True when a field holds (or claims to hold) an S3 reference."""
    return text is not None and text.startswith(REFERENCE_SCHEME)


def _bucket_problem(bucket: str) -> str | None:
    if not _BUCKET_RE.fullmatch(bucket) or ".." in bucket:
        return f"invalid bucket name {bucket!r}"
    return None


def _key_problem(key: str) -> str | None:
    if not _KEY_RE.fullmatch(key):
        return "the key must be printable ASCII without spaces"
    if len(key.encode()) > _MAX_KEY_BYTES:
        return f"the key is longer than S3's {_MAX_KEY_BYTES} bytes"
    if key.startswith("/") or any(part in ("", ".", "..") for part in key.split("/")):
        return f"the key {key!r} has an empty, '.' or '..' segment"
    return None


# --- configuration and size decisions ------------------------------------------


@dataclass(frozen=True)
class OffloadConfig:
    """Where and up to what size values too big for SWF are stored in S3.

    Args:
        bucket: The S3 bucket values are written to (and read from).
        prefix: Key prefix, e.g. ``"swfbridge/payloads"`` (no leading or
            trailing slash needed); keys are ``<prefix>/<sha256>``.
        max_bytes: Largest value stored (its UTF-8 size); larger values fail
            the task. Default 5 MiB, like simpleflow.
        allowed_input_buckets: Buckets, besides ``bucket``, that input
            references may point to (e.g. a simpleflow decider's jumbo bucket).
        endpoint_url: S3 endpoint (None: boto3's default, which honours
            ``AWS_ENDPOINT_URL_S3``).
        region: AWS region (None: boto3's default).
        connect_timeout_s: S3 connect timeout per attempt.
        read_timeout_s: S3 read timeout per attempt.
        backoff: Retry pacing for throttling, 5xx and connection errors.

    Raises:
        ConfigurationError: A value is invalid.
    """

    bucket: str
    prefix: str = ""
    max_bytes: int = DEFAULT_MAX_BYTES
    allowed_input_buckets: frozenset[str] = frozenset()
    endpoint_url: str | None = None
    region: str | None = None
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 60.0
    backoff: Backoff = field(default_factory=lambda: Backoff(base_s=0.2, cap_s=2.0, max_attempts=4))

    def __post_init__(self) -> None:
        problem = _bucket_problem(self.bucket)
        if problem is not None:
            raise ConfigurationError(f"S3 offload: {problem}")
        prefix = self.prefix.strip("/")
        if prefix and (len(prefix) > _MAX_PREFIX_CHARS or _key_problem(prefix) is not None):
            raise ConfigurationError(
                f"S3 offload: invalid prefix {self.prefix!r} (printable ASCII without spaces "
                f"or empty segments, at most {_MAX_PREFIX_CHARS} characters)"
            )
        object.__setattr__(self, "prefix", prefix)
        if (
            isinstance(self.max_bytes, bool)
            or not isinstance(self.max_bytes, int)
            or (self.max_bytes <= 0)
        ):
            raise ConfigurationError(
                f"S3 offload: max_bytes must be a positive integer, got {self.max_bytes!r}"
            )
        allowed = frozenset(self.allowed_input_buckets)
        for bucket in allowed:
            problem = _bucket_problem(bucket)
            if problem is not None:
                raise ConfigurationError(f"S3 offload: allowed input buckets: {problem}")
        object.__setattr__(self, "allowed_input_buckets", allowed)
        if self.connect_timeout_s <= 0 or self.read_timeout_s <= 0:
            raise ConfigurationError("S3 offload: timeouts must be positive")

    def key_for(self, data: bytes) -> str:
        """The content-addressed key of ``data``."""
        digest = hashlib.sha256(data).hexdigest()
        return f"{self.prefix}/{digest}" if self.prefix else digest

    def readable_buckets(self) -> frozenset[str]:
        """Buckets input references may point to."""
        return self.allowed_input_buckets | {self.bucket}


class Placement(enum.Enum):
    """Where a value goes: its SWF field, S3, or nowhere (the task fails)."""

    INLINE = "inline"
    OFFLOAD = "offload"
    TOO_LARGE = "too_large"  # over SWF's limit and offload is off
    OVER_CAP = "over_cap"  # over the offload cap


def placement(text: str, *, swf_limit: int, config: OffloadConfig | None) -> Placement:
    """Decide where ``text`` goes. SWF counts characters; the cap counts UTF-8 bytes."""
    if len(text) <= swf_limit:
        return Placement.INLINE
    if config is None:
        return Placement.TOO_LARGE
    # Characters ≤ bytes ≤ 4 × characters: only encode when it can matter.
    if len(text) > config.max_bytes or (
        4 * len(text) > config.max_bytes and len(text.encode()) > config.max_bytes
    ):
        return Placement.OVER_CAP
    return Placement.OFFLOAD


def too_large_message(what: str, size_chars: int, swf_limit: int) -> str:
    """Reason text for a value over SWF's limit with offload off."""
    return (
        f"{what} too large: {size_chars} characters, SWF's limit is {swf_limit}; "
        f"to send it through S3 instead, {ENABLE_HINT}"
    )


def over_cap_message(what: str, size_bytes: int, max_bytes: int) -> str:
    """Reason text for a value over the offload cap."""
    return (
        f"{what} too large even for S3 offload: {size_bytes} bytes, the cap is "
        f"{max_bytes} bytes (SWFBRIDGE_S3_MAX_BYTES)"
    )


def payload_failure(exc: PayloadError, cause: BridgeCause) -> Failed:
    """The failure for a value that could not go through S3 (or SWF)."""
    if isinstance(exc, PayloadStoreUnavailable):
        return bridge_failure(BridgeCause.PAYLOAD_STORE_FAILED, str(exc), retryable=exc.retryable)
    if isinstance(exc, PayloadTooLarge):
        return bridge_failure(cause, str(exc), size=exc.size, limit=exc.limit)
    return bridge_failure(cause, str(exc))


def fit_to_swf(text: str, *, swf_limit: int, store: PayloadStore | None, what: str) -> str:
    """``text`` if it fits its SWF field, else a reference to it in S3 (when offload is on).

    Args:
        text: The field's value.
        swf_limit: SWF's limit for the field, in characters.
        store: The payload store; None when offload is off.
        what: What the value is ("result", "details"), for messages.

    Raises:
        PayloadTooLarge: Too large for SWF with offload off (the message says
            how to turn it on), or over the offload cap.
        PayloadStoreUnavailable: S3 failed after bounded retries.
    """
    if store is not None:
        return store.fit(text, swf_limit=swf_limit, what=what)
    if len(text) <= swf_limit:
        return text
    raise PayloadTooLarge(
        too_large_message(what, len(text), swf_limit), size=len(text), limit=swf_limit
    )


# --- the store --------------------------------------------------------------------


class PayloadStore:
    """Offloads values to S3 and resolves references, for one process.

    The boto3 client is created on first use in the process that uses it (so
    a store built before a fork gives each child its own client). Thread-safe:
    the activity thread and its heartbeat thread share it.

    Args:
        config: Bucket, prefix, cap and connection settings.
        client: An existing boto3 S3 client (tests); built from ``config`` if None.
    """

    def __init__(self, config: OffloadConfig, *, client: Any = None) -> None:
        self.config = config
        self._lock = threading.Lock()
        # The client and the keys it uploaded, per process.
        self._process = PerProcess(
            lambda: _S3Process(client if client is not None else _make_s3_client(config))
        )

    @property
    def boto(self) -> Any:
        """This process's boto3 S3 client."""
        return self._process.get().client

    def fit(self, text: str, *, swf_limit: int, what: str) -> str:
        """``text`` if it fits ``swf_limit`` characters, else a reference to it in S3.

        Args:
            text: The field's value.
            swf_limit: SWF's limit for the field, in characters.
            what: What the value is ("result", "details"), for messages.

        Returns:
            ``text`` or the reference that replaces it.

        Raises:
            PayloadTooLarge: It exceeds the offload cap.
            PayloadStoreUnavailable: S3 failed after bounded retries.
        """
        decision = placement(text, swf_limit=swf_limit, config=self.config)
        if decision is Placement.INLINE:
            return text
        data = text.encode()
        if decision is Placement.OVER_CAP:
            raise PayloadTooLarge(
                over_cap_message(what, len(data), self.config.max_bytes),
                size=len(data),
                limit=self.config.max_bytes,
            )
        return str(self.put(data, what=what))

    def fit_or_truncate(self, text: str, *, swf_limit: int, what: str) -> str:
        """Like :meth:`fit`, but never raises: when offload fails, ``text`` truncated.

        For values whose loss of detail is better than a failed task (failure
        and heartbeat details).
        """
        try:
            return self.fit(text, swf_limit=swf_limit, what=what)
        except PayloadError as exc:
            log.warning("%s kept in SWF, truncated: %s", what, exc)
            return truncate(text, swf_limit)

    def put(self, data: bytes, *, what: str = "value") -> S3Reference:
        """Store ``data`` under its content-addressed key; returns the reference.

        Raises:
            PayloadStoreUnavailable: S3 failed after bounded retries.
        """
        key = self.config.key_for(data)
        reference = S3Reference(self.config.bucket, key, len(data))
        uploaded = self._process.get().uploaded
        with self._lock:
            known = key in uploaded
        if known:  # same bytes, same key: already there
            return reference
        started = time.monotonic()
        self._call(
            "PutObject",
            f"storing the {what} in S3 bucket {reference.bucket!r}",
            Bucket=reference.bucket,
            Key=key,
            Body=data,
            ContentType="text/plain; charset=utf-8",
        )
        log.info(
            "stored %s in S3: %s/%s (%d bytes, %.2fs)",
            what,
            reference.bucket,
            key,
            len(data),
            time.monotonic() - started,
        )
        with self._lock:
            uploaded[key] = None
            while len(uploaded) > _UPLOADED_MEMORY:
                uploaded.popitem(last=False)
        return reference

    def resolve(self, text: str, *, what: str = "input") -> str:
        """The value a reference points to (``text`` itself if it is not a reference).

        The reference is parsed strictly, its bucket must be the configured
        bucket or an allowed input bucket, and neither its declared nor its
        actual size may exceed the cap. The object must be UTF-8 text.

        Raises:
            InvalidReference: Malformed, refused bucket, too large, not UTF-8.
            PayloadStoreUnavailable: S3 failed (missing object, access denied,
                unreachable after bounded retries).
        """
        if not is_reference(text):
            return text
        reference = S3Reference.parse(text)
        readable = self.config.readable_buckets()
        if reference.bucket not in readable:
            raise InvalidReference(
                f"{what} refers to bucket {reference.bucket!r}, which this worker does not "
                f"read (allowed: {', '.join(sorted(readable))})"
            )
        cap = self.config.max_bytes
        if reference.size_bytes > cap:
            raise InvalidReference(
                f"{what} reference declares {reference.size_bytes} bytes, over the cap of {cap}"
            )
        location = f"{reference.bucket}/{reference.key}"
        response = self._call(
            "GetObject",
            f"fetching the {what} from S3 ({location})",
            Bucket=reference.bucket,
            Key=reference.key,
        )
        body = response["Body"]
        try:
            if int(response.get("ContentLength") or 0) > cap:
                raise InvalidReference(
                    f"{what} object {location} has {response['ContentLength']} bytes, over "
                    f"the cap of {cap}"
                )
            data = self._read(body, cap + 1, location)
        finally:
            body.close()
        if len(data) > cap:
            raise InvalidReference(f"{what} object {location} is over the cap of {cap} bytes")
        try:
            return str(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise InvalidReference(f"{what} object {location} is not UTF-8 text: {exc}") from exc

    @staticmethod
    def _read(body: Any, limit: int, location: str) -> bytes:
        try:
            return bytes(body.read(limit))
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            raise PayloadStoreUnavailable(
                f"reading {location} from S3 failed: {type(exc).__name__}: {exc}",
                retryable=True,
            ) from exc

    def _call(self, operation: str, doing: str, **params: Any) -> dict[str, Any]:
        """One S3 call, retried with backoff while the error is transient."""
        method = "put_object" if operation == "PutObject" else "get_object"

        def once() -> dict[str, Any]:
            result: dict[str, Any] = getattr(self.boto, method)(**params)
            return result

        def classify(exc: Exception, attempt: int) -> Failure[PayloadStoreUnavailable]:
            code, retryable = _classify(exc)  # translated here, the S3 boundary
            tries = f" after {attempt} tries" if attempt > 1 else ""
            error = PayloadStoreUnavailable(
                f"{doing} failed{tries}: {_describe(code, exc)}", retryable=retryable
            )
            return Failure(error, retryable, code)

        return call_with_retries(
            once, backoff=self.config.backoff, classify=classify, label=f"S3 {operation}"
        )


def _classify(exc: Exception) -> tuple[str, bool]:
    """The error code of an S3 failure and whether trying again makes sense."""
    answer = aws_answer(exc)
    if answer is not None:
        return answer.code, answer.code in _RETRYABLE_CODES or answer.status >= 500
    if isinstance(exc, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
        return type(exc).__name__, True
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return "NoCredentials", False
    if isinstance(exc, botocore.exceptions.NoRegionError):
        return "NoRegion", False
    return type(exc).__name__, False


def _describe(code: str, exc: Exception) -> str:
    answer = aws_answer(exc)
    text = (answer.message if answer is not None else "") or str(exc)
    text = text if len(text) <= 200 else text[:200] + "…"
    return f"{code}: {text}"


class _S3Process:
    """One process's S3 client and the keys it has stored (not stored again)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.uploaded: OrderedDict[str, None] = OrderedDict()


def _make_s3_client(config: OffloadConfig) -> Any:
    try:
        _session, client = make_boto_session(
            "s3",
            region=config.region,
            endpoint_url=config.endpoint_url,
            connect_timeout_s=config.connect_timeout_s,
            read_timeout_s=config.read_timeout_s,
        )
        return client
    except botocore.exceptions.BotoCoreError as exc:
        raise PayloadStoreUnavailable(
            f"cannot create an S3 client: {exc}", retryable=False
        ) from exc
