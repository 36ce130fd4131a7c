"""Applying one job through the rule of its kind (`jobs.kinds`); the steps are in `jobs.steps`."""

from __future__ import annotations

from manifestdb.jobs.kinds import rule_for
from manifestdb.jobs.steps import LostLease, Steps
from manifestdb.store import JobRecord

__all__ = ["JobApplier", "LostLease", "UnknownJobKind"]


class UnknownJobKind(Exception):
    """A job whose kind this version does not know (queued by a newer one, or written by hand)."""

    def __init__(self, kind: str) -> None:
        super().__init__(
            f"manifestdb does not know the job kind {kind!r}, so it cannot apply the job"
        )
        self.kind = kind


class JobApplier(Steps):
    """Applies jobs; with `engines`, the lines of a change are judged in helper processes while
    this thread stores them (`jobs.engine`)."""

    def run(self, job: JobRecord) -> None:
        """Apply `job` and close it, whatever its outcome (a crash leaves it to run again)."""
        rule = rule_for(job.kind)
        if rule is None:
            raise UnknownJobKind(job.kind)
        rule.apply(self, job, rule)
