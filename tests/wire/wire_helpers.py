"""Shared pieces of the wire tests: one Protocol (the model is read once) and request helpers."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from manifestdb.service import OPERATIONS as SERVED_OPERATIONS
from manifestdb.service.errors import ServiceError
from manifestdb.wire.protocol import Protocol

SERVED = tuple(SERVED_OPERATIONS)  # every served operation, in the order of the spec
JSON_11 = "application/x-amz-json-1.1"
PROJECT_ARN = "arn:aws:rekognition:us-east-1:123456789012:project/birds/1690476084738"
TRAIN_ARN = "arn:aws:rekognition:us-east-1:123456789012:project/birds/dataset/train/1690476084739"
TEST_ARN = "arn:aws:rekognition:us-east-1:123456789012:project/birds/dataset/test/1690476084740"
VERSION_ARN = "arn:aws:rekognition:us-east-1:123456789012:project/birds/version/v1/1690476084741"
PROTOCOL = Protocol(SERVED)


def parse(operation: str, body: Any) -> dict[str, Any]:
    """Parse `body` (a dict, or raw bytes) sent to `operation`; return the params."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    name, params = PROTOCOL.parse(f"RekognitionService.{operation}", JSON_11, raw)
    assert name == operation
    return params


def error_of(operation: str, body: Any) -> ServiceError:
    """The ServiceError that parsing `body` for `operation` raises."""
    with pytest.raises(ServiceError) as caught:
        parse(operation, body)
    return caught.value


def validation_message(operation: str, body: Any) -> str:
    """The message of the ValidationException that parsing `body` raises."""
    error = error_of(operation, body)
    assert error.code == "ValidationException", error.message
    return error.message
