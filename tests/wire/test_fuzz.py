"""Whatever arrives, `parse` answers a result or a ServiceError: never another exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wire_helpers import JSON_11, PROTOCOL, SERVED

from manifestdb.service.errors import ServiceError
from manifestdb.wire.protocol import rekognition_model

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["", "eyJ9", "TRAIN", "CUSTOM_LABELS", "arn:aws:rekognition:x", "aws:k"])
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)


def input_member_names() -> list[str]:
    """Every member name of the served operations' input shapes, at any depth."""
    names: set[str] = set()
    pending = [rekognition_model().operation_model(op).input_shape for op in SERVED]
    seen: set[str] = set()
    while pending:
        shape = pending.pop()
        if shape is None or shape.name in seen:
            continue
        seen.add(shape.name)
        if shape.type_name == "structure":
            names.update(shape.members)
            pending.extend(shape.members.values())
        elif shape.type_name == "list":
            pending.append(shape.member)
        elif shape.type_name == "map":
            pending.extend([shape.key, shape.value])
    return sorted(names)


# Bodies built from the model's member names at any depth, so values reach every check.
member_names = st.sampled_from(input_member_names())
shaped_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(member_names | st.text(max_size=8), children, max_size=4),
    max_leaves=15,
)
shaped_bodies = st.dictionaries(member_names, shaped_values, max_size=5)


def parse_or_service_error(target: str | None, content_type: str | None, body: bytes) -> None:
    try:
        operation, params = PROTOCOL.parse(target, content_type, body)
    except ServiceError as error:
        assert error.code and error.message
        assert len(error.message) < 10_000
    else:
        assert operation in SERVED
        assert isinstance(params, dict)


@FAST
@given(operation=st.sampled_from(SERVED), body=st.binary(max_size=300))
def test_arbitrary_bytes(operation: str, body: bytes) -> None:
    parse_or_service_error(f"RekognitionService.{operation}", JSON_11, body)


@FAST
@given(operation=st.sampled_from(SERVED), document=json_values)
def test_arbitrary_json_documents(operation: str, document: Any) -> None:
    body = json.dumps(document).encode()  # NaN and Infinity literals included
    parse_or_service_error(f"RekognitionService.{operation}", JSON_11, body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operation=st.sampled_from(SERVED), document=shaped_bodies)
def test_arbitrary_values_for_model_members(operation: str, document: dict[str, Any]) -> None:
    parse_or_service_error(
        f"RekognitionService.{operation}", JSON_11, json.dumps(document).encode()
    )


@FAST
@given(
    target=st.none()
    | st.text(max_size=60)
    | st.sampled_from(SERVED).map("RekognitionService.{}".format),
    content_type=st.none() | st.text(max_size=40),
    body=st.sampled_from([b"{}", b'{"ProjectName": "p"}', b"", b"[]"]),
)
def test_arbitrary_headers(target: str | None, content_type: str | None, body: bytes) -> None:
    parse_or_service_error(target, content_type, body)
