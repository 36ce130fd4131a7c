"""UpdateDatasetEntries: upsert by source-ref, the status machine, terminal failures."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from botocore.config import Config

from support.lines import box_line, image_line, manifest
from support.server import CREDENTIALS, all_entries, new_dataset, wait_for_status

SAMPLES = __import__("pathlib").Path(__file__).parent.parent / "data" / "samples"


def test_update_adds_lines_and_reports_stats(rekognition: Any):
    _, train = new_dataset(rekognition)
    change = manifest(
        image_line("s3://bkt/1.jpg", "cat"),
        image_line("s3://bkt/2.jpg", "cat", "dog"),
        box_line("s3://bkt/3.jpg", [("dog", 10, 10, 50, 50), ("bird", 100, 100, 20, 20)]),
        {"source-ref": "s3://bkt/4.jpg"},
    )
    assert (
        rekognition.update_dataset_entries(DatasetArn=train, Changes={"GroundTruth": change})[
            "ResponseMetadata"
        ]["HTTPStatusCode"]
        == 200
    )
    description = wait_for_status(rekognition, train)
    assert description["Status"] == "UPDATE_COMPLETE"
    assert description["StatusMessageCode"] == "SUCCESS"
    assert description["StatusMessage"] == "The dataset was successfully updated."
    assert description["DatasetStats"] == {
        "TotalEntries": 4,
        "LabeledEntries": 3,
        "TotalLabels": 3,
        "ErrorEntries": 0,
    }
    entries = all_entries(rekognition, train)
    assert [e["source-ref"] for e in entries] == [f"s3://bkt/{i}.jpg" for i in range(1, 5)]
    assert [e["cl-metadata"] for e in entries] == [
        {"is_labeled": True},
        {"is_labeled": True},
        {"is_labeled": True},
        {"is_labeled": False},
    ]
    assert list(entries[0])[-1] == "cl-metadata"


def test_a_line_replaces_the_stored_line_of_its_source_ref_whole(rekognition: Any):
    _, train = new_dataset(
        rekognition,
        manifest(image_line("s3://bkt/1.jpg", "cat", "dog"), image_line("s3://bkt/2.jpg", "bird")),
    )
    rekognition.update_dataset_entries(
        DatasetArn=train,
        Changes={
            "GroundTruth": manifest(
                image_line("s3://bkt/1.jpg", "fish"), image_line("s3://bkt/3.jpg", "cat")
            )
        },
    )
    description = wait_for_status(rekognition, train)
    assert description["DatasetStats"]["TotalEntries"] == 3
    labels = {
        d["LabelName"]: d["LabelStats"]["EntryCount"]
        for d in rekognition.list_dataset_labels(DatasetArn=train)["DatasetLabelDescriptions"]
    }
    # "dog" went away with the replaced line; order stays by first addition.
    assert labels == {"bird": 1, "cat": 1, "fish": 1}
    entries = all_entries(rekognition, train)
    assert [e["source-ref"] for e in entries] == [
        "s3://bkt/1.jpg",
        "s3://bkt/2.jpg",
        "s3://bkt/3.jpg",
    ]
    assert entries[0]["label-metadata"]["class-name"] == "fish"
    assert "label0" not in entries[0]


def test_sample_manifests_are_accepted_with_their_labels(rekognition: Any):
    _, train = new_dataset(
        rekognition, (SAMPLES / "ksmin23_animals_object_detection.manifest").read_bytes()
    )
    description = wait_for_status(rekognition, train)
    assert description["Status"] == "UPDATE_COMPLETE"
    assert description["DatasetStats"]["TotalEntries"] == 10
    labels = rekognition.list_dataset_labels(DatasetArn=train)["DatasetLabelDescriptions"]
    names = [d["LabelName"] for d in labels]
    assert names == sorted(names) and "cat" in names and "dog" in names
    for description in labels:
        assert (
            description["LabelStats"]["BoundingBoxCount"] == description["LabelStats"]["EntryCount"]
        )
    _, vehicles = new_dataset(
        rekognition, (SAMPLES / "jufeng_vehicle_classification.manifest").read_bytes()
    )
    stats = wait_for_status(rekognition, vehicles)["DatasetStats"]
    assert stats["TotalEntries"] == 10 and stats["TotalLabels"] == 5
    vehicle_labels = rekognition.list_dataset_labels(DatasetArn=vehicles)[
        "DatasetLabelDescriptions"
    ]
    assert all(d["LabelStats"]["BoundingBoxCount"] == 0 for d in vehicle_labels)


def test_service_keys_sent_back_do_not_pile_up(rekognition: Any):
    _, train = new_dataset(rekognition, manifest(image_line("s3://bkt/1.jpg", "cat")))
    (stored,) = rekognition.list_dataset_entries(DatasetArn=train)["DatasetEntries"]
    rekognition.update_dataset_entries(
        DatasetArn=train, Changes={"GroundTruth": stored.encode() + b"\n"}
    )
    wait_for_status(rekognition, train)
    (again,) = rekognition.list_dataset_entries(DatasetArn=train)["DatasetEntries"]
    assert again == stored
    assert again.count("cl-metadata") == 1


def test_too_many_bad_lines_fail_the_update_and_keep_the_dataset(rekognition: Any):
    _, train = new_dataset(rekognition, manifest(image_line("s3://bkt/keep.jpg", "cat")))
    before = all_entries(rekognition, train)
    change = manifest(image_line("s3://bkt/new.jpg", "dog"), "not json", "{]", '{"no": "ref"}')
    rekognition.update_dataset_entries(DatasetArn=train, Changes={"GroundTruth": change})
    description = wait_for_status(rekognition, train)
    assert description["Status"] == "UPDATE_FAILED"
    assert description["StatusMessageCode"] == "CLIENT_ERROR"
    assert description["StatusMessage"].startswith("ERROR_TOO_MANY_RECORDS_IN_ERROR")
    assert description["DatasetStats"]["TotalEntries"] == 1
    assert all_entries(rekognition, train) == before
    # An UPDATE_FAILED dataset takes updates again.
    rekognition.update_dataset_entries(
        DatasetArn=train, Changes={"GroundTruth": manifest(image_line("s3://bkt/new.jpg", "dog"))}
    )
    assert wait_for_status(rekognition, train)["Status"] == "UPDATE_COMPLETE"
    assert len(all_entries(rekognition, train)) == 2


def test_images_from_two_buckets_fail_the_update(rekognition: Any):
    _, train = new_dataset(rekognition, manifest(image_line("s3://one/1.jpg", "cat")))
    rekognition.update_dataset_entries(
        DatasetArn=train, Changes={"GroundTruth": manifest(image_line("s3://two/2.jpg", "cat"))}
    )
    description = wait_for_status(rekognition, train)
    assert description["Status"] == "UPDATE_FAILED"
    assert description["StatusMessage"].startswith("ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS")
    assert description["DatasetStats"]["TotalEntries"] == 1


def test_an_oversized_change_is_a_validation_error(rekognition: Any):
    _, train = new_dataset(rekognition)
    unchecked = __import__("boto3").client(
        "rekognition",
        endpoint_url=rekognition.meta.endpoint_url,
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
        **CREDENTIALS,
    )
    with pytest.raises(unchecked.exceptions.ClientError) as info:
        unchecked.update_dataset_entries(
            DatasetArn=train, Changes={"GroundTruth": b"x" * (5 * 1024 * 1024 + 1)}
        )
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "5242880" in info.value.response["Error"]["Message"]
    assert (
        rekognition.describe_dataset(DatasetArn=train)["DatasetDescription"]["Status"]
        == "CREATE_COMPLETE"
    )


def test_the_largest_legal_change_is_accepted(rekognition: Any):
    _, train = new_dataset(rekognition)
    line = orjson.dumps(image_line("s3://bkt/x", "cat"))
    lines: list[bytes] = []
    size, i = 0, 0
    while True:
        candidate = line.replace(b"s3://bkt/x", f"s3://bkt/{i:07d}.jpg".encode()) + b"\n"
        if size + len(candidate) > 5 * 1024 * 1024:
            break
        lines.append(candidate)
        size += len(candidate)
        i += 1
    rekognition.update_dataset_entries(DatasetArn=train, Changes={"GroundTruth": b"".join(lines)})
    description = wait_for_status(rekognition, train, timeout=60)
    assert description["Status"] == "UPDATE_COMPLETE"
    assert description["DatasetStats"]["TotalEntries"] == len(lines)


def test_updates_on_a_missing_dataset_are_not_found(rekognition: Any):
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
        rekognition.update_dataset_entries(
            DatasetArn="arn:aws:rekognition:us-east-1:123456789012:project/x/dataset/train/9",
            Changes={"GroundTruth": b'{"source-ref": "s3://bkt/1.jpg"}'},
        )


class TestWhileInProgress:
    """With --job-delay the runner waits, so every *_IN_PROGRESS state can be seen."""

    @pytest.fixture(scope="class")
    def slow(self, start_server: Any) -> Any:
        return start_server("--job-delay", "1.0").client()

    def test_status_is_in_progress_before_the_call_returns(self, slow: Any):
        _, train = new_dataset(slow)
        slow.update_dataset_entries(
            DatasetArn=train, Changes={"GroundTruth": manifest(image_line("s3://bkt/1.jpg", "cat"))}
        )
        assert (
            slow.describe_dataset(DatasetArn=train)["DatasetDescription"]["Status"]
            == "UPDATE_IN_PROGRESS"
        )
        with pytest.raises(slow.exceptions.ResourceInUseException):
            slow.update_dataset_entries(
                DatasetArn=train, Changes={"GroundTruth": manifest(image_line("s3://bkt/2", "a"))}
            )
        with pytest.raises(slow.exceptions.ResourceInUseException):
            slow.list_dataset_entries(DatasetArn=train)
        with pytest.raises(slow.exceptions.ResourceInUseException):
            slow.list_dataset_labels(DatasetArn=train)
        with pytest.raises(slow.exceptions.ResourceInUseException):
            slow.delete_dataset(DatasetArn=train)
        assert wait_for_status(slow, train)["Status"] == "UPDATE_COMPLETE"
        assert len(all_entries(slow, train)) == 1

    def test_create_in_progress_is_not_ready_for_listing(self, slow: Any):
        project, train = new_dataset(slow, None)
        slow.update_dataset_entries(
            DatasetArn=train, Changes={"GroundTruth": manifest(image_line("s3://bkt/1.jpg", "cat"))}
        )
        wait_for_status(slow, train)
        copy = slow.create_dataset(
            ProjectArn=project, DatasetType="TEST", DatasetSource={"DatasetArn": train}
        )["DatasetArn"]
        assert (
            slow.describe_dataset(DatasetArn=copy)["DatasetDescription"]["Status"]
            == "CREATE_IN_PROGRESS"
        )
        with pytest.raises(slow.exceptions.ResourceNotReadyException):
            slow.list_dataset_entries(DatasetArn=copy)
        with pytest.raises(slow.exceptions.ResourceInUseException):
            slow.update_dataset_entries(
                DatasetArn=copy, Changes={"GroundTruth": manifest(image_line("s3://bkt/2", "a"))}
            )
        assert wait_for_status(slow, copy)["Status"] == "CREATE_COMPLETE"


def test_errors_and_warnings_are_written_into_the_stored_lines(rekognition: Any):
    empty_boxes = box_line("s3://bkt/empty.jpg", [("dog", 10, 10, 50, 50)])
    empty_boxes["bounding-box"]["annotations"] = []
    empty_boxes["bounding-box-metadata"]["objects"] = []
    one_bad_box = box_line("s3://bkt/bad.jpg", [("dog", 10, 10, 50, 50), ("cat", 600, 10, 100, 50)])
    _, train = new_dataset(
        rekognition,
        manifest({"source-ref": "s3://bkt/plain.jpg"}, empty_boxes, one_bad_box),
    )
    description = wait_for_status(rekognition, train)
    assert description["DatasetStats"] == {
        "TotalEntries": 3,
        "LabeledEntries": 2,
        "ErrorEntries": 1,
        "TotalLabels": 1,
    }
    plain, empty, bad = all_entries(rekognition, train)
    assert plain["warnings"] == [
        {"code": "WARNING_UNANNOTATED_RECORD", "message": "Record is unannotated."}
    ]
    assert "errors" not in plain
    assert empty["warnings"] == [
        {"code": "WARNING_NO_ANNOTATIONS", "message": "No annotations were found."}
    ]
    assert [a.get("errors") for a in bad["bounding-box"]["annotations"]] == [
        None,
        [
            {
                "code": "ERROR_INVALID_BOUNDING_BOX",
                "message": "The bounding box has off frame values.",
            }
        ],
    ]
    # The valid box keeps its label; the off-frame one does not count.
    labels = rekognition.list_dataset_labels(DatasetArn=train)["DatasetLabelDescriptions"]
    assert [d["LabelName"] for d in labels] == ["dog"]
    assert [e["source-ref"] for e in all_entries(rekognition, train, HasErrors=True)] == [
        "s3://bkt/bad.jpg"
    ]


def test_replacements_keep_label_stats_exact(rekognition: Any):
    boxed = box_line("s3://bkt/1.jpg", [("dog", 10, 10, 50, 50), ("cat", 100, 100, 40, 40)])
    _, train = new_dataset(rekognition, manifest(boxed, image_line("s3://bkt/2.jpg", "dog")))

    def stats() -> dict[str, tuple[int, int]]:
        labels = rekognition.list_dataset_labels(DatasetArn=train)["DatasetLabelDescriptions"]
        return {
            d["LabelName"]: (d["LabelStats"]["EntryCount"], d["LabelStats"]["BoundingBoxCount"])
            for d in labels
        }

    assert stats() == {"cat": (1, 1), "dog": (2, 1)}
    before = all_entries(rekognition, train)
    # The same line again changes nothing.
    rekognition.update_dataset_entries(DatasetArn=train, Changes={"GroundTruth": manifest(boxed)})
    assert wait_for_status(rekognition, train)["DatasetStats"]["TotalEntries"] == 2
    assert all_entries(rekognition, train) == before and stats() == {"cat": (1, 1), "dog": (2, 1)}
    # The dog of line 1 becomes image-level, the cat goes, a bird comes.
    rekognition.update_dataset_entries(
        DatasetArn=train,
        Changes={"GroundTruth": manifest(image_line("s3://bkt/1.jpg", "dog", "bird"))},
    )
    description = wait_for_status(rekognition, train)
    assert stats() == {"bird": (1, 0), "dog": (2, 0)}
    assert description["DatasetStats"]["TotalLabels"] == 2
    assert [e["source-ref"] for e in all_entries(rekognition, train, ContainsLabels=["cat"])] == []
    assert len(all_entries(rekognition, train, ContainsLabels=["bird", "dog"])) == 2
