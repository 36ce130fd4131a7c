"""DistributeDatasetEntries: 20% of the training entries move, every label on both sides."""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from typing import Any

import pytest

from support.lines import image_line, manifest
from support.server import all_entries, new_dataset, wait_for_status


def labels_of(entries: list[dict[str, Any]]) -> Counter[str]:
    return Counter(
        value["class-name"]
        for entry in entries
        for key, value in entry.items()
        if key.endswith("-metadata") and isinstance(value, dict) and "class-name" in value
    )


def test_distribute_moves_a_fifth_stratified_by_label(rekognition: Any):
    lines = [image_line(f"s3://bkt/{i:03d}.jpg", ("a", "b", "c", "d")[i % 4]) for i in range(96)]
    lines += [image_line("s3://bkt/rare1.jpg", "rare"), image_line("s3://bkt/rare2.jpg", "rare")]
    lines += [image_line("s3://bkt/single.jpg", "single"), {"source-ref": "s3://bkt/none.jpg"}]
    project, train = new_dataset(rekognition, manifest(*lines))
    test = rekognition.create_dataset(ProjectArn=project, DatasetType="TEST")["DatasetArn"]
    before = {e["source-ref"]: e for e in all_entries(rekognition, train)}
    rekognition.distribute_dataset_entries(Datasets=[{"Arn": test}, {"Arn": train}])
    for arn in (train, test):
        assert wait_for_status(rekognition, arn)["Status"] == "UPDATE_COMPLETE"
    train_entries, test_entries = all_entries(rekognition, train), all_entries(rekognition, test)
    assert len(test_entries) == 20  # round(100 * 0.2)
    assert len(train_entries) == 80
    moved = {e["source-ref"]: e for e in test_entries}
    assert set(moved).isdisjoint(e["source-ref"] for e in train_entries)
    assert all(before[ref] == entry for ref, entry in moved.items())  # lines move unchanged
    test_labels, train_labels = labels_of(test_entries), labels_of(train_entries)
    for label in ("a", "b", "c", "d", "rare"):
        assert test_labels[label] >= 1 and train_labels[label] >= 1, label
    for label in ("a", "b", "c", "d"):
        assert 3 <= test_labels[label] <= 7, (label, test_labels)
    assert train_labels["single"] == 1  # a label with one entry stays in training
    stats = wait_for_status(rekognition, test)["DatasetStats"]
    assert stats["TotalEntries"] == 20


def test_distribute_needs_one_train_and_one_test_of_one_project(rekognition: Any):
    project, train = new_dataset(
        rekognition, manifest(*(image_line(f"s3://bkt/{i}.jpg", "x") for i in range(5)))
    )
    test = rekognition.create_dataset(ProjectArn=project, DatasetType="TEST")["DatasetArn"]
    with pytest.raises(rekognition.exceptions.InvalidParameterException):
        rekognition.distribute_dataset_entries(Datasets=[{"Arn": train}, {"Arn": train}])
    other_project, other_train = new_dataset(rekognition)
    other_test = rekognition.create_dataset(ProjectArn=other_project, DatasetType="TEST")[
        "DatasetArn"
    ]
    with pytest.raises(rekognition.exceptions.InvalidParameterException):
        rekognition.distribute_dataset_entries(Datasets=[{"Arn": train}, {"Arn": other_test}])
    rekognition.update_dataset_entries(
        DatasetArn=test, Changes={"GroundTruth": manifest(image_line("s3://bkt/t.jpg", "x"))}
    )
    wait_for_status(rekognition, test)
    with pytest.raises(rekognition.exceptions.InvalidParameterException):
        rekognition.distribute_dataset_entries(Datasets=[{"Arn": train}, {"Arn": test}])
    assert other_train


def test_distribute_with_too_few_labeled_entries_fails_both(rekognition: Any):
    project, train = new_dataset(
        rekognition, manifest(image_line("s3://bkt/1.jpg", "x"), {"source-ref": "s3://bkt/2.jpg"})
    )
    test = rekognition.create_dataset(ProjectArn=project, DatasetType="TEST")["DatasetArn"]
    rekognition.distribute_dataset_entries(Datasets=[{"Arn": train}, {"Arn": test}])
    for arn in (train, test):
        description = wait_for_status(rekognition, arn)
        assert description["Status"] == "UPDATE_FAILED"
        assert description["StatusMessageCode"] == "CLIENT_ERROR"
        assert description["StatusMessage"].startswith(
            "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE"
        )
    assert len(all_entries(rekognition, train)) == 2


def test_distribute_of_a_dataset_not_ready_is_resource_not_ready(start_server: Any):
    slow = start_server("--job-delay", "1.0").client()
    project, train = new_dataset(slow)
    test = slow.create_dataset(ProjectArn=project, DatasetType="TEST")["DatasetArn"]
    slow.update_dataset_entries(
        DatasetArn=train, Changes={"GroundTruth": manifest(image_line("s3://bkt/1.jpg", "x"))}
    )
    with pytest.raises(slow.exceptions.ResourceNotReadyException):
        slow.distribute_dataset_entries(Datasets=[{"Arn": train}, {"Arn": test}])
    wait_for_status(slow, train)


def test_delete_project_during_a_distribution_neither_deadlocks_nor_fails(server: Any):
    """DeleteProject sent again and again while a distribution moves entries of a project
    whose TEST dataset is older (has the lower id) than its TRAIN dataset. On PostgreSQL the
    distribution job once updated TRAIN's row, then TEST's, while DeleteProject locks the
    datasets by id: each waited for the other, PostgreSQL broke the deadlock, and one side got a
    500. Every DeleteProject must answer 200 or ResourceInUseException (on SQLite, whose writes
    take turns, the first one waits for the job and succeeds), and the distribution must finish
    before the project is deleted."""
    client = server.client()
    logged_before = len(server.log())
    project = client.create_project(ProjectName=f"p-{uuid.uuid4().hex[:12]}")["ProjectArn"]
    test = client.create_dataset(ProjectArn=project, DatasetType="TEST")["DatasetArn"]
    lines = [image_line(f"s3://bkt/race/{i:05d}.jpg", f"l{i % 7}") for i in range(12_000)]
    _, train = new_dataset(client, manifest(*lines), "TRAIN", project=project)
    client.distribute_dataset_entries(Datasets=[{"Arn": train}, {"Arn": test}])
    # The race is on: the first DeleteProject is sent while the distribution runs.
    running = client.describe_dataset(DatasetArn=train)["DatasetDescription"]["Status"]
    assert running == "UPDATE_IN_PROGRESS"
    deadline = time.monotonic() + 60
    while True:
        try:
            client.delete_project(ProjectArn=project)
            break
        except client.exceptions.ResourceInUseException:
            assert time.monotonic() < deadline, "DeleteProject refused for 60 s"
    log = server.log()[logged_before:]
    assert "unexpected error" not in log, server.log_tail()
    # The job was not the one PostgreSQL chose to break a deadlock: it finished.
    assert re.search(r"job \d+ distribute finished", log), server.log_tail()
    assert "deadlock" not in log, server.log_tail()
