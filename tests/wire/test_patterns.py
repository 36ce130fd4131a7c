"""The model's Java regular expressions mean the same in Python after translation."""

from __future__ import annotations

import pytest

from manifestdb.wire.patterns import compile_pattern, translate

TAG_KEY = r"^(?!aws:)[\p{L}\p{Z}\p{N}_.:/=+\-@]*$"


@pytest.mark.parametrize(
    ("value", "matches"),
    [
        ("team", True),
        ("", True),
        ("Ünïcödé 名前", True),
        ("٣½Ⅻ", True),  # Nd, No, Nl are all \p{N}
        ("a\u2003b\u00a0c", True),  # \p{Z}: em space, no-break space
        ("a:b/c=d+e-f@g_h.i", True),
        ("aws:team", False),
        ("AWS:team", True),  # the look-ahead is case-sensitive, as in Java
        ("tab\there", False),  # \t is a control character, not \p{Z}
        ("a!b", False),
        ("emoji😀", False),  # So is not L, Z or N
        ("\U00020000", True),  # a CJK letter outside the BMP
    ],
)
def test_unicode_categories(value: str, matches: bool) -> None:
    assert (compile_pattern(TAG_KEY).fullmatch(value) is not None) is matches


@pytest.mark.parametrize(
    ("value", "matches"),
    [("a", True), ("a\nb", False), ("a\rb", False), ("a\u2028b", False), ("a\u0085b", False)],
)
def test_dot_excludes_every_java_line_terminator(value: str, matches: bool) -> None:
    assert (compile_pattern(".{1,}").fullmatch(value) is not None) is matches


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        (r"\d{3}", "١٢٣", False),  # Java's \d is ASCII
        (r"\d{3}", "123", True),
        (r".*\S.*", "\u00a0", True),  # Java's \s is ASCII, so no-break space is \S
        (r".*\S.*", " \t\n\x0b\f\r", False),
        (r"\w+", "é", False),
    ],
)
def test_shorthand_classes_are_ascii_as_in_java(pattern: str, value: str, matches: bool) -> None:
    assert (compile_pattern(pattern).fullmatch(value) is not None) is matches


def test_dot_inside_a_class_is_a_dot() -> None:
    assert translate(r"[a-z.]+") == r"[a-z.]+"
    assert compile_pattern(r"[a-z.]+").fullmatch("a.b")
    assert not compile_pattern(r"[a-z.]+").fullmatch("a,b")


def test_negated_category_outside_a_class() -> None:
    assert compile_pattern(r"\P{L}+").fullmatch("123 ")
    assert not compile_pattern(r"\P{L}+").fullmatch("1a")


@pytest.mark.parametrize("pattern", [r"\p{Alpha}", r"[\P{L}]", r"[a-z[A-Z]]", r"\Qa\E"])
def test_unsupported_java_syntax_fails_loudly(pattern: str) -> None:
    with pytest.raises(ValueError):
        translate(pattern)
