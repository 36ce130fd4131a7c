"""Reading entry pages for ListDatasetEntries: every filter served by an index, keyset on seq.

Which index drives a page:
- `SourceRefContains` of 3+ characters: the trigram index (SQLite FTS5), in seq order, with the
  other filters checked per candidate (label filters as primary-key probes of `entry_labels`);
- `ContainsLabels`: a slice of `entry_labels` per label, merged in seq order;
- otherwise: `entries` by (dataset, seq), or its partial index for `Labeled=false` /
  `HasErrors=true`.
A substring shorter than 3 characters cannot use trigrams and is checked row by row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from manifestdb.store.records import EntryPage

LABEL_SLICE = 256


@dataclass(frozen=True, slots=True)
class EntryFilter:
    labels: tuple[str, ...] = ()
    labeled: bool | None = None
    has_errors: bool | None = None
    contains: str | None = None


def _flag_clauses(filters: EntryFilter) -> list[str]:
    # Literal 0/1 (not parameters) so SQLite can prove its partial indexes apply.
    clauses = []
    if filters.labeled is not None:
        clauses.append(f"e.is_labeled = {int(filters.labeled)}")
    if filters.has_errors is not None:
        clauses.append(f"e.has_errors = {int(filters.has_errors)}")
    return clauses


def list_entry_page(
    conn: Connection, dialect: str, dataset_id: int, after: int, limit: int, filters: EntryFilter
) -> EntryPage:
    """Up to `limit` lines after seq `after`; `last_seq` is set when more lines follow."""
    if filters.contains is not None and len(filters.contains) >= 3 and dialect == "sqlite":
        rows = _by_trigram(conn, dataset_id, after, limit + 1, filters)
    elif filters.labels:
        rows = _by_labels(conn, dataset_id, after, limit + 1, filters)
    else:
        rows = _by_entries(conn, dataset_id, after, limit + 1, filters)
    if len(rows) > limit:
        rows = rows[:limit]
        return EntryPage([row[1] for row in rows], rows[-1][0])
    return EntryPage([row[1] for row in rows], None)


def _by_entries(
    conn: Connection, dataset_id: int, after: int, limit: int, filters: EntryFilter
) -> list[Any]:
    clauses = ["e.dataset_id = ?", "e.seq > ?", *_flag_clauses(filters)]
    params: list[Any] = [dataset_id, after]
    if filters.contains is not None:
        clauses.append("instr(e.source_ref, ?) > 0")
        params.append(filters.contains)
    sql = (
        f"SELECT e.seq, e.line FROM entries e WHERE {' AND '.join(clauses)} ORDER BY e.seq LIMIT ?"
    )
    return list(conn.exec_driver_sql(sql, (*params, limit)).all())


def _label_probe(labels: Sequence[str]) -> str:
    marks = ", ".join("?" for _ in labels)
    return (
        "EXISTS (SELECT 1 FROM entry_labels l WHERE l.dataset_id = e.dataset_id "
        f"AND l.label IN ({marks}) AND l.seq = e.seq)"
    )


def _by_trigram(
    conn: Connection, dataset_id: int, after: int, limit: int, filters: EntryFilter
) -> list[Any]:
    assert filters.contains is not None
    # A detail=none index knows which trigrams a source-ref has, not where: match rows holding
    # every trigram of the substring, and let instr() confirm each candidate.
    clauses = [
        "entries_fts MATCH ?",
        "f.rowid > ?",
        "e.dataset_id = ?",
        "instr(e.source_ref, ?) > 0",
        *_flag_clauses(filters),
    ]
    params: list[Any] = [trigram_query(filters.contains), after, dataset_id, filters.contains]
    if filters.labels:
        clauses.append(_label_probe(filters.labels))
        params.extend(filters.labels)
    sql = (
        "SELECT e.seq, e.line FROM entries_fts f CROSS JOIN entries e ON e.seq = f.rowid "
        f"WHERE {' AND '.join(clauses)} ORDER BY f.rowid LIMIT ?"
    )
    return list(conn.exec_driver_sql(sql, (*params, limit)).all())


def trigram_query(substring: str) -> str:
    """An FTS5 query for rows holding the trigrams that cover `substring` (3+ characters)."""
    starts = sorted({*range(0, len(substring) - 2, 3), len(substring) - 3})
    grams = (substring[start : start + 3] for start in starts)
    return " AND ".join('"' + gram.replace('"', '""') + '"' for gram in grams)


def _by_labels(
    conn: Connection, dataset_id: int, after: int, limit: int, filters: EntryFilter
) -> list[Any]:
    """Merge per-label slices of seqs; fetch the candidates; repeat until the page is full."""
    found: list[Any] = []
    cursor = after
    while len(found) < limit:
        bound: int | None = None
        candidates: set[int] = set()
        for label in filters.labels:
            seqs = [
                row[0]
                for row in conn.exec_driver_sql(
                    "SELECT seq FROM entry_labels WHERE dataset_id = ? AND label = ? AND seq > ? "
                    "ORDER BY seq LIMIT ?",
                    (dataset_id, label, cursor, LABEL_SLICE),
                )
            ]
            candidates.update(seqs)
            if len(seqs) == LABEL_SLICE:
                # Past this label's last seq we have not looked: nothing beyond it is certain.
                bound = seqs[-1] if bound is None else min(bound, seqs[-1])
        if bound is not None:
            candidates = {seq for seq in candidates if seq <= bound}
        if candidates:
            found.extend(_fetch(conn, dataset_id, sorted(candidates), filters))
        if bound is None:
            break
        cursor = bound
    return found[:limit]


def _fetch(conn: Connection, dataset_id: int, seqs: list[int], filters: EntryFilter) -> list[Any]:
    marks = ", ".join("?" for _ in seqs)
    clauses = [f"e.seq IN ({marks})", "e.dataset_id = ?", *_flag_clauses(filters)]
    params: list[Any] = [*seqs, dataset_id]
    if filters.contains is not None:
        clauses.append("instr(e.source_ref, ?) > 0")
        params.append(filters.contains)
    sql = f"SELECT e.seq, e.line FROM entries e WHERE {' AND '.join(clauses)} ORDER BY e.seq"
    return list(conn.exec_driver_sql(sql, tuple(params)).all())
