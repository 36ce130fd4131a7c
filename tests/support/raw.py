"""Raw AWS JSON 1.1 requests (urllib3, or a plain socket read by manifestdb.harness.rawhttp) and
checks of raw answers against botocore's model."""

from __future__ import annotations

import base64
import re
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
import orjson
import urllib3
from botocore.model import OperationModel, ServiceModel, Shape

from manifestdb.harness import ConnectionClosed, read_response

TARGET_PREFIX = "RekognitionService."
CONTENT_TYPE = "application/x-amz-json-1.1"
_HTTP = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=60))


@dataclass
class Answer:
    """One HTTP response, read whole."""

    status: int
    headers: Mapping[str, str]  # looked up in any case
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def code(self) -> str:
        """The `__type` of an error answer."""
        return str(self.json["__type"])

    def for_botocore(self) -> dict[str, Any]:
        """The response dict botocore's parsers take."""
        return {"status_code": self.status, "headers": dict(self.headers), "body": self.body}


def send(
    url: str, method: str = "POST", path: str = "/", body: bytes = b"", **headers: str
) -> Answer:
    """Any HTTP request; header names are given with `_` for `-` (X_Amz_Target=...)."""
    named = {name.replace("_", "-"): value for name, value in headers.items()}
    response = _HTTP.request(method, url + path, body=body or None, headers=named)
    return Answer(response.status, response.headers, response.data)


def post(
    url: str, operation: str | None, body: bytes, content_type: str | None = CONTENT_TYPE
) -> Answer:
    """POST / with `X-Amz-Target: RekognitionService.<operation>` (None: no target header)."""
    headers: dict[str, str] = {}
    if operation is not None:
        headers["X-Amz-Target"] = operation if "." in operation else TARGET_PREFIX + operation
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = _HTTP.request("POST", url + "/", body=body, headers=headers)
    return Answer(response.status, response.headers, response.data)


def read_answer(sock: socket.socket, timeout: float | None = None) -> Answer:
    """The HTTP/1.1 response on a raw socket, which must come whole with its Content-Length."""
    if timeout is not None:
        sock.settimeout(timeout)
    try:
        response = read_response(sock)
    except ConnectionClosed as closed:
        raise AssertionError(f"closed before a whole response: {closed.received!r}") from None
    assert "content-length" in response.headers, response.head
    return Answer(response.status, response.headers, response.body)


def call(url: str, operation: str, params: dict[str, Any]) -> Answer:
    """An operation with a hand-built JSON body (blobs must already be base64 text)."""
    return post(url, operation, orjson.dumps(params))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def check_request_id(answer: Answer) -> str:
    request_id = answer.headers.get("x-amzn-RequestId")
    assert request_id, f"no x-amzn-RequestId header: {dict(answer.headers)}"
    assert str(uuid.UUID(request_id)) == request_id.lower()
    return request_id


def check_ok(answer: Answer) -> Any:
    """A 200 AWS JSON 1.1 answer: its decoded body."""
    assert answer.status == 200, (answer.status, answer.body[:500])
    assert answer.headers.get("Content-Type") == CONTENT_TYPE
    assert "X-Amzn-Errortype" not in answer.headers
    check_request_id(answer)
    body = answer.json
    assert type(body) is dict
    return body


def check_error(answer: Answer, code: str, status: int = 400) -> str:
    """An AWS JSON 1.1 error answer with this code: its message."""
    assert answer.status == status, (answer.status, answer.body[:500])
    assert answer.headers.get("Content-Type") == CONTENT_TYPE
    request_id = check_request_id(answer)
    body = answer.json
    assert body["__type"] == code, body
    assert answer.headers.get("X-Amzn-Errortype") == code
    assert body.get("Code", code) == code
    assert body.get("Logref", request_id) == request_id
    message = body["Message"]
    assert type(message) is str and message.strip(), body
    return str(message)


# -- botocore's model as the oracle -----------------------------------------------------------


@cache
def rekognition_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("rekognition")


def operation_model(operation: str) -> OperationModel:
    return rekognition_model().operation_model(operation)


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "boolean": (bool,),
    "float": (int, float),
    "double": (int, float),
    "timestamp": (float,),
    "blob": (str,),
}
_INT_RANGE = {"integer": 2**31, "long": 2**63}


def check_shape(value: Any, shape: Shape, path: str = "$") -> None:
    """Assert that raw JSON `value` has `shape`'s type, enums, lengths, ranges and patterns."""
    kind = shape.type_name
    if kind == "structure":
        assert type(value) is dict, f"{path}: {value!r} is not an object"
        unknown = set(value) - set(shape.members)
        assert not unknown, f"{path}: members not in {shape.name}: {sorted(unknown)}"
        for name in shape.required_members:
            assert name in value, f"{path}: required member {name} missing"
        for name, item in value.items():
            assert item is not None, f"{path}.{name} is null"
            check_shape(item, shape.members[name], f"{path}.{name}")
        return
    if kind == "list":
        assert type(value) is list, f"{path}: {value!r} is not a list"
        _check_length(value, shape, path)
        for index, item in enumerate(value):
            check_shape(item, shape.member, f"{path}[{index}]")
        return
    if kind == "map":
        assert type(value) is dict, f"{path}: {value!r} is not a map"
        _check_length(value, shape, path)
        for key, item in value.items():
            check_shape(key, shape.key, f"{path} key")
            check_shape(item, shape.value, f"{path}[{key!r}]")
        return
    assert type(value) in _JSON_TYPES[kind], f"{path}: {value!r} is not a JSON {kind}"
    if kind == "string":
        _check_length(value, shape, path)
        enum = getattr(shape, "enum", None)
        if enum:
            assert value in enum, f"{path}: {value!r} not in {enum}"
        pattern = _pattern(shape.metadata.get("pattern"))
        if pattern is not None:
            assert pattern.fullmatch(value), f"{path}: {value!r} !~ {pattern.pattern}"
    elif kind in _INT_RANGE:
        assert -_INT_RANGE[kind] <= value < _INT_RANGE[kind], f"{path}: {value} overflows {kind}"
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        assert low is None or value >= low, f"{path}: {value} < {low}"
        assert high is None or value <= high, f"{path}: {value} > {high}"


def _check_length(value: Any, shape: Shape, path: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    assert low is None or len(value) >= low, f"{path}: length {len(value)} < {low}"
    assert high is None or len(value) <= high, f"{path}: length {len(value)} > {high}"


@cache
def _pattern(pattern: str | None) -> re.Pattern[str] | None:
    """The model's (Java) pattern as a Python one; None when Python cannot read it."""
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error:
        return None


def botocore_parse(operation: str, answer: Answer) -> dict[str, Any]:
    """The answer as botocore's own JSON parser reads it for `operation` (errors too)."""
    from botocore.parsers import create_parser

    shape = operation_model(operation).output_shape
    return dict(create_parser("json").parse(answer.for_botocore(), shape))
