"""`POST /_manifestdb/history/{Operation}`: manifestdb's history operations (docs/history.md).

The body is a JSON object of the operation's members (named as in the AWS API: `DatasetArn`,
`MaxResults`, `NextToken`, ListDatasetEntries' filters); the answer is JSON, errors are AWS JSON
errors. Requests are authenticated as `POST /` is (SigV4 for service `rekognition`) and
authorized with `manifestdb:<Operation>` actions on the dataset's ARN (`wire.policy`). There is
no botocore model of these operations: `RULES` below is their input contract.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from manifestdb.config import Settings
from manifestdb.service import HISTORY_OPERATIONS, Service
from manifestdb.service.errors import (
    SerializationException,
    UnknownOperationException,
    ValidationException,
)
from manifestdb.wire.auth import Authenticator
from manifestdb.wire.body import read_body
from manifestdb.wire.pipeline import Call, Handler

Check = Callable[[str, Any], Any]  # (member name, value) -> the value, or ValidationException


def _refuse(name: str, value: Any, rule: str) -> ValidationException:
    shown = orjson.dumps(value).decode()
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ValidationException(
        f"1 validation error detected: Value {shown} at '{name}' failed to satisfy constraint: "
        f"{rule}"
    )


def _string(low: int, high: int) -> Check:
    def check(name: str, value: Any) -> Any:
        if not isinstance(value, str):
            raise _refuse(name, value, "Member must be a string")
        if not low <= len(value) <= high:
            raise _refuse(name, value, f"Member must have length between {low} and {high}")
        return value

    return check


def _integer(low: int, high: int) -> Check:
    def check(name: str, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _refuse(name, value, "Member must be a whole number")
        if not low <= value <= high:
            raise _refuse(
                name, value, f"Member must have value between {low} and {high} (inclusive)"
            )
        return value

    return check


def _boolean(name: str, value: Any) -> Any:
    if not isinstance(value, bool):
        raise _refuse(name, value, "Member must be true or false")
    return value


def _strings(count: int, low: int, high: int) -> Check:
    one = _string(low, high)

    def check(name: str, value: Any) -> Any:
        if not isinstance(value, list):
            raise _refuse(name, value, "Member must be a list of strings")
        if not 1 <= len(value) <= count:
            raise _refuse(name, value, f"Member must have between 1 and {count} items")
        return [one(f"{name}.{n}", item) for n, item in enumerate(value, 1)]

    return check


_ARN = _string(20, 2048)
_VERSION = _integer(0, 2**31 - 1)
_LABELS = _strings(10, 1, 255)
_FILTERS: dict[str, Check] = {
    "ContainsLabels": _LABELS,
    "Labeled": _boolean,
    "HasErrors": _boolean,
    "SourceRefContains": _string(1, 2048),
}


def _object(members: Mapping[str, Check]) -> Check:
    def check(name: str, value: Any) -> Any:
        if not isinstance(value, dict):
            raise _refuse(name, value, "Member must be an object")
        return _members(value, members, (), prefix=f"{name}.")

    return check


def _members(
    params: dict[str, Any],
    members: Mapping[str, Check],
    required: tuple[str, ...],
    prefix: str = "",
) -> dict[str, Any]:
    unknown = sorted(set(params) - set(members))
    if unknown:
        raise ValidationException(
            f"Unknown member {prefix}{unknown[0]}: this operation takes "
            f"{', '.join(prefix + m for m in members)}."
        )
    for name in required:
        if params.get(name) is None:
            raise ValidationException(
                f"1 validation error detected: Value null at '{prefix}{name}' failed to satisfy "
                "constraint: Member must not be null"
            )
    return {
        name: members[name](prefix + name, value)
        for name, value in params.items()
        if value is not None
    }


_PAGES = {"NextToken": _string(1, 4096), "MaxResults": _integer(1, 100)}
RULES: dict[str, tuple[dict[str, Check], tuple[str, ...]]] = {
    "ListDatasetVersions": ({"DatasetArn": _ARN, **_PAGES}, ("DatasetArn",)),
    "DescribeDatasetVersion": (
        {"DatasetArn": _ARN, "VersionNumber": _VERSION},
        ("DatasetArn", "VersionNumber"),
    ),
    "ListDatasetEntriesAtVersion": (
        {"DatasetArn": _ARN, "VersionNumber": _VERSION, **_FILTERS, **_PAGES},
        ("DatasetArn", "VersionNumber"),
    ),
    "ListDatasetLabelsAtVersion": (
        {"DatasetArn": _ARN, "VersionNumber": _VERSION, **_PAGES},
        ("DatasetArn", "VersionNumber"),
    ),
    "DiffDatasetVersions": (
        {
            "DatasetArn": _ARN,
            "FromVersion": _VERSION,
            "ToVersion": _VERSION,
            "NextToken": _string(1, 4096),
            "MaxResults": _integer(1, 1000),
        },
        ("DatasetArn", "FromVersion", "ToVersion"),
    ),
    "RevertDatasetVersion": (
        {"DatasetArn": _ARN, "VersionNumber": _VERSION, "Force": _boolean},
        ("DatasetArn", "VersionNumber"),
    ),
    "RestoreDatasetVersion": (
        {"DatasetArn": _ARN, "VersionNumber": _VERSION},
        ("DatasetArn", "VersionNumber"),
    ),
    "DeleteDatasetEntries": (
        {
            "DatasetArn": _ARN,
            "SourceRefs": _strings(100_000, 1, 2048),
            "Filter": _object(_FILTERS),
        },
        ("DatasetArn",),
    ),
}
assert set(RULES) == set(HISTORY_OPERATIONS)


def history_operation(request: Any) -> str:
    """The operation a request names, for the log ('-': none of ours)."""
    name = str(request.path_params.get("operation", ""))
    return name if name in RULES else "-"


def check_history_operation(operation: str) -> None:
    """UnknownOperationException, naming the history operations, for a name none of them has."""
    if operation not in RULES:
        raise UnknownOperationException(
            f"{operation[:100]!r} is not a history operation. manifestdb serves "
            f"{', '.join(RULES)} under POST /_manifestdb/history/."
        )


def history_params(operation: str, body: bytes) -> dict[str, Any]:
    """The members of a history operation's JSON body, checked by its `RULES` (or the error
    that names what to fix: UnknownOperationException, SerializationException,
    ValidationException)."""
    check_history_operation(operation)
    try:
        params = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError as error:
        raise SerializationException(
            f"The body is not JSON ({error}): send a JSON object of the operation's members."
        ) from None
    if not isinstance(params, dict):
        raise SerializationException(
            f"The body is a JSON {type(params).__name__}: send a JSON object of the "
            "operation's members."
        )
    members, required = RULES[operation]
    return _members(params, members, required)


def history_handler(settings: Settings, service: Service, auth: Authenticator) -> Handler:
    async def history(call: Call) -> Response:
        request = call.request
        operation = request.path_params["operation"]
        check_history_operation(operation)  # before the body is read
        body = await read_body(request, settings.max_body_bytes, settings.request_timeout)
        identity = auth.authenticate_request(request, body)
        params = history_params(operation, body)
        auth.authorize(identity, operation, params)
        result = await run_in_threadpool(service.call, operation, identity.caller, params)
        return call.json(result)

    return history
