"""The one place swfbridge calls SWF: client set-up, error translation, retries.

Every boto3 SWF call goes through :class:`SwfClient`, which turns botocore's
errors into the :class:`SwfError` hierarchy below. Whether an error is worth
retrying is data on the error (``retryable``), not scattered ``except`` blocks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.config
import botocore.exceptions

from swfbridge.aws.clients import make_boto_session
from swfbridge.aws.direct import DIRECT_OPERATIONS, DirectCalls, direct_calls_for
from swfbridge.aws.errors import aws_answer
from swfbridge.aws.retry import Backoff, Failure, call_with_retries
from swfbridge.errors import SwfBridgeError
from swfbridge.per_process import PerProcess

log = logging.getLogger(__name__)

# SWF holds a long poll for up to 60 s; the read timeout must outlast it or a
# poll that is being answered gets abandoned and its task is lost on the wire.
POLL_READ_TIMEOUT_S = 70.0


class SwfError(SwfBridgeError):
    """An SWF call failed. ``retryable`` says whether trying again makes sense."""

    retryable = False

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"{operation}: {code}: {message}")
        self.operation = operation
        self.code = code
        self.message = message


class UnknownResource(SwfError):
    """The task (or domain, type, execution) is unknown or already closed."""


class Throttled(SwfError):
    """SWF throttled the call."""

    retryable = True


class LimitExceeded(SwfError):
    """An SWF limit (e.g. pollers per task list) was hit; it may clear."""

    retryable = True


class ServiceUnavailable(SwfError):
    """SWF answered 5xx, or could not be reached at all."""

    retryable = True


class TypeAlreadyExists(SwfError):
    """The activity type (name, version) is already registered."""


class DomainAlreadyExists(SwfError):
    """The domain is already registered."""


class InvalidRequest(SwfError):
    """SWF rejected the request as invalid (ValidationException and the like)."""


class NotPermitted(SwfError):
    """Access denied, or the operation is not permitted on this resource."""


class Misconfigured(SwfError):
    """No region, no credentials, or credentials SWF does not accept: fix the
    configuration, retrying cannot help."""


_SIGNING_CODES = (
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "InvalidClientTokenId",
    "MissingAuthenticationTokenException",
    "MissingAuthenticationToken",
    "IncompleteSignature",
    "IncompleteSignatureException",
    "ExpiredTokenException",
    "ExpiredToken",
)


_BY_CODE: dict[str, type[SwfError]] = {
    "UnknownResourceFault": UnknownResource,
    "ThrottlingException": Throttled,
    "ThrottledException": Throttled,
    "Throttling": Throttled,
    "RequestLimitExceeded": Throttled,
    "TooManyRequestsException": Throttled,
    "LimitExceededFault": LimitExceeded,
    "TypeAlreadyExistsFault": TypeAlreadyExists,
    "DomainAlreadyExistsFault": DomainAlreadyExists,
    "ValidationException": InvalidRequest,
    "SerializationException": InvalidRequest,
    "TypeDeprecatedFault": NotPermitted,
    "DomainDeprecatedFault": NotPermitted,
    "OperationNotPermittedFault": NotPermitted,
    "AccessDeniedException": NotPermitted,
    **{code: Misconfigured for code in _SIGNING_CODES},
    "InternalFailure": ServiceUnavailable,
    "ServiceUnavailable": ServiceUnavailable,
}


def translate(operation: str, exc: Exception) -> SwfError:
    """Map a botocore exception to the :class:`SwfError` it means."""
    if isinstance(exc, SwfError):  # already translated (e.g. creating the client)
        return exc
    answer = aws_answer(exc)
    if answer is not None:
        cls = _BY_CODE.get(answer.code.split("#")[-1])
        if cls is None:
            cls = ServiceUnavailable if answer.status >= 500 else SwfError
        return cls(operation, answer.code, answer.message)
    if isinstance(
        exc,
        (
            botocore.exceptions.EndpointConnectionError,
            botocore.exceptions.ConnectionError,
            botocore.exceptions.ReadTimeoutError,
            botocore.exceptions.ConnectTimeoutError,
        ),
    ):
        return ServiceUnavailable(operation, type(exc).__name__, str(exc))
    if isinstance(exc, botocore.exceptions.NoRegionError):
        return Misconfigured(
            operation,
            "NoRegion",
            "no AWS region configured (set AWS_DEFAULT_REGION, or --region of swfbridge commands)",
        )
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return Misconfigured(
            operation,
            "NoCredentials",
            "no AWS credentials found (set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)",
        )
    if isinstance(exc, botocore.exceptions.ParamValidationError):
        return InvalidRequest(operation, "ParamValidation", str(exc))
    return SwfError(operation, type(exc).__name__, str(exc))


def check_can_sign(swf: SwfClient) -> None:
    """Fail fast unless SWF accepts this client's region and credentials.

    Sends one cheap request (``ListDomains``, one page of one). Access denied
    still proves the credentials sign; a network or 5xx failure is not
    conclusive and is left to the caller's own retries.

    Raises:
        Misconfigured: No region, no credentials, or credentials SWF refuses.
    """
    _require_region(swf, "ListDomains")
    try:
        swf.call("list_domains", retry=False, registrationStatus="REGISTERED", maximumPageSize=1)
    except NotPermitted:
        return  # signed and recognised; only this permission is missing
    except Misconfigured:
        raise
    except SwfError:
        return  # not conclusive (network, 5xx): the caller's retries will tell


def check_domain(swf: SwfClient, domain: str) -> None:
    """Fail fast unless SWF accepts the credentials and ``domain`` exists.

    Raises:
        Misconfigured: No region, no credentials, or credentials SWF refuses.
        UnknownResource: The domain does not exist (message names the fix).
    """
    _require_region(swf, "DescribeDomain")
    try:
        swf.call("describe_domain", name=domain)
    except UnknownResource as exc:
        raise UnknownResource(
            exc.operation,
            exc.code,
            f"SWF domain {domain!r} does not exist: create it with "
            f"'swfbridge register --domain {domain} --create-domain'",
        ) from exc


def _require_region(swf: SwfClient, operation: str) -> None:
    # With a custom endpoint boto3 signs for region "" and the calls fail later.
    try:
        region = swf.boto.meta.region_name
    except Exception as exc:  # creating the client failed: say why
        raise translate(operation, exc) from exc
    if not region:
        raise translate(operation, botocore.exceptions.NoRegionError())


def is_misconfiguration(exc: SwfError) -> bool:
    """True for errors no retry can fix when polling: bad credentials, no region,
    or a domain (or task list's domain) that does not exist."""
    return isinstance(exc, (Misconfigured, UnknownResource))


@dataclass(frozen=True)
class SwfClientConfig:
    """How to reach SWF. ``None`` fields fall back to boto3's own settings
    (``AWS_ENDPOINT_URL_SWF``, ``AWS_DEFAULT_REGION``, credentials chain).

    ``direct_calls``: send the calls every task makes (poll, heartbeat,
    respond, the poller's history read) as signed HTTP requests built from
    boto3's own settings, at about a quarter of boto3's CPU per call
    (:mod:`swfbridge.aws.direct`); False sends every call through boto3.
    """

    region: str | None = None
    endpoint_url: str | None = None
    read_timeout_s: float = POLL_READ_TIMEOUT_S
    connect_timeout_s: float = 10.0
    max_pool_connections: int = 32
    backoff: Backoff = field(default_factory=Backoff)
    direct_calls: bool = True


SWF_CALLS_CHOICES = ("direct", "boto3")


def direct_calls_from(text: str) -> bool:
    """``SwfClientConfig.direct_calls`` from its command-line / environment form.

    Raises:
        ValueError: ``text`` is not one of :data:`SWF_CALLS_CHOICES` (the message names them).
    """
    value = text.strip().lower()
    if value not in SWF_CALLS_CHOICES:
        raise ValueError(f"SWF calls must be one of {', '.join(SWF_CALLS_CHOICES)}, got {text!r}")
    return value == "direct"


CallObserver = Callable[[str, float, "SwfError | None"], None]


class SwfClient:
    """A thin, thread-safe SWF client with one error vocabulary and bounded retries.

    Args:
        config: Connection settings.
        client: An existing boto3 SWF client (tests, fakes); built from
            ``config`` when None.
        observer: Called after every attempt with ``(operation, seconds, error)``;
            metrics hook in here.
    """

    def __init__(
        self,
        *,
        config: SwfClientConfig | None = None,
        client: Any = None,
        observer: CallObserver | None = None,
    ) -> None:
        self.config = config or SwfClientConfig()
        config_now = self.config
        self._clients = PerProcess(
            lambda: _Clients(client, None) if client is not None else _make_clients(config_now)
        )
        self._observer = observer

    @property
    def boto(self) -> Any:
        """The underlying boto3 client, created on first use in each process."""
        return self._clients.get().boto

    @property
    def sends_directly(self) -> bool:
        """True when the per-task calls skip boto3 (:attr:`SwfClientConfig.direct_calls`
        and a set-up :mod:`swfbridge.aws.direct` reproduces)."""
        return self._clients.get().direct is not None

    def call(
        self,
        operation: str,
        *,
        retry: bool = True,
        stop: threading.Event | None = None,
        backoff: Backoff | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Call ``operation`` (a boto3 method name), retrying retryable errors.

        ``backoff`` replaces the client's pacing for this call (e.g. more tries
        for a response that would otherwise be lost).

        Raises:
            SwfError: The call failed for good (or ``stop`` was set while waiting).
        """
        started = time.monotonic()

        def once() -> dict[str, Any]:
            nonlocal started
            clients = self._clients.get()
            started = time.monotonic()
            result: dict[str, Any]
            if clients.direct is not None and operation in DIRECT_OPERATIONS:
                result = clients.direct.call(operation, params)
            else:
                result = getattr(clients.boto, operation)(**params)
            self._observe(operation, started, None)
            return result

        def classify(exc: Exception, attempt: int) -> Failure[SwfError]:
            error = translate(operation, exc)  # translated at this one boundary
            self._observe(operation, started, error)
            return Failure(error, retry and error.retryable, error.code)

        return call_with_retries(
            once,
            backoff=backoff or self.config.backoff,
            classify=classify,
            label=operation,
            stop=stop,
        )

    def _observe(self, operation: str, started: float, error: SwfError | None) -> None:
        if self._observer is not None:
            try:
                self._observer(operation, time.monotonic() - started, error)
            except Exception:  # an observer must never break SWF calls
                log.exception("SWF call observer failed")


@dataclass(frozen=True)
class _Clients:
    """One process's way to SWF: the boto3 client, and the direct path beside it."""

    boto: Any
    direct: DirectCalls | None


def _make_clients(config: SwfClientConfig) -> _Clients:
    try:
        session, boto = make_boto_session(
            "swf",
            region=config.region,
            endpoint_url=config.endpoint_url,
            connect_timeout_s=config.connect_timeout_s,
            read_timeout_s=config.read_timeout_s,
            max_pool_connections=config.max_pool_connections,
        )
    except botocore.exceptions.NoRegionError as exc:
        raise translate("CreateClient", exc) from exc
    direct = None
    if config.direct_calls:
        try:
            direct = direct_calls_for(
                boto,
                credentials=session.get_credentials(),
                connect_timeout_s=config.connect_timeout_s,
                read_timeout_s=config.read_timeout_s,
            )
        except Exception as exc:  # e.g. a CA bundle that cannot be read: boto3 will say
            log.warning("SWF calls go through boto3: the direct path cannot be set up (%s)", exc)
    return _Clients(boto, direct)
