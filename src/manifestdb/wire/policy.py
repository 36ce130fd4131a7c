"""IAM identity-policy evaluation, and the action and resources each operation is checked on.

Evaluation is IAM's for identity-based policies: an explicit `Deny` that matches wins, then an
`Allow` that matches, else the request is implicitly denied. A statement matches when its
`Action` (or `NotAction`) and `Resource` (or `NotResource`) match; each is a string or a list.
Actions match case-insensitively, ARNs case-sensitively, both with the `*` and `?` wildcards.
An ARN pattern is matched component by component (`arn:partition:service:region:account:rest`),
so a wildcard never spans a colon before the resource part, as in IAM.

Elements manifestdb cannot evaluate exactly (`Condition`, `Principal`, policy variables such as
`${aws:username}`) make the policy invalid: a policy is enforced whole or refused at load, never
half applied.

`PERMISSIONS` maps each operation and its parameters to the `rekognition:<Operation>` actions it
needs and the resource ARN each is checked on, as in AWS's service authorization reference;
manifestdb's own operations (history) need `manifestdb:<Operation>` actions.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from manifestdb.service import HISTORY_OPERATIONS
from manifestdb.service.context import Caller
from manifestdb.service.errors import AccessDeniedException

VERSIONS = frozenset({"2012-10-17", "2008-10-17"})
_POLICY_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset({"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource"})
_UNSUPPORTED = {
    "Condition": "conditions are not supported by manifestdb",
    "Principal": "an identity policy has no Principal (that is for resource policies)",
    "NotPrincipal": "an identity policy has no NotPrincipal (that is for resource policies)",
}


class PolicyError(ValueError):
    """A policy document that is not valid; the message says where and why."""


class Decision(enum.Enum):
    ALLOWED = "allowed"
    IMPLICIT_DENY = "implicit deny"
    EXPLICIT_DENY = "explicit deny"


def glob_match(pattern: str, text: str) -> bool:
    """Whether `text` matches `pattern`, where `*` is any run of characters and `?` any one."""
    p = t = 0
    star, mark = -1, 0
    while t < len(text):
        if p < len(pattern) and pattern[p] in ("?", text[t]) and pattern[p] != "*":
            p, t = p + 1, t + 1
        elif p < len(pattern) and pattern[p] == "*":
            star, mark, p = p, t, p + 1
        elif star >= 0:
            mark += 1
            p, t = star + 1, mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def arn_match(pattern: str, arn: str) -> bool:
    """Whether the resource `arn` matches a policy's ARN `pattern` (or `*`)."""
    if pattern == "*":
        return True
    wanted, given = pattern.split(":", 5), arn.split(":", 5)
    if len(wanted) != 6 or len(given) != 6:
        return False
    return all(glob_match(w, g) for w, g in zip(wanted, given, strict=True))


def action_match(pattern: str, action: str) -> bool:
    """Whether `action` (`service:Operation`) matches a policy's action `pattern`."""
    return glob_match(pattern.lower(), action.lower())


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement; `negate_*` is True for `NotAction` / `NotResource`."""

    allow: bool
    actions: tuple[str, ...]
    negate_actions: bool
    resources: tuple[str, ...]
    negate_resources: bool

    def matches(self, action: str, resource: str) -> bool:
        named = any(action_match(pattern, action) for pattern in self.actions)
        if named == self.negate_actions:
            return False
        named = any(arn_match(pattern, resource) for pattern in self.resources)
        return named != self.negate_resources


@dataclass(frozen=True, slots=True)
class Policy:
    """A parsed identity policy (no statements: everything is implicitly denied)."""

    statements: tuple[Statement, ...] = ()

    def evaluate(self, action: str, resource: str) -> Decision:
        """IAM's decision for `action` on `resource`: explicit Deny, then Allow, else deny."""
        allowed = False
        for statement in self.statements:
            if statement.matches(action, resource):
                if not statement.allow:
                    return Decision.EXPLICIT_DENY
                allowed = True
        return Decision.ALLOWED if allowed else Decision.IMPLICIT_DENY


def parse_policy(document: Any, where: str = "policy") -> Policy:
    """A policy document (the decoded JSON) -> Policy, or PolicyError naming the problem."""
    if not isinstance(document, Mapping):
        raise PolicyError(f"{where}: must be a JSON object with a Statement")
    for key in document:
        if key not in _POLICY_KEYS:
            raise PolicyError(f"{where}: unknown element {key!r} (allowed: Version, Id, Statement)")
    version = document.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise PolicyError(f'{where}.Version: must be "2012-10-17", not {version!r}')
    if "Statement" not in document:
        raise PolicyError(f"{where}: Statement is missing")
    raw = document["Statement"]
    items = raw if isinstance(raw, list) else [raw]
    return Policy(
        tuple(_statement(item, f"{where}.Statement[{index}]") for index, item in enumerate(items))
    )


def _statement(item: Any, where: str) -> Statement:
    if not isinstance(item, Mapping):
        raise PolicyError(f"{where}: must be a JSON object")
    for key in item:
        if key in _UNSUPPORTED:
            raise PolicyError(f"{where}.{key}: {_UNSUPPORTED[key]}")
        if key not in _STATEMENT_KEYS:
            raise PolicyError(f"{where}: unknown element {key!r}")
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f'{where}.Effect: must be "Allow" or "Deny", not {effect!r}')
    action_key = _one_of(item, "Action", "NotAction", where)
    resource_key = _one_of(item, "Resource", "NotResource", where)
    actions = _strings(item[action_key], f"{where}.{action_key}")
    for action in actions:
        service, colon, name = action.partition(":")
        if action != "*" and not (colon and service and name):
            raise PolicyError(
                f'{where}.{action_key}: {action!r} is not an action: write "service:Operation" '
                '(for example "rekognition:DescribeDataset", "rekognition:List*") or "*"'
            )
    resources = _strings(item[resource_key], f"{where}.{resource_key}")
    for resource in resources:
        if "${" in resource:
            raise PolicyError(
                f"{where}.{resource_key}: policy variables such as {resource!r} are not supported"
            )
        if resource != "*" and (not resource.startswith("arn:") or resource.count(":") < 5):
            raise PolicyError(
                f"{where}.{resource_key}: {resource!r} is not an ARN: write "
                '"arn:aws:rekognition:REGION:ACCOUNT:project/NAME/*" (wildcards allowed) or "*"'
            )
    return Statement(
        allow=effect == "Allow",
        actions=actions,
        negate_actions=action_key == "NotAction",
        resources=resources,
        negate_resources=resource_key == "NotResource",
    )


def _one_of(item: Mapping[str, Any], key: str, negated: str, where: str) -> str:
    if (key in item) == (negated in item):
        raise PolicyError(f"{where}: needs exactly one of {key} and {negated}")
    return key if key in item else negated


def _strings(value: Any, where: str) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v for v in values):
        raise PolicyError(f"{where}: must be a non-empty string or a list of them")
    return tuple(values)


# -- what each operation needs: the action, and the resources it is checked on ---------------

Permission = tuple[str, str]  # (operation-named action without the prefix, resource ARN)


def _project_to_be(caller: Caller, params: Mapping[str, Any]) -> list[Permission]:
    # The ARN is not known before the project exists: AWS authorizes the name with any timestamp.
    name = params["ProjectName"]
    arn = f"arn:aws:rekognition:{caller.region}:{caller.account}:project/{name}/*"
    needed = [("CreateProject", arn)]
    if params.get("Tags"):  # as AWS: tagging at creation also needs TagResource
        needed.append(("TagResource", arn))
    return needed


def _create_dataset(_caller: Caller, params: Mapping[str, Any]) -> list[Permission]:
    project = str(params["ProjectArn"])
    needed = [("CreateDataset", project)]
    source = (params.get("DatasetSource") or {}).get("DatasetArn")
    if source is not None:
        needed.append(("ListDatasetEntries", str(source)))
    if params.get("Tags"):
        # As AWS: tagging at creation also needs TagResource, on the dataset to be (any time).
        kind = str(params["DatasetType"]).lower()
        needed.append(("TagResource", _in_project(project, f"dataset/{kind}/*")))
    return needed


def _in_project(project_arn: str, rest: str) -> str:
    """The ARN pattern of a resource to be made in a project: `...:project/NAME/` + `rest`."""
    prefix, _, path = project_arn.partition(":project/")
    return f"{prefix}:project/{path.rsplit('/', 1)[0]}/{rest}"


def _create_version(_caller: Caller, params: Mapping[str, Any]) -> list[Permission]:
    project = str(params["ProjectArn"])
    needed = [("CreateProjectVersion", project)]
    if params.get("Tags"):  # as AWS: tagging at creation also needs TagResource, on the model
        needed.append(("TagResource", _in_project(project, f"version/{params['VersionName']}/*")))
    return needed


def _on(action: str, member: str) -> Callable[[Caller, Mapping[str, Any]], list[Permission]]:
    return lambda _caller, params: [(action, str(params[member]))]


PERMISSIONS: dict[str, Callable[[Caller, Mapping[str, Any]], list[Permission]]] = {
    "CreateProject": _project_to_be,
    "DescribeProjects": lambda _caller, _params: [("DescribeProjects", "*")],
    "DeleteProject": _on("DeleteProject", "ProjectArn"),
    "CreateDataset": _create_dataset,
    "DescribeDataset": _on("DescribeDataset", "DatasetArn"),
    "DeleteDataset": _on("DeleteDataset", "DatasetArn"),
    "UpdateDatasetEntries": _on("UpdateDatasetEntries", "DatasetArn"),
    "ListDatasetEntries": _on("ListDatasetEntries", "DatasetArn"),
    "ListDatasetLabels": _on("ListDatasetLabels", "DatasetArn"),
    "DistributeDatasetEntries": lambda _caller, params: [
        ("DistributeDatasetEntries", str(item["Arn"])) for item in params["Datasets"]
    ],
    "TagResource": _on("TagResource", "ResourceArn"),
    "UntagResource": _on("UntagResource", "ResourceArn"),
    "ListTagsForResource": _on("ListTagsForResource", "ResourceArn"),
    "CreateProjectVersion": _create_version,
    "DescribeProjectVersions": _on("DescribeProjectVersions", "ProjectArn"),
    **{
        operation: _on(operation, "ProjectVersionArn")
        for operation in (
            "StartProjectVersion",
            "StopProjectVersion",
            "DeleteProjectVersion",
            "DetectCustomLabels",
        )
    },
    # manifestdb's own operations (history, docs/history.md): actions of the manifestdb
    # namespace, checked on the dataset's ARN.
    **{operation: _on(f"manifestdb:{operation}", "DatasetArn") for operation in HISTORY_OPERATIONS},
}


def check_permissions(policy: Policy, principal: str, needed: Iterable[Permission]) -> None:
    """AccessDeniedException, in AWS's words, for the first permission the policy does not give."""
    for operation, resource in needed:
        action = operation if ":" in operation else f"rekognition:{operation}"
        decision = policy.evaluate(action, resource)
        if decision is Decision.ALLOWED:
            continue
        reason = (
            "with an explicit deny in an identity-based policy"
            if decision is Decision.EXPLICIT_DENY
            else f"because no identity-based policy allows the {action} action"
        )
        raise AccessDeniedException(
            f"User: {principal} is not authorized to perform: {action} on "
            f"resource: {resource} {reason}"
        )
