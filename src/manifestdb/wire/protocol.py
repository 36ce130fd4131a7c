"""The AWS JSON 1.1 protocol of Rekognition: requests to (operation, params), results to bodies.

botocore's installed `rekognition` model is the single source of truth: the target prefix,
operation names, input shapes (every constraint is checked, see `validation`) and output shapes
(see `output`) all come from it, read once when a `Protocol` is made.

Choices where AWS is silent or where manifestdb departs from it (tests/wire pin each one):
- Content-Type: `application/x-amz-json-1.1`, `-1.0` and `application/json` are parsed (any
  parameters, any case); a missing header too, since X-Amz-Target already names the protocol.
  Any other type is UnknownOperationException, as AWS answers it (it does not route the request).
- Body: must be one JSON object (UTF-8, RFC 8259: no NaN/Infinity, no comments). An empty body is
  a SerializationException, as AWS answers it (Smithy lets a service take no payload only for an
  operation without input members, and Rekognition has none). Duplicate keys: the last one wins.
  Members absent, `null` or unknown are ignored, unless required.
- Where AWS sends a SerializationException without a message (body not JSON, not an object),
  manifestdb says what is wrong.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Collection, Mapping
from typing import Any

import botocore.session
import orjson
from botocore.model import ServiceModel

from manifestdb.service.errors import (
    NotImplementedOperationException,
    SerializationException,
    ServiceError,
    UnknownOperationException,
)
from manifestdb.wire.output import OutputCompiler, Write
from manifestdb.wire.validation import InputCompiler

CONTENT_TYPE = "application/x-amz-json-1.1"
ACCEPTED_CONTENT_TYPES = frozenset({CONTENT_TYPE, "application/x-amz-json-1.0", "application/json"})
_MAX_ECHO = 100  # characters of a bad header value repeated in a message


@functools.cache
def rekognition_model() -> ServiceModel:
    """botocore's installed Rekognition service model (loaded once per process)."""
    return botocore.session.get_session().get_service_model("rekognition")


def error_body_of(error: ServiceError, request_id: str) -> bytes:
    """The JSON body of an error response; `Logref` is the request id, to find it in logs."""
    return orjson.dumps(
        {
            "__type": error.code,
            "Message": error.message,
            "Code": error.code,
            "Logref": request_id or str(uuid.uuid4()),
        }
    )


class Protocol:
    """Parses requests and writes responses of the operations this server implements."""

    def __init__(self, operations: Collection[str]) -> None:
        model = rekognition_model()
        unknown = sorted(set(operations) - set(model.operation_names))
        if unknown:
            raise ValueError(f"not operations of {model.service_name}: {', '.join(unknown)}")
        self.operations: tuple[str, ...] = tuple(operations)
        prefix = model.metadata["targetPrefix"] + "."
        self._prefix = prefix
        self._targets = {prefix + name: name for name in self.operations}
        self._not_served = {prefix + name: name for name in model.operation_names}
        inputs, outputs = InputCompiler(), OutputCompiler()
        self._readers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
        self._writers: dict[str, Write] = {}
        for name in self.operations:
            operation = model.operation_model(name)
            self._readers[name] = inputs.compile(operation.input_shape)
            self._writers[name] = outputs.compile(operation.output_shape)

    def parse(
        self, target: str | None, content_type: str | None, body: bytes
    ) -> tuple[str, dict[str, Any]]:
        """A request -> (operation name, params keyed by the model's member names, blobs as bytes).

        Raises UnknownOperationException, NotImplementedOperationException,
        SerializationException or ValidationException; nothing else, whatever the input.
        """
        _check_content_type(content_type)
        operation = self._operation(target)
        return operation, self._readers[operation](_document(body))

    def serialize(self, operation: str, output: Mapping[str, Any]) -> bytes:
        """An operation's result (keyed by member names) -> the JSON body of its response."""
        return orjson.dumps(self._writers[operation](output))

    error_body = staticmethod(error_body_of)

    def _operation(self, target: str | None) -> str:
        if not target:
            raise UnknownOperationException(
                f"Missing X-Amz-Target header: send '{self._prefix}<Operation>'."
            )
        operation = self._targets.get(target)
        if operation is not None:
            return operation
        other = self._not_served.get(target)
        if other is not None:
            raise NotImplementedOperationException(
                f"{other} is not implemented: manifestdb serves only the Rekognition Custom "
                f"Labels project, dataset and model operations ({', '.join(self.operations)})."
            )
        raise UnknownOperationException(
            f"Unknown operation '{target[:_MAX_ECHO]}': X-Amz-Target must be "
            f"'{self._prefix}<Operation>'."
        )


def _check_content_type(content_type: str | None) -> None:
    if not content_type:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in ACCEPTED_CONTENT_TYPES:
        raise UnknownOperationException(
            f"Unsupported Content-Type '{content_type[:_MAX_ECHO]}': send {CONTENT_TYPE}."
        )


def _document(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or SerializationException."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        reason = "the request body is empty" if not body.strip() else f"{error}"
        raise SerializationException(
            f"Could not parse the request body as JSON: {reason}."
        ) from None
    if type(document) is dict:
        return document
    if type(document) is list:
        raise SerializationException("Start of list found where not expected")
    raise SerializationException(
        f"The request body must be a JSON object, not {_json_kind(document)}: send {{}} "
        "when there are no parameters."
    )


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if type(value) is str:
        return "a string"
    if type(value) is bool:
        return "a boolean"
    return "a number"
