"""Library mode for tests: boto3 Rekognition calls answered by an in-process manifestdb.

    from manifestdb.testing import mock_rekognition

    with mock_rekognition():
        client = boto3.client("rekognition", region_name="us-east-1")
        client.create_project(ProjectName="flowers")

`mock_rekognition` works as a context manager, as a decorator on a function (bare or called, a
coroutine function too) and on a class (each `test*` method). Each use starts a fresh server
with a throw-away database (in `/dev/shm` where it exists) and removes it at the end. Keyword
arguments are `manifestdb.config.Settings` fields (`job_delay=0.2`, `limits=...`, `account=...`).

How: importing this module adds a botocore `before-call` handler for the `rekognition` service
to every botocore session created afterwards (through `botocore.handlers.BUILTIN_HANDLERS`, as
moto adds its own), and to boto3's default session if it exists already. While a mock is active
the handler does what the client would do next: it signs the serialized request, hands it
(method, URL, headers, body) to manifestdb's own ASGI app, called in this process on an event
loop thread that the mock owns, and parses the answer with botocore's parser; botocore raises
the modeled exceptions from it as usual. The same validation, service, store and job runner as
`manifestdb serve`; no socket, no subprocess. Outside a mock the handler does nothing.

Because the answer comes before the client's send stage, moto's hook never sees Rekognition
requests: `mock_rekognition` combines with moto's `mock_aws` (S3 for the manifests that
CreateDataset reads, say), in either order.

Limits: a client must come from a botocore session created after this module was imported (or
from boto3's default session). Every Rekognition request of such a client is answered while a
mock is active, whatever its `endpoint_url`; other services are untouched. botocore's retries
and the client's `before-send`/`request-created` hooks other than signing do not run for
answered requests. Without credentials in the environment the mock sets placeholder
`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and `AWS_DEFAULT_REGION=us-east-1` when no
region is configured) for its duration, as moto does. Authentication is off: every caller is
account `123456789012` unless `account=` says otherwise.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast, overload
from urllib.parse import urlsplit

from botocore import handlers
from botocore.awsrequest import AWSPreparedRequest, AWSResponse, create_request_object
from botocore.compat import HTTPHeaders
from botocore.endpoint import convert_to_response_dict
from botocore.model import OperationModel
from botocore.parsers import create_parser

from manifestdb.config import Settings
from manifestdb.inprocess import AsgiHost, RawBody

__all__ = ["MockRekognition", "mock_rekognition"]

EVENT = "before-call.rekognition"
HANDLER_ID = "manifestdb.testing"
PLACEHOLDER_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
F = TypeVar("F", bound=Callable[..., Any])

_active: list[MockRekognition] = []
_active_lock = threading.Lock()


def _before_call(
    model: OperationModel, params: dict[str, Any], request_signer: Any, **_kwargs: Any
) -> tuple[AWSResponse, dict[str, Any]] | None:
    """botocore's before-call handler: answer from the innermost active mock, if any.

    It does what the client would do next (sign the serialized request, send it, parse the
    answer), except that the sending is a call into the mock's app. Returning the response here
    skips the client's send stage, so no network hook (moto's included) sees the request.
    """
    with _active_lock:
        mock = _active[-1] if _active else None
    if mock is None:
        return None
    request = create_request_object(params)
    request_signer.sign(model.name, request)
    http = mock.handle(request.prepare())
    response = convert_to_response_dict(http, model)
    parser = create_parser(model.service_model.resolved_protocol)
    parsed: dict[str, Any] = parser.parse(response, cast(Any, model.output_shape))
    code = parsed.get("Error", {}).get("Code") if http.status_code >= 300 else None
    error_shape = model.service_model.shape_for_error_code(code) if code else None
    if error_shape is not None:
        parsed.update(parser.parse(response, error_shape))
    return http, parsed


class MockRekognition:
    """An in-process manifestdb that answers boto3's Rekognition requests while active."""

    def __init__(self, **settings: Any) -> None:
        self.overrides = settings
        self.data_dir: Path | None = None
        self.settings: Settings | None = None
        self._host: AsgiHost | None = None
        self._saved_env: dict[str, str | None] = {}

    def start(self) -> MockRekognition:
        """Start a fresh server and route Rekognition requests to it."""
        from manifestdb.wire.app import create_app

        if self._host is not None:
            raise RuntimeError("this mock is already active")
        shm = Path("/dev/shm")
        self.data_dir = Path(
            tempfile.mkdtemp(prefix="manifestdb-mock-", dir=shm if shm.is_dir() else None)
        )
        try:
            # No engine helper process: a mock starts no subprocess (the jobs of a test's few
            # lines gain nothing from a second core).
            values: dict[str, Any] = {
                "log_level": "warning",
                "engine_helper": False,
                **self.overrides,
            }
            self.settings = Settings(data_dir=self.data_dir, in_memory=True, **values)
            host = AsgiHost(create_app(self.settings))
            host.start()
        except BaseException:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise
        self._host = host
        self._set_environment()
        with _active_lock:
            _active.append(self)
        return self

    def stop(self) -> None:
        """Stop routing, stop the server (its job runner too) and delete its database."""
        with _active_lock:
            if self in _active:
                _active.remove(self)
        host, self._host = self._host, None
        try:
            if host is not None:
                host.stop()
        finally:
            self._restore_environment()
            if self.data_dir is not None:
                shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> MockRekognition:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def __call__(self, target: F) -> F:
        """Decorate a function (each call gets a fresh mock) or a class's test methods."""
        overrides = self.overrides
        if inspect.isclass(target):
            for name, member in list(vars(target).items()):
                if name.startswith("test") and callable(member):
                    setattr(target, name, MockRekognition(**overrides)(member))
            return target
        if inspect.iscoroutinefunction(target):

            @functools.wraps(target)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with MockRekognition(**overrides):
                    return await target(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(target)
        def run(*args: Any, **kwargs: Any) -> Any:
            with MockRekognition(**overrides):
                return target(*args, **kwargs)

        return run  # type: ignore[return-value]

    def handle(self, request: AWSPreparedRequest) -> AWSResponse:
        """Answer one botocore request through the app (called on the client's thread)."""
        host = self._host
        if host is None:
            raise RuntimeError("manifestdb mock is not active")
        body = _body_bytes(request.body)
        headers = [
            (str(name).lower().encode("latin-1"), _header_bytes(value))
            for name, value in request.headers.items()
        ]
        names = {name for name, _ in headers}
        if b"host" not in names:
            headers.append((b"host", (urlsplit(request.url).netloc or "localhost").encode()))
        if b"content-length" not in names:
            headers.append((b"content-length", str(len(body)).encode()))
        status, raw_headers, content = host.call(
            host.request(request.method or "POST", request.url, headers, body)
        )
        response_headers = HTTPHeaders()
        for name, value in raw_headers:
            response_headers[name.decode("latin-1")] = value.decode("latin-1")
        return AWSResponse(request.url, status, response_headers, RawBody(content))

    def _set_environment(self) -> None:
        wanted: dict[str, str] = {}
        if "AWS_ACCESS_KEY_ID" not in os.environ:
            wanted.update(PLACEHOLDER_CREDENTIALS)
        if not _configured_region():
            wanted["AWS_DEFAULT_REGION"] = "us-east-1"
        self._saved_env = {name: os.environ.get(name) for name in wanted}
        os.environ.update(wanted)

    def _restore_environment(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}


@overload
def mock_rekognition(target: F, /) -> F: ...
@overload
def mock_rekognition(target: None = None, /, **settings: Any) -> MockRekognition: ...
def mock_rekognition(target: F | None = None, /, **settings: Any) -> F | MockRekognition:
    """A mock (context manager or decorator); `@mock_rekognition` bare decorates directly."""
    mock = MockRekognition(**settings)
    return mock if target is None else mock(target)


def _configured_region() -> str | None:
    if os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION"):
        return "set"
    import botocore.session

    region = botocore.session.Session().get_config_variable("region")
    return str(region) if region else None


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if hasattr(body, "read"):
        data = body.read()
        return data.encode() if isinstance(data, str) else bytes(data)
    return bytes(body)


def _header_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("latin-1")


def _stop_all() -> None:
    """At exit, stop the mocks that were started and never stopped (their files go too)."""
    with _active_lock:
        mocks = list(reversed(_active))
    for mock in mocks:
        mock.stop()


def _install() -> None:
    """Add the handler to every botocore session created from now on, and to boto3's default."""
    spec = (EVENT, _before_call, handlers.REGISTER_FIRST)
    if spec not in handlers.BUILTIN_HANDLERS:
        handlers.BUILTIN_HANDLERS.append(spec)
    import boto3

    default = boto3.DEFAULT_SESSION
    if default is not None:
        default.events.register_first(EVENT, cast(Any, _before_call), unique_id=HANDLER_ID)
    atexit.register(_stop_all)


_install()
