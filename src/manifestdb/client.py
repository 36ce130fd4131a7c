"""A Python client for manifestdb's own operations (history: docs/history.md), signed as boto3
signs: the standard AWS credential chain (environment, profile, ...), SigV4 for `rekognition`.

    from manifestdb.client import HistoryClient
    history = HistoryClient(endpoint_url="http://127.0.0.1:8777")
    for version in history.paginate("ListDatasetVersions", "Versions", DatasetArn=arn):
        print(version["VersionNumber"], version["Kind"], version["Caller"])
    history.revert_dataset_version(DatasetArn=arn, VersionNumber=3)

Each operation is a method named in snake case taking the API's member names; an error raises
botocore's `ClientError`, with the AWS error code and message, as a boto3 call does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

OPERATIONS = (
    "ListDatasetVersions",
    "DescribeDatasetVersion",
    "ListDatasetEntriesAtVersion",
    "ListDatasetLabelsAtVersion",
    "DiffDatasetVersions",
    "RevertDatasetVersion",
    "RestoreDatasetVersion",
    "DeleteDatasetEntries",
)
DEFAULT_REGION = "us-east-1"
SERVICE = "rekognition"  # what a manifestdb server checks the signature's scope against


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


class HistoryClient:
    """The history operations of a manifestdb server at `endpoint_url`."""

    def __init__(
        self,
        endpoint_url: str | None = None,
        *,
        profile: str | None = None,
        region: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        timeout: int = 60,
    ) -> None:
        import botocore.session
        from botocore.credentials import Credentials
        from botocore.httpsession import URLLib3Session

        self._session = botocore.session.Session(profile=profile)
        # Keys given here win, as with boto3.client(); else the credential chain, at each call.
        self._keys = (
            Credentials(aws_access_key_id, aws_secret_access_key, aws_session_token)
            if aws_access_key_id and aws_secret_access_key
            else None
        )
        endpoint = endpoint_url or self._session.get_config_variable("endpoint_url")
        if not endpoint:
            raise ValueError(
                "no endpoint: pass endpoint_url (http://HOST:PORT of a manifestdb server) or set "
                "AWS_ENDPOINT_URL"
            )
        self.endpoint_url = str(endpoint).rstrip("/")
        self.region = region or self._session.get_config_variable("region") or DEFAULT_REGION
        self._http = URLLib3Session(timeout=timeout)

    def __getattr__(self, name: str) -> Any:
        for operation in OPERATIONS:
            if _snake(operation) == name:
                return lambda **params: self.call(operation, **params)
        raise AttributeError(name)

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """Run one operation; its JSON answer."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.exceptions import ClientError, NoCredentialsError

        if operation not in OPERATIONS:
            raise ValueError(f"{operation!r} is not a history operation: {', '.join(OPERATIONS)}")
        credentials = self._keys or self._session.get_credentials()
        if credentials is None:
            raise NoCredentialsError()
        request = AWSRequest(
            method="POST",
            url=f"{self.endpoint_url}/_manifestdb/history/{operation}",
            data=orjson.dumps(params),
            headers={"Content-Type": "application/json"},
        )
        SigV4Auth(credentials, SERVICE, self.region).add_auth(request)
        response = self._http.send(request.prepare())
        body = response.content or b"{}"
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            document = {"message": body[:200].decode(errors="replace")}
        if response.status_code >= 300:
            code = str(document.get("__type", "Error")).rpartition("#")[2]
            error: Any = {
                "Error": {
                    "Code": code,
                    "Message": document.get("message") or document.get("Message", ""),
                },
                "ResponseMetadata": {
                    "HTTPStatusCode": response.status_code,
                    "RequestId": response.headers.get("x-amzn-RequestId", ""),
                },
            }
            raise ClientError(error, operation)
        result: dict[str, Any] = document
        return result

    def paginate(self, operation: str, key: str, **params: Any) -> Iterator[Any]:
        """Every item of `key` across the pages of a paginated operation (NextToken)."""
        token: str | None = None
        while True:
            page = self.call(operation, **params, **({"NextToken": token} if token else {}))
            yield from page.get(key, [])
            token = page.get("NextToken")
            if not token:
                return
