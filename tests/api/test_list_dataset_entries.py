"""ListDatasetEntries: every filter, their combinations, and pagination."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from support.lines import box_line, image_line, manifest
from support.server import all_entries, new_dataset, wait_for_status


def _bad_box_line(ref: str) -> dict[str, Any]:
    line = box_line(ref, [("car", 10, 10, 50, 50)])
    line["bounding-box"]["annotations"][0]["left"] = -5  # off frame: an error in the line
    return line


@pytest.fixture(scope="module")
def mixed(rekognition: Any) -> str:
    """300 entries: labels by i % 3, every 10th unlabeled, every 7th with an error."""
    lines = []
    for i in range(300):
        ref = f"s3://bucket/{'cats' if i % 2 else 'dogs'}/img{i:04d}.jpg"
        if i % 10 == 0:
            lines.append({"source-ref": ref})
        elif i % 7 == 0:
            lines.append(_bad_box_line(ref))
        else:
            lines.append(image_line(ref, ("red", "green", "blue")[i % 3]))
    _, train = new_dataset(rekognition, manifest(*lines))
    assert wait_for_status(rekognition, train)["Status"] == "UPDATE_COMPLETE"
    return train


def refs(entries: list[dict[str, Any]]) -> list[int]:
    return [int(e["source-ref"][-8:-4]) for e in entries]


def expected(predicate: Any) -> list[int]:
    return [i for i in range(300) if predicate(i)]


def labeled(i: int) -> bool:
    return i % 10 != 0


def has_error(i: int) -> bool:
    return labeled(i) and i % 7 == 0


def label_of(i: int) -> str | None:
    if not labeled(i) or has_error(i):
        return None
    return ("red", "green", "blue")[i % 3]


def test_no_filter_returns_everything_in_order_of_addition(rekognition: Any, mixed: str):
    assert refs(all_entries(rekognition, mixed)) == list(range(300))


@pytest.mark.parametrize(
    ("filters", "predicate"),
    [
        ({"Labeled": True}, labeled),
        ({"Labeled": False}, lambda i: not labeled(i)),
        ({"HasErrors": True}, has_error),
        ({"HasErrors": False}, lambda i: not has_error(i)),
        ({"ContainsLabels": ["red"]}, lambda i: label_of(i) == "red"),
        ({"ContainsLabels": ["red", "blue"]}, lambda i: label_of(i) in ("red", "blue")),
        ({"ContainsLabels": ["nothing"]}, lambda i: False),
        ({"SourceRefContains": "cats/"}, lambda i: i % 2 == 1),
        ({"SourceRefContains": "img0012"}, lambda i: i == 12),
        ({"SourceRefContains": "CATS"}, lambda i: False),
        ({"SourceRefContains": "absent-substring"}, lambda i: False),
        ({"SourceRefContains": "1"}, lambda i: "1" in f"img{i:04d}.jpg"),
        ({"SourceRefContains": "s/img001"}, lambda i: 10 <= i < 20),  # "s/i": not a word
        ({"SourceRefContains": "s/i"}, lambda i: True),  # no trigram of letters and digits
        (
            {"ContainsLabels": ["green"], "SourceRefContains": "dogs"},
            lambda i: label_of(i) == "green" and i % 2 == 0,
        ),
        (
            {"ContainsLabels": ["green", "red"], "HasErrors": False, "Labeled": True},
            lambda i: label_of(i) in ("green", "red"),
        ),
        (
            {"Labeled": True, "HasErrors": True, "SourceRefContains": "cats"},
            lambda i: has_error(i) and i % 2 == 1,
        ),
        ({"Labeled": False, "ContainsLabels": ["red"]}, lambda i: False),
    ],
    ids=lambda value: orjson.dumps(value).decode() if isinstance(value, dict) else "",
)
def test_filters_combine_with_and(
    rekognition: Any, mixed: str, filters: dict[str, Any], predicate: Any
):
    assert refs(all_entries(rekognition, mixed, **filters)) == expected(predicate)


def test_entries_with_errors_carry_them_in_the_line(rekognition: Any, mixed: str):
    (entry, *_) = all_entries(rekognition, mixed, HasErrors=True)
    annotation = entry["bounding-box"]["annotations"][0]
    assert annotation["errors"][0]["code"] == "ERROR_INVALID_BOUNDING_BOX"
    stats = rekognition.describe_dataset(DatasetArn=mixed)["DatasetDescription"]["DatasetStats"]
    assert stats["ErrorEntries"] == len(expected(has_error))
    assert stats["LabeledEntries"] == len(expected(labeled))


def test_pages_by_hand_follow_next_token_until_it_is_absent(rekognition: Any, mixed: str):
    seen, token, pages = [], "", 0
    while True:
        page = rekognition.list_dataset_entries(DatasetArn=mixed, MaxResults=40, NextToken=token)
        assert len(page["DatasetEntries"]) <= 40
        seen += refs([orjson.loads(e) for e in page["DatasetEntries"]])
        pages += 1
        if "NextToken" not in page:
            break
        token = page["NextToken"]
    assert seen == list(range(300))
    assert pages == 8
    exact = rekognition.list_dataset_entries(DatasetArn=mixed, MaxResults=100)
    for _ in range(2):
        exact = rekognition.list_dataset_entries(
            DatasetArn=mixed, MaxResults=100, NextToken=exact["NextToken"]
        )
    assert "NextToken" not in exact  # 300 entries: the third page of 100 is the last


def test_a_token_from_another_query_or_forged_is_refused(rekognition: Any, mixed: str):
    page = rekognition.list_dataset_entries(DatasetArn=mixed, MaxResults=5, Labeled=True)
    with pytest.raises(rekognition.exceptions.InvalidPaginationTokenException):
        rekognition.list_dataset_entries(DatasetArn=mixed, NextToken=page["NextToken"])
    with pytest.raises(rekognition.exceptions.InvalidPaginationTokenException):
        rekognition.list_dataset_labels(DatasetArn=mixed, NextToken=page["NextToken"])
    forged = page["NextToken"][:-3] + ("AAA" if page["NextToken"][-3:] != "AAA" else "BBB")
    with pytest.raises(rekognition.exceptions.InvalidPaginationTokenException):
        rekognition.list_dataset_entries(
            DatasetArn=mixed, MaxResults=5, Labeled=True, NextToken=forged
        )


def test_pages_stay_correct_while_lines_are_added(rekognition: Any):
    _, train = new_dataset(
        rekognition, manifest(*(image_line(f"s3://bkt/{i:03d}.jpg", "a") for i in range(50)))
    )
    first = rekognition.list_dataset_entries(DatasetArn=train, MaxResults=20)
    rekognition.update_dataset_entries(
        DatasetArn=train,
        Changes={
            "GroundTruth": manifest(
                image_line("s3://bkt/000.jpg", "b"),  # replaces a line already returned
                *(image_line(f"s3://bkt/new{i}.jpg", "a") for i in range(5)),
            )
        },
    )
    wait_for_status(rekognition, train)
    rest, token = [], first["NextToken"]
    while token:
        page = rekognition.list_dataset_entries(DatasetArn=train, MaxResults=20, NextToken=token)
        rest += [orjson.loads(e)["source-ref"] for e in page["DatasetEntries"]]
        token = page.get("NextToken")
    seen = [orjson.loads(e)["source-ref"] for e in first["DatasetEntries"]] + rest
    assert len(seen) == len(set(seen)) == 55
    assert seen[:50] == [f"s3://bkt/{i:03d}.jpg" for i in range(50)]


def test_paginator_with_filters_over_many_pages(rekognition: Any, mixed: str):
    pages = list(
        rekognition.get_paginator("list_dataset_entries").paginate(
            DatasetArn=mixed, ContainsLabels=["blue"], PaginationConfig={"PageSize": 7}
        )
    )
    got = [i for page in pages for i in refs([orjson.loads(e) for e in page["DatasetEntries"]])]
    assert got == expected(lambda i: label_of(i) == "blue")
    assert len(pages) == -(-len(got) // 7)


def test_labels_whose_text_holds_another_labels_key_are_told_apart(rekognition: Any):
    """A label's key in an entry's label counts is `"name":`; a label named `x"name` (or one
    with a backslash) holds that text too. ContainsLabels must still match names, not text, on
    every path: labels alone, and labels with a substring (the text pre-check)."""
    tricky = ['x"cat', 'x\\"cat', "cat\\", 'a":"cat']
    lines = [image_line(f"s3://bucket/pets/{i:03d}.jpg", name) for i, name in enumerate(tricky)]
    lines.append(image_line("s3://bucket/pets/100.jpg", "cat"))
    lines.append(image_line("s3://bucket/pets/101.jpg", "cat", 'x"cat'))
    _, train = new_dataset(rekognition, manifest(*lines))
    assert wait_for_status(rekognition, train)["Status"] == "UPDATE_COMPLETE"
    want = ["s3://bucket/pets/100.jpg", "s3://bucket/pets/101.jpg"]
    for extra in ({}, {"SourceRefContains": "pets/"}, {"SourceRefContains": "/1"}):
        got = all_entries(rekognition, train, ContainsLabels=["cat"], **extra)
        assert [e["source-ref"] for e in got] == want, extra
    for name in tricky:
        got = all_entries(rekognition, train, ContainsLabels=[name], SourceRefContains="pets/")
        assert {e["source-ref"] for e in got} == {
            line["source-ref"] for line in lines if name in _names(line)
        }, name


def _names(line: dict[str, Any]) -> set[str]:
    return {
        value["class-name"]
        for key, value in line.items()
        if key.endswith("-metadata") and "class-name" in value
    }


def test_nul_characters_are_refused_in_lines_and_match_nothing_in_filters(rekognition: Any):
    """PostgreSQL text holds no NUL and SQLite's FTS5 stops at one: a source-ref with a NUL is
    dropped, a label with one makes its metadata invalid, and a filter with one matches nothing
    (once a 500 on PostgreSQL, and a failed update that lost the whole change)."""
    _, train = new_dataset(
        rekognition,
        manifest(
            image_line("s3://bucket/a\u0000b.jpg", "cat"),
            image_line("s3://bucket/nul-label.jpg", "c\u0000t"),
            box_line("s3://bucket/nul-box.jpg", [("d\u0000g", 10, 10, 50, 50)]),
            *(image_line(f"s3://bucket/fine{i}.jpg", "cat") for i in range(5)),
        ),  # 1 line dropped of 8: within the 20% a change may drop
    )
    description = wait_for_status(rekognition, train)
    assert description["Status"] == "UPDATE_COMPLETE", description
    assert description["DatasetStats"]["TotalEntries"] == 7
    assert description["DatasetStats"]["ErrorEntries"] == 2
    labels = rekognition.list_dataset_labels(DatasetArn=train)["DatasetLabelDescriptions"]
    assert [label["LabelName"] for label in labels] == ["cat"]
    stored = {entry["source-ref"]: entry for entry in all_entries(rekognition, train)}
    assert sorted(stored) == [
        *(f"s3://bucket/fine{i}.jpg" for i in range(5)),
        "s3://bucket/nul-box.jpg",
        "s3://bucket/nul-label.jpg",
    ]
    assert stored["s3://bucket/nul-label.jpg"]["label-metadata"]["errors"] == [
        {
            "code": "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT",
            "message": "The format of the label attribute metadata is invalid.",
        }
    ]
    for filters in (
        {"SourceRefContains": "\u0000"},
        {"SourceRefContains": "a\u0000b"},
        {"SourceRefContains": "fine\u0000"},
        {"ContainsLabels": ["c\u0000t"]},
        {"ContainsLabels": ["cat", "\u0000"]},
    ):
        answer = rekognition.list_dataset_entries(DatasetArn=train, **filters)
        assert answer["DatasetEntries"] == [], filters
        assert "NextToken" not in answer
