"""Rows the store tests need before they write entries."""

from __future__ import annotations

import itertools

from manifestdb.store import Store, VersionStart

ACCOUNT = "123456789012"
_names = itertools.count(1)
# A write as the next version of its dataset, by an update job.
UPDATE = VersionStart(kind="update", caller=f"arn:aws:iam::{ACCOUNT}:root", job_id=None, now=0.0)


def new_dataset(store: Store) -> int:
    """A project with an empty TRAIN dataset; the dataset's id."""
    name = f"p{next(_names)}"
    arn = f"arn:aws:rekognition:us-east-1:{ACCOUNT}:project/{name}/1"
    with store.write() as tx:
        project = tx.insert_project(
            account=ACCOUNT,
            region="us-east-1",
            name=name,
            arn=arn,
            feature="CUSTOM_LABELS",
            auto_update=None,
            status="CREATED",
            created_at=0.0,
        )
        dataset = tx.insert_dataset(
            project_id=project.id,
            account=ACCOUNT,
            arn=f"{arn.rsplit('/', 1)[0]}/dataset/train/1",
            dataset_type="TRAIN",
            status="CREATE_COMPLETE",
            status_message="",
            status_message_code="SUCCESS",
            created_at=0.0,
        )
        tx.start_history(dataset.id, kind="created", caller=UPDATE.caller, now=0.0, summary={})
    return dataset.id
