"""Tags: kept from CreateProject and CreateDataset, TagResource, UntagResource and
ListTagsForResource with AWS's shapes, limits and errors, removed with their resources."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.lines import image_line, manifest
from support.server import new_dataset, wait_for_status


def error_of(info: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = info.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


def tags_of(client: Any, arn: str) -> dict[str, str]:
    return dict(client.list_tags_for_resource(ResourceArn=arn)["Tags"])


def test_tags_given_at_creation_are_kept(rekognition: Any, project_name: str):
    project = rekognition.create_project(
        ProjectName=project_name, Tags={"team": "vision", "cost-center": "42"}
    )["ProjectArn"]
    dataset = rekognition.create_dataset(
        ProjectArn=project, DatasetType="TRAIN", Tags={"stage": "raw", "empty": ""}
    )["DatasetArn"]
    assert tags_of(rekognition, project) == {"team": "vision", "cost-center": "42"}
    assert tags_of(rekognition, dataset) == {"stage": "raw", "empty": ""}
    bare = rekognition.create_dataset(ProjectArn=project, DatasetType="TEST")["DatasetArn"]
    assert rekognition.list_tags_for_resource(ResourceArn=bare)["Tags"] == {}


def test_tag_untag_and_list(rekognition: Any):
    project, dataset = new_dataset(rekognition)
    rekognition.tag_resource(ResourceArn=dataset, Tags={"a": "1", "b": "2"})
    rekognition.tag_resource(ResourceArn=dataset, Tags={"b": "two", "c": "3"})  # b replaced
    assert tags_of(rekognition, dataset) == {"a": "1", "b": "two", "c": "3"}
    rekognition.untag_resource(ResourceArn=dataset, TagKeys=["a", "not-there"])
    assert tags_of(rekognition, dataset) == {"b": "two", "c": "3"}
    assert tags_of(rekognition, project) == {}  # the project's tags are its own
    rekognition.tag_resource(ResourceArn=project, Tags={"p": "x"})
    assert tags_of(rekognition, project) == {"p": "x"}


def test_a_copy_gets_the_tags_of_its_own_call(rekognition: Any):
    project, source = new_dataset(rekognition, manifest(image_line("s3://bkt/a.jpg", "cat")))
    rekognition.tag_resource(ResourceArn=source, Tags={"origin": "source"})
    copy = rekognition.create_dataset(
        ProjectArn=project,
        DatasetType="TEST",
        DatasetSource={"DatasetArn": source},
        Tags={"origin": "copy"},
    )["DatasetArn"]
    assert wait_for_status(rekognition, copy)["Status"] == "CREATE_COMPLETE"
    assert tags_of(rekognition, copy) == {"origin": "copy"}
    assert tags_of(rekognition, source) == {"origin": "source"}


def test_at_most_50_tags_a_resource(rekognition: Any, project_name: str):
    fifty = {f"k{i}": "v" for i in range(50)}
    project = rekognition.create_project(ProjectName=project_name, Tags=fifty)["ProjectArn"]
    with pytest.raises(ClientError) as info:
        rekognition.tag_resource(ResourceArn=project, Tags={"one-more": "v"})
    code, message = error_of(info)
    assert code == "ServiceQuotaExceededException"
    assert "would have 51 tags: a resource has at most 50" in message
    rekognition.tag_resource(ResourceArn=project, Tags={"k0": "replaced"})  # still 50
    assert tags_of(rekognition, project)["k0"] == "replaced"
    with pytest.raises(ClientError) as info:
        rekognition.create_project(
            ProjectName=project_name + "-b", Tags={f"k{i}": "v" for i in range(51)}
        )
    assert error_of(info) == (
        "InvalidParameterException",
        "Tags has 51 tags: a resource has at most 50.",
    )
    assert (
        rekognition.describe_projects(ProjectNames=[project_name + "-b"])["ProjectDescriptions"]
        == []
    )


@pytest.mark.parametrize(
    ("tags", "code", "says"),
    [
        ({"aws:team": "x"}, "ValidationException", "Member must satisfy regular expression"),
        ({"AWS:team": "x"}, "InvalidParameterException", "reserved for AWS's use: AWS:team"),
        ({"k" * 129: "x"}, "ValidationException", "length less than or equal to 128"),
        ({"k": "v" * 257}, "ValidationException", "length less than or equal to 256"),
        ({"k": "semi;colon"}, "ValidationException", "regular expression pattern"),
    ],
)
def test_tags_breaking_aws_rules_are_refused(
    rekognition: Any, tags: dict[str, str], code: str, says: str
):
    _, dataset = new_dataset(rekognition)
    with pytest.raises(ClientError) as info:
        rekognition.tag_resource(ResourceArn=dataset, Tags=tags)
    got_code, message = error_of(info)
    assert got_code == code and says in message, message
    assert tags_of(rekognition, dataset) == {}


def test_unknown_resources_are_not_found(rekognition: Any):
    project, dataset = new_dataset(rekognition)
    missing = dataset[:-1] + ("1" if dataset[-1] != "1" else "2")
    for call in (
        lambda: rekognition.tag_resource(ResourceArn=missing, Tags={"a": "b"}),
        lambda: rekognition.untag_resource(ResourceArn=missing, TagKeys=["a"]),
        lambda: rekognition.list_tags_for_resource(ResourceArn=missing),
    ):
        with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
            call()
    model = project + "/version/v1/1700000000000"
    with pytest.raises(ClientError) as info:
        rekognition.list_tags_for_resource(ResourceArn=model)
    code, message = error_of(info)
    assert code == "InvalidParameterException" and "not the ARN of a project" in message


def test_deleting_removes_the_tags(rekognition: Any, project_name: str):
    project = rekognition.create_project(ProjectName=project_name, Tags={"p": "1"})["ProjectArn"]
    train = rekognition.create_dataset(ProjectArn=project, DatasetType="TRAIN", Tags={"d": "1"})[
        "DatasetArn"
    ]
    test = rekognition.create_dataset(ProjectArn=project, DatasetType="TEST", Tags={"d": "2"})[
        "DatasetArn"
    ]
    rekognition.delete_dataset(DatasetArn=test)
    deadline = time.monotonic() + 30
    while True:
        try:
            rekognition.describe_dataset(DatasetArn=test)
        except rekognition.exceptions.ResourceNotFoundException:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
        rekognition.list_tags_for_resource(ResourceArn=test)
    assert tags_of(rekognition, train) == {"d": "1"}
    rekognition.delete_project(ProjectArn=project)
    deadline = time.monotonic() + 30
    while rekognition.describe_projects(ProjectNames=[project_name])["ProjectDescriptions"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
        rekognition.list_tags_for_resource(ResourceArn=project)
