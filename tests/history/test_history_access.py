"""History under `--auth sigv4`: signed like the API, authorized with manifestdb:<Operation>
actions on the dataset's ARN, the caller of each version recorded; other accounts' datasets do
not exist. And retention: `--keep-versions` folds older versions into the oldest one kept."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from history_kit import CHANGES, build, history_client, snapshot

from support.auth import ACCOUNT_A, ACCOUNT_B, ALLOW_ALL, client, make_key, start_sigv4
from support.server import Server, ServerFactory, new_dataset, wait_for_status

OWNER = make_key(ACCOUNT_A, "owner")
READER = make_key(ACCOUNT_A, "reader")
STRANGER = make_key(ACCOUNT_B, "stranger")
# May read the dataset and its history, may not revert nor delete entries.
READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "rekognition:Describe*",
                "rekognition:List*",
                "manifestdb:List*",
                "manifestdb:Describe*",
                "manifestdb:Diff*",
            ],
            "Resource": "*",
        },
        {"Effect": "Deny", "Action": "manifestdb:DeleteDatasetEntries", "Resource": "*"},
    ],
}


@pytest.fixture(scope="module")
def signed(start_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory) -> Server:
    users = [OWNER.entry(ALLOW_ALL), READER.entry(READ_ONLY), STRANGER.entry(ALLOW_ALL)]
    started, _ = start_sigv4(start_server, tmp_path_factory.mktemp("history-auth"), users)
    return started


def refused(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call(**params)
    return dict(raised.value.response["Error"])


def test_history_is_authorized_with_manifestdb_actions(signed: Server) -> None:
    owner = client(signed, OWNER)
    owner_history = history_client(signed, OWNER.access_key_id, OWNER.secret_access_key)
    reader = history_client(signed, READER.access_key_id, READER.secret_access_key)
    stranger = history_client(signed, STRANGER.access_key_id, STRANGER.secret_access_key)
    _, arn = new_dataset(owner, CHANGES[0])
    owner.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": CHANGES[1]})
    wait_for_status(owner, arn)
    # The reader reads, and sees who made each version.
    callers = [v["Caller"] for v in reader.list_dataset_versions(DatasetArn=arn)["Versions"]]
    assert callers == [OWNER.arn] * 3
    assert reader.diff_dataset_versions(DatasetArn=arn, FromVersion=1, ToVersion=2)["Summary"]
    # ... and may not change.
    error = refused(reader.revert_dataset_version, DatasetArn=arn, VersionNumber=2)
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (
        f"User: {READER.arn} is not authorized to perform: manifestdb:RevertDatasetVersion on "
        f"resource: {arn} because no identity-based policy allows the "
        "manifestdb:RevertDatasetVersion action"
    )
    error = refused(reader.delete_dataset_entries, DatasetArn=arn, Filter={"HasErrors": True})
    assert "manifestdb:DeleteDatasetEntries" in error["Message"]
    assert "with an explicit deny" in error["Message"]
    # Another account's dataset does not exist, even with its ARN.
    error = refused(stranger.list_dataset_versions, DatasetArn=arn)
    assert error["Code"] == "ResourceNotFoundException"
    # A bad signature is refused as the API refuses it.
    forged = history_client(signed, OWNER.access_key_id, "not-the-secret")
    assert refused(forged.list_dataset_versions, DatasetArn=arn)["Code"] == (
        "InvalidSignatureException"
    )
    # The owner reverts; the revert's version names its caller.
    owner_history.revert_dataset_version(DatasetArn=arn, VersionNumber=2)
    wait_for_status(owner, arn)
    assert owner_history.list_dataset_versions(DatasetArn=arn)["Versions"][0]["Caller"] == (
        OWNER.arn
    )


def test_keep_versions_folds_older_versions_into_the_oldest_kept(
    start_server: ServerFactory,
) -> None:
    server = start_server("--keep-versions", "3")
    rekognition, history = server.client(), history_client(server)
    _, arn = new_dataset(rekognition)
    snaps = build(rekognition, history, arn)  # versions 0 to 3: one folded
    listed = history.list_dataset_versions(DatasetArn=arn)["Versions"]
    assert [v["VersionNumber"] for v in listed] == [3, 2, 1]
    assert listed[-1].get("Folded") is True and listed[-1]["Revertible"] is False
    # The oldest kept is readable as it was; what was before it is gone, and says so.
    entries = list(
        history.paginate(
            "ListDatasetEntriesAtVersion", "DatasetEntries", DatasetArn=arn, VersionNumber=1
        )
    )
    import orjson

    assert [orjson.loads(e) for e in entries] == snaps[1].entries["{}"]
    with pytest.raises(ClientError) as raised:
        history.describe_dataset_version(DatasetArn=arn, VersionNumber=0)
    assert "were folded by the history retention settings" in str(raised.value)
    with pytest.raises(ClientError) as raised:
        history.revert_dataset_version(DatasetArn=arn, VersionNumber=1)
    assert "folded into it" in str(raised.value)
    # Restoring to the oldest kept still works.
    history.restore_dataset_version(DatasetArn=arn, VersionNumber=1)
    wait_for_status(rekognition, arn)
    assert snapshot(rekognition, arn) == snaps[1]
    assert [
        v["VersionNumber"] for v in history.list_dataset_versions(DatasetArn=arn)["Versions"]
    ] == [
        4,
        3,
        2,
    ]
