"""The direct path for SWF's per-task calls (:mod:`swfbridge.aws.direct`): its
signature is botocore's, its answers read as boto3's, a stale kept-alive
connection is replaced, and set-ups it does not reproduce go through boto3."""

from __future__ import annotations

import datetime
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import botocore.exceptions
import pytest

from swfbridge.aws.direct import DirectCalls, Signer, direct_calls_for
from swfbridge.aws.swf import (
    ServiceUnavailable,
    SwfClient,
    SwfClientConfig,
    Throttled,
    UnknownResource,
    translate,
)

MOMENT = datetime.datetime(2026, 12, 3, 18, 30, 5)
BODY = b'{"domain":"d","taskList":{"name":"tl"},"identity":"me"}'
TARGET = "SimpleWorkflowService.PollForActivityTask"


def _botocore_authorization(
    monkeypatch: pytest.MonkeyPatch, host: str, credentials: botocore.credentials.Credentials
) -> str:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: MOMENT)
    request = botocore.awsrequest.AWSRequest(
        "POST",
        f"https://{host}/",
        data=BODY,
        headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.0"},
    )
    botocore.auth.SigV4Auth(credentials, "swf", "eu-west-1").add_auth(request)
    return str(request.headers["Authorization"])


@pytest.mark.parametrize("token", [None, "session-token/with+odd=chars"])
@pytest.mark.parametrize("host", ["swf.eu-west-1.amazonaws.com", "127.0.0.1:8123"])
def test_the_signature_is_botocores(
    monkeypatch: pytest.MonkeyPatch, token: str | None, host: str
) -> None:
    credentials = botocore.credentials.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", token)
    expected = _botocore_authorization(monkeypatch, host, credentials)
    headers = Signer(region="eu-west-1").headers(
        host=host,
        target=TARGET,
        body=BODY,
        access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG",
        token=token,
        now=MOMENT.timetuple(),
    )
    assert headers["Authorization"] == expected
    assert headers.get("X-Amz-Security-Token") == token


class _Server:
    """A loopback HTTP/1.1 server answering each request with the next canned
    answer; ``close_after`` closes a connection, silently, after that many answers."""

    def __init__(self, answers: list[tuple[int, dict[str, str], bytes]], close_after: int = 0):
        self.answers = answers
        self.close_after = close_after
        self.connections = 0
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        served = 0
        reader = connection.makefile("rb")
        with connection:
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                self.requests.append(head + reader.read(length))
                status, headers, body = self.answers.pop(0)
                lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}"]
                lines += [f"{name}: {value}" for name, value in headers.items()]
                connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
                served += 1
                if self.close_after and served >= self.close_after:
                    time.sleep(0.05)  # the client has its answer: now close, silently
                    return

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def credentials() -> botocore.credentials.Credentials:
    return botocore.credentials.Credentials("AKID", "SECRET")


def _direct(url: str, credentials: Any) -> DirectCalls:
    return DirectCalls(
        endpoint_url=url,
        signer=Signer(region="us-east-1"),
        credentials=credentials,
        connect_timeout_s=2,
        read_timeout_s=2,
    )


def _ok(answer: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return 200, {"x-amzn-RequestId": "req-1"}, json.dumps(answer).encode()


def test_an_answer_reads_as_boto3s(credentials: Any) -> None:
    server = _Server([_ok({"taskToken": "tok", "startedEventId": 7})])
    try:
        answer = _direct(server.url, credentials).call(
            "poll_for_activity_task", {"domain": "d", "taskList": {"name": "tl"}}
        )
    finally:
        server.close()
    assert answer["taskToken"] == "tok" and answer["startedEventId"] == 7
    assert answer["ResponseMetadata"] == {"RequestId": "req-1", "HTTPStatusCode": 200}
    head = server.requests[0].decode()
    assert "X-Amz-Target: SimpleWorkflowService.PollForActivityTask" in head
    assert head.endswith('{"domain":"d","taskList":{"name":"tl"}}')


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected", "code"),
    [
        (
            400,
            {},
            b'{"__type":"com.amazonaws.swf.base.model#UnknownResourceFault","message":"gone"}',
            UnknownResource,
            "UnknownResourceFault",
        ),
        (
            400,
            {},
            b'{"__type":"ThrottlingException","message":"slow"}',
            Throttled,
            "ThrottlingException",
        ),
        (
            400,
            {"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/"},
            b"",
            Throttled,
            "ThrottlingException",
        ),
        (503, {}, b"<html>Service Unavailable</html>", ServiceUnavailable, "503"),
        (200, {}, b"<html>a captive portal</html>", ServiceUnavailable, "InvalidResponse"),
    ],
)
def test_an_error_answer_translates_as_boto3s(
    credentials: Any,
    status: int,
    headers: dict[str, str],
    body: bytes,
    expected: type[Exception],
    code: str,
) -> None:
    server = _Server([(status, headers, body)])
    try:
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            _direct(server.url, credentials).call("respond_activity_task_completed", {})
    finally:
        server.close()
    error = translate("RespondActivityTaskCompleted", raised.value)
    assert type(error) is expected
    assert error.code == code


def test_a_kept_alive_connection_closed_while_idle_is_replaced(credentials: Any) -> None:
    server = _Server([_ok({"n": 1}), _ok({"n": 2})], close_after=1)
    direct = _direct(server.url, credentials)
    try:
        assert direct.call("record_activity_task_heartbeat", {"taskToken": "t"})["n"] == 1
        time.sleep(0.2)  # the server has closed the idle connection by now
        assert direct.call("record_activity_task_heartbeat", {"taskToken": "t"})["n"] == 2
    finally:
        server.close()
    assert server.connections == 2


def test_a_connection_is_reused(credentials: Any) -> None:
    server = _Server([_ok({}), _ok({}), _ok({})])
    direct = _direct(server.url, credentials)
    try:
        for _ in range(3):
            direct.call("respond_activity_task_completed", {"taskToken": "t"})
    finally:
        server.close()
    assert server.connections == 1


def test_an_unreachable_endpoint_is_a_retryable_service_error(credentials: Any) -> None:
    unused = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{unused.getsockname()[1]}"
    unused.close()
    with pytest.raises(botocore.exceptions.BotoCoreError) as raised:
        _direct(url, credentials).call("poll_for_activity_task", {})
    error = translate("PollForActivityTask", raised.value)
    assert isinstance(error, ServiceUnavailable) and error.retryable


def _boto(**config: Any) -> Any:
    return boto3.session.Session().client(
        "swf",
        region_name="us-east-1",
        endpoint_url=config.pop("endpoint_url", "https://swf.us-east-1.amazonaws.com"),
        aws_access_key_id="AKID",
        aws_secret_access_key="SECRET",
        config=botocore.config.Config(**config),
    )


def _direct_for(client: Any, credentials: Any = "unset") -> DirectCalls | None:
    if credentials == "unset":
        credentials = botocore.credentials.Credentials("AKID", "SECRET")
    return direct_calls_for(client, credentials=credentials, connect_timeout_s=1, read_timeout_s=1)


def test_a_plain_set_up_is_sent_directly() -> None:
    direct = _direct_for(_boto())
    assert direct is not None
    assert direct.endpoint_url == "https://swf.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    "config",
    [
        {"proxies": {"https": "http://proxy.internal:3128"}},
        {"client_cert": "/etc/ssl/client.pem"},
        {"signature_version": "v2"},
    ],
)
def test_set_ups_it_does_not_reproduce_go_through_boto3(config: dict[str, Any]) -> None:
    assert _direct_for(_boto(**config)) is None


def test_no_credentials_go_through_boto3_for_its_own_error() -> None:
    assert _direct_for(_boto(), credentials=None) is None


@pytest.fixture
def env_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKID")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "SECRET")
    yield


@pytest.mark.usefixtures("env_credentials")
def test_the_client_sends_directly_unless_told_not_to() -> None:
    server = _Server([_ok({"cancelRequested": True})])
    try:
        config = SwfClientConfig(region="us-east-1", endpoint_url=server.url)
        direct = SwfClient(config=config)
        answer = direct.call("record_activity_task_heartbeat", taskToken="t")
    finally:
        server.close()
    assert direct.sends_directly and answer["cancelRequested"] is True
    assert b"User-Agent: swfbridge" in server.requests[0]
    plain = SwfClient(config=SwfClientConfig(region="us-east-1", direct_calls=False))
    assert not plain.sends_directly


@pytest.fixture
def tls_server(tmp_path: Any) -> Iterator[tuple[str, str]]:
    """An HTTPS endpoint on loopback with a self-signed certificate for 127.0.0.1;
    yields its URL and the certificate (a CA bundle that trusts it)."""
    import ipaddress
    import ssl
    from datetime import timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = tmp_path / "cert.pem"
    key_path = tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(raw, server_side=True) as tls:
                    request = b""
                    while b"\r\n\r\n" not in request:
                        request += tls.recv(65536)
                    head, _, body_read = request.partition(b"\r\n\r\n")
                    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    while len(body_read) < length:  # all of it: unread bytes make close a reset
                        body_read += tls.recv(65536)
                    body = b'{"cancelRequested":false}'
                    tls.sendall(
                        b"HTTP/1.1 200 OK\r\nConnection: close\r\n"
                        + f"Content-Length: {len(body)}\r\n\r\n".encode()
                        + body
                    )
            except (OSError, ssl.SSLError):
                continue  # a client that refused the certificate

    threading.Thread(target=serve, daemon=True).start()
    yield f"https://127.0.0.1:{port}", str(cert_path)
    listener.close()


def test_https_trusts_the_ca_bundle_boto3_was_given(tls_server: tuple[str, str]) -> None:
    url, ca_bundle = tls_server
    trusting = boto3.session.Session().client(
        "swf", region_name="us-east-1", endpoint_url=url, verify=ca_bundle
    )
    direct = _direct_for(trusting)
    assert direct is not None
    assert (
        direct.call("record_activity_task_heartbeat", {"taskToken": "t"})["cancelRequested"]
        is False
    )

    default_trust = _direct_for(_boto(endpoint_url=url))
    assert default_trust is not None
    with pytest.raises(botocore.exceptions.EndpointConnectionError) as refused:
        default_trust.call("record_activity_task_heartbeat", {"taskToken": "t"})
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value.__cause__)


@pytest.mark.usefixtures("env_credentials")
def test_a_set_up_the_direct_path_cannot_make_goes_through_boto3(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # A CA bundle that cannot be read: boto3 reports it itself, on its first call.
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    config = SwfClientConfig(region="us-east-1", endpoint_url="https://swf.example.test")

    assert not SwfClient(config=config).sends_directly
