"""SWF's per-task calls as one signed HTTP request each, without botocore's per-call work.

Every task costs the bridge two SWF calls (the poll and the respond), and busy
heartbeating tasks a few more. Through boto3 each call costs 1.5-1.9 ms of CPU
on the benchmark machine, against 0.34-0.45 ms for the same request signed with
SigV4 here and sent on a kept-alive ``http.client`` connection
(``python -m benchmarks.swf_call``: a stub endpoint that answers at once). Most of
boto3's cost is per call and the same for every call: the event hooks, request
and response models, validation, and urllib3's and botocore's request objects.

So the calls every task makes (:data:`DIRECT_OPERATIONS`: the poll, heartbeats,
the responds, and the poller's history read of a task's timeouts) are sent
here, and everything else still goes through boto3. The request is what boto3
sends (the awsJson 1.0 protocol: a ``POST /`` with ``X-Amz-Target``, a JSON body
and a SigV4 signature), built from what boto3 itself resolved: the endpoint,
region, credentials (refreshed as boto3 refreshes them), CA bundle and socket
options. When boto3 was set up in a way this path does not reproduce (a proxy,
a client certificate, another signature version), :func:`direct_calls_for`
answers None and every call goes through boto3.

Failures are raised as the botocore exceptions boto3 would raise
(``ClientError`` with the same ``Error`` and ``ResponseMetadata`` fields, and
its connection errors), so :func:`swfbridge.aws.swf.translate` stays the one
place SWF errors are read.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
import json
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import botocore.exceptions
import botocore.httpsession

#: The boto3 method names sent directly, and their SWF operation names.
DIRECT_OPERATIONS: dict[str, str] = {
    "poll_for_activity_task": "PollForActivityTask",
    "record_activity_task_heartbeat": "RecordActivityTaskHeartbeat",
    "respond_activity_task_completed": "RespondActivityTaskCompleted",
    "respond_activity_task_failed": "RespondActivityTaskFailed",
    "respond_activity_task_canceled": "RespondActivityTaskCanceled",
    # The poller's read of a task's scheduled event (one per task when a decider
    # schedules one activity per decision).
    "get_workflow_execution_history": "GetWorkflowExecutionHistory",
}

# Answers whose events carry a timestamp: boto3 turns SWF's epoch seconds into
# datetimes, and so does this path (aware, in UTC: the same instants boto3
# gives in local time, and equal to them).
_EVENT_TIMESTAMPS = {"GetWorkflowExecutionHistory": ("events", "eventTimestamp")}

_UTC_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_CONTENT_TYPE = "application/x-amz-json-1.0"
_SIGNED_HEADERS = "content-type;host;x-amz-date;x-amz-target"
_SIGNED_HEADERS_WITH_TOKEN = "content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
_USER_AGENT = f"swfbridge Python/{sys.version_info[0]}.{sys.version_info[1]}"

# Errors that mean a kept-alive connection was closed by the other side while
# it lay idle: the request never reached SWF, so it is sent again at once on a
# new connection (once), as HTTP clients do for a stale pooled connection.
_STALE_CONNECTION = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
    ConnectionAbortedError,
)


@dataclass(frozen=True)
class Signer:
    """AWS Signature Version 4 for SWF's JSON requests: the headers boto3 signs
    (content type, host, date, target, and the session token when there is one)."""

    region: str
    service: str = "swf"

    def headers(
        self,
        *,
        host: str,
        target: str,
        body: bytes,
        access_key: str,
        secret_key: str,
        token: str | None,
        now: time.struct_time,
    ) -> dict[str, str]:
        """The request's headers, ``Authorization`` included, signed at ``now`` (UTC)."""
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", now)
        day = amz_date[:8]
        canonical_headers = f"content-type:{_CONTENT_TYPE}\nhost:{host}\nx-amz-date:{amz_date}\n"
        if token:
            canonical_headers += f"x-amz-security-token:{token}\n"
        canonical_headers += f"x-amz-target:{target}\n"
        signed = _SIGNED_HEADERS_WITH_TOKEN if token else _SIGNED_HEADERS
        canonical_request = (
            f"POST\n/\n\n{canonical_headers}\n{signed}\n{hashlib.sha256(body).hexdigest()}"
        )
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        to_sign = (
            f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n"
            f"{hashlib.sha256(canonical_request.encode()).hexdigest()}"
        )
        key = _signing_key(secret_key, day, self.region, self.service)
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers = {
            "Host": host,
            "Content-Type": _CONTENT_TYPE,
            "X-Amz-Date": amz_date,
            "X-Amz-Target": target,
            "User-Agent": _USER_AGENT,
            "Authorization": (
                f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                f"SignedHeaders={signed}, Signature={signature}"
            ),
        }
        if token:
            headers["X-Amz-Security-Token"] = token
        return headers


def _signing_key(secret_key: str, day: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret_key}".encode(), day.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


class DirectCalls:
    """Sends :data:`DIRECT_OPERATIONS` as signed HTTP requests; thread-safe.

    Build it with :func:`direct_calls_for`. Connections are kept alive and
    reused, one per concurrent call; like the boto3 client it stands beside,
    an instance belongs to the process that made it.

    Args:
        endpoint_url: SWF's endpoint, ``http://`` or ``https://``, no path.
        signer: Signs for the client's region.
        credentials: botocore credentials (``get_frozen_credentials()`` is
            read per call, so refreshed credentials are picked up).
        connect_timeout_s: Time allowed to open a connection.
        read_timeout_s: Time allowed for the answer (a poll is held up to 60 s).
        ssl_context: For ``https://`` endpoints.
        socket_options: ``setsockopt`` triples applied to every new socket.
        target_prefix: The JSON protocol's target prefix (``SimpleWorkflowService``).
    """

    def __init__(
        self,
        *,
        endpoint_url: str,
        signer: Signer,
        credentials: Any,
        connect_timeout_s: float,
        read_timeout_s: float,
        ssl_context: ssl.SSLContext | None = None,
        socket_options: list[tuple[int, int, int]] | None = None,
        target_prefix: str = "SimpleWorkflowService",
    ) -> None:
        parts = urlsplit(endpoint_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) endpoint: {endpoint_url!r}")
        self.endpoint_url = endpoint_url
        self._https = parts.scheme == "https"
        self._hostname = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._host_header = parts.netloc.rsplit("@", 1)[-1]
        default_port = 443 if self._https else 80
        if parts.port == default_port:  # signed as boto3 signs it: without the default port
            self._host_header = self._hostname
        self._signer = signer
        self._credentials = credentials
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._ssl_context = ssl_context
        self._socket_options = list(socket_options or [])
        self._target_prefix = target_prefix
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send ``operation`` (a boto3 method name in :data:`DIRECT_OPERATIONS`).

        Returns:
            The answer as boto3 returns it (with a short ``ResponseMetadata``).

        Raises:
            botocore.exceptions.ClientError: SWF answered with an error.
            botocore.exceptions.BotoCoreError: SWF could not be reached, or did
                not answer in time (the connection errors boto3 raises).
        """
        name = DIRECT_OPERATIONS[operation]
        body = json.dumps(params, separators=(",", ":")).encode()
        frozen = self._credentials.get_frozen_credentials()
        headers = self._signer.headers(
            host=self._host_header,
            target=f"{self._target_prefix}.{name}",
            body=body,
            access_key=frozen.access_key,
            secret_key=frozen.secret_key,
            token=frozen.token,
            now=time.gmtime(),
        )
        status, reply_headers, data = self._exchange(body, headers)
        answer = _answer(name, status, reply_headers, data)
        timestamps = _EVENT_TIMESTAMPS.get(name)
        if timestamps is not None:
            listed, field = timestamps
            for event in answer.get(listed) or ():
                if isinstance(event, dict) and isinstance(event.get(field), (int, float)):
                    event[field] = _UTC_EPOCH + datetime.timedelta(seconds=event[field])
        return answer

    def close(self) -> None:
        """Close the idle connections (calls in flight close theirs when done)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _exchange(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any, bytes]:
        connection, reused = self._take()
        try:
            try:
                result = self._send(connection, body, headers)
            except _STALE_CONNECTION:
                connection.close()
                if not reused:
                    raise
                connection = self._open()  # a stale kept-alive connection: once more
                result = self._send(connection, body, headers)
        except TimeoutError as exc:
            connection.close()
            raise botocore.exceptions.ReadTimeoutError(endpoint_url=self.endpoint_url) from exc
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise botocore.exceptions.EndpointConnectionError(
                endpoint_url=self.endpoint_url, error=exc
            ) from exc
        except BaseException:
            connection.close()
            raise
        status, reply_headers, data, keep = result
        if keep:
            with self._lock:
                self._idle.append(connection)
        else:
            connection.close()
        return status, reply_headers, data

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self._open(), False

    def _open(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection
        if self._https:
            connection = http.client.HTTPSConnection(
                self._hostname,
                self._port,
                timeout=self._connect_timeout_s,
                context=self._ssl_context,
            )
        else:
            connection = http.client.HTTPConnection(
                self._hostname, self._port, timeout=self._connect_timeout_s
            )
        return connection

    def _send(
        self, connection: http.client.HTTPConnection, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any, bytes, bool]:
        if connection.sock is None:
            try:
                connection.connect()
            except TimeoutError as exc:
                raise botocore.exceptions.ConnectTimeoutError(
                    endpoint_url=self.endpoint_url
                ) from exc
            except OSError as exc:
                raise botocore.exceptions.EndpointConnectionError(
                    endpoint_url=self.endpoint_url, error=exc
                ) from exc
            assert connection.sock is not None
            for level, option, value in self._socket_options:
                connection.sock.setsockopt(level, option, value)
            connection.sock.settimeout(self._read_timeout_s)
        connection.request("POST", "/", body, headers)
        response = connection.getresponse()
        data = response.read()
        return response.status, response.headers, data, not response.will_close


def _answer(operation: str, status: int, headers: Any, data: bytes) -> dict[str, Any]:
    metadata = {
        "RequestId": headers.get("x-amzn-RequestId", ""),
        "HTTPStatusCode": status,
    }
    parsed: Any = None
    if data:
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
    if status == 200 and (isinstance(parsed, dict) or not data):
        answer: dict[str, Any] = dict(parsed or {})
        answer["ResponseMetadata"] = metadata
        return answer
    # An error answer, read as botocore reads the JSON protocol's: the code from
    # "__type" (or the x-amzn-ErrorType header), the message from "message".
    fields = parsed if isinstance(parsed, dict) else {}
    code = str(fields.get("__type") or headers.get("x-amzn-ErrorType") or "")
    code = code.split(":", 1)[0].rsplit("#", 1)[-1] or str(status)
    message = str(fields.get("message") or fields.get("Message") or "")
    if status == 200:  # a 200 whose body is not a JSON object: SWF broken or not SWF
        code, message = "InvalidResponse", f"the answer is not a JSON object ({len(data)} bytes)"
        metadata["HTTPStatusCode"] = 502
    error_response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": metadata,
    }
    raise botocore.exceptions.ClientError(error_response, operation)


def direct_calls_for(
    boto_client: Any, *, credentials: Any, connect_timeout_s: float, read_timeout_s: float
) -> DirectCalls | None:
    """The direct path for ``boto_client``'s set-up, or None when it cannot be
    reproduced faithfully (then every call goes through boto3).

    None when: no credentials (boto3 then raises its own clear error), a proxy
    for the endpoint, a client certificate, a signature version other than
    SigV4, or a botocore whose HTTP session does not say what it resolved.
    """
    if credentials is None:
        return None
    meta = boto_client.meta
    endpoint_url: str = meta.endpoint_url
    region: str | None = meta.region_name
    if not region or meta.config.signature_version not in (None, "v4"):
        return None
    parts = urlsplit(endpoint_url)
    if parts.scheme not in ("http", "https") or parts.path not in ("", "/") or parts.query:
        return None
    try:
        session = boto_client._endpoint.http_session
        verify = session._verify
        proxy = session._proxy_config.proxy_url_for(endpoint_url)
        client_cert = session._cert_file
        socket_options = list(session._socket_options)
    except AttributeError:  # another botocore: do not guess what it resolved
        return None
    if not isinstance(session, botocore.httpsession.URLLib3Session) or proxy or client_cert:
        return None
    context: ssl.SSLContext | None = None
    if parts.scheme == "https":
        if verify is False:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            context = ssl.create_default_context(cafile=botocore.httpsession.get_cert_path(verify))
    service_model = meta.service_model
    return DirectCalls(
        endpoint_url=endpoint_url,
        signer=Signer(region=region, service=service_model.signing_name or "swf"),
        credentials=credentials,
        connect_timeout_s=connect_timeout_s,
        read_timeout_s=read_timeout_s,
        ssl_context=context,
        socket_options=socket_options,
        target_prefix=service_model.metadata.get("targetPrefix", "SimpleWorkflowService"),
    )
