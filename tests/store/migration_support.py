"""Running the Alembic migrations to a given revision, for migration tests."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

from manifestdb.store.database import MIGRATIONS
from manifestdb.store.label_bits import bit_positions


def alembic(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def label_seqs(engine: Engine, chunk_bits: int) -> set[tuple[int, str, int]]:
    """(dataset, label, seq) of every bit set in `label_chunks`, read as chunks of
    `chunk_bits` seqs (the size of the revision the schema is at)."""
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT dataset_id, label, chunk, bits FROM label_chunks"))
        return {
            (dataset_id, label, chunk * chunk_bits + position)
            for dataset_id, label, chunk, bits in rows
            for position in bit_positions(int.from_bytes(bits, "little"))
        }
