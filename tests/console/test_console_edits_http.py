"""The console's save over HTTP: one UpdateDatasetEntries change of Ground Truth lines, refused
without the console's header or from another origin, refused when a line changed meanwhile."""

from __future__ import annotations

import urllib.parse
from typing import Any

import orjson
import pytest
from console_kit import classification, jsonl, ref, sample_lines

from manifestdb.manifest.line import check_line
from manifestdb.manifest.types import Entry
from support.raw import Answer, send
from support.server import Server, all_entries, new_dataset, wait_for_status

HEADER = {"X_Manifestdb_Console": "1", "X_CSRF_Token": "off"}


def save_path(dataset_arn: str) -> str:
    return f"/console/api/datasets/{urllib.parse.quote(dataset_arn, safe='')}/edits"


def stored_line(server: Server, dataset_arn: str, source_ref: str) -> str:
    entries = server.client().list_dataset_entries(
        DatasetArn=dataset_arn, SourceRefContains=source_ref.rpartition("/")[2]
    )["DatasetEntries"]
    return next(e for e in entries if orjson.loads(e)["source-ref"] == source_ref)


def save(server: Server, dataset_arn: str, edits: list[dict[str, Any]], **headers: str) -> Answer:
    body = orjson.dumps({"Entries": edits})
    return send(server.url, "POST", save_path(dataset_arn), body, **headers)


@pytest.fixture
def dataset(console: Server) -> str:
    return new_dataset(console.client(), jsonl(sample_lines()))[1]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X_Manifestdb_Console": "yes"},
        {**HEADER, "Origin": "http://evil.example"},
        {**HEADER, "Origin": "null"},
        {**HEADER, "Sec_Fetch_Site": "cross-site"},
        {**HEADER, "Sec_Fetch_Site": "same-site"},
    ],
    ids=["no header", "wrong value", "other origin", "null origin", "cross-site", "same-site"],
)
def test_a_save_not_from_the_console_s_page_is_refused(
    console: Server, dataset: str, headers: dict[str, str]
) -> None:
    loaded = stored_line(console, dataset, ref("flower.png"))
    edit = {"SourceRef": ref("flower.png"), "Loaded": loaded, "AddLabels": ["tulip"]}
    answer = save(console, dataset, [edit], **headers)
    assert answer.status == 403, answer.body
    assert answer.json["__type"] == "AccessDeniedException"
    assert "console" in answer.json["Message"]
    assert stored_line(console, dataset, ref("flower.png")) == loaded


def test_a_save_is_one_update_of_ground_truth_lines(console: Server, dataset: str) -> None:
    client = console.client()
    loaded = stored_line(console, dataset, ref("flower.png"))
    host = urllib.parse.urlparse(console.url).netloc
    edit = {"SourceRef": ref("flower.png"), "Loaded": loaded, "AddLabels": ["tulip"]}
    answer = save(
        console, dataset, [edit], Origin=f"http://{host}", Sec_Fetch_Site="same-origin", **HEADER
    )
    assert answer.status == 200, answer.body
    assert answer.json == {"SourceRefs": [ref("flower.png")]}
    assert wait_for_status(client, dataset)["Status"] == "UPDATE_COMPLETE"
    line = orjson.loads(stored_line(console, dataset, ref("flower.png")))
    assert line["label-1"] == 1 and line["label-1-metadata"]["class-name"] == "tulip"
    assert line["label-1-metadata"]["job-name"] == "manifestdb-console"
    entry = check_line(orjson.dumps(line), 1)
    assert isinstance(entry, Entry) and not entry.problems
    labels = {
        d["LabelName"]
        for d in client.list_dataset_labels(DatasetArn=dataset)["DatasetLabelDescriptions"]
    }
    assert "tulip" in labels
    # Nothing changed: nothing sent, the dataset is not updated.
    again = save(
        console,
        dataset,
        [{**edit, "Loaded": stored_line(console, dataset, ref("flower.png"))}],
        **HEADER,
    )
    assert again.status == 200 and again.json == {"SourceRefs": []}


def test_a_stale_save_is_refused_and_overwrites_nothing(console: Server, dataset: str) -> None:
    client = console.client()
    loaded = stored_line(console, dataset, ref("flower.png"))
    client.update_dataset_entries(
        DatasetArn=dataset,
        Changes={"GroundTruth": jsonl([classification(ref("flower.png"), "rose")])},
    )
    wait_for_status(client, dataset)
    now = stored_line(console, dataset, ref("flower.png"))
    edit = {"SourceRef": ref("flower.png"), "Loaded": loaded, "RemoveLabels": ["flower"]}
    answer = save(console, dataset, [edit], **HEADER)
    assert answer.status == 409, answer.body
    assert answer.json["__type"] == "ConflictException"
    assert "changed since the page loaded it" in answer.json["Message"]
    assert stored_line(console, dataset, ref("flower.png")) == now


def test_a_save_while_an_update_runs_is_refused_as_the_api_refuses_it(
    start_server: Any, buckets: Any
) -> None:
    server = start_server("--local-buckets", str(buckets), "--job-delay", "3")
    client = server.client()
    dataset = new_dataset(client, jsonl(sample_lines()))[1]
    loaded = stored_line(server, dataset, ref("flower.png"))
    client.update_dataset_entries(
        DatasetArn=dataset, Changes={"GroundTruth": jsonl([classification(ref("new.jpg"), "x")])}
    )
    edit = {"SourceRef": ref("flower.png"), "Loaded": loaded, "AddLabels": ["tulip"]}
    answer = save(server, dataset, [edit], **HEADER)
    assert answer.status == 400 and answer.json["__type"] == "ResourceInUseException"
    wait_for_status(client, dataset)
    assert stored_line(server, dataset, ref("flower.png")) == loaded
    assert all("tulip" not in str(entry) for entry in all_entries(client, dataset))


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"Entries": []}',
        b'{"Entries": [{"SourceRef": "s3://imgs/a.jpg"}]}',
        b'{"Entries": [{"SourceRef": "s", "Loaded": "", "Boxes": [{"Label": "", "Left": 0}]}]}',
    ],
)
def test_a_malformed_save_says_what_to_send(console: Server, dataset: str, body: bytes) -> None:
    answer = send(console.url, "POST", save_path(dataset), body, **HEADER)
    assert answer.status == 400, answer.body
    assert answer.json["__type"] == "InvalidParameterException"


@pytest.mark.parametrize(
    ("attribute", "said"),
    [
        ("label", "Entries[0].Boxes[2].Attribute is 'label': it must name a bounding-box "),
        (7, "Entries[0].Boxes[2].Attribute is 7: it must be the name of a bounding-box "),
    ],
)
def test_a_box_in_an_attribute_the_line_lacks_is_refused(
    console: Server, dataset: str, attribute: Any, said: str
) -> None:
    loaded = stored_line(console, dataset, ref("a.jpg"))
    boxes = [
        {"Label": "dog", "Left": 100, "Top": 100, "Width": 200, "Height": 200},
        {"Label": "cat", "Left": 360, "Top": 60, "Width": 200, "Height": 150, "Attribute": "bbox"},
        {"Label": "x", "Left": 1, "Top": 1, "Width": 9, "Height": 9, "Attribute": attribute},
    ]
    edit = {"SourceRef": ref("a.jpg"), "Loaded": loaded, "Boxes": boxes}
    answer = save(console, dataset, [edit], **HEADER)
    assert answer.status == 400, answer.body
    assert answer.json["__type"] == "InvalidParameterException"
    assert answer.json["Message"].startswith(said), answer.json["Message"]
    assert stored_line(console, dataset, ref("a.jpg")) == loaded
