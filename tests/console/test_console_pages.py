"""The console in a real browser (Debian's Chromium through Playwright) against a real server:
what boto3 created is what the pages show, filters and deep links match ListDatasetEntries,
pages follow NextToken, the entry view moves by keys, and an update in progress is watched."""

from __future__ import annotations

import os
import shutil
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from console_kit import classification, gallery_path, jsonl, ref, sample_lines

from conftest import Sample
from support.server import Server, ServerFactory, all_entries, new_dataset, wait_for_status

DOCS = Path(__file__).parent.parent.parent / "docs"
# MANIFESTDB_UPDATE_SCREENSHOTS=1 copies the screenshots over the README's (docs/console-*.png).
UPDATE_SCREENSHOTS = os.environ.get("MANIFESTDB_UPDATE_SCREENSHOTS", "") not in ("", "0")
FILTER_CASES: list[dict[str, Any]] = [
    {},
    {"ContainsLabels": ["dog"]},
    {"ContainsLabels": ["cat", "flower"]},
    {"Labeled": "false"},
    {"Labeled": "true", "HasErrors": "false"},
    {"HasErrors": "true"},
    {"SourceRefContains": "rot"},
    {"ContainsLabels": ["dog"], "SourceRefContains": "a.jp"},
]


def shown_refs(page: Any) -> list[str]:
    page.wait_for_selector("#main[aria-busy=false] #count:not(:empty)")
    return [
        str(ref)
        for ref in page.locator(".tile").evaluate_all(
            "tiles => tiles.map(tile => tile.dataset.sourceRef)"
        )
    ]


def boto3_filters(filters: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {}
    for name, value in filters.items():
        converted[name] = value == "true" if name in ("Labeled", "HasErrors") else value
    return converted


def wait_for_images(page: Any) -> None:
    page.wait_for_function(
        "() => [...document.images].every(image => image.complete && image.naturalWidth > 0)"
    )


def screenshot(page: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=False)
    if UPDATE_SCREENSHOTS:
        shutil.copyfile(path, DOCS / name)
    return path


def test_the_projects_page_lists_what_boto3_created(
    console: Server, sample: Sample, page: Any
) -> None:
    client = console.client()
    _, test_arn = new_dataset(client, None, "TEST", project=sample.project_arn)
    page.goto(console.url + "/")
    assert page.url == console.url + "/console/"
    for arn in (sample.dataset_arn, test_arn):
        row = page.locator(f'tr.dataset[data-dataset-arn="{arn}"]')
        row.wait_for()
        description = client.describe_dataset(DatasetArn=arn)["DatasetDescription"]
        assert row.locator("td.status").inner_text() == description["Status"]
        assert description["StatusMessage"] in row.inner_text()
        for name, value in description["DatasetStats"].items():
            assert row.locator(f"td.{name}").inner_text() == str(value), name
    projects = client.describe_projects()["ProjectDescriptions"]
    assert page.locator("section.project").count() == len(projects)
    page.locator(f'tr.dataset[data-dataset-arn="{sample.dataset_arn}"] a').click()
    page.wait_for_selector(".tile")
    assert urllib.parse.unquote(page.url).endswith(sample.dataset_arn)


def test_the_gallery_draws_boxes_chips_and_error_badges(
    console: Server, sample: Sample, page: Any, tmp_path: Path
) -> None:
    page.goto(console.url + gallery_path(sample.dataset_arn))
    assert shown_refs(page) == [line["source-ref"] for line in sample.lines]
    wait_for_images(page)
    for line in sample.lines:
        tile = page.locator(f'.tile[data-source-ref="{line["source-ref"]}"]')
        annotations = line.get("bbox", {}).get("annotations", [])
        assert tile.locator("rect.box").count() == len(annotations), line["source-ref"]
        assert tile.locator("img").get_attribute("alt") == line["source-ref"]
        names = {box.get_attribute("data-label") for box in tile.locator("rect.box").all()}
        class_map = line.get("bbox-metadata", {}).get("class-map", {})
        assert names == {class_map[str(a["class_id"])] for a in annotations}
        chips = set(tile.locator(".chip").all_inner_texts())
        expected = set(names)
        if "kind-metadata" in line:
            expected.add(line["kind-metadata"]["class-name"])
        assert chips == expected, line["source-ref"]
    stored = {e["source-ref"]: e for e in all_entries(console.client(), sample.dataset_arn)}
    for source_ref, entry in stored.items():
        badge = page.locator(f'.tile[data-source-ref="{source_ref}"] .badge.errors')
        has_errors = "errors" in entry or any(
            "errors" in box for box in entry.get("bbox", {}).get("annotations", [])
        )
        assert badge.count() == (1 if has_errors else 0), source_ref
    assert page.locator(".badge.errors").count() >= 1
    # The sidebar: every label with its counts, as ListDatasetLabels says.
    labels = console.client().list_dataset_labels(DatasetArn=sample.dataset_arn)
    for label in labels["DatasetLabelDescriptions"]:
        option = page.locator(".label-option", has_text=label["LabelName"])
        stats = label["LabelStats"]
        assert option.locator(".counts").inner_text() == (
            f"{stats['EntryCount']} · {stats['BoundingBoxCount']} boxed"
        )
    # A placeholder is an image too: the missing object's tile is not a broken image.
    missing = page.locator(f'.tile[data-source-ref="{ref("missing.jpg")}"] img')
    assert missing.evaluate("image => image.naturalWidth") > 0
    screenshot(page, tmp_path, "console-gallery.png")


@pytest.mark.parametrize("filters", FILTER_CASES, ids=lambda f: urllib.parse.urlencode(f, True))
def test_a_deep_link_shows_what_list_dataset_entries_lists(
    console: Server, sample: Sample, page: Any, filters: dict[str, Any]
) -> None:
    page.goto(console.url + gallery_path(sample.dataset_arn, **filters))
    expected = all_entries(console.client(), sample.dataset_arn, **boto3_filters(filters))
    assert shown_refs(page) == [entry["source-ref"] for entry in expected]
    form = page.locator("#filters")
    for label in filters.get("ContainsLabels", []):
        assert form.locator(f'input[name=ContainsLabels][value="{label}"]').is_checked()
    for name in ("Labeled", "HasErrors"):
        assert form.locator(f"select[name={name}]").input_value() == filters.get(name, "")
    assert form.get_by_label("Source-ref contains").input_value() == filters.get(
        "SourceRefContains", ""
    )


def test_changing_a_filter_changes_the_url_and_a_reload_keeps_it(
    console: Server, sample: Sample, page: Any
) -> None:
    page.goto(console.url + gallery_path(sample.dataset_arn))
    shown_refs(page)
    page.get_by_label("dog").check()
    page.wait_for_url("**ContainsLabels=dog**")
    page.get_by_label("Errors").select_option("false")
    page.wait_for_url("**HasErrors=false**")
    search = page.get_by_label("Source-ref contains")
    search.fill("a.jpg")
    search.press("Enter")
    page.wait_for_url("**SourceRefContains=a.jpg**")
    query = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)
    assert query == {
        "ContainsLabels": ["dog"],
        "HasErrors": ["false"],
        "SourceRefContains": ["a.jpg"],
    }
    expected = all_entries(
        console.client(),
        sample.dataset_arn,
        ContainsLabels=["dog"],
        HasErrors=False,
        SourceRefContains="a.jpg",
    )
    assert shown_refs(page) == [entry["source-ref"] for entry in expected] == [ref("a.jpg")]
    page.reload()
    assert shown_refs(page) == [ref("a.jpg")]
    assert page.get_by_label("dog").is_checked()
    page.get_by_label("dog").uncheck()  # from the keyboard too: focus and space
    page.wait_for_function("() => !location.search.includes('ContainsLabels')")
    page.wait_for_selector("#main[aria-busy=false] #count:not(:empty)")
    page.get_by_label("flower").focus()
    page.keyboard.press("Space")
    page.wait_for_url("**ContainsLabels=flower**")


def test_what_is_typed_while_a_filter_change_loads_is_kept(
    console: Server, sample: Sample, page: Any
) -> None:
    page.goto(console.url + gallery_path(sample.dataset_arn))
    shown_refs(page)
    held: list[Any] = []
    holding = [True]

    def hold(route: Any) -> None:  # the page's requests wait until the test lets them go
        if holding[0]:
            held.append(route)
        else:
            route.continue_()

    page.route("**/console/api/datasets/**", hold)
    page.get_by_label("dog").check()
    page.wait_for_url("**ContainsLabels=dog**")
    page.wait_for_selector("#main[aria-busy=true]")
    search = page.get_by_label("Source-ref contains")
    search.press_sequentially("a.jpg")  # into the view being replaced
    for _ in range(100):  # the route's handler runs while Playwright waits
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the filter change asked the server for nothing"
    holding[0] = False
    for route in held:
        route.continue_()
    page.wait_for_url("**SourceRefContains=a.jpg**")
    assert shown_refs(page) == [ref("a.jpg")]  # (waits for the view to be drawn)
    assert search.input_value() == "a.jpg"
    assert search.evaluate("input => input === document.activeElement")  # typing goes on
    assert page.get_by_label("dog").is_checked()
    assert shown_refs(page) == [ref("a.jpg")]


def test_pages_follow_next_token(console: Server, page: Any) -> None:
    lines = [classification(ref(f"many/{index:03}.jpg"), "flower") for index in range(130)]
    _, dataset_arn = new_dataset(console.client(), jsonl(lines))
    page.goto(console.url + gallery_path(dataset_arn))
    first = shown_refs(page)
    assert len(first) == 100 and page.locator("#previous").is_disabled()
    page.locator("#next").click()
    page.wait_for_url("**NextToken=**")
    page.wait_for_function("() => document.querySelectorAll('.tile').length === 30")
    second = shown_refs(page)
    assert first + second == [line["source-ref"] for line in lines]
    assert page.locator("#next").is_disabled()
    page.reload()  # the page's token is in the URL
    assert shown_refs(page) == second
    page.locator("#previous").click()
    page.wait_for_function("() => document.querySelectorAll('.tile').length === 100")
    assert shown_refs(page) == first
    assert "NextToken" not in page.url


def test_the_entry_view_shows_one_entry_and_moves_by_keys(
    console: Server, sample: Sample, page: Any, tmp_path: Path
) -> None:
    page.goto(console.url + gallery_path(sample.dataset_arn, HasErrors="false"))
    refs = shown_refs(page)
    page.locator(".tile a").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/entry?**")
    page.wait_for_selector("#line")
    image = page.locator("figure img")
    assert image.get_attribute("alt") == refs[0] == ref("a.jpg")
    assert page.locator("figure rect.box").count() == 2
    assert set(page.locator("#labels .chip").all_inner_texts()) == {"dog", "cat"}
    assert '"source-ref": "s3://imgs/a.jpg"' in page.locator("#line").inner_text()
    wait_for_images(page)
    screenshot(page, tmp_path, "console-entry.png")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => document.querySelector('figure img')?.alt === {refs[1]!r}")
    page.locator("#next").click()
    page.wait_for_function(f"() => document.querySelector('figure img')?.alt === {refs[2]!r}")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"() => document.querySelector('figure img')?.alt === {refs[1]!r}")
    assert "HasErrors=false" in page.url
    page.keyboard.press("Escape")
    page.wait_for_function("() => !location.pathname.endsWith('/entry')")
    assert shown_refs(page) == refs
    assert "HasErrors=false" in page.url


def test_the_entry_view_says_what_is_wrong_at_each_level(
    console: Server, sample: Sample, page: Any
) -> None:
    page.goto(console.url + gallery_path(sample.dataset_arn, HasErrors="true"))
    shown_refs(page)
    page.locator(f'.tile[data-source-ref="{ref("notes.jpg")}"] a').click()
    problems = page.locator("#problems")
    problems.wait_for()
    text = problems.inner_text()
    assert "Box 1 of “bbox” (cat)" in text
    assert "ERROR_BOUNDING_BOX_TOO_SMALL" in text
    image = page.locator("figure img")
    assert image.get_attribute("alt") == ref("notes.jpg")
    wait_for_images(page)  # the image loads after the view is drawn
    assert image.evaluate("image => image.naturalWidth") > 0  # the placeholder


def test_the_gallery_watches_an_update_and_refreshes(
    start_server: ServerFactory, buckets: Path, page: Any
) -> None:
    server = start_server("--local-buckets", str(buckets), "--job-delay", "2")
    client = server.client()
    _, dataset_arn = new_dataset(client, jsonl(sample_lines()[:2]))
    page.goto(server.url + gallery_path(dataset_arn))
    assert len(shown_refs(page)) == 2
    client.update_dataset_entries(
        DatasetArn=dataset_arn, Changes={"GroundTruth": jsonl(sample_lines()[2:4])}
    )
    page.reload()
    banner = page.locator("#update-status")
    banner.wait_for()
    assert "UPDATE_IN_PROGRESS" in banner.inner_text()
    page.wait_for_function("() => document.querySelectorAll('.tile').length === 4", timeout=20_000)
    assert (
        "UPDATE_COMPLETE"
        in client.describe_dataset(DatasetArn=dataset_arn)["DatasetDescription"]["Status"]
    )
    # A failed update: the page shows UPDATE_FAILED with the status message.
    client.update_dataset_entries(DatasetArn=dataset_arn, Changes={"GroundTruth": b"not json\n"})
    page.get_by_label("Errors").select_option("true")  # a new view while the update runs
    page.wait_for_selector("#update-status:has-text('UPDATE_FAILED')", timeout=20_000)
    description = wait_for_status(client, dataset_arn)
    assert description["StatusMessage"] in page.locator("#update-status").inner_text()
