"""The one request pipeline: every route answers an unexpected exception with the AWS JSON error
shape, a request id and an access-log line (a fault injected into a real server process)."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route

from manifestdb.config import Settings
from manifestdb.store import Store
from manifestdb.wire.app import create_app
from support.raw import TARGET_PREFIX, Answer, check_request_id, send
from support.server import Server, ServerFactory

DATASET_ARN = "arn:aws:rekognition:us-east-1:000000000000:project/p/dataset/train/1"
UPDATES_PATH = "/_manifestdb/datasets/" + urllib.parse.quote(DATASET_ARN, safe=":/") + "/updates"
CONSOLE_API = "/console/api/datasets/" + urllib.parse.quote(DATASET_ARN, safe="")
CONSOLE_IMAGES = "/console/images/" + urllib.parse.quote(DATASET_ARN, safe="")
# Every route of the app, how to reach it, and the operation its log line names.
ROUTES: dict[tuple[str, str], list[tuple[str, dict[str, str], str]]] = {
    ("/", "POST"): [
        ("/", {"X_Amz_Target": TARGET_PREFIX + "DescribeProjects"}, "DescribeProjects"),
        ("/", {"X_Amz_Target": TARGET_PREFIX + "UpdateDatasetEntries"}, "UpdateDatasetEntries"),
        ("/", {}, "-"),
    ],
    ("/_manifestdb/health", "GET"): [("/_manifestdb/health", {}, "Health")],
    ("/_manifestdb/datasets/{arn:path}/updates", "GET"): [(UPDATES_PATH, {}, "ListUpdateReports")],
    ("/_manifestdb/history/{operation}", "POST"): [
        ("/_manifestdb/history/ListDatasetVersions", {}, "ListDatasetVersions"),
        ("/_manifestdb/history/NoSuchOperation", {}, "-"),
    ],
    ("/", "GET"): [("/?from=test", {}, "ConsoleRedirect")],
    ("/console/", "GET"): [("/console/", {}, "ConsolePage")],
    ("/console/datasets/{view:path}", "GET"): [
        ("/console/datasets/" + urllib.parse.quote(DATASET_ARN, safe=""), {}, "ConsolePage")
    ],
    ("/console/static/{name}", "GET"): [("/console/static/app.js", {}, "ConsoleAsset")],
    ("/console/api/projects", "GET"): [("/console/api/projects", {}, "ConsoleProjects")],
    ("/console/api/session", "GET"): [("/console/api/session", {}, "ConsoleSession")],
    ("/console/api/login", "POST"): [("/console/api/login", {}, "ConsoleLogin")],
    ("/console/api/logout", "POST"): [("/console/api/logout", {}, "ConsoleLogout")],
    ("/console/api/operations/{operation}", "POST"): [
        ("/console/api/operations/DescribeProjects", {}, "ConsoleOperation")
    ],
    ("/console/api/history/{operation}", "POST"): [
        ("/console/api/history/ListDatasetVersions", {}, "ConsoleHistory")
    ],
    ("/console/api/datasets/{arn:path}", "GET"): [(CONSOLE_API, {}, "ConsoleDataset")],
    ("/console/api/datasets/{arn:path}/labels", "GET"): [
        (CONSOLE_API + "/labels", {}, "ConsoleLabels")
    ],
    ("/console/api/datasets/{arn:path}/entries", "GET"): [
        (CONSOLE_API + "/entries", {}, "ConsoleEntries")
    ],
    ("/console/api/datasets/{arn:path}/entry", "GET"): [
        (CONSOLE_API + "/entry?source-ref=s3://b/k.jpg", {}, "ConsoleEntry")
    ],
    ("/console/api/datasets/{arn:path}/edits", "POST"): [
        (CONSOLE_API + "/edits", {"X_Manifestdb_Console": "1"}, "ConsoleSaveEntries")
    ],
    ("/console/images/{arn:path}/thumbnail", "GET"): [
        (CONSOLE_IMAGES + "/thumbnail?source-ref=s3://b/k.jpg", {}, "ConsoleThumbnail")
    ],
    ("/console/images/{arn:path}/image", "GET"): [
        (CONSOLE_IMAGES + "/image?source-ref=s3://b/k.jpg", {}, "ConsoleImage")
    ],
}
NO_ROUTE = [
    ("GET", "/nowhere", 404),
    ("GET", "/_manifestdb/health/", 404),  # a slash too many: no redirect without a body
    ("DELETE", "/", 405),
    ("PUT", "/_manifestdb/health", 405),
]


@pytest.fixture(scope="module")
def faulty(start_server: ServerFactory) -> Server:
    return start_server(env={"MANIFESTDB_FAULT": "1"})


def test_the_table_names_every_route_of_the_app(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, runner=False)
    store = Store(settings.store_url())
    try:
        served = {
            (route.path, method)
            for route in create_app(settings, store).routes
            if isinstance(route, Route)
            for method in route.methods or ()
            if method != "HEAD"
        }
    finally:
        store.close()
    assert served == set(ROUTES), "add the new route to ROUTES so its fault is tested"


def check_internal_error(answer: Answer, server: Server, operation: str) -> None:
    request_id = check_request_id(answer)
    assert answer.status == 500, answer.body
    assert answer.headers["content-type"] == "application/x-amz-json-1.1"
    assert answer.headers["x-amzn-errortype"] == "InternalServerError"
    body = answer.json
    assert body["__type"] == "InternalServerError"
    assert body["Logref"] == request_id
    assert request_id in body["Message"]
    assert "Traceback" not in answer.body.decode()
    log = server.log()
    assert f"unexpected error in {operation} (request {request_id})" in log
    assert re.search(rf"^.*{re.escape(operation)} 500 \d+\.\dms$", log, re.MULTILINE), log


@pytest.mark.parametrize(
    ("method", "path", "headers", "operation"),
    [(method, *case) for (_, method), cases in ROUTES.items() for case in cases],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_fault_in_any_route_is_an_aws_json_error(
    faulty: Server, method: str, path: str, headers: dict[str, str], operation: str
) -> None:
    answer = send(faulty.url, method, path, b"{}", X_Manifestdb_Fault="1", **headers)
    check_internal_error(answer, faulty, operation)


@pytest.mark.parametrize(("method", "path", "status"), NO_ROUTE)
def test_a_fault_where_no_route_is_an_aws_json_error(
    faulty: Server, method: str, path: str, status: int
) -> None:
    assert send(faulty.url, method, path).status == status
    check_internal_error(send(faulty.url, method, path, X_Manifestdb_Fault="1"), faulty, "-")


@pytest.mark.parametrize(("method", "path", "status"), NO_ROUTE)
def test_no_route_is_an_aws_json_error_with_a_log_line(
    server: Server, method: str, path: str, status: int
) -> None:
    answer = send(server.url, method, path)
    request_id = check_request_id(answer)
    assert answer.status == status
    assert answer.json["__type"] == "UnknownOperationException"
    assert answer.json["Logref"] == request_id
    assert f"No route for {method} {path}." in answer.json["Message"]
    assert re.search(rf" - {status} \d+\.\dms$", server.log(), re.MULTILINE)


def test_without_the_variable_the_fault_header_is_ignored(server: Server) -> None:
    answer = send(server.url, "GET", "/_manifestdb/health", X_Manifestdb_Fault="1")
    assert answer.status == 200
    assert answer.json["status"] == "ok"
    check_request_id(answer)


def test_every_route_writes_one_access_log_line(server: Server) -> None:
    answers: list[tuple[str, Any]] = [
        ("Health", send(server.url, "GET", "/_manifestdb/health")),
        ("DescribeProjects", send(server.url, "POST", "/", b"{}", **ROUTES[("/", "POST")][0][1])),
        ("ListUpdateReports", send(server.url, "GET", UPDATES_PATH)),
    ]
    log = server.log()
    for operation, answer in answers:
        assert answer.status in (200, 400), answer.body
        assert re.search(rf" {operation} {answer.status} \d+\.\dms$", log, re.MULTILINE), (
            f"no access-log line for {operation}"
        )
