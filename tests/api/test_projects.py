"""CreateProject, DescribeProjects and DeleteProject against a real server."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

PROJECT_ARN = re.compile(r"^arn:aws:rekognition:us-east-1:123456789012:project/[\w.-]+/\d+$")


def error_code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def test_create_project_returns_an_arn_of_the_model_form(rekognition: Any, project_name: str):
    arn = rekognition.create_project(ProjectName=project_name)["ProjectArn"]
    assert PROJECT_ARN.match(arn)
    assert f"project/{project_name}/" in arn


def test_create_project_twice_with_one_name_is_resource_in_use(rekognition: Any, project_name: str):
    rekognition.create_project(ProjectName=project_name)
    with pytest.raises(rekognition.exceptions.ResourceInUseException) as info:
        rekognition.create_project(ProjectName=project_name)
    assert project_name in info.value.response["Error"]["Message"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_create_project_with_content_moderation_is_invalid_parameter(rekognition: Any):
    with pytest.raises(rekognition.exceptions.InvalidParameterException):
        rekognition.create_project(
            ProjectName=f"m-{uuid.uuid4().hex[:8]}", Feature="CONTENT_MODERATION"
        )


def test_describe_projects_lists_new_projects_oldest_first_with_datasets(
    rekognition: Any, project_name: str
):
    first = rekognition.create_project(ProjectName=project_name + "-a")["ProjectArn"]
    second = rekognition.create_project(ProjectName=project_name + "-b")["ProjectArn"]
    train = rekognition.create_dataset(ProjectArn=second, DatasetType="TRAIN")["DatasetArn"]
    found = rekognition.describe_projects(ProjectNames=[project_name + "-b", project_name + "-a"])[
        "ProjectDescriptions"
    ]
    assert [p["ProjectArn"] for p in found] == [first, second]
    assert found[0]["Datasets"] == []
    assert found[0]["Status"] == "CREATED"
    assert found[0]["Feature"] == "CUSTOM_LABELS"
    (dataset,) = found[1]["Datasets"]
    assert dataset["DatasetArn"] == train
    assert dataset["DatasetType"] == "TRAIN"
    assert dataset["Status"] == "CREATE_COMPLETE"
    assert dataset["StatusMessageCode"] == "SUCCESS"
    assert dataset["StatusMessage"]
    assert found[0]["CreationTimestamp"] <= found[1]["CreationTimestamp"]


def test_describe_projects_paginates_by_hand_and_with_a_paginator(start_server: Any):
    client = start_server().client()
    created = [client.create_project(ProjectName=f"page-{i:02d}")["ProjectArn"] for i in range(7)]
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"MaxResults": 3, **({"NextToken": token} if token else {})}
        page = client.describe_projects(**kwargs)
        seen += [p["ProjectArn"] for p in page["ProjectDescriptions"]]
        pages += 1
        if "NextToken" not in page:
            break
        token = page["NextToken"]
    assert seen == created
    assert pages == 3
    paginated = [
        p["ProjectArn"]
        for page in client.get_paginator("describe_projects").paginate(
            PaginationConfig={"PageSize": 2}
        )
        for p in page["ProjectDescriptions"]
    ]
    assert paginated == created


def test_describe_projects_rejects_a_forged_token(rekognition: Any):
    with pytest.raises(rekognition.exceptions.InvalidPaginationTokenException):
        rekognition.describe_projects(NextToken="not-a-token")


def test_delete_project_removes_it_and_its_datasets(rekognition: Any, project_name: str):
    arn = rekognition.create_project(ProjectName=project_name)["ProjectArn"]
    train = rekognition.create_dataset(ProjectArn=arn, DatasetType="TRAIN")["DatasetArn"]
    assert rekognition.delete_project(ProjectArn=arn)["Status"] == "DELETING"
    deadline = time.monotonic() + 10
    while rekognition.describe_projects(ProjectNames=[project_name])["ProjectDescriptions"]:
        assert time.monotonic() < deadline, "project still listed"
        time.sleep(0.05)
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
        rekognition.describe_dataset(DatasetArn=train)
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
        rekognition.delete_project(ProjectArn=arn)
    # The name is free again.
    assert rekognition.create_project(ProjectName=project_name)["ProjectArn"] != arn


def test_delete_project_of_nothing_is_not_found(rekognition: Any):
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException) as info:
        rekognition.delete_project(
            ProjectArn="arn:aws:rekognition:us-east-1:123456789012:project/nothing/1"
        )
    assert error_code(info) == "ResourceNotFoundException"


def test_projects_are_scoped_by_region(server: Any, project_name: str):
    east = server.client()
    west = __import__("boto3").client(
        "rekognition",
        endpoint_url=server.url,
        region_name="us-west-2",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    arn = east.create_project(ProjectName=project_name)["ProjectArn"]
    assert west.describe_projects(ProjectNames=[project_name])["ProjectDescriptions"] == []
    with pytest.raises(ClientError) as info:
        west.delete_project(ProjectArn=arn)
    assert error_code(info) == "ResourceNotFoundException"
    west_arn = west.create_project(ProjectName=project_name)["ProjectArn"]
    assert ":us-west-2:" in west_arn
