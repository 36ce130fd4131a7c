"""Why a stored entry's problems are problems: its line judged again, with the detail of each.

A stored line keeps only AWS's `code` and `message` in its `errors` and `warnings` (clients
compare them); the detail (the field, the value found and the rule, `manifest/details.py`) is
never written into it. Judging the stored line again with the server's limits gives the same
problems with their details, for the console's entry view.
"""

from __future__ import annotations

from dataclasses import dataclass

from manifestdb.manifest.line import check_line
from manifestdb.manifest.types import Dropped, Entry, Level, Limits


@dataclass(frozen=True)
class ExplainedProblem:
    """One problem of a stored line: where it is written, AWS's words, and what is wrong."""

    code: str
    message: str
    level: Level  # the object that holds it: the line, an attribute, its metadata, a box
    warning: bool
    attribute: str | None
    annotation_index: int | None
    detail: str | None


def explain_line(line: str, limits: Limits) -> list[ExplainedProblem]:
    """The problems of the stored `line`, each with its detail, in the order they are found."""
    judged = check_line(line, 1, limits, store=False)
    if isinstance(judged, Dropped):  # a line stored under other limits, e.g. a longer one
        return [
            ExplainedProblem(judged.code, judged.message, "line", False, None, None, judged.detail)
        ]
    if not isinstance(judged, Entry):
        return []
    return [
        ExplainedProblem(
            problem.code,
            problem.message,
            problem.level,
            problem.warning,
            problem.attribute,
            problem.annotation_index,
            problem.detail,
        )
        for problem in judged.problems
    ]
