"""The console in Chromium with `--auth sigv4`: the login form, what a user sees (their own
account only, the IAM-style message for a denied action), and logout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from console_kit import gallery_path, jsonl, sample_lines

from support.auth import ACCOUNT_A, ACCOUNT_B, ALLOW_ALL, client, make_key, start_sigv4
from support.server import Server, ServerFactory, new_dataset

ALICE = make_key(ACCOUNT_A, "console-alice")
VIEWER = make_key(ACCOUNT_A, "console-viewer")  # may describe, not list entries
BOB = make_key(ACCOUNT_B, "console-bob")
VIEWER_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "rekognition:Describe*", "Resource": "*"}],
}


@pytest.fixture(scope="module")
def secured(
    start_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory, buckets: Path
) -> Server:
    users = [ALICE.entry(ALLOW_ALL), VIEWER.entry(VIEWER_POLICY), BOB.entry(ALLOW_ALL)]
    server, _ = start_sigv4(
        start_server, tmp_path_factory.mktemp("login"), users, "--local-buckets", str(buckets)
    )
    return server


def log_in(page: Any, key: Any, secret: str | None = None) -> None:
    page.wait_for_selector("#login")
    page.get_by_label("Access key ID").fill(key.access_key_id)
    page.get_by_label("Secret access key").fill(secret or key.secret_access_key)
    page.get_by_role("button", name="Log in").click()


def test_log_in_see_your_own_account_and_log_out(secured: Server, page: Any) -> None:
    alice_project, alice_dataset = new_dataset(client(secured, ALICE), jsonl(sample_lines()))
    bob_project, _ = new_dataset(client(secured, BOB))
    page.goto(secured.url + "/console/")
    log_in(page, ALICE, "not-the-secret")
    page.wait_for_selector("#login-problem:not(:empty)")
    assert page.locator("#login-problem").inner_text() == (
        "The access key id or the secret access key is not right."
    )
    log_in(page, ALICE)
    page.wait_for_selector("#main[aria-busy=false] h1:text('Projects')")
    text = page.locator("#main").inner_text()
    assert alice_project.split("/")[1] in text
    assert bob_project.split("/")[1] not in text  # another account's project does not exist
    assert page.locator("#user").inner_text() == ALICE.arn
    cookies = page.context.cookies()
    (session,) = [c for c in cookies if c["name"] == "manifestdb_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # no script can read the session
    page.goto(secured.url + gallery_path(alice_dataset))
    page.wait_for_selector("#main[aria-busy=false] #count:not(:empty)")
    assert page.locator(".tile").count() == len(sample_lines())
    page.get_by_role("button", name="Log out").click()
    page.wait_for_selector("#login")
    page.goto(secured.url + gallery_path(alice_dataset))
    page.wait_for_selector("#login")  # the session is over: the login form, not the data


def test_a_denied_action_shows_the_iam_message(secured: Server, page: Any) -> None:
    _, dataset = new_dataset(client(secured, ALICE))
    page.goto(secured.url + gallery_path(dataset))
    log_in(page, VIEWER)
    page.wait_for_selector("#alert:not([hidden])")
    message = page.locator("#alert").inner_text()
    assert message.startswith(
        f"AccessDeniedException: User: {VIEWER.arn} is not authorized to perform: "
        f"rekognition:ListDatasetEntries on resource: {dataset}"
    ), message
