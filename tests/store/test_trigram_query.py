"""The FTS5 query for SourceRefContains asks for the substring's rarest trigrams."""

from __future__ import annotations

from manifestdb.store.listing import TRIGRAMS, trigram_query


def test_trigrams_every_sampled_source_ref_has_are_left_out():
    sample = [f"s3://bucket/images/img{index:08d}.jpg" for index in range(64)]
    query = trigram_query("img09876543", sample)
    terms = query.split(" AND ")
    assert len(terms) == TRIGRAMS
    assert '"img"' not in terms and '"mg0"' not in terms
    # Only trigrams no sampled source-ref has: they filter the most.
    assert all(not any(term.strip('"') in ref for ref in sample) for term in terms)


def test_short_substrings_and_quotes():
    assert trigram_query("abc") == '"abc"'
    assert trigram_query('a"bc') == '"""bc" AND "a""b"'  # a quote inside a term is doubled
    assert trigram_query('a"b', ["x"]) == '"a""b"'
