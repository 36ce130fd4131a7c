"""The History page in a real browser: a dataset's versions with their callers and counts, the diff
of two versions (entries and label counts), a revert (and its refusal over later changes, then
forced), a restore, entries deleted from a gallery selection and the deletion reverted; every
change checked through boto3. Also the console's history route over HTTP: the CSRF rule, the
history operations' own validation, and IAM's manifestdb: actions for a logged-in user."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import orjson
import pytest
from console_kit import classification, gallery_path, jsonl, ref, sample_lines
from test_console_pages import screenshot, shown_refs

from support.auth import ACCOUNT_A, ALLOW_ALL, client, make_key, start_sigv4
from support.raw import send
from support.server import Server, ServerFactory, all_entries, new_dataset, wait_for_status

HEADER = {"X_Manifestdb_Console": "1", "X_CSRF_Token": "off"}


def history_path(dataset_arn: str, **params: Any) -> str:
    query = urllib.parse.urlencode(params)
    return gallery_path(dataset_arn) + "/history" + (f"?{query}" if query else "")


def lines_by_ref(client: Any, dataset_arn: str) -> dict[str, dict[str, Any]]:
    return {line["source-ref"]: line for line in all_entries(client, dataset_arn)}


def update(client: Any, dataset_arn: str, *lines: dict[str, Any]) -> None:
    client.update_dataset_entries(
        DatasetArn=dataset_arn, Changes={"GroundTruth": jsonl(list(lines))}
    )
    assert wait_for_status(client, dataset_arn)["Status"] == "UPDATE_COMPLETE"


def open_history(page: Any, server: Server, dataset_arn: str, **params: Any) -> None:
    page.goto(server.url + history_path(dataset_arn, **params))
    page.wait_for_selector("#main[aria-busy=false] #versions tr.version")


def rows(page: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.locator("#versions tr.version").evaluate_all(
        """rows => rows.map(row => ({version: row.dataset.version, kind: row.dataset.kind,
            caller: row.querySelector('.caller').textContent,
            did: row.querySelector('.did').textContent,
            stats: row.querySelector('.stats').textContent,
            actions: [...row.querySelectorAll('.actions-cell > *')].map(a => a.textContent)}))"""
    )
    return found


def row(page: Any, version: int) -> Any:
    return page.locator(f"#versions tr.version[data-version='{version}']")


def wait_for_status_text(page: Any, text: str) -> str:
    page.wait_for_selector(f"#main[aria-busy=false] #history-status:has-text('{text}')")
    said: str = page.locator("#history-status").inner_text()
    return said


@pytest.fixture
def dataset(console: Server) -> str:
    """A dataset created empty (version 0), the sample lines (version 1) and an update (version
    2): flower.png relabelled tulip, a new entry added."""
    client = console.client()
    _, arn = new_dataset(client, jsonl(sample_lines()))
    update(
        client,
        arn,
        classification(ref("flower.png"), "tulip"),
        classification(ref("new.jpg"), "tulip"),
    )
    return arn


def test_the_history_page_lists_versions_and_shows_a_diff(
    console: Server, dataset: str, page: Any, tmp_path: Path
) -> None:
    page.goto(console.url + gallery_path(dataset))
    page.wait_for_selector("#main[aria-busy=false] #count:not(:empty)")
    page.locator("#history-link").click()
    page.wait_for_selector("#main[aria-busy=false] #versions tr.version")
    assert page.title().startswith("History")
    found = rows(page)
    assert [(r["version"], r["kind"]) for r in found] == [
        ("2", "update"),
        ("1", "update"),
        ("0", "created"),
    ]
    assert {r["caller"] for r in found} == {"arn:aws:iam::123456789012:root"}
    assert [r["did"] for r in found] == ["1 added, 1 replaced", "6 added", "no entry changed"]
    assert found[0]["stats"].startswith("7 entries, ")
    assert found[2]["stats"].startswith("0 entries, ")
    assert found[0]["actions"] == ["Changes", "Revert"]  # the current version: nothing to restore
    assert found[1]["actions"] == ["Changes", "Since then", "Revert", "Restore"]
    assert found[2]["actions"] == ["Since then", "Restore"]  # the start: no diff, no revert
    row(page, 2).get_by_role("link", name="Changes").click()
    page.wait_for_selector("#main[aria-busy=false] #diff #diff-summary")
    assert page.url.endswith("/history?from=1&to=2")
    assert page.locator("#diff h2").inner_text() == "Changes from version 1 to version 2"
    assert page.locator("#diff-summary").inner_text() == "1 entry added, 0 removed, 1 changed"
    changes = page.locator("#changes tr.change").evaluate_all(
        "rows => rows.map(row => [row.dataset.sourceRef, row.dataset.change, "
        "row.cells[2].textContent, row.cells[3].textContent])"
    )
    assert changes == [
        [ref("flower.png"), "CHANGED", "flower", "tulip"],
        [ref("new.jpg"), "ADDED", "–", "tulip"],
    ]
    counts = page.locator("#label-counts tbody tr").evaluate_all(
        "rows => rows.map(row => [row.dataset.label, "
        "...[...row.cells].slice(1).map(cell => cell.textContent)])"
    )
    assert ["flower", "2", "1", "-1"] in counts and ["tulip", "0", "2", "+2"] in counts
    assert ["dog", "2", "2", "0"] in counts
    screenshot(page, tmp_path, "console-history.png")
    # A changed entry links to its entry view.
    page.locator(f"#changes tr.change[data-source-ref='{ref('flower.png')}'] a").click()
    page.wait_for_selector("#main[aria-busy=false] #line")
    assert '"class-name": "tulip"' in page.locator("#line").inner_text()


def test_two_versions_are_compared_from_the_form_and_a_bad_pair_says_why(
    console: Server, dataset: str, page: Any
) -> None:
    update(console.client(), dataset, classification(ref("a.jpg"), "tulip"))
    open_history(page, console, dataset)
    page.get_by_label("From version").fill("1")
    page.get_by_label("To version").fill("3")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_selector("#main[aria-busy=false] #diff-summary")
    assert page.url.endswith("/history?from=1&to=3")
    assert page.locator("#diff-summary").inner_text() == "1 entry added, 0 removed, 2 changed"
    open_history(page, console, dataset, **{"from": 3, "to": 2})
    problem = page.locator("#diff-problem").inner_text()
    assert problem.startswith(
        "InvalidParameterException: FromVersion (3) must be lower than ToVersion (2)"
    )
    open_history(page, console, dataset, **{"from": 0, "to": 9})
    assert "ToVersion" in page.locator("#diff-problem").inner_text()
    assert "9" in page.locator("#diff-problem").inner_text()


def test_a_version_is_reverted_from_the_page(console: Server, dataset: str, page: Any) -> None:
    client = console.client()
    before = {line["source-ref"]: line for line in sample_lines()}
    open_history(page, console, dataset)
    page.once("dialog", lambda dialog: dialog.dismiss())
    row(page, 2).get_by_role("button", name="Revert").click()
    assert page.locator("#history-status").inner_text() == ""  # dismissed: nothing queued
    assert ref("new.jpg") in lines_by_ref(client, dataset)
    page.once("dialog", lambda dialog: dialog.accept())
    row(page, 2).get_by_role("button", name="Revert").click()
    said = wait_for_status_text(page, "version 3 made")
    assert said == "UPDATE_COMPLETE: version 3 made (1 replaced, 1 removed)."
    stored = lines_by_ref(client, dataset)
    assert set(stored) == set(before)
    assert stored[ref("flower.png")]["kind-metadata"]["class-name"] == "flower"
    newest = rows(page)[0]
    assert (newest["version"], newest["kind"]) == ("3", "revert")
    assert rows(page)[0]["actions"] == ["Changes", "Revert"]  # a revert can be reverted


def test_a_revert_over_later_changes_says_which_and_can_be_forced(
    console: Server, dataset: str, page: Any
) -> None:
    client = console.client()
    update(client, dataset, classification(ref("flower.png"), "rose"))  # version 3
    open_history(page, console, dataset)
    page.once("dialog", lambda dialog: dialog.accept())
    row(page, 2).get_by_role("button", name="Revert").click()
    page.wait_for_selector("#history-status.failed #revert-anyway")
    said = page.locator("#history-status").inner_text()
    assert said.startswith("ConflictException: Version 2 cannot be reverted on its own")
    assert ref("flower.png") in said and "Force" in said
    assert lines_by_ref(client, dataset)[ref("flower.png")]["kind-metadata"]["class-name"] == "rose"
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#revert-anyway").click()
    wait_for_status_text(page, "version 4 made")
    stored = lines_by_ref(client, dataset)
    assert stored[ref("flower.png")]["kind-metadata"]["class-name"] == "flower"
    assert ref("new.jpg") not in stored


def test_the_dataset_is_restored_to_a_version(console: Server, dataset: str, page: Any) -> None:
    client = console.client()
    update(client, dataset, classification(ref("a.jpg"), "tulip"))  # version 3
    open_history(page, console, dataset)
    page.once("dialog", lambda dialog: dialog.accept())
    row(page, 1).get_by_role("button", name="Restore").click()
    wait_for_status_text(page, "version 4 made")
    assert lines_by_ref(client, dataset) == lines_at(console, dataset, 1)
    assert lines_at(console, dataset, 4) == lines_at(console, dataset, 1)
    assert set(lines_at(console, dataset, 1)) == {line["source-ref"] for line in sample_lines()}
    assert rows(page)[0]["kind"] == "restore"


def lines_at(console: Server, dataset: str, version: int) -> dict[str, dict[str, Any]]:
    """The dataset at a version, through the history route the page uses."""
    body = orjson.dumps({"DatasetArn": dataset, "VersionNumber": version, "MaxResults": 100})
    path = "/console/api/history/ListDatasetEntriesAtVersion"
    answer = send(console.url, "POST", path, body, **HEADER)
    assert answer.status == 200, answer.body
    lines = [orjson.loads(text) for text in answer.json["DatasetEntries"]]
    return {line["source-ref"]: line for line in lines}


def test_entries_deleted_from_a_gallery_selection_and_the_deletion_reverted(
    console: Server, page: Any, tmp_path: Path
) -> None:
    client = console.client()
    _, arn = new_dataset(client, jsonl(sample_lines()))
    page.goto(console.url + gallery_path(arn))
    refs = shown_refs(page)
    assert page.locator("#delete-selected").is_disabled()
    picked = [ref("flower.png"), ref("missing.jpg")]
    for source_ref in picked:
        page.locator(f".tile[data-source-ref='{source_ref}'] input.pick").check()
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("#delete-selected").click()
    assert set(lines_by_ref(client, arn)) == set(refs)  # dismissed: nothing deleted
    messages: list[str] = []

    def accept(dialog: Any) -> None:
        messages.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.locator("#delete-selected").click()
    page.wait_for_selector("#main[aria-busy=false] #selection-status:has-text('deleted 2 entries')")
    assert messages == [
        "Delete these 2 entries? The deletion is a version of the dataset: its History page can "
        "revert it."
    ]
    assert shown_refs(page) == [r for r in refs if r not in picked]
    assert set(lines_by_ref(client, arn)) == set(refs) - set(picked)
    stats = client.describe_dataset(DatasetArn=arn)["DatasetDescription"]["DatasetStats"]
    assert stats["TotalEntries"] == len(refs) - 2
    screenshot(page, tmp_path, "console-deleted.png")
    page.locator("#history-link").click()
    page.wait_for_selector("#main[aria-busy=false] #versions tr.version")
    newest = rows(page)[0]
    assert (newest["kind"], newest["did"]) == ("delete_entries", "2 removed")
    page.once("dialog", lambda dialog: dialog.accept())
    row(page, 2).get_by_role("button", name="Revert").click()
    wait_for_status_text(page, "version 3 made")
    assert set(lines_by_ref(client, arn)) == set(refs)


def test_a_deletion_of_a_busy_dataset_says_so_and_deletes_nothing(
    start_server: ServerFactory, buckets: Path, page: Any
) -> None:
    slow = start_server("--local-buckets", str(buckets), "--job-delay", "3")
    client = slow.client()
    _, arn = new_dataset(client, jsonl(sample_lines()))
    page.goto(slow.url + gallery_path(arn))
    refs = shown_refs(page)
    page.locator(f".tile[data-source-ref='{ref('flower.png')}'] input.pick").check()
    client.update_dataset_entries(
        DatasetArn=arn, Changes={"GroundTruth": jsonl([classification(ref("x.jpg"), "x")])}
    )
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#delete-selected").click()
    page.wait_for_selector("#selection-status.failed")
    said = page.locator("#selection-status").inner_text()
    assert said.startswith("Not deleted: another update of this dataset is running."), said
    assert wait_for_status(client, arn)["Status"] == "UPDATE_COMPLETE"
    assert set(lines_by_ref(client, arn)) == set(refs) | {ref("x.jpg")}


# -- the route over HTTP -------------------------------------------------------------------------


def test_the_history_route_keeps_the_console_s_rules(console: Server, dataset: str) -> None:
    body = orjson.dumps({"DatasetArn": dataset, "SourceRefs": [ref("a.jpg")]})
    refused = send(console.url, "POST", "/console/api/history/DeleteDatasetEntries", body)
    assert refused.status == 403 and refused.json["__type"] == "AccessDeniedException"
    assert "console" in refused.json["Message"]
    unknown = send(console.url, "POST", "/console/api/history/DropDataset", b"{}", **HEADER)
    assert unknown.status == 400 and unknown.json["__type"] == "UnknownOperationException"
    assert "DeleteDatasetEntries" in unknown.json["Message"]
    bad = orjson.dumps({"DatasetArn": dataset, "VersionNumber": "one"})
    invalid = send(console.url, "POST", "/console/api/history/RevertDatasetVersion", bad, **HEADER)
    assert invalid.status == 400 and invalid.json["__type"] == "ValidationException"
    assert "'VersionNumber'" in invalid.json["Message"] and '"one"' in invalid.json["Message"]
    broken = send(console.url, "POST", "/console/api/history/ListDatasetVersions", b"[1", **HEADER)
    assert broken.status == 400 and broken.json["__type"] == "SerializationException"
    assert ref("a.jpg") in lines_by_ref(console.client(), dataset)  # nothing was deleted
    listed = send(
        console.url,
        "POST",
        "/console/api/history/ListDatasetVersions",
        orjson.dumps({"DatasetArn": dataset}),
        **HEADER,
    )
    assert [v["VersionNumber"] for v in listed.json["Versions"]] == [2, 1, 0]


EDITOR = make_key(ACCOUNT_A, "console-history-editor")  # may do anything but delete entries
EDITOR_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["rekognition:*", "manifestdb:*"], "Resource": "*"},
        {"Effect": "Deny", "Action": "manifestdb:DeleteDatasetEntries", "Resource": "*"},
    ],
}


def test_a_user_without_the_manifestdb_action_is_refused_with_iam_s_words(
    start_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory, buckets: Path, page: Any
) -> None:
    from test_console_login import log_in

    owner = make_key(ACCOUNT_A, "console-history-owner")
    server, _ = start_sigv4(
        start_server,
        tmp_path_factory.mktemp("history-login"),
        [owner.entry(ALLOW_ALL), EDITOR.entry(EDITOR_POLICY)],
        "--local-buckets",
        str(buckets),
    )
    _, arn = new_dataset(client(server, owner), jsonl(sample_lines()))
    page.goto(server.url + gallery_path(arn))
    log_in(page, EDITOR)
    refs = shown_refs(page)
    page.locator(f".tile[data-source-ref='{ref('flower.png')}'] input.pick").check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#delete-selected").click()
    page.wait_for_selector("#selection-status.failed")
    said = page.locator("#selection-status").inner_text()
    assert said == (
        f"Not deleted: AccessDeniedException: User: {EDITOR.arn} is not authorized to perform: "
        f"manifestdb:DeleteDatasetEntries on resource: {arn} with an explicit deny in an "
        "identity-based policy"
    ), said
    assert set(lines_by_ref(client(server, owner), arn)) == set(refs)
    open_history(page, server, arn)
    assert [r["caller"] for r in rows(page)] == [owner.arn, owner.arn]
