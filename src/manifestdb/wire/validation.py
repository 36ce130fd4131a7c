"""Request JSON checked against botocore's input shapes, with AWS's (Coral's) errors and messages.

AWS deserializes before it validates, and this module keeps that order in one walk:
- a JSON value that cannot be the shape (text for an integer, an object for a list, bad base64)
  raises SerializationException at once, with AWS's wording (`STRING_VALUE can not be converted
  to an Integer`, `Start of list found where not expected`, `Expected null`, ...);
- constraint failures (required at any depth, length, range, pattern, enum, blob size) are all
  collected and raised as one ValidationException in AWS's form: `2 validation errors detected:
  Value '' at 'projectName' failed to satisfy constraint: Member must ...; ...`.
Members absent, `null` and unknown are the same: ignored unless required. Wording: `messages`.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pybase64
from botocore.model import ListShape, MapShape, Shape, StringShape, StructureShape

from manifestdb.wire.messages import (
    NOT_NULL,
    TARGETS,
    Errors,
    base64_problem,
    container_mismatch,
    hidden,
    mismatch,
    shown,
)
from manifestdb.wire.patterns import compile_pattern

Check = Callable[[Any, str, Errors], Any]
Rule = tuple[Callable[[Any], bool], str]  # (fails, constraint phrase)

_ACCEPTED: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),  # exactly int: bool is a JSON true/false, float a number with a fraction
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
}
_INT_BITS = {"integer": 32, "long": 64}


class InputCompiler:
    """Builds, once per shape, the function that checks and converts a request's JSON."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def compile(self, shape: StructureShape | None) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """A reader: the decoded body (a dict) -> params keyed by member name, or raises."""
        check = self._build(shape) if shape is not None else None

        def read(document: dict[str, Any]) -> dict[str, Any]:
            if check is None:
                return {}
            errors = Errors()
            params: dict[str, Any] = check(document, "", errors)
            errors.raise_if_any()
            return params

        return read

    def _build(self, shape: Shape) -> Check:
        known = self._checks.get(shape.name)
        if known is not None:
            return known
        later: list[Check] = []  # a recursive shape refers to itself before it is built
        self._checks[shape.name] = lambda value, path, errors: later[0](value, path, errors)
        builders: dict[str, Callable[[Any], Check]] = {
            "structure": self._structure,
            "list": self._list,
            "map": self._map,
            "blob": _blob,
            "boolean": _boolean,
            "timestamp": _timestamp,
        }
        builder = builders.get(shape.type_name, _scalar)
        check = builder(shape)
        later.append(check)
        self._checks[shape.name] = check
        return check

    def _structure(self, shape: StructureShape) -> Check:
        required = set(shape.required_members)
        members = tuple(
            (
                member.serialization.get("name", name),
                name,
                name[:1].lower() + name[1:],
                self._build(member),
                name in required,
            )
            for name, member in shape.members.items()
        )

        def check(value: Any, path: str, errors: Errors) -> dict[str, Any]:
            if type(value) is not dict:
                raise container_mismatch(value, "Expected null")
            prefix = f"{path}." if path else ""
            params: dict[str, Any] = {}
            for key, name, segment, member, needed in members:
                item = value.get(key)
                if item is None:
                    if needed:
                        errors.add("null", prefix + segment, NOT_NULL)
                    continue
                params[name] = member(item, prefix + segment, errors)
            return params

        return check

    def _list(self, shape: ListShape) -> Check:
        member = self._build(shape.member)
        rules = _length_rules(shape)

        def check(value: Any, path: str, errors: Errors) -> list[Any]:
            if type(value) is not list:
                raise container_mismatch(value, "Expected list or null")
            _apply(rules, value, path, errors)
            items = []
            for index, item in enumerate(value, 1):
                item_path = f"{path}.{index}.member"
                if item is None:
                    errors.add("null", item_path, NOT_NULL)
                else:
                    items.append(member(item, item_path, errors))
            return items

        return check

    def _map(self, shape: MapShape) -> Check:
        key_rules = rules_of(shape.key)
        value_check = self._build(shape.value)
        keys_phrase = _bracket("Map keys", key_rules, [])
        values_phrase = _bracket("Map value", rules_of(shape.value), [])
        null_values_phrase = _bracket("Map value", rules_of(shape.value), [NOT_NULL])
        rules = _length_rules(shape)

        def check(value: Any, path: str, errors: Errors) -> dict[str, Any]:
            if type(value) is not dict:
                raise container_mismatch(value, "Expected map or null")
            _apply(rules, value, path, errors)
            scratch, entries = Errors(), {}
            bad_keys = has_null = False
            for key, item in value.items():
                bad_keys = bad_keys or any(fails(key) for fails, _ in key_rules)
                if item is None:
                    has_null = True
                else:
                    entries[key] = value_check(item, path, scratch)
            if bad_keys:
                errors.add(shown(value), path, keys_phrase)
            if has_null or scratch.messages:
                errors.add(shown(value), path, null_values_phrase if has_null else values_phrase)
            return entries

        return check


def rules_of(shape: Shape) -> list[Rule]:
    """The constraints of a shape, in the order AWS lists them (max, min, pattern, enum)."""
    if shape.type_name == "string":
        return _length_rules(shape) + _string_rules(shape)
    if shape.type_name in ("list", "map", "blob"):
        return _length_rules(shape)
    if shape.type_name in ("integer", "long", "float", "double"):
        return _range_rules(shape)
    return []


def _length_rules(shape: Shape) -> list[Rule]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    rules: list[Rule] = []
    if high is not None:
        rules.append(
            (lambda v: len(v) > high, f"Member must have length less than or equal to {high}")
        )
    if low is not None:
        rules.append(
            (lambda v: len(v) < low, f"Member must have length greater than or equal to {low}")
        )
    return rules


def _range_rules(shape: Shape) -> list[Rule]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    rules: list[Rule] = []
    if high is not None:
        rules.append((lambda v: v > high, f"Member must have value less than or equal to {high}"))
    if low is not None:
        rules.append((lambda v: v < low, f"Member must have value greater than or equal to {low}"))
    return rules


def _string_rules(shape: Shape) -> list[Rule]:
    rules: list[Rule] = []
    pattern = shape.metadata.get("pattern")
    if pattern is not None:
        compiled = compile_pattern(pattern)
        phrase = f"Member must satisfy regular expression pattern: {pattern}"
        rules.append((lambda v: compiled.fullmatch(v) is None, phrase))
    enum = shape.enum if isinstance(shape, StringShape) else []
    if enum:
        allowed = frozenset(enum)
        rules.append(
            (lambda v: v not in allowed, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        )
    return rules


def _apply(rules: list[Rule], value: Any, path: str, errors: Errors) -> None:
    for fails, phrase in rules:
        if fails(value):
            errors.add(shown(value), path, phrase)


def _bracket(subject: str, rules: list[Rule], extra: list[str]) -> str:
    phrases = ", ".join([phrase for _, phrase in rules] + extra)
    return f"{subject} must satisfy constraint: [{phrases}]"


def _scalar(shape: Shape) -> Check:
    """Strings and numbers: the JSON type, then the shape's rules."""
    kind = shape.type_name
    if kind not in _ACCEPTED:
        raise ValueError(f"shape {shape.name} has unsupported type {kind}")
    target, accepted, rules = TARGETS[kind], _ACCEPTED[kind], rules_of(shape)
    show = hidden if shape.metadata.get("sensitive") else shown
    bits = _INT_BITS.get(kind)
    limit = 2 ** (bits - 1) if bits else 0

    def check(value: Any, path: str, errors: Errors) -> Any:
        if type(value) not in accepted:
            raise mismatch(value, target)
        # AWS shows no value for an integer beyond the Java type, and still checks the bounds.
        overflow = bits is not None and not -limit <= value < limit
        failed = [phrase for fails, phrase in rules if fails(value)]
        if overflow and not failed:
            raise mismatch(value, target)
        for phrase in failed:
            errors.add(None if overflow else show(value), path, phrase)
        return value

    return check


def _boolean(shape: Shape) -> Check:
    def check(value: Any, path: str, errors: Errors) -> bool:
        if type(value) is not bool:
            raise mismatch(value, "a Boolean")
        return value

    return check


def _timestamp(shape: Shape) -> Check:
    def check(value: Any, path: str, errors: Errors) -> datetime:
        if type(value) not in (int, float):
            raise mismatch(value, TARGETS["timestamp"])
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, ValueError, OSError):
            raise mismatch(value, TARGETS["timestamp"]) from None

    return check


def _blob(shape: Shape) -> Check:
    """Base64 text -> bytes; size rules on the decoded bytes; the value is never echoed."""
    rules = _length_rules(shape)

    def check(value: Any, path: str, errors: Errors) -> bytes:
        if type(value) is not str:
            raise mismatch(value, "a Blob")
        try:
            data = pybase64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise base64_problem(value, path) from None
        for fails, phrase in rules:
            if fails(data):
                errors.add(None, path, phrase)
        return data

    return check
