"""The projects page's changes in Chromium, each checked through boto3: create a project, create
a dataset empty or from a manifest file picked or dropped (pushed in changes under 5 MiB, with a
progress bar), delete after a confirmation; and the operations route's rules over HTTP."""

from __future__ import annotations

import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import orjson
import urllib3
from console_kit import classification, jsonl

from support.server import Server, wait_for_status

HTTP = urllib3.PoolManager(retries=False)
OWN = {"X-Manifestdb-Console": "1", "X-CSRF-Token": "off"}  # what the page's changes carry


def drawn(page: Any) -> None:
    page.wait_for_selector("#main[aria-busy=false] h1:text('Projects')")


def datasets_of(console: Server, name: str) -> dict[str, dict[str, Any]]:
    """type -> DescribeDataset's description, with the dataset's ARN."""
    rekognition = console.client()
    (project,) = rekognition.describe_projects(ProjectNames=[name])["ProjectDescriptions"]
    return {
        item["DatasetType"]: {
            "DatasetArn": item["DatasetArn"],
            **rekognition.describe_dataset(DatasetArn=item["DatasetArn"])["DatasetDescription"],
        }
        for item in project["Datasets"]
    }


def big_manifest(path: Path, lines: int) -> bytes:
    """A manifest over 5 MiB: the page must push it as two changes or more."""
    pad = "x" * 500
    data = jsonl(
        [
            {**classification(f"s3://imgs/big/{i:06d}.jpg", f"label-{i % 7}"), "note": pad}
            for i in range(lines)
        ]
    )
    path.write_bytes(data)
    return data


def test_create_a_project_and_its_datasets_then_delete_them(
    console: Server, page: Any, tmp_path: Path
) -> None:
    name = f"made-in-console-{uuid.uuid4().hex[:6]}"
    page.goto(console.url + "/console/")
    drawn(page)
    page.get_by_label("New project name").fill(name)
    page.get_by_role("button", name="Create project").click()
    page.wait_for_selector(f"section.project h2:has-text('{name}')")
    assert datasets_of(console, name) == {}

    section = page.locator("section.project", has=page.locator(f"h2:has-text('{name}')"))
    section.get_by_label("Dataset type").select_option("TRAIN")
    section.get_by_role("button", name="Create dataset").click()
    page.wait_for_selector(f"section.project:has(h2:has-text('{name}')) tr.dataset")
    train = datasets_of(console, name)["TRAIN"]
    assert train["Status"] == "CREATE_COMPLETE" and train["DatasetStats"]["TotalEntries"] == 0

    manifest = tmp_path / "big.manifest"
    data = big_manifest(manifest, 9000)
    assert len(data) > 5 * 1024 * 1024
    section = page.locator("section.project", has=page.locator(f"h2:has-text('{name}')"))
    section.get_by_label("Manifest (optional)").set_input_files(str(manifest))
    section.get_by_role("button", name="Create dataset").click()
    page.wait_for_function(
        f'() => document.querySelectorAll("section.project tr.dataset").length > 0 && '
        f"[...document.querySelectorAll('section.project')].some(s => s.textContent.includes("
        f"'{name}') && s.querySelectorAll('tr.dataset').length === 2)",
        timeout=60_000,
    )
    test = datasets_of(console, name)["TEST"]
    assert test["DatasetStats"]["TotalEntries"] == 9000
    assert test["DatasetStats"]["TotalLabels"] == 7
    arn = urllib.parse.quote(test["DatasetArn"], safe="")
    reports = orjson.loads(
        HTTP.request("GET", f"{console.url}/_manifestdb/datasets/{arn}/updates").data
    )["Updates"]
    assert len(reports) >= 2  # pushed as changes under 5 MiB, each applied
    assert sum(report["added"] for report in reports) == 9000
    entries = console.client().list_dataset_entries(DatasetArn=test["DatasetArn"], MaxResults=1)
    assert orjson.loads(entries["DatasetEntries"][0])["note"] == "x" * 500  # kept whole

    row = page.locator(f"section.project:has(h2:has-text('{name}')) tr.dataset").filter(
        has_text="TRAIN"
    )
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("button", name=f"Delete {name} TRAIN").click()
    time.sleep(0.5)
    assert "TRAIN" in datasets_of(console, name)  # dismissed: nothing deleted
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=f"Delete {name} TRAIN").click()
    page.wait_for_function(
        f"() => [...document.querySelectorAll('section.project')].some(s => "
        f"s.textContent.includes('{name}') && s.querySelectorAll('tr.dataset').length === 1)"
    )
    assert set(datasets_of(console, name)) == {"TEST"}

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Delete {name}", exact=True).click()
    deadline = time.monotonic() + 30
    rekognition = console.client()
    while rekognition.describe_projects(ProjectNames=[name])["ProjectDescriptions"]:
        assert time.monotonic() < deadline, "the project was not deleted"
        time.sleep(0.1)


def test_a_manifest_dropped_on_the_page_creates_a_dataset(console: Server, page: Any) -> None:
    name = f"dropped-{uuid.uuid4().hex[:6]}"
    project = console.client().create_project(ProjectName=name)["ProjectArn"]
    page.goto(console.url + "/console/")
    drawn(page)
    lines = jsonl([classification(f"s3://imgs/d/{i}.jpg", "cat") for i in range(12)]).decode()
    section = page.locator("section.project", has=page.locator(f"h2:has-text('{name}')"))
    section.locator(".drop").evaluate(
        """(zone, text) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], "dropped.manifest"));
            zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true }));
        }""",
        lines,
    )
    assert "dropped.manifest" in section.locator(".drop").inner_text()
    section.get_by_role("button", name="Create dataset").click()
    page.wait_for_selector(f"section.project:has(h2:has-text('{name}')) tr.dataset")
    (item,) = console.client().describe_projects(ProjectNames=[name])["ProjectDescriptions"]
    dataset = item["Datasets"][0]["DatasetArn"]
    assert wait_for_status(console.client(), dataset)["DatasetStats"]["TotalEntries"] == 12
    assert project == item["ProjectArn"]


def test_the_operations_route_is_the_api_with_the_csrf_rule(console: Server) -> None:
    url = console.url + "/console/api/operations/"
    name = f"op-{uuid.uuid4().hex[:6]}"
    body = orjson.dumps({"ProjectName": name})
    refused = HTTP.request("POST", url + "CreateProject", body=body)
    assert orjson.loads(refused.data)["__type"] == "AccessDeniedException"
    other_site = HTTP.request(
        "POST",
        url + "CreateProject",
        body=body,
        headers={**OWN, "Origin": "https://evil.example"},
    )
    assert orjson.loads(other_site.data)["__type"] == "AccessDeniedException"
    assert console.client().describe_projects(ProjectNames=[name])["ProjectDescriptions"] == []
    made = HTTP.request("POST", url + "CreateProject", body=body, headers=OWN)
    assert made.status == 200 and orjson.loads(made.data)["ProjectArn"].endswith(
        tuple("0123456789")
    )
    invalid = HTTP.request(
        "POST",
        url + "CreateProject",
        body=orjson.dumps({"ProjectName": "no spaces"}),
        headers=OWN,
    )
    answer = orjson.loads(invalid.data)
    assert answer["__type"] == "ValidationException"
    assert "Member must satisfy regular expression pattern" in answer["Message"]
    unknown = HTTP.request("POST", url + "DetectLabels", body=b"{}", headers=OWN)
    assert orjson.loads(unknown.data)["__type"] == "InvalidParameterException"
