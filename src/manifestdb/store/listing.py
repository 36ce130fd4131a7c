"""Reading entry pages for ListDatasetEntries: every filter served by an index, keyset on seq.

Which index drives a page:
- `SourceRefContains` of 3+ characters: the trigram index (SQLite: the FTS5 table, walked in seq
  order with the other filters checked per candidate; PostgreSQL: pg_trgm through `LIKE` of the
  substring's rarest trigrams, the planner choosing between it and the seq order, the substring
  and labels checked per candidate);
- `ContainsLabels`: the label bitmaps (`label_chunks`), a chunk per label at a time, ORed in seq
  order;
- otherwise: `entries` by (dataset, seq), or its partial index for `Labeled=false` /
  `HasErrors=true`.
A substring shorter than 3 characters cannot use trigrams and is checked row by row.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection

from manifestdb.store.history import Before, Overlay
from manifestdb.store.label_bits import SHIFT, bit_positions, chunk_of
from manifestdb.store.records import EntryPage
from manifestdb.store.sql import false, raw_rows, true

LABEL_CHUNKS = 1  # bitmap chunks read per label and round (65,536 seqs each)
FETCH_MIN = 64  # candidates fetched per statement at least
FETCH_MAX = 2048  # and at most
TRIGRAMS = 4  # trigrams of a SourceRefContains substring the FTS5 query asks for
TRIGRAM_SAMPLE = 64  # source-refs that rank them
SAMPLE_SECONDS = 60.0  # how long a dataset's sample is reused
SAMPLES_KEPT = 1024  # datasets whose samples are kept at once (all are dropped past that)


@dataclass(frozen=True, slots=True)
class EntryFilter:
    labels: tuple[str, ...] = ()
    labeled: bool | None = None
    has_errors: bool | None = None
    contains: str | None = None


class _Query:
    """The SQL pieces of one page request, in the dialect of the connection."""

    def __init__(self, conn: Connection, dialect: str, dataset_id: int, filters: EntryFilter):
        self.conn = conn
        self.dialect = dialect
        self.dataset_id = dataset_id
        self.filters = filters

    def rows(self, sql: str, params: Sequence[Any], *, binary: bool = False) -> list[Any]:
        return raw_rows(self.conn, sql, params, binary=binary)

    def flag_clauses(self) -> list[str]:
        # Literals, not parameters, so SQLite can prove its partial indexes apply.
        clauses = []
        for column, value in (
            ("is_labeled", self.filters.labeled),
            ("has_errors", self.filters.has_errors),
        ):
            if value is not None:
                literal = true(self.dialect) if value else false(self.dialect)
                clauses.append(f"e.{column} = {literal}")
        return clauses

    def contains_clause(self, pieces: Sequence[str] = ()) -> tuple[list[str], list[Any]]:
        """The SourceRefContains test; on PostgreSQL, `pieces` (parts of the substring) are
        also asked for with LIKE, for the trigram index to find the candidates by."""
        contains = self.filters.contains
        if contains is None:
            return [], []
        if self.dialect == "postgresql":
            likes = ["e.source_ref LIKE ?" for _ in pieces]
            return [*likes, "strpos(e.source_ref, ?) > 0"], [*map(_like, pieces), contains]
        return ["instr(e.source_ref, ?) > 0"], [contains]

    def sample(self) -> list[str]:
        """Some source-refs of the dataset, to rank a substring's trigrams by.

        A full sample is kept for SAMPLE_SECONDS per database and dataset: reading it was a
        tenth of a substring search, and a sample a minute old ranks trigrams as well (it
        changes the speed of a search, never its answer).
        """
        key = (str(self.conn.engine.url), self.dataset_id)
        now = time.monotonic()
        kept = _samples.get(key)
        if kept is not None and now - kept[0] < SAMPLE_SECONDS:
            return kept[1]
        sample = [
            row[0]
            for row in self.rows(
                "SELECT source_ref FROM entries WHERE dataset_id = ? ORDER BY seq LIMIT ?",
                (self.dataset_id, TRIGRAM_SAMPLE),
            )
        ]
        if len(sample) == TRIGRAM_SAMPLE:  # a smaller dataset's may not tell: read it again
            if len(_samples) >= SAMPLES_KEPT:
                _samples.clear()
            _samples[key] = (now, sample)
        return sample


_samples: dict[tuple[str, int], tuple[float, list[str]]] = {}


def _like(piece: str) -> str:
    """A LIKE pattern for source-refs holding `piece`."""
    escaped = piece.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_entry_page(
    conn: Connection, dialect: str, dataset_id: int, after: int, limit: int, filters: EntryFilter
) -> EntryPage:
    """Up to `limit` lines after seq `after`; `last_seq` is set when more lines follow."""
    return _page(_entry_rows(conn, dialect, dataset_id, after, limit + 1, filters), limit)


def _page(rows: list[Any], limit: int) -> EntryPage:
    if len(rows) > limit:
        rows = rows[:limit]
        return EntryPage([row[1] for row in rows], rows[-1][0])
    return EntryPage([row[1] for row in rows], None)


def _entry_rows(
    conn: Connection, dialect: str, dataset_id: int, after: int, limit: int, filters: EntryFilter
) -> list[Any]:
    """Up to `limit` (seq, line) rows after seq `after`, in seq order."""
    if _holds_nul(filters):
        # No stored source-ref or label holds a NUL (the manifest engine refuses them, and
        # PostgreSQL text cannot hold one), so nothing matches: answered without a query.
        return []
    query = _Query(conn, dialect, dataset_id, filters)
    trigrams = filters.contains is not None and len(filters.contains) >= 3
    if trigrams and dialect == "sqlite":
        return _by_fts(query, after, limit)
    if filters.labels and not trigrams:
        return _by_labels(query, after, limit)
    return _by_entries(query, after, limit)


def list_entry_page_at(
    conn: Connection,
    dialect: str,
    overlay: Overlay,
    dataset_id: int,
    after: int,
    limit: int,
    filters: EntryFilter,
) -> EntryPage:
    """A page of the dataset at the overlay's version: today's entries that no later version
    changed, merged in seq order with the overlay's entries that pass the filters."""
    if _holds_nul(filters):
        return EntryPage([], None)
    want = limit + 1
    seqs, passing = overlay.passing(filters, lambda before: _passes(before, filters))
    start = bisect.bisect_right(seqs, after)
    then = [(before.seq, before.line) for before in passing[start : start + want]]
    now: list[Any] = []
    if not overlay.base_empty:
        hidden = overlay.hidden_seqs
        # Rows for the hidden ones the page will skip, at twice their share: one statement
        # nearly always (a second one was most of the difference to today's page).
        fetch = want + (math.ceil(want * overlay.hidden_share * 2) + 2 if hidden else 0)
        cursor = after
        while len(now) < want:
            rows = _entry_rows(conn, dialect, dataset_id, cursor, fetch, filters)
            now.extend(row for row in rows if row[0] not in hidden)
            if len(rows) < fetch:
                break
            cursor = rows[-1][0]
    merged = sorted([*then, *now[:want]], key=lambda row: row[0])
    return _page(merged, limit)


def _passes(before: Before, filters: EntryFilter) -> bool:
    """Does an entry of the overlay pass the filters (as ListDatasetEntries applies them)?"""
    if filters.labels and not any(label in before.labels for label in filters.labels):
        return False
    if filters.labeled is not None and before.is_labeled != filters.labeled:
        return False
    if filters.has_errors is not None and before.has_errors != filters.has_errors:
        return False
    return filters.contains is None or filters.contains in before.source_ref


def _holds_nul(filters: EntryFilter) -> bool:
    return "\x00" in (filters.contains or "") or any("\x00" in label for label in filters.labels)


def _by_entries(query: _Query, after: int, limit: int) -> list[Any]:
    """Entries in seq order, filtered in SQL. With labels, only on PostgreSQL and with a
    substring: the planner weighs the trigram index against the seq order, and each candidate's
    own label counts say whether it carries a label."""
    pieces: list[str] = []
    if query.filters.contains is not None and len(query.filters.contains) >= 3:
        pieces = rare_trigrams(query.filters.contains, query.sample(), words_only=True)
    contains, contains_params = query.contains_clause(pieces)
    clauses = ["e.dataset_id = ?", "e.seq > ?", *query.flag_clauses(), *contains]
    params: list[Any] = [query.dataset_id, after, *contains_params]
    if query.filters.labels:
        label_test, label_params = _label_test(query.dialect, query.filters.labels)
        clauses.append(label_test)
        params.extend(label_params)
    sql = (
        f"SELECT e.seq, e.line FROM entries e WHERE {' AND '.join(clauses)} ORDER BY e.seq LIMIT ?"
    )
    return query.rows(sql, (*params, limit))


def _label_test(dialect: str, labels: Sequence[str]) -> tuple[str, list[Any]]:
    """Does the candidate `e` carry one of `labels`? Its own label counts say: a JSON object.

    The object is searched as text first: a label's key (`"name":`, as orjson writes it) is in
    the text of every object that holds the label. Only the rows that pass are parsed (parsing
    every row was most of a label-and-substring page on PostgreSQL); the parse stays,
    as text alone would take a label named `x"name` for one named `name`.
    """
    keys = [orjson.dumps(label).decode() + ":" for label in labels]
    find = "strpos(e.labels, ?) > 0" if dialect == "postgresql" else "instr(e.labels, ?) > 0"
    text = " OR ".join(find for _ in keys)
    if dialect == "postgresql":
        exact = "EXISTS (SELECT 1 FROM jsonb_object_keys(e.labels::jsonb) k WHERE k = ANY(?))"
        return f"({text}) AND {exact}", [*keys, list(labels)]
    marks = ", ".join("?" for _ in labels)
    exact = f"EXISTS (SELECT 1 FROM json_each(e.labels) j WHERE j.key IN ({marks}))"
    return f"({text}) AND {exact}", [*keys, *labels]


def trigram_query(substring: str, sample: Sequence[str] = ()) -> str:
    """An FTS5 query for rows holding the telling trigrams of `substring` (3+ characters).

    A detail=none index answers `a AND b AND c` by walking the rows of every term, so a trigram
    that nearly every source-ref has ("img", "000", the bucket's) costs a walk of the whole
    dataset and filters nothing. The trigrams are ranked by how many source-refs of `sample`
    (some of the dataset's) hold them, and the TRIGRAMS rarest are used; instr() confirms each
    candidate, so the choice changes the speed only, never the answer.
    """
    grams = rare_trigrams(substring, sample)
    return " AND ".join('"' + gram.replace('"', '""') + '"' for gram in grams)


def rare_trigrams(substring: str, sample: Sequence[str], *, words_only: bool = False) -> list[str]:
    """Up to TRIGRAMS trigrams of `substring`, those fewest source-refs of `sample` hold first.

    `words_only` (PostgreSQL) keeps the trigrams that pg_trgm can look up as such, and only
    those that at most half the sample holds. pg_trgm splits a LIKE pattern into words at
    anything but letters and digits and pads a word's ends at those places: `LIKE '%42/%'`
    asks its index for "42 " (words ending in 42), `LIKE '%7.j%'` for nothing of use, and
    `LIKE '%/00%'` for "  0", which a source-ref holds whenever a word of it starts with 0. So
    a trigram is kept when its middle character is a letter or digit, and one that most
    source-refs hold would only make the index walk them. With none left, the caller asks the
    index for nothing and checks rows in seq order (a common substring is soon found that way).
    """
    grams = sorted({substring[start : start + 3] for start in range(len(substring) - 2)})
    held = {gram: sum(gram in source_ref for source_ref in sample) for gram in grams}
    if words_only:
        grams = [gram for gram in grams if gram[1].isalnum() and held[gram] * 2 <= len(sample)]
    grams.sort(key=held.__getitem__)
    return grams[:TRIGRAMS]


def _by_fts(query: _Query, after: int, limit: int) -> list[Any]:
    """SQLite: walk the trigram table in seq order (it is keyed by seq) and check the rest."""
    filters = query.filters
    assert filters.contains is not None
    # A detail=none index knows which trigrams a source-ref has, not where: match rows holding
    # every trigram of the substring, and let instr() confirm each candidate.
    clauses = [
        "entries_fts MATCH ?",
        "f.rowid > ?",
        "e.dataset_id = ?",
        "instr(e.source_ref, ?) > 0",
        *query.flag_clauses(),
    ]
    match = trigram_query(filters.contains, query.sample())
    params: list[Any] = [match, after, query.dataset_id, filters.contains]
    if filters.labels:
        label_test, label_params = _label_test(query.dialect, filters.labels)
        clauses.append(label_test)
        params.extend(label_params)
    sql = (
        "SELECT e.seq, e.line FROM entries_fts f CROSS JOIN entries e ON e.seq = f.rowid "
        f"WHERE {' AND '.join(clauses)} ORDER BY f.rowid LIMIT ?"
    )
    return query.rows(sql, (*params, limit))


def _by_labels(query: _Query, after: int, limit: int) -> list[Any]:
    """OR the labels' bitmaps a chunk at a time; fetch the candidates in seq order."""
    found: list[Any] = []
    first = chunk_of(after)
    fetch = max(FETCH_MIN, limit)
    while len(found) < limit:
        merged: dict[int, int] = {}
        bound: int | None = None
        read: dict[int, list[int]] = {}  # label (by position) -> the chunks read of it
        for position, chunk, bits in _label_chunks(query, first):
            merged[chunk] = merged.get(chunk, 0) | int.from_bytes(bits, "little")
            read.setdefault(position, []).append(chunk)
        for chunks in read.values():
            if len(chunks) == LABEL_CHUNKS:
                # Past this label's last chunk we have not looked: nothing beyond it is certain.
                bound = max(chunks) if bound is None else min(bound, max(chunks))
        candidates: list[int] = []
        for chunk in sorted(merged):
            if bound is not None and chunk > bound:
                break
            base = chunk << SHIFT
            for position in bit_positions(merged[chunk], max(0, after + 1 - base)):
                candidates.append(base + position)
                if len(candidates) == fetch:
                    found.extend(_fetch(query, candidates))
                    candidates = []
                    if len(found) >= limit:
                        return found[:limit]
                    # Few candidates pass the other filters: ask for more of them at a time.
                    fetch = min(fetch * 4, FETCH_MAX)
        if candidates:
            found.extend(_fetch(query, candidates))
        if bound is None:
            break
        first = bound + 1
    return found[:limit]


def _label_chunks(query: _Query, first: int) -> list[Any]:
    """(label position, chunk, bits): the next LABEL_CHUNKS chunks from `first` of each label,
    in one statement (a round trip per label was a third of a three-label page on PostgreSQL)."""
    one = (
        "SELECT {n} AS n, chunk, bits FROM (SELECT chunk, bits FROM label_chunks "
        "WHERE dataset_id = ? AND label = ? AND chunk >= ? ORDER BY chunk LIMIT ?) AS c{n}"
    )
    labels = query.filters.labels
    sql = " UNION ALL ".join(one.format(n=n) for n in range(len(labels)))
    params = [p for label in labels for p in (query.dataset_id, label, first, LABEL_CHUNKS)]
    return query.rows(sql, params, binary=True)


def _fetch(query: _Query, seqs: list[int]) -> list[Any]:
    marks = ", ".join("?" for _ in seqs)
    contains, contains_params = query.contains_clause()
    clauses = [f"e.seq IN ({marks})", "e.dataset_id = ?", *query.flag_clauses(), *contains]
    sql = f"SELECT e.seq, e.line FROM entries e WHERE {' AND '.join(clauses)} ORDER BY e.seq"
    return query.rows(sql, (*seqs, query.dataset_id, *contains_params))


def entry_line(conn: Connection, dataset_id: int, source_ref: str) -> str | None:
    """The stored line of the dataset's entry with this exact source-ref (the unique index)."""
    rows = raw_rows(
        conn,
        "SELECT line FROM entries WHERE dataset_id = ? AND source_ref = ?",
        (dataset_id, source_ref),
    )
    return str(rows[0][0]) if rows else None
