"""The service model's regular expressions (Java syntax) compiled for Python, meaning unchanged.

AWS validates `pattern` with java.util.regex against the whole value. Three things differ in
Python's `re` and are translated here: `\\p{..}` Unicode categories (which `re` lacks) become
explicit ranges; `.` excludes every Java line terminator, not only `\\n`; `\\d \\s \\w` are ASCII in
Java, so patterns compile with `re.ASCII`. Use `fullmatch` with the result.
"""

from __future__ import annotations

import functools
import itertools
import re
import sys
import unicodedata

# Java's `.` matches anything but a line terminator: \n, \r, \u0085, \u2028, \u2029.
_JAVA_DOT = "[^\\n\\r\\x85\\u2028\\u2029]"


@functools.cache
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a model pattern (Java syntax) to a Python pattern with the same meaning."""
    return re.compile(translate(pattern), re.ASCII)


def translate(pattern: str) -> str:
    """Rewrite a Java pattern in Python `re` syntax (see the module docstring)."""
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            escape, index = _escape(pattern, index, in_class)
            out.append(escape)
            continue
        if char == "[" and not in_class:
            in_class = True
            start = index + 1 + (pattern.startswith("^", index + 1))
            out.append(pattern[index:start])
            index = start
            continue
        if char == "[":
            raise ValueError(f"nested character classes are not supported: {pattern!r}")
        if char == "]" and in_class:
            in_class = False
        out.append(_JAVA_DOT if char == "." and not in_class else char)
        index += 1
    return "".join(out)


def _escape(pattern: str, index: int, in_class: bool) -> tuple[str, int]:
    """Translate the escape at `index`; return it and the index after it."""
    kind = pattern[index + 1 : index + 2]
    if kind in ("p", "P") and pattern.startswith("{", index + 2):
        end = pattern.index("}", index)
        body = _category_class(pattern[index + 3 : end])
        if in_class and kind == "P":
            raise ValueError(f"\\P inside a character class is not supported: {pattern!r}")
        if in_class:
            return body, end + 1
        return f"[{'^' if kind == 'P' else ''}{body}]", end + 1
    if kind in ("Q", "E", "G", "Z", "z") or not kind:
        raise ValueError(f"escape \\{kind} is not supported: {pattern!r}")
    return pattern[index : index + 2], index + 2


def _category_class(name: str) -> str:
    """The body of a character class for the Unicode general category `name` (L, Lu, N, ...)."""
    name = name.removeprefix("Is")
    if not 1 <= len(name) <= 2:
        raise ValueError(f"unsupported Unicode category \\p{{{name}}}")
    spans = sorted(
        span
        for category, runs in _category_table().items()
        if category == name or (len(name) == 1 and category.startswith(name))
        for span in runs
    )
    if not spans:
        raise ValueError(f"unsupported Unicode category \\p{{{name}}}")
    return "".join(
        f"\\U{low:08x}" if low == high else f"\\U{low:08x}-\\U{high:08x}" for low, high in spans
    )


@functools.cache
def _category_table() -> dict[str, list[tuple[int, int]]]:
    """Every code point's general category, as (first, last) runs per category (once: ~0.2 s)."""
    runs: dict[str, list[tuple[int, int]]] = {}
    categories = map(unicodedata.category, map(chr, range(sys.maxunicode + 1)))
    first = 0
    for category, group in itertools.groupby(categories):
        last = first + sum(1 for _ in group) - 1
        runs.setdefault(category, []).append((first, last))
        first = last + 1
    return runs
