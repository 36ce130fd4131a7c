"""The tables of manifestdb, as SQLAlchemy Core objects that queries are built from.

The migrations under `migrations/versions/` create exactly these tables; a change here needs a
new migration there.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

# Key/value facts about this database, such as the pagination-token signing key.
meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(255), nullable=False),
    Column("arn", String(2048), nullable=False, unique=True),
    Column("feature", String(32), nullable=False),
    Column("auto_update", String(16)),
    Column("status", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("account", "region", "name", name="uq_projects_name"),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("account", String(12), nullable=False),
    Column("arn", String(2048), nullable=False, unique=True),
    Column("dataset_type", String(8), nullable=False),
    Column("status", String(32), nullable=False),
    Column("status_message", Text, nullable=False),
    Column("status_message_code", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("total_entries", Integer, nullable=False, server_default=text("0")),
    Column("labeled_entries", Integer, nullable=False, server_default=text("0")),
    Column("error_entries", Integer, nullable=False, server_default=text("0")),
    Column("total_labels", Integer, nullable=False, server_default=text("0")),
    UniqueConstraint("project_id", "dataset_type", name="uq_datasets_type"),
)

# One row per image. `seq` orders entries by first addition and is the pagination key; a line
# that replaces another keeps the seq of the line it replaces. On PostgreSQL its pages keep 15%
# free so that a replacement is a HOT update (migration 0007).
entries = Table(
    "entries",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("dataset_id", Integer, nullable=False),
    Column("source_ref", Text, nullable=False),
    Column("bucket", Text, nullable=False),
    Column("line", Text, nullable=False),
    Column("labels", Text, nullable=False),  # JSON {label: valid box count}, to undo counters
    Column("is_labeled", Boolean, nullable=False),
    Column("has_errors", Boolean, nullable=False),
    UniqueConstraint("dataset_id", "source_ref", name="uq_entries_source_ref"),
    Index("ix_entries_dataset_seq", "dataset_id", "seq"),
    Index(
        "ix_entries_unlabeled",
        "dataset_id",
        "seq",
        sqlite_where=text("is_labeled = 0"),
        postgresql_where=text("NOT is_labeled"),
    ),
    Index(
        "ix_entries_errors",
        "dataset_id",
        "seq",
        sqlite_where=text("has_errors = 1"),
        postgresql_where=text("has_errors"),
    ),
)

# Which entries carry which label, as bitmaps over seqs (see `label_bits`): bit
# `seq % CHUNK_BITS` of (dataset, label, seq // CHUNK_BITS). Serves ContainsLabels in seq order.
# A rowid table on SQLite (an 8 KiB bitmap overflows a WITHOUT ROWID cell); on PostgreSQL `bits`
# is stored out of line, uncompressed (migration 0006).
label_chunks = Table(
    "label_chunks",
    metadata,
    Column("dataset_id", Integer, primary_key=True),
    Column("label", String(255), primary_key=True),
    Column("chunk", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("bits", LargeBinary, nullable=False),
)

# Per-label counters kept in the write transaction: ListDatasetLabels reads them as they are.
labels = Table(
    "labels",
    metadata,
    Column("dataset_id", Integer, primary_key=True),
    Column("label", String(255), primary_key=True),
    Column("entry_count", Integer, nullable=False),
    Column("box_entry_count", Integer, nullable=False),
    sqlite_with_rowid=False,
)

# Per-bucket entry counts: a dataset's images may come from one bucket only.
buckets = Table(
    "buckets",
    metadata,
    Column("dataset_id", Integer, primary_key=True),
    Column("bucket", Text, primary_key=True),
    Column("entry_count", Integer, nullable=False),
    sqlite_with_rowid=False,
)

# The background work: creates, updates, distributions and deletions.
jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dataset_id", Integer),
    Column("project_id", Integer),
    Column("kind", String(32), nullable=False),
    Column("params", Text, nullable=False),  # JSON
    Column("state", String(16), nullable=False),  # queued | running | done | failed
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("claimed_by", String(128)),
    Column("claimed_at", Float),
    Column("lease_until", Float),  # a running job whose lease passed may be claimed again
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("error", Text),
    Index("ix_jobs_state", "state", "id"),
)

# The change an update job applies, until the job finishes. Apart from `jobs`: SQLite rewrites a
# whole row on any update, and claiming or renewing a job must not copy its 5 MiB again.
job_payloads = Table(
    "job_payloads",
    metadata,
    Column("job_id", Integer, primary_key=True, autoincrement=False),
    Column("payload", LargeBinary, nullable=False),
)

# What each create/update/distribute did, for users (AWS keeps no such record).
update_reports = Table(
    "update_reports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dataset_id", Integer, nullable=False),
    Column("job_id", Integer),
    Column("kind", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("report", Text, nullable=False),  # JSON
    Index("ix_update_reports_dataset", "dataset_id", "id"),
)

# The tags of projects and datasets (TagResource, or Tags at creation), by the resource's ARN;
# removed with the resource.
tags = Table(
    "tags",
    metadata,
    Column("arn", String(2048), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(256), nullable=False),
    sqlite_with_rowid=False,
)

# Console sessions after a login (`--auth sigv4`): by the SHA-256 of their cookie's token, so the
# table holds no usable token; removed at logout and once expired.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("access_key_id", String(128), nullable=False),
    Column("region", String(32), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# The versions of a dataset (issue 18, docs/history.md): version 0 is its start (created empty,
# or its state when history began, migration 0012); each applied create, update, distribution,
# deletion of entries or revert is the next one. `starts_empty`: the dataset held nothing before
# it, so the version keeps no before-images (a create writes no history rows).
dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("dataset_id", Integer, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("caller", Text, nullable=False),  # the principal's ARN (the account's root, auth off)
    Column("job_id", Integer),
    Column("starts_empty", Boolean, nullable=False),
    Column("changed", Integer, nullable=False),  # before-images kept
    Column("history_bytes", BigInteger, nullable=False),  # their size
    Column("summary", Text, nullable=False),  # JSON: the counts of its report, the stats after
    sqlite_with_rowid=False,
)

# What each entry a version changed was before it: its line, labels and flags, or nothing
# (`line` NULL: it did not exist; `seq` then NULL too). Written by the job that made the change,
# in its transaction. Keyed by version, then source-ref.
entry_history = Table(
    "entry_history",
    metadata,
    Column("dataset_id", Integer, nullable=False),
    Column("source_ref", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("seq", BigInteger().with_variant(Integer, "sqlite")),
    Column("line", Text),
    Column("labels", Text),
    Column("is_labeled", Boolean),
    Column("has_errors", Boolean),
    Column("bucket", Text),
    # Every read asks for a range of versions (then maybe some source-refs): one key serves
    # them all, and a change's rows go in at its end, in order (migration 0013).
    UniqueConstraint("dataset_id", "version", "source_ref", name="uq_entry_history"),
)

# The models of a project (CreateProjectVersion, issue 21, docs/models.md): one row per version,
# its status and what DescribeProjectVersions says of it (`details`: JSON of the evaluation, the
# data results and the manifest summary, written when training ends).
project_versions = Table(
    "project_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, nullable=False),
    Column("name", String(255), nullable=False),
    Column("arn", String(2048), nullable=False, unique=True),
    Column("status", String(32), nullable=False),
    Column("status_message", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("training_end", Float),
    Column("billable_seconds", Integer),
    Column("output_bucket", String(255), nullable=False),
    Column("output_prefix", String(1024), nullable=False),
    Column("kms_key_id", String(2048)),
    Column("description", Text),
    Column("min_units", Integer),
    Column("max_units", Integer),
    Column("details", Text, nullable=False),  # JSON
    UniqueConstraint("project_id", "name", name="uq_project_versions_name"),
)

# A trained model's weights and labels (torch.save bytes), apart from `project_versions` so that
# a status change does not rewrite them (SQLite rewrites a whole row on any update).
model_artifacts = Table(
    "model_artifacts",
    metadata,
    Column("version_id", Integer, primary_key=True, autoincrement=False),
    Column("artifact", LargeBinary, nullable=False),
)

# SQLite only: a trigram index over source-refs for SourceRefContains (created by migration).
SQLITE_FTS_DDL = (
    "CREATE VIRTUAL TABLE entries_fts USING fts5("
    "source_ref, content='', tokenize='trigram case_sensitive 1', detail=none)"
)
