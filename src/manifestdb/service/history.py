"""History operations (docs/history.md): list versions, read a dataset as it was at one, diff two,
revert one, restore to one, delete entries. manifestdb's own: AWS has none of them.

Reading is a read transaction over `store.history`; a revert, a restore or a deletion is queued
as a job, like UpdateDatasetEntries: the dataset goes UPDATE_IN_PROGRESS, then UPDATE_COMPLETE
(or UPDATE_FAILED), and the job's change is the dataset's next version.
"""

from __future__ import annotations

from typing import Any

import orjson

from manifestdb.service.base import ServiceBase
from manifestdb.service.context import Caller
from manifestdb.service.datasets import label_descriptions, refuse_busy
from manifestdb.service.errors import (
    ConflictException,
    InvalidParameterException,
    ResourceNotFoundException,
)
from manifestdb.states import DatasetStatus, JobKind
from manifestdb.store import Before, DatasetRecord, EntryFilter, Stored, Tx, VersionRecord

CONFLICTS_NAMED = 20  # source-refs a refused revert names (the count is complete)
DIFF_PAGE = 1000  # changes a DiffDatasetVersions page holds by default
UNREVERTIBLE = frozenset({"created", "baseline"})  # version 0: nothing to undo


def version_shape(record: VersionRecord) -> dict[str, Any]:
    """A version as the history operations return it."""
    summary = dict(record.summary)
    folded = bool(summary.pop("folded", False))
    stats = {
        "TotalEntries": summary.pop("total_entries", 0),
        "LabeledEntries": summary.pop("labeled_entries", 0),
        "ErrorEntries": summary.pop("error_entries", 0),
        "TotalLabels": summary.pop("total_labels", 0),
    }
    shape: dict[str, Any] = {
        "VersionNumber": record.version,
        "Kind": record.kind,
        "CreationTimestamp": record.created_at,
        "Caller": record.caller,
        "ChangedEntries": record.changed,
        "HistoryBytes": record.history_bytes,
        "Counts": summary,
        "DatasetStats": stats,
        "Revertible": record.kind not in UNREVERTIBLE and not folded,
    }
    if record.job_id is not None:
        shape["JobId"] = record.job_id
    if folded:
        shape["Folded"] = True
    return shape


def _filter(
    contains_labels: list[str] | None,
    labeled: bool | None,
    has_errors: bool | None,
    source_ref_contains: str | None,
) -> EntryFilter:
    return EntryFilter(
        labels=tuple(dict.fromkeys(contains_labels or ())),
        labeled=labeled,
        has_errors=has_errors,
        contains=source_ref_contains,
    )


def _today(stored: Stored | None, ref: str) -> Before:
    """Today's entry of `ref` (or its absence), as a Before."""
    if stored is None:
        return Before(ref, None, None, {}, False, False, None)
    return Before(
        ref,
        stored.seq,
        stored.line,
        stored.labels,
        stored.is_labeled,
        stored.has_errors,
        stored.bucket,
    )


def _entry_state(before: Before) -> dict[str, Any] | None:
    return None if before.line is None else orjson.loads(before.line)


class HistoryOperations(ServiceBase):
    # -- reading -------------------------------------------------------------------------------

    def _version(
        self, tx: Tx, dataset: DatasetRecord, number: int, name: str
    ) -> tuple[VersionRecord, tuple[int, int]]:
        """The dataset's version `number` and its (oldest kept, latest) versions, or
        ResourceNotFoundException saying which exist."""
        record, bounds = tx.version_and_bounds(dataset.id, number)
        if record is not None:
            assert bounds is not None
            return record, bounds
        known = f"its versions are {bounds[0]} to {bounds[1]}" if bounds else "it has none"
        folded = (
            f" (versions before {bounds[0]} were folded by the history retention settings)"
            if bounds and bounds[0] > 0 and 0 <= number < bounds[0]
            else ""
        )
        raise ResourceNotFoundException(
            f"{name} {number} of dataset {dataset.arn} does not exist: {known}{folded}."
        )

    def list_dataset_versions(
        self,
        caller: Caller,
        dataset_arn: str,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> dict[str, Any]:
        limit = max_results or 100
        with self.store.read() as tx:
            dataset = self.dataset_for(tx, caller, dataset_arn)
            before = self.tokens.read(next_token, "ListDatasetVersions", [dataset_arn])
            found = tx.version_page(dataset.id, before, limit + 1)
        output: dict[str, Any] = {"Versions": [version_shape(v) for v in found[:limit]]}
        if len(found) > limit:
            output["NextToken"] = self.tokens.issue(
                "ListDatasetVersions", [dataset_arn], found[limit - 1].version
            )
        return output

    def describe_dataset_version(
        self, caller: Caller, dataset_arn: str, version_number: int
    ) -> dict[str, Any]:
        with self.store.read() as tx:
            dataset = self.dataset_for(tx, caller, dataset_arn)
            record, bounds = self._version(tx, dataset, version_number, "Version")
        return {"Version": version_shape(record), "LatestVersionNumber": bounds[1]}

    def list_dataset_entries_at_version(
        self,
        caller: Caller,
        dataset_arn: str,
        version_number: int,
        contains_labels: list[str] | None = None,
        labeled: bool | None = None,
        source_ref_contains: str | None = None,
        has_errors: bool | None = None,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> dict[str, Any]:
        limit = max_results or 100
        filters = _filter(contains_labels, labeled, has_errors, source_ref_contains)
        query = [
            dataset_arn,
            version_number,
            sorted(filters.labels),
            labeled,
            has_errors,
            source_ref_contains,
        ]
        with self.store.read() as tx:
            dataset = self.dataset_for(tx, caller, dataset_arn)
            _, bounds = self._version(tx, dataset, version_number, "Version")
            after = self.tokens.read(next_token, "ListDatasetEntriesAtVersion", query) or 0
            if version_number == bounds[1] and dataset.status != DatasetStatus.UPDATE_IN_PROGRESS:
                page = tx.entry_page(dataset.id, int(after), limit, filters)
            else:
                overlay = tx.overlay(dataset.id, version_number, bounds[1])
                page = tx.entry_page_at(overlay, dataset.id, int(after), limit, filters)
        output: dict[str, Any] = {"DatasetEntries": page.lines}
        if page.last_seq is not None:
            output["NextToken"] = self.tokens.issue(
                "ListDatasetEntriesAtVersion", query, page.last_seq
            )
        return output

    def list_dataset_labels_at_version(
        self,
        caller: Caller,
        dataset_arn: str,
        version_number: int,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> dict[str, Any]:
        limit = max_results or 100
        query = [dataset_arn, version_number]
        with self.store.read() as tx:
            dataset = self.dataset_for(tx, caller, dataset_arn)
            _, bounds = self._version(tx, dataset, version_number, "Version")
            after = self.tokens.read(next_token, "ListDatasetLabelsAtVersion", query)
            stats = tx.labels_at(tx.overlay(dataset.id, version_number, bounds[1]), dataset.id)
        if after is not None:
            stats = [label for label in stats if label.label > after]
        page = stats[:limit]
        output: dict[str, Any] = {"DatasetLabelDescriptions": label_descriptions(page)}
        if len(stats) > limit:
            output["NextToken"] = self.tokens.issue(
                "ListDatasetLabelsAtVersion", query, page[-1].label
            )
        return output

    def diff_dataset_versions(
        self,
        caller: Caller,
        dataset_arn: str,
        from_version: int,
        to_version: int,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> dict[str, Any]:
        """What changed from one version to a later one: each source-ref added, removed or
        changed (with its line before and after), and the label counts at both."""
        if from_version >= to_version:
            raise InvalidParameterException(
                f"FromVersion ({from_version}) must be lower than ToVersion ({to_version}): "
                "a diff reads from the older version to the newer."
            )
        limit = max_results or DIFF_PAGE
        query = [dataset_arn, from_version, to_version]
        with self.store.read() as tx:
            dataset = self.dataset_for(tx, caller, dataset_arn)
            self._version(tx, dataset, from_version, "FromVersion")
            _, bounds = self._version(tx, dataset, to_version, "ToVersion")
            after = self.tokens.read(next_token, "DiffDatasetVersions", query)
            over_from = tx.overlay(dataset.id, from_version, bounds[1])
            over_to = tx.overlay(dataset.id, to_version, bounds[1])
            labels_from = tx.labels_at(over_from, dataset.id)
            labels_to = tx.labels_at(over_to, dataset.id)
            if over_from.base_empty or over_to.base_empty:
                # A version into an empty dataset lies between: read both states of every
                # source-ref either holds.
                refs = self._refs_between(tx, dataset.id, from_version, to_version)
                before = tx.states_at(dataset.id, from_version, refs).befores
                now = tx.states_at(dataset.id, to_version, refs).befores
            else:
                # Both states from the (cached) overlays: what changed after `from_version` is
                # all that can differ; at `to_version` it is as then, or as today.
                refs = sorted(over_from.befores)
                before = over_from.befores
                now = {
                    ref: over_to.befores.get(ref) or _today(over_from.current.get(ref), ref)
                    for ref in refs
                }
        page: list[tuple[str, str]] = []  # (source-ref, change) of this page, and one more
        counts = {"ADDED": 0, "REMOVED": 0, "CHANGED": 0}
        for ref in refs:
            old, new = before[ref], now[ref]
            if old.line == new.line:
                continue
            change = "ADDED" if old.line is None else "REMOVED" if new.line is None else "CHANGED"
            counts[change] += 1
            if (after is None or ref > after) and len(page) <= limit:
                page.append((ref, change))
        # Only the page's lines are parsed (a diff of a 5 MiB change counts ~8,000).
        changes = [
            {
                "SourceRef": ref,
                "Change": change,
                "Before": _entry_state(before[ref]),
                "After": _entry_state(now[ref]),
            }
            for ref, change in page[:limit]
        ]
        output: dict[str, Any] = {
            "FromVersion": from_version,
            "ToVersion": to_version,
            "Summary": {
                "Added": counts["ADDED"],
                "Removed": counts["REMOVED"],
                "Changed": counts["CHANGED"],
                "LabelsBefore": {s.label: s.entry_count for s in labels_from},
                "LabelsAfter": {s.label: s.entry_count for s in labels_to},
            },
            "Changes": changes,
        }
        if len(page) > limit:
            output["NextToken"] = self.tokens.issue(
                "DiffDatasetVersions", query, page[limit - 1][0]
            )
        return output

    @staticmethod
    def _refs_between(tx: Tx, dataset_id: int, low: int, high: int) -> list[str]:
        """Every source-ref that may differ between versions `low` and `high`."""
        refs = set(tx.refs_changed(dataset_id, low, high))
        for number in range(low + 1, high + 1):
            record = tx.version_record(dataset_id, number)
            if record is not None and record.starts_empty:
                # A version into an empty dataset kept no before-images: what it added is what
                # the dataset held at `high` (and whatever was there at `low` was removed).
                overlay_high = tx.states_at(dataset_id, high)
                refs.update(b.source_ref for b in overlay_high.existing)
                if not overlay_high.base_empty:
                    refs.update(
                        ref for ref in tx.all_refs(dataset_id) if ref not in overlay_high.befores
                    )
                break
        return sorted(refs)

    # -- changing ------------------------------------------------------------------------------

    def revert_dataset_version(
        self, caller: Caller, dataset_arn: str, version_number: int, force: bool | None = None
    ) -> dict[str, Any]:
        """Undo one version: each entry it changed goes back to what it was before it."""
        now = self.now()
        with self.store.write() as tx:
            dataset = self.dataset_for(tx, caller, dataset_arn, lock=True)
            refuse_busy(dataset, "reverted")
            record, bounds = self._version(tx, dataset, version_number, "Version")
            shape = version_shape(record)
            if not shape["Revertible"]:
                why = (
                    "its changes were folded into it by the history retention settings"
                    if shape.get("Folded")
                    else f"it is the dataset's start ({record.kind}): there is nothing to undo"
                )
                raise InvalidParameterException(
                    f"Version {version_number} cannot be reverted: {why}. "
                    "RestoreDatasetVersion takes the dataset back to a version."
                )
            if version_number < bounds[1] and not force:
                refs = (
                    tx.all_refs(dataset.id)
                    if record.starts_empty
                    else [b.source_ref for b in tx.version_befores(dataset.id, version_number)]
                )
                later = tx.refs_changed_after(dataset.id, version_number, refs)
                if later:
                    named = ", ".join(later[:CONFLICTS_NAMED])
                    more = f" and {len(later) - CONFLICTS_NAMED} more" if len(later) > 20 else ""
                    raise ConflictException(
                        f"Version {version_number} cannot be reverted on its own: a later "
                        f"version changed {len(later)} of the entries it changed ({named}{more}). "
                        "Send Force=true to revert it anyway (those later changes are "
                        f"overwritten), or RestoreDatasetVersion to version {version_number - 1}."
                    )
            self._queue(
                tx, dataset, caller, JobKind.REVERT, now, version=version_number, force=bool(force)
            )
        self.job_queued()
        return {}

    def restore_dataset_version(
        self, caller: Caller, dataset_arn: str, version_number: int
    ) -> dict[str, Any]:
        """Take the dataset back to what it was at a version (as a new version)."""
        now = self.now()
        with self.store.write() as tx:
            dataset = self.dataset_for(tx, caller, dataset_arn, lock=True)
            refuse_busy(dataset, "restored")
            _, bounds = self._version(tx, dataset, version_number, "Version")
            if version_number == bounds[1]:
                older = (
                    f"restore an older one ({bounds[0]} to {bounds[1] - 1})"
                    if bounds[0] < bounds[1]
                    else "it has no older version to restore"
                )
                raise InvalidParameterException(
                    f"The dataset is at version {version_number} already: {older}."
                )
            self._queue(tx, dataset, caller, JobKind.RESTORE, now, version=version_number)
        self.job_queued()
        return {}

    def delete_dataset_entries(
        self,
        caller: Caller,
        dataset_arn: str,
        source_refs: list[str] | None = None,
        filter: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Delete entries by source-ref, or every entry a ListDatasetEntries filter matches."""
        if (source_refs is None) == (filter is None):
            raise InvalidParameterException(
                "Send exactly one of SourceRefs (a list of source-refs) or Filter (the filters "
                "of ListDatasetEntries: ContainsLabels, Labeled, HasErrors, SourceRefContains)."
            )
        now = self.now()
        with self.store.write() as tx:
            dataset = self.dataset_for(tx, caller, dataset_arn, lock=True)
            refuse_busy(dataset, "changed")
            if dataset.status == DatasetStatus.CREATE_FAILED:
                raise InvalidParameterException(
                    "The dataset could not be created (CREATE_FAILED): it holds no entries."
                )
            if source_refs is not None:
                wanted = list(dict.fromkeys(source_refs))
                if not any(tx.entry_line(dataset.id, ref) is not None for ref in wanted):
                    shown = ", ".join(wanted[:5]) + (" ..." if len(wanted) > 5 else "")
                    raise InvalidParameterException(
                        f"None of the {len(wanted)} source-refs is an entry of the dataset "
                        f"({shown}): nothing to delete, so no version is made."
                    )
                self._queue(
                    tx,
                    dataset,
                    caller,
                    JobKind.DELETE_ENTRIES,
                    now,
                    payload=orjson.dumps(wanted),
                )
            else:
                assert filter is not None
                filters = _filter(
                    filter.get("ContainsLabels"),
                    filter.get("Labeled"),
                    filter.get("HasErrors"),
                    filter.get("SourceRefContains"),
                )
                if filters == EntryFilter():
                    raise InvalidParameterException(
                        "Filter is empty: it would delete every entry. Give at least one of "
                        "ContainsLabels, Labeled, HasErrors or SourceRefContains (to empty the "
                        "dataset, delete it or send SourceRefs)."
                    )
                if not tx.entry_page(dataset.id, 0, 1, filters).lines:
                    raise InvalidParameterException(
                        f"Filter {orjson.dumps(filter).decode()} matches no entry of the "
                        "dataset: nothing to delete, so no version is made."
                    )
                self._queue(tx, dataset, caller, JobKind.DELETE_ENTRIES, now, filter=filter)
        self.job_queued()
        return {}

    def _queue(
        self,
        tx: Tx,
        dataset: DatasetRecord,
        caller: Caller,
        kind: JobKind,
        now: float,
        payload: bytes | None = None,
        **params: Any,
    ) -> None:
        self.start_update(tx, dataset, now)
        tx.enqueue_job(
            kind=kind,
            dataset_id=dataset.id,
            now=now,
            payload=payload,
            params=dict(params, caller=caller.principal),
        )
