"""The states and kinds of `manifestdb.states` are the model's, and every job kind has its rule."""

from __future__ import annotations

from enum import StrEnum

import botocore.session
import pytest

from manifestdb.jobs.kinds import KINDS, rule_for
from manifestdb.states import (
    DatasetStatus,
    DatasetStatusMessageCode,
    DatasetType,
    JobKind,
    JobState,
    ProjectStatus,
    ProjectVersionStatus,
)

MODEL = botocore.session.get_session().get_service_model("rekognition")


@pytest.mark.parametrize(
    "enum",
    [DatasetStatus, DatasetStatusMessageCode, ProjectStatus, ProjectVersionStatus, DatasetType],
)
def test_each_api_enum_is_the_models(enum: type[StrEnum]) -> None:
    assert [member.value for member in enum] == MODEL.shape_for(enum.__name__).enum
    assert all(member.name == member.value for member in enum)


def test_the_stored_job_values_do_not_change() -> None:
    # Existing databases hold these strings in jobs.state and jobs.kind.
    assert [state.value for state in JobState] == ["queued", "running", "done", "failed"]
    assert [kind.value for kind in JobKind] == [
        "update",
        "create_manifest",
        "create_copy",
        "distribute",
        "delete_dataset",
        "delete_project",
        "delete_entries",
        "revert",
        "restore",
        "train",
        "start_model",
        "stop_model",
    ]


def test_members_are_the_strings_they_stand_for() -> None:
    assert DatasetStatus.UPDATE_COMPLETE == "UPDATE_COMPLETE"
    assert f"{JobKind.CREATE_COPY}" == "create_copy" and str(JobState.DONE) == "done"
    assert {"UPDATE_COMPLETE": 1}[DatasetStatus.UPDATE_COMPLETE] == 1


def test_every_job_kind_has_a_rule_and_an_unknown_kind_has_none() -> None:
    assert set(KINDS) == set(JobKind)
    assert all(rule.kind is kind for kind, rule in KINDS.items())
    assert rule_for("update") is KINDS[JobKind.UPDATE]
    assert rule_for("compact") is None


def test_a_rule_ends_in_statuses_of_the_model() -> None:
    for rule in KINDS.values():
        for status in (rule.succeeded, rule.rejected, rule.broke):
            assert status is None or status in MODEL.shape_for("DatasetStatus").enum
        assert "{error}" in rule.broke_message
