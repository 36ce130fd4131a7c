"""The FTS5 query for SourceRefContains asks for the substring's rarest trigrams."""

from __future__ import annotations

from manifestdb.store.listing import TRIGRAMS, rare_trigrams, trigram_query


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


def test_postgresql_asks_its_index_for_trigrams_pg_trgm_can_look_up():
    sample = [f"s3://bucket/images/0000/img{index:08d}.jpg" for index in range(64)]
    grams = rare_trigrams("img00700003", sample, words_only=True)
    assert len(grams) == TRIGRAMS and all(gram.isalnum() for gram in grams)
    assert "img" not in grams and "000" not in grams  # every sampled source-ref has them
    # "42/": words ending in 42; "/00" (words starting with 00) is in every sampled one.
    assert rare_trigrams("/0042/", sample, words_only=True) == ["42/", "042", "004"]
    assert rare_trigrams("7.jpg", sample, words_only=True) == []  # ".jp", "jpg": everywhere
    assert rare_trigrams("s/i", sample, words_only=True) == []  # "/" splits the words
