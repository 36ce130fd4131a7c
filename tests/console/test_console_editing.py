"""Editing in a real browser: labels and boxes of one entry, labels of a selection, each saved
as an UpdateDatasetEntries change and checked through boto3 (the line in Ground Truth's form, the
new stats); a stale save refused with the new line shown; a busy dataset; the Updates page."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import orjson
from console_kit import classification, gallery_path, jsonl, ref, sample_lines
from test_console_pages import screenshot, shown_refs, wait_for_images

from manifestdb.manifest.line import check_line
from manifestdb.manifest.types import Entry
from support.server import Server, ServerFactory, new_dataset, wait_for_status


def entry_path(dataset_arn: str, source_ref: str) -> str:
    query = urllib.parse.urlencode({"source-ref": source_ref})
    return f"/console/datasets/{urllib.parse.quote(dataset_arn, safe='')}/entry?{query}"


def line_of(client: Any, dataset_arn: str, source_ref: str) -> dict[str, Any]:
    paginator = client.get_paginator("list_dataset_entries")
    for page in paginator.paginate(DatasetArn=dataset_arn):
        for text in page["DatasetEntries"]:
            line: dict[str, Any] = orjson.loads(text)
            if line["source-ref"] == source_ref:
                return line
    raise AssertionError(f"no entry {source_ref}")


def valid_ground_truth(line: dict[str, Any]) -> None:
    """The line as exported: judged again, it has no problem at all."""
    entry = check_line(orjson.dumps(line), 1)
    assert isinstance(entry, Entry) and not entry.problems, entry


def labels_of(client: Any, dataset_arn: str) -> dict[str, dict[str, int]]:
    found = client.list_dataset_labels(DatasetArn=dataset_arn)["DatasetLabelDescriptions"]
    return {label["LabelName"]: label["LabelStats"] for label in found}


def open_entry(page: Any, server: Server, dataset_arn: str, source_ref: str) -> None:
    page.goto(server.url + entry_path(dataset_arn, source_ref))
    page.wait_for_selector("#main[aria-busy=false] #editor")
    wait_for_images(page)


def save_and_wait(page: Any, status: str = "UPDATE_COMPLETE") -> str:
    page.locator("#save").click()
    page.wait_for_selector(f"#main[aria-busy=false] #save-status:has-text('{status}')")
    return str(page.locator("#save-status").inner_text())


def drag(
    page: Any, start: tuple[float, float], end: tuple[float, float], size: tuple[int, int]
) -> None:
    """A mouse drag between two points in the image's pixels."""
    box = page.locator("#canvas").bounding_box()

    def screen(point: tuple[float, float]) -> tuple[float, float]:
        return box["x"] + point[0] * box["width"] / size[0], box["y"] + point[1] * box[
            "height"
        ] / size[1]

    page.mouse.move(*screen(start))
    page.mouse.down()
    page.mouse.move(*screen(((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)), steps=3)
    page.mouse.move(*screen(end), steps=3)
    page.mouse.up()


def test_an_image_level_label_is_added_and_removed_on_one_entry(console: Server, page: Any) -> None:
    client = console.client()
    _, arn = new_dataset(client, jsonl(sample_lines()))
    open_entry(page, console, arn, ref("flower.png"))
    page.get_by_label("New image-level label").fill("tulip")
    page.get_by_label("New image-level label").press("Enter")
    page.get_by_role("button", name="Remove label flower").click()
    assert "UPDATE_COMPLETE" in save_and_wait(page)
    line = line_of(client, arn, ref("flower.png"))
    assert [key for key in line if key != "cl-metadata"] == [
        "source-ref",
        "label-1",
        "label-1-metadata",
    ]
    assert line["label-1"] == 1
    meta = line["label-1-metadata"]
    assert meta["class-name"] == "tulip" and meta["type"] == "groundtruth/image-classification"
    assert (meta["confidence"], meta["human-annotated"], meta["job-name"]) == (
        1,
        "yes",
        "manifestdb-console",
    )
    valid_ground_truth(line)
    labels = labels_of(client, arn)
    assert labels["tulip"] == {"EntryCount": 1, "BoundingBoxCount": 0}
    assert labels["flower"]["EntryCount"] == 1  # missing.jpg keeps its flower
    # The page shows the stored line now.
    assert '"class-name": "tulip"' in page.locator("#line").inner_text()
    assert set(page.locator("#labels .chip").all_inner_texts()) == {"tulip"}


def test_a_box_is_drawn_moved_resized_relabelled_and_deleted(
    console: Server, page: Any, tmp_path: Path
) -> None:
    client = console.client()
    _, arn = new_dataset(client, jsonl(sample_lines()))
    size = (300, 200)  # flower.png: its first box makes a new bounding-box attribute
    open_entry(page, console, arn, ref("flower.png"))
    page.get_by_label("Label of new boxes").fill("petal")
    drag(page, (50, 40), (150, 120), size)
    assert page.locator("#canvas rect.editable").count() == 1
    screenshot(page, tmp_path, "console-edit.png")
    save_and_wait(page)
    line = line_of(client, arn, ref("flower.png"))
    assert line["bounding-box"]["image_size"] == [{"width": 300, "height": 200, "depth": 4}]
    (box,) = line["bounding-box"]["annotations"]
    assert box["class_id"] == 0 and line["bounding-box-metadata"]["class-map"] == {"0": "petal"}
    assert abs(box["left"] - 50) <= 2 and abs(box["top"] - 40) <= 2
    assert abs(box["width"] - 100) <= 3 and abs(box["height"] - 80) <= 3
    assert all(type(box[side]) is int for side in ("left", "top", "width", "height"))
    assert line["bounding-box-metadata"]["objects"] == [{"confidence": 1}]
    assert line["bounding-box-metadata"]["type"] == "groundtruth/object-detection"
    valid_ground_truth(line)
    assert labels_of(client, arn)["petal"] == {"EntryCount": 1, "BoundingBoxCount": 1}

    # Move it by 30 px right, then resize from its bottom-right corner.
    before = dict(box)
    centre = (box["left"] + box["width"] / 2, box["top"] + box["height"] / 2)
    drag(page, centre, (centre[0] + 30, centre[1] + 10), size)
    corner = (box["left"] + 30 + box["width"], box["top"] + 10 + box["height"])
    drag(page, corner, (corner[0] + 40, corner[1] + 20), size)
    save_and_wait(page)
    moved = line_of(client, arn, ref("flower.png"))["bounding-box"]["annotations"][0]
    assert abs(moved["left"] - (before["left"] + 30)) <= 2
    assert abs(moved["top"] - (before["top"] + 10)) <= 2
    assert abs(moved["width"] - (before["width"] + 40)) <= 3
    assert abs(moved["height"] - (before["height"] + 20)) <= 3

    # Relabel it, then delete it.
    page.locator("#box-list button").first.click()
    page.get_by_label("Label of the selected box").fill("leaf")
    page.get_by_label("Label of the selected box").press("Enter")
    save_and_wait(page)
    line = line_of(client, arn, ref("flower.png"))
    assert line["bounding-box-metadata"]["class-map"] == {"1": "leaf"}
    assert line["bounding-box"]["annotations"][0]["class_id"] == 1
    valid_ground_truth(line)
    labels = labels_of(client, arn)
    assert "petal" not in labels and labels["leaf"]["BoundingBoxCount"] == 1
    page.locator("#box-list button").first.focus()
    page.keyboard.press("Delete")  # from the keyboard
    save_and_wait(page)
    line = line_of(client, arn, ref("flower.png"))
    assert "bounding-box" not in line and "bounding-box-metadata" not in line
    valid_ground_truth(line)
    assert "leaf" not in labels_of(client, arn)


def test_boxes_of_an_existing_attribute_keep_its_frame_and_ids(console: Server, page: Any) -> None:
    client = console.client()
    _, arn = new_dataset(client, jsonl(sample_lines()))
    open_entry(page, console, arn, ref("a.jpg"))
    page.locator("#box-list button").nth(1).click()  # the cat
    page.get_by_role("button", name="Delete box").click()
    page.get_by_label("Label of new boxes").fill("bird")
    drag(page, (400, 300), (500, 400), (640, 480))
    save_and_wait(page)
    line = line_of(client, arn, ref("a.jpg"))
    assert line["bbox"]["image_size"] == [{"width": 640, "height": 480, "depth": 3}]
    assert line["bbox-metadata"]["class-map"] == {"0": "dog", "2": "bird"}
    assert [a["class_id"] for a in line["bbox"]["annotations"]] == [0, 2]
    assert line["bbox"]["annotations"][0] == {
        "class_id": 0,
        "left": 100,
        "top": 100,
        "width": 200,
        "height": 200,
    }
    valid_ground_truth(line)
    stats = client.describe_dataset(DatasetArn=arn)["DatasetDescription"]["DatasetStats"]
    assert stats["TotalEntries"] == 6


def test_a_label_is_added_to_and_removed_from_a_selection(console: Server, page: Any) -> None:
    client = console.client()
    lines = [classification(ref(f"sel/{index}.jpg"), "flower") for index in range(5)]
    _, arn = new_dataset(client, jsonl(lines))
    page.goto(console.url + gallery_path(arn))
    refs = shown_refs(page)
    page.get_by_label(f"Select {refs[0]}").click()
    page.get_by_label(f"Select {refs[3]}").click(modifiers=["Shift"])  # 0..3
    assert page.locator("#selected-count").inner_text() == "4 selected"
    page.get_by_label("Image-level label").fill("sunny")
    page.get_by_role("button", name="Add label to selected").click()
    page.wait_for_selector("#main[aria-busy=false] #selection-status:has-text('UPDATE_COMPLETE')")
    for index, source_ref in enumerate(refs):
        line = line_of(client, arn, source_ref)
        has = any(
            key.endswith("-metadata") and value.get("class-name") == "sunny"
            for key, value in line.items()
        )
        assert has == (index <= 3), source_ref
        valid_ground_truth(line)
    assert labels_of(client, arn)["sunny"]["EntryCount"] == 4
    stats = client.describe_dataset(DatasetArn=arn)["DatasetDescription"]["DatasetStats"]
    assert stats["TotalLabels"] == 2
    # From the keyboard: focus a checkbox, Space; then remove flower from the two chosen.
    page.get_by_label(f"Select {refs[1]}").focus()
    page.keyboard.press("Space")
    page.get_by_label(f"Select {refs[4]}").focus()
    page.keyboard.press("Space")
    assert page.locator("#selected-count").inner_text() == "2 selected"
    page.get_by_label("Image-level label").fill("flower")
    page.get_by_role("button", name="Remove label from selected").click()
    page.wait_for_selector("#main[aria-busy=false] #selection-status:has-text('UPDATE_COMPLETE')")
    assert labels_of(client, arn)["flower"]["EntryCount"] == 3
    assert "flower" not in str(line_of(client, arn, refs[4]))
    assert page.locator(f'.tile[data-source-ref="{refs[4]}"] .chip').count() == 0


def test_a_stale_save_is_refused_and_shows_the_new_line(console: Server, page: Any) -> None:
    client = console.client()
    _, arn = new_dataset(client, jsonl(sample_lines()))
    open_entry(page, console, arn, ref("flower.png"))
    client.update_dataset_entries(
        DatasetArn=arn, Changes={"GroundTruth": jsonl([classification(ref("flower.png"), "rose")])}
    )
    wait_for_status(client, arn)
    page.get_by_label("New image-level label").fill("tulip")
    page.get_by_role("button", name="Add label").click()
    page.locator("#save").click()
    page.wait_for_selector(
        "#main[aria-busy=false] #save-status:has-text('changed since the page loaded it')"
    )
    assert '"class-name": "rose"' in page.locator("#line").inner_text()
    line = line_of(client, arn, ref("flower.png"))
    assert line["kind-metadata"]["class-name"] == "rose" and "tulip" not in str(line)


def test_a_save_while_another_update_runs_says_so(
    start_server: ServerFactory, buckets: Path, page: Any
) -> None:
    server = start_server("--local-buckets", str(buckets), "--job-delay", "2")
    client = server.client()
    _, arn = new_dataset(client, jsonl(sample_lines()))
    open_entry(page, server, arn, ref("flower.png"))
    page.get_by_label("New image-level label").fill("tulip")
    page.get_by_role("button", name="Add label").click()
    client.update_dataset_entries(
        DatasetArn=arn, Changes={"GroundTruth": jsonl([classification(ref("other.jpg"), "x")])}
    )
    page.locator("#save").click()
    status = page.locator("#save-status")
    page.wait_for_selector("#save-status:has-text('another update')")
    assert "UPDATE_IN_PROGRESS" in status.inner_text()  # the service's words: what to wait for
    wait_for_status(client, arn)
    assert "tulip" not in str(line_of(client, arn, ref("flower.png")))
    # Once it is done, the same save goes through, and the page shows it in progress.
    page.locator("#save").click()
    page.wait_for_selector("#save-status:has-text('UPDATE_IN_PROGRESS: saving 1 entry')")
    page.wait_for_selector("#main[aria-busy=false] #save-status:has-text('UPDATE_COMPLETE')")
    assert "tulip" in str(line_of(client, arn, ref("flower.png")))


def test_the_updates_page_shows_each_report(console: Server, page: Any, tmp_path: Path) -> None:
    client = console.client()
    _, arn = new_dataset(client, jsonl(sample_lines()))
    bees = [classification(ref(f"bee/{index}.jpg"), "bee") for index in range(9)]
    client.update_dataset_entries(
        DatasetArn=arn,
        Changes={"GroundTruth": jsonl(bees) + b"not json\n"},
    )
    wait_for_status(client, arn)
    client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": b"not json\n"})
    wait_for_status(client, arn)
    page.goto(console.url + gallery_path(arn))
    shown_refs(page)
    page.locator("#updates-link").click()
    page.wait_for_selector("#main[aria-busy=false] #updates article.report")
    reports = page.locator("article.report")
    assert reports.count() == 3
    newest, middle = reports.nth(0), reports.nth(1)
    assert "UPDATE_FAILED" in newest.inner_text()
    assert "ERROR_" in newest.locator(".terminal").inner_text()
    assert middle.locator('dd[data-fact="Lines read"]').inner_text() == "10"
    assert middle.locator('dd[data-fact="Added"]').inner_text() == "9"
    assert middle.locator('dd[data-fact="Dropped"]').inner_text() == "1"
    assert middle.locator('dd[data-fact="Labels added"]').inner_text() == "bee"
    assert "ERROR_INVALID_JSON_LINE" in middle.locator("table.dropped").inner_text()
    assert middle.locator("table.dropped td").first.inner_text() == "10"
    screenshot(page, tmp_path, "console-updates.png")


def test_the_updates_page_follows_next_token(console: Server, page: Any) -> None:
    client = console.client()
    _, arn = new_dataset(client, jsonl(sample_lines()[:1]))
    for index in range(21):
        client.update_dataset_entries(
            DatasetArn=arn,
            Changes={"GroundTruth": jsonl([classification(ref(f"u{index}.jpg"), "x")])},
        )
        wait_for_status(client, arn)
    page.goto(console.url + gallery_path(arn).replace("?", "") + "/updates")
    page.wait_for_selector("#main[aria-busy=false] article.report")
    assert page.locator("article.report").count() == 20
    page.locator("#older").click()
    page.wait_for_url("**next_token=**")
    page.wait_for_function("() => document.querySelectorAll('article.report').length === 2")
    page.locator("#newest").click()
    page.wait_for_function("() => document.querySelectorAll('article.report').length === 20")
