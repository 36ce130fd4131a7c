"""Tags of projects and datasets: TagResource, UntagResource, ListTagsForResource, and the Tags
that CreateProject and CreateDataset take.

AWS's rules: at most 50 tags a resource; keys of 1 to 128 characters and values of 0 to 256 (the
model checks those and their characters); keys beginning with `aws:` are AWS's. A copy of a
dataset (CreateDataset from DatasetSource.DatasetArn) gets the tags of its own call only, not
those of its source (manifestdb's choice, as AWS documents no copy of tags). Deleting a project
or a dataset removes its tags.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from manifestdb.service.arns import parse_dataset_arn, parse_project_arn, parse_version_arn
from manifestdb.service.base import ServiceBase
from manifestdb.service.context import Caller
from manifestdb.service.errors import InvalidParameterException, ServiceQuotaExceededException
from manifestdb.store import Tx

MAX_TAGS = 50


def check_new_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    """The tags a resource is created with, or InvalidParameterException."""
    given = dict(tags or {})
    _refuse_reserved(given)
    if len(given) > MAX_TAGS:
        raise InvalidParameterException(
            f"Tags has {len(given)} tags: a resource has at most {MAX_TAGS}."
        )
    return given


def _refuse_reserved(keys: Mapping[str, str] | list[str]) -> None:
    reserved = sorted(key for key in keys if key.lower().startswith("aws:"))
    if reserved:
        raise InvalidParameterException(
            f"Tag keys that begin with aws: are reserved for AWS's use: {', '.join(reserved)}."
        )


class TagOperations(ServiceBase):
    def _tagged(self, tx: Tx, caller: Caller, resource_arn: str) -> str:
        """The ARN of the caller's project, dataset or model, or the error AWS gives."""
        if parse_dataset_arn(resource_arn):
            return self.dataset_for(tx, caller, resource_arn).arn
        if parse_project_arn(resource_arn):
            return self.project_for(tx, caller, resource_arn).arn
        if parse_version_arn(resource_arn):
            return self.version_for(tx, caller, resource_arn).arn
        raise InvalidParameterException(
            f"ResourceArn {resource_arn[:200]!r} is not the ARN of a project "
            "(arn:aws:rekognition:<region>:<account>:project/<name>/<created>), of a dataset "
            "(...:project/<name>/dataset/<train|test>/<created>) or of a model "
            "(...:project/<name>/version/<version>/<created>)."
        )

    def tag_resource(
        self, caller: Caller, resource_arn: str, tags: dict[str, str]
    ) -> dict[str, Any]:
        _refuse_reserved(tags)
        with self.store.write() as tx:
            arn = self._tagged(tx, caller, resource_arn)
            count = tx.tag_count(arn, adding=tags)
            if count > MAX_TAGS:
                raise ServiceQuotaExceededException(
                    f"The resource would have {count} tags: a resource has at most {MAX_TAGS}. "
                    "Remove some with UntagResource first."
                )
            tx.set_tags(arn, tags)
        return {}

    def untag_resource(
        self, caller: Caller, resource_arn: str, tag_keys: list[str]
    ) -> dict[str, Any]:
        _refuse_reserved(tag_keys)
        with self.store.write() as tx:
            tx.remove_tags(self._tagged(tx, caller, resource_arn), tag_keys)
        return {}

    def list_tags_for_resource(self, caller: Caller, resource_arn: str) -> dict[str, Any]:
        with self.store.read() as tx:
            return {"Tags": tx.tags_of(self._tagged(tx, caller, resource_arn))}
