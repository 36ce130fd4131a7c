"""Why a line is wrong, in the entry view: beside each of the stored line's errors and warnings
(AWS's code and message, all a stored line keeps), the detail the server computes by judging the
stored line again (the field, the value found and the rule). Over HTTP and in a real browser."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import orjson
from console_kit import META, detection, jsonl, ref
from test_console_editing import open_entry
from test_console_pages import screenshot

from support.raw import send
from support.server import Server, new_dataset


def narrow() -> dict[str, Any]:
    """a.jpg with an image_size AWS refuses (20 pixels wide) and a box without a confidence."""
    line = detection(ref("a.jpg"), (20, 480), [(0, 2, 10, 10, 100)], {0: "dog"})
    return line


def unconfident() -> dict[str, Any]:
    """rotated.jpg: two boxes, one confidence; the second box is 1 x 1 pixels."""
    line = detection(
        ref("rotated.jpg"), (480, 640), [(0, 20, 30, 200, 300), (0, 5, 5, 1, 1)], {0: "dog"}
    )
    line["bbox-metadata"]["objects"] = [{"confidence": 1}]
    return line


def flower_without_confidence() -> dict[str, Any]:
    meta = {"class-name": "flower", "type": "groundtruth/image-classification", **META}
    return {"source-ref": ref("flower.png"), "kind": 1, "kind-metadata": meta}


def entry_json(server: Server, dataset_arn: str, source_ref: str) -> Any:
    arn = urllib.parse.quote(dataset_arn, safe="")
    query = urllib.parse.urlencode({"source-ref": source_ref})
    answer = send(server.url, "GET", f"/console/api/datasets/{arn}/entry?{query}")
    assert answer.status == 200, answer.body
    return answer.json


def test_the_entry_route_gives_each_problem_its_detail(console: Server) -> None:
    _, arn = new_dataset(console.client(), jsonl([narrow(), unconfident()]))
    found = entry_json(console, arn, ref("a.jpg"))
    stored = orjson.loads(found["DatasetEntry"])
    assert "detail" not in found["DatasetEntry"]  # the stored line keeps AWS's words only
    dimension, no_valid = stored["errors"]
    assert found["Problems"] == [
        {
            "Code": "ERROR_INVALID_IMAGE_DIMENSION",
            "Message": dimension["message"],
            "Level": "line",
            "Warning": False,
            "Attribute": "bbox",
            "AnnotationIndex": None,
            "Detail": "bbox.image_size is 20 x 480 pixels: each side must be 64 to 4096 pixels",
        },
        {
            "Code": "ERROR_NO_VALID_LABEL_ATTRIBUTES",
            "Message": no_valid["message"],
            "Level": "line",
            "Warning": False,
            "Attribute": None,
            "AnnotationIndex": None,
            "Detail": "every label attribute of the line has an error (bbox): see their errors",
        },
    ]
    assert dimension["code"] == "ERROR_INVALID_IMAGE_DIMENSION"
    problems = entry_json(console, arn, ref("rotated.jpg"))["Problems"]
    by_code = {problem["Code"]: problem for problem in problems}
    small = by_code["ERROR_BOUNDING_BOX_TOO_SMALL"]
    assert (small["Level"], small["Attribute"], small["AnnotationIndex"]) == (
        "annotation",
        "bbox",
        1,
    )
    assert small["Detail"] == (
        "bbox.annotations[1] is 1 x 1 pixels: both sides must be more than 1 pixel"
    )
    missing = by_code["ERROR_MISSING_BOUNDING_BOX_CONFIDENCE"]
    assert missing["Level"] == "metadata" and "only 1 of the first 2" in missing["Detail"]


def test_the_entry_view_shows_why_each_error_is_one(
    console: Server, page: Any, tmp_path: Path
) -> None:
    _, arn = new_dataset(
        console.client(), jsonl([narrow(), unconfident(), flower_without_confidence()])
    )
    open_entry(page, console, arn, ref("a.jpg"))
    dimension, no_valid = page.locator("#problems li.error").all()
    assert dimension.locator("code").inner_text() == "ERROR_INVALID_IMAGE_DIMENSION"
    # The size found and the limit, beside AWS's words.
    assert "The image dimension(s) do not conform" in dimension.inner_text()
    assert dimension.locator(".detail").inner_text() == (
        "bbox.image_size is 20 x 480 pixels: each side must be 64 to 4096 pixels"
    )
    assert no_valid.locator(".detail").inner_text() == (
        "every label attribute of the line has an error (bbox): see their errors"
    )

    open_entry(page, console, arn, ref("rotated.jpg"))
    items = page.locator("#problems li.error")
    texts = {items.nth(n).locator("code").inner_text(): items.nth(n) for n in range(items.count())}
    small = texts["ERROR_BOUNDING_BOX_TOO_SMALL"]
    assert small.locator("strong").inner_text().startswith("Box 2 of “bbox”")
    assert small.locator(".detail").inner_text() == (
        "bbox.annotations[1] is 1 x 1 pixels: both sides must be more than 1 pixel"
    )
    assert "only 1 of the first 2 entries of bbox-metadata.objects carry a confidence" in (
        texts["ERROR_MISSING_BOUNDING_BOX_CONFIDENCE"].locator(".detail").inner_text()
    )

    page.locator("#problems").scroll_into_view_if_needed()
    screenshot(page, tmp_path, "console-problems.png")

    open_entry(page, console, arn, ref("flower.png"))
    assert page.locator("#problems li.error .detail").all_inner_texts() == [
        "every label attribute of the line has an error (kind): see their errors",
        "kind-metadata.confidence is missing: it must be a number from 0 to 1",
    ]
