"""The IAM policy language as manifestdb evaluates it: wildcards, ARN components, Deny, Not*."""

from __future__ import annotations

from typing import Any

import pytest

from manifestdb.service import HISTORY_OPERATIONS, OPERATIONS
from manifestdb.service.context import Caller
from manifestdb.wire.policy import (
    PERMISSIONS,
    Decision,
    PolicyError,
    arn_match,
    glob_match,
    parse_policy,
)

DATASET = "arn:aws:rekognition:us-east-1:111122223333:project/flowers/dataset/train/1700000000000"
PROJECT = "arn:aws:rekognition:us-east-1:111122223333:project/flowers/1700000000000"


def policy(*statements: dict[str, Any]) -> Any:
    return parse_policy({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("*", "", True),
        ("*", "anything", True),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("a*c", "abbbc", True),
        ("a*c", "abbbd", False),
        ("*a*a*a*a*b", "a" * 200, False),  # linear, no catastrophic backtracking
        ("project/*/dataset/*", "project/x/dataset/train/1", True),
        ("exact", "exact", True),
        ("exact", "exactly", False),
    ],
)
def test_glob(pattern: str, text: str, expected: bool) -> None:
    assert glob_match(pattern, text) is expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*", True),
        (DATASET, True),
        ("arn:aws:rekognition:*:111122223333:project/flowers/*", True),
        ("arn:aws:rekognition:us-east-?:111122223333:project/*", True),
        ("arn:aws:rekognition:*:*:*", True),
        ("arn:aws:rekognition:*:444455556666:project/flowers/*", False),
        ("arn:aws:rekognition:*", False),  # a wildcard does not span ARN components
        ("arn:*:111122223333:project/flowers/*", False),
        ("arn:aws:rekognition:us-east-1:111122223333:project/Flowers/*", False),  # case matters
        ("arn:aws:rekognition:us-east-1:111122223333:project/flowers/dataset/test/*", False),
    ],
)
def test_arn_patterns(pattern: str, expected: bool) -> None:
    assert arn_match(pattern, DATASET) is expected


def test_evaluation_order() -> None:
    allow_all = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    deny_delete = {"Effect": "Deny", "Action": "rekognition:Delete*", "Resource": "*"}
    both = policy(allow_all, deny_delete)
    assert both.evaluate("rekognition:DescribeDataset", DATASET) is Decision.ALLOWED
    assert both.evaluate("rekognition:DeleteDataset", DATASET) is Decision.EXPLICIT_DENY
    assert policy().evaluate("rekognition:DescribeDataset", DATASET) is Decision.IMPLICIT_DENY
    # The order of statements does not matter: a Deny wins wherever it is.
    assert (
        policy(deny_delete, allow_all).evaluate("rekognition:DeleteProject", PROJECT)
        is Decision.EXPLICIT_DENY
    )


def test_actions_are_case_insensitive_resources_are_not() -> None:
    lower = policy({"Effect": "Allow", "Action": "REKOGNITION:describedataset", "Resource": "*"})
    assert lower.evaluate("rekognition:DescribeDataset", DATASET) is Decision.ALLOWED
    upper = policy(
        {"Effect": "Allow", "Action": "*", "Resource": DATASET.replace("flowers", "Flowers")}
    )
    assert upper.evaluate("rekognition:DescribeDataset", DATASET) is Decision.IMPLICIT_DENY


def test_not_action_and_not_resource() -> None:
    not_action = policy({"Effect": "Allow", "NotAction": "rekognition:Delete*", "Resource": "*"})
    assert not_action.evaluate("rekognition:ListDatasetEntries", DATASET) is Decision.ALLOWED
    assert not_action.evaluate("rekognition:DeleteDataset", DATASET) is Decision.IMPLICIT_DENY
    not_resource = policy(
        {
            "Effect": "Allow",
            "Action": "rekognition:*",
            "NotResource": ["arn:aws:rekognition:*:*:project/secret/*"],
        }
    )
    assert not_resource.evaluate("rekognition:DescribeDataset", DATASET) is Decision.ALLOWED
    secret = DATASET.replace("flowers", "secret")
    assert not_resource.evaluate("rekognition:DescribeDataset", secret) is Decision.IMPLICIT_DENY
    deny_not = policy(
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:rekognition:*:*:project/ok/*"},
    )
    assert deny_not.evaluate("rekognition:DescribeDataset", DATASET) is Decision.EXPLICIT_DENY


def test_a_single_statement_object_and_single_strings() -> None:
    single = parse_policy(
        {"Statement": {"Effect": "Allow", "Action": "rekognition:List*", "Resource": "*"}}
    )
    assert single.evaluate("rekognition:ListDatasetLabels", DATASET) is Decision.ALLOWED


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ([], "must be a JSON object"),
        ({"Version": "2012-10-17"}, "Statement is missing"),
        ({"Version": "2020-01-01", "Statement": []}, "Version"),
        ({"Statement": [], "Extra": 1}, "unknown element 'Extra'"),
        ({"Statement": [{"Effect": "allow", "Action": "*", "Resource": "*"}]}, "Effect"),
        ({"Statement": [{"Effect": "Allow", "Resource": "*"}]}, "Action and NotAction"),
        (
            {
                "Statement": [
                    {"Effect": "Allow", "Action": "*", "NotAction": "x:y", "Resource": "*"}
                ]
            },
            "exactly one of Action and NotAction",
        ),
        ({"Statement": [{"Effect": "Allow", "Action": "*"}]}, "Resource and NotResource"),
        (
            {"Statement": [{"Effect": "Allow", "Action": "DescribeDataset", "Resource": "*"}]},
            "not an action",
        ),
        ({"Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]}, "non-empty"),
        ({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "flowers"}]}, "not an ARN"),
        (
            {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {}}]},
            "Condition: conditions are not supported",
        ),
        (
            {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "*"}]},
            "Principal",
        ),
        (
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "*",
                        "Resource": "arn:aws:rekognition:*:*:project/${aws:username}/*",
                    }
                ]
            },
            "policy variables",
        ),
    ],
)
def test_invalid_policies_are_refused_with_where_and_why(document: Any, named: str) -> None:
    with pytest.raises(PolicyError, match=r"^users\[0\]\.policy") as raised:
        parse_policy(document, "users[0].policy")
    assert named in str(raised.value)


def test_every_operation_has_its_permissions() -> None:
    assert set(PERMISSIONS) == set(OPERATIONS) | set(HISTORY_OPERATIONS)
    assert not set(OPERATIONS) & set(HISTORY_OPERATIONS)
    caller = Caller("111122223333", "eu-west-1", "arn:aws:iam::111122223333:user/alice")
    assert PERMISSIONS["CreateProject"](caller, {"ProjectName": "flowers"}) == [
        ("CreateProject", "arn:aws:rekognition:eu-west-1:111122223333:project/flowers/*")
    ]
    assert PERMISSIONS["DescribeProjects"](caller, {}) == [("DescribeProjects", "*")]
    assert PERMISSIONS["RevertDatasetVersion"](caller, {"DatasetArn": DATASET}) == [
        ("manifestdb:RevertDatasetVersion", DATASET)
    ]
    assert PERMISSIONS["CreateDataset"](
        caller, {"ProjectArn": PROJECT, "DatasetSource": {"DatasetArn": DATASET}}
    ) == [("CreateDataset", PROJECT), ("ListDatasetEntries", DATASET)]
    test = DATASET.replace("train", "test")
    assert PERMISSIONS["DistributeDatasetEntries"](
        caller, {"Datasets": [{"Arn": DATASET}, {"Arn": test}]}
    ) == [("DistributeDatasetEntries", DATASET), ("DistributeDatasetEntries", test)]
