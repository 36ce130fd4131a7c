"""Building and reading the ARNs of projects, datasets and models (project versions), in the
formats of the service model."""

from __future__ import annotations

import re
from dataclasses import dataclass

_DATASET_ARN = re.compile(
    r"^arn:[a-z\d-]+:rekognition:(?P<region>[a-z\d-]+):(?P<account>\d{12}):"
    r"project/(?P<project>[a-zA-Z0-9_.\-]{1,255})/dataset/(?P<type>train|test)/(?P<ms>[0-9]+)$"
)
_PROJECT_ARN = re.compile(
    r"^arn:[a-z\d-]+:rekognition:(?P<region>[a-z\d-]+):(?P<account>\d{12}):"
    r"project/(?P<project>[a-zA-Z0-9_.\-]{1,255})/(?P<ms>[0-9]+)$"
)
_VERSION_ARN = re.compile(
    r"^arn:[a-z\d-]+:rekognition:(?P<region>[a-z\d-]+):(?P<account>\d{12}):"
    r"project/(?P<project>[a-zA-Z0-9_.\-]{1,255})/version/(?P<version>[a-zA-Z0-9_.\-]{1,255})"
    r"/(?P<ms>[0-9]+)$"
)


@dataclass(frozen=True, slots=True)
class ArnParts:
    region: str
    account: str
    project: str


def project_arn(region: str, account: str, name: str, created_ms: int) -> str:
    return f"arn:aws:rekognition:{region}:{account}:project/{name}/{created_ms}"


def dataset_arn(region: str, account: str, project: str, dataset_type: str, created_ms: int) -> str:
    kind = dataset_type.lower()
    return f"arn:aws:rekognition:{region}:{account}:project/{project}/dataset/{kind}/{created_ms}"


def parse_project_arn(arn: str) -> ArnParts | None:
    match = _PROJECT_ARN.match(arn)
    return ArnParts(match["region"], match["account"], match["project"]) if match else None


def parse_dataset_arn(arn: str) -> ArnParts | None:
    match = _DATASET_ARN.match(arn)
    return ArnParts(match["region"], match["account"], match["project"]) if match else None


def version_arn(region: str, account: str, project: str, version: str, created_ms: int) -> str:
    prefix = f"arn:aws:rekognition:{region}:{account}:project/{project}"
    return f"{prefix}/version/{version}/{created_ms}"


def parse_version_arn(arn: str) -> ArnParts | None:
    match = _VERSION_ARN.match(arn)
    return ArnParts(match["region"], match["account"], match["project"]) if match else None
