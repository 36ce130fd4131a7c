"""The manifest engine judges exactly as it did before its optimization.

`tests/data/engine_golden.jsonl.xz` holds a corpus of inputs and what the engine returned for
each when the file was recorded (with the engine of commit 6dd8a39, before the fast path;
re-recorded once for orjson 3.13, which writes large floats as `1e+16` where 3.11 wrote `1e16`):
- line cases: `check_line` on one line, as bytes and (when it is UTF-8) as str, under the
  `aws`, `relaxed` or a tiny set of limits; compared: None, or every field of the Dropped, or
  every field of the Entry (the stored `line` text, `labels` in order, each Problem);
- change cases: a `ChangeReader` over given chunks; compared: the entries and dropped lines in
  the order the caller sees them (yielded / `on_dropped`), the `dropped` list, every counter and
  tally, the buckets and `terminal()`.
The corpus: lines generated below (realistic image-level and box lines as the benchmark makes
them, mutations of them: missing or odd metadata, bad boxes and frames, service keys at every
level, stray and extra keys, numbers as strings, unicode, escapes, deep nesting, bad
source-refs, invalid UTF-8, too long, blank...), random JSON, the lines of
`tests/data/samples/`, and every line and change the tests of `tests/manifest`, `tests/cli` and
`tests/formats` gave the engine when the file was recorded.

Besides, the fast path for clean lines (`manifest/fast.py`) is held to the general path it
stands in for, on generated lines.

Re-record only when the engine's behaviour changes on purpose (the diff of the expectations is
then the review): `.venv/bin/python tests/manifest/test_engine_equivalence.py --record`
(keeps the stored inputs, regenerates the generated ones, recomputes every expectation).
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import json
import lzma
import pickle
import random
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from manifestdb.manifest import (
    AWS_LIMITS,
    RELAXED_LIMITS,
    ChangeReader,
    Dropped,
    Entry,
    Limits,
    check_line,
)
from manifestdb.manifest.fast import clean_entry
from manifestdb.manifest.line import _judge as judge_general

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "engine_golden.jsonl.xz"
SAMPLES = GOLDEN.parent / "samples"
TINY = Limits(
    name="tiny",
    max_line_chars=1200,
    max_label_name_chars=6,
    max_boxes_per_image=3,
    max_dropped_fraction=0.5,
    max_manifest_bytes=60_000,
    max_manifest_lines=90,
)
LIMITS = {"aws": AWS_LIMITS, "relaxed": RELAXED_LIMITS, "tiny": TINY}


def limits_of(value: str | dict[str, Any]) -> Limits:
    """A case's limits: a name of LIMITS, or the fields of a test's own Limits."""
    return LIMITS[value] if isinstance(value, str) else Limits(**value)


# -- what is compared ----------------------------------------------------------------------------


def result_of(result: Entry | Dropped | None) -> Any:
    """A JSON form of one `check_line` result, every field included."""
    if result is None:
        return None
    if type(result) is Dropped:
        return ["D", result.line_number, result.code, result.message, result.excerpt]
    assert type(result) is Entry, type(result)
    problems = [
        [p.code, p.message, p.level, p.warning, p.attribute, p.annotation_index]
        for p in result.problems
    ]
    return [
        "E",
        result.line_number,
        result.source_ref,
        result.bucket,
        result.line,
        result.is_labeled,
        result.has_errors,
        [[label, boxes] for label, boxes in result.labels.items()],
        problems,
    ]


def digest(result: Any) -> str:
    return hashlib.blake2b(json.dumps(result).encode(), digest_size=8).hexdigest()


def change_result(case: dict[str, Any], chunks: list[bytes]) -> dict[str, Any]:
    """What a ChangeReader makes of a change (entries and dropped lines by digest: the line
    cases compare them in full)."""
    seen: list[Any] = []
    reader = ChangeReader(
        limits_of(case["limits"]),
        is_manifest=case["is_manifest"],
        keep_dropped=case["keep_dropped"],
        on_dropped=lambda dropped: seen.append(
            ["D", dropped.line_number, digest(result_of(dropped))]
        ),
    )
    for entry in reader.read(iter(chunks)):
        seen.append(["E", entry.line_number, digest(result_of(entry))])
    terminal = reader.terminal()
    return {
        "seen": seen,
        "dropped": [digest(result_of(d)) for d in reader.dropped],
        "counters": [
            reader.lines_read,
            reader.bytes_read,
            reader.entries,
            reader.labeled_entries,
            reader.entries_with_errors,
            reader.dropped_count,
        ],
        "code_counts": sorted([key, count] for key, count in reader.code_counts.items()),
        "label_entries": sorted([key, count] for key, count in reader.label_entries.items()),
        "label_box_entries": sorted(
            [key, count] for key, count in reader.label_box_entries.items()
        ),
        "label_boxes": sorted([key, count] for key, count in reader.label_boxes.items()),
        "buckets": sorted(reader.buckets),
        "terminal": None if terminal is None else [terminal.code, terminal.message],
    }


def chunkings(case: dict[str, Any], cases: list[dict[str, Any]]) -> Iterator[list[bytes]]:
    """The chunks of a change case: as recorded, or its data (given, or made of the line
    cases of `cases`) cut at each of its sizes."""
    if "chunks" in case:
        yield [bytes(decode(chunk)) for chunk in case["chunks"]]
        return
    data = (
        bytes(decode(case["data"]))
        if "data" in case
        else corpus_change(cases, case["corpus_bytes"])
    )
    for size in case["sizes"]:
        yield [data[i : i + size] for i in range(0, len(data), size)]


def corpus_change(cases: list[dict[str, Any]], size: int) -> bytes:
    """The first `size` bytes of a change of the generated line inputs that are bytes of at
    most 5,000, one per line, their source-refs made distinct (mutations share them)."""
    lines = [
        decode(case["raw"])
        for case in cases
        if case["kind"] == "line" and "source" not in case and "s" not in case["raw"]
    ]
    data = b"\n".join(
        raw.replace(b"/img", b"/img%d-" % index, 1)
        for index, raw in enumerate(lines)
        if isinstance(raw, bytes) and len(raw) <= 5000
    )
    return (data + b"\n")[:size]


def line_results(case: dict[str, Any]) -> dict[str, Any]:
    """`check_line` on the case's input, and on its str form when it is UTF-8 bytes."""
    limits = limits_of(case["limits"])
    raw = decode(case["raw"])
    results = {"want": result_of(check_line(raw, case["number"], limits))}
    if "t" in case["raw"]:
        as_str = result_of(check_line(case["raw"]["t"], case["number"], limits))
        if as_str != results["want"]:
            results["want_str"] = as_str
    return results


# -- the golden file ------------------------------------------------------------------------------


def encode(raw: bytes | str) -> dict[str, str]:
    """An input as JSON: str as "s", UTF-8 bytes as "t", other bytes as base64 "b"."""
    if isinstance(raw, str):
        return {"s": raw}
    try:
        return {"t": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"b": base64.b64encode(raw).decode()}


def decode(value: dict[str, str]) -> bytes | str:
    if "s" in value:
        return value["s"]
    if "t" in value:
        return value["t"].encode("utf-8")
    return base64.b64decode(value["b"])


@cache
def golden() -> list[dict[str, Any]]:
    assert GOLDEN.exists(), f"the golden file {GOLDEN} is missing (restore it from git)"
    with lzma.open(GOLDEN, "rt", encoding="utf-8") as stream:
        return [json.loads(text) for text in stream]


def _ids(kind: str) -> list[int]:
    return [index for index, case in enumerate(golden()) if case["kind"] == kind]


def _change_ids() -> list[Any]:
    """The indexes of the golden changes; without the file, one case that fails on it (an empty
    parametrization would be a skip, and the engine would go unchecked)."""
    if not GOLDEN.exists():
        return [pytest.param(-1, id="golden-file-missing")]
    return _ids("change")


def test_golden_corpus_is_large_and_varied() -> None:
    lines = [golden()[index] for index in _ids("line")]
    assert len(lines) > 15_000 and len(_ids("change")) > 200
    kinds = {(case["want"] or ["N"])[0] for case in lines}
    assert kinds == {"N", "D", "E"}
    entries = [case["want"] for case in lines if case["want"] and case["want"][0] == "E"]
    assert len({problem[0] for entry in entries for problem in entry[8]}) == 15


def test_lines_judged_as_recorded() -> None:
    failures = []
    for index in _ids("line"):
        case = golden()[index]
        got = line_results(case)
        want = {key: case[key] for key in ("want", "want_str") if key in case}
        if got != want:
            failures.append((index, case["raw"], want, got))
    assert not failures, f"{len(failures)} lines differ, first: {failures[0]}"


@pytest.mark.parametrize("index", _change_ids())
def test_changes_read_as_recorded(index: int) -> None:
    case = golden()[index]
    got = [change_result(case, chunks) for chunks in chunkings(case, golden())]
    assert got == case["wants"]


# -- lines judged without being stored (`manifestdb validate`) ------------------------------------


def _unstored(result: Any) -> Any:
    """A recorded `result_of` as `store=False` gives it: an Entry's line text left empty."""
    if result is not None and result[0] == "E":
        return [*result[:4], "", *result[5:]]
    return result


def test_lines_judged_as_recorded_when_not_stored() -> None:
    """`store=False` judges every line as recorded, those nested too deeply to be written
    included; only the stored text is left out."""
    failures = []
    for index in _ids("line"):
        case = golden()[index]
        limits = limits_of(case["limits"])
        inputs = [(decode(case["raw"]), case["want"])]
        if "t" in case["raw"]:
            inputs.append((case["raw"]["t"], case.get("want_str", case["want"])))
        for raw, want in inputs:
            got = result_of(check_line(raw, case["number"], limits, store=False))
            if got != _unstored(want):
                failures.append((index, case["raw"], want, got))
    assert not failures, f"{len(failures)} lines differ, first: {failures[0]}"


def _reading(case: dict[str, Any], chunks: list[bytes], store_lines: bool) -> list[Any]:
    """All a ChangeReader gives and counts for a change, its entries' line text left out."""
    seen: list[Any] = []
    reader = ChangeReader(
        limits_of(case["limits"]),
        is_manifest=case["is_manifest"],
        keep_dropped=case["keep_dropped"],
        on_dropped=seen.append,
        store_lines=store_lines,
    )
    seen += [dataclasses.replace(entry, line="") for entry in reader.read(iter(chunks))]
    counters = [reader.lines_read, reader.bytes_read, reader.entries, reader.labeled_entries]
    counters += [reader.entries_with_errors, reader.dropped_count]
    tallies = [reader.label_entries, reader.label_box_entries, reader.label_boxes]
    return [seen, reader.dropped, counters, reader.code_counts, tallies, reader.buckets]


@pytest.mark.parametrize("index", _change_ids())
def test_changes_read_alike_when_lines_are_not_stored(index: int) -> None:
    case = golden()[index]
    for chunks in chunkings(case, golden()):
        assert _reading(case, chunks, store_lines=False) == _reading(case, chunks, True)


@settings(max_examples=300, deadline=None, database=None)
@given(rng=st.randoms(use_true_random=False), limits=st.sampled_from(list(LIMITS.values())))
def test_a_deep_value_anywhere_is_judged_alike_when_not_stored(
    rng: random.Random, limits: Limits
) -> None:
    """Writing a line is how one nested too deeply is found: a line that is not written is
    judged the same wherever an object or an array nests in it, however deep."""
    line = realistic(rng, rng.randrange(10**6))
    if rng.random() < 0.5:
        line = mutate(rng, line)
    _, target = rng.choice(list(_containers(line)))
    deep: Any = rng.choice([1, "x", {}, []])
    for _ in range(rng.choice([1, 3, 250, 253, 254, 255, 300])):
        deep = rng.choice([[deep], {"k": deep}])
    if isinstance(target, dict):
        target[rng.choice(["extra", "user-data", "confidence", "depth", "k"])] = deep
    else:
        target.append(deep)
    raw = json.dumps(line, separators=(",", ":")).encode()  # orjson does not write so deep
    stored = result_of(check_line(raw, 3, limits))
    assert result_of(check_line(raw, 3, limits, store=False)) == _unstored(stored)


# -- the fast path against the general path ---------------------------------------------------


def _both_paths(parsed: dict[str, Any], limits: Limits) -> tuple[Entry | None, Entry]:
    """`fast.clean_entry` and the general path (`line._judge`) on copies of one parsed line."""
    ref = parsed["source-ref"]
    fast_entry = clean_entry(copy.deepcopy(parsed), 5, ref, "b", limits)
    return fast_entry, judge_general(copy.deepcopy(parsed), 5, ref, "b", limits)


@settings(max_examples=400, deadline=None, database=None)
@given(rng=st.randoms(use_true_random=False), limits=st.sampled_from(list(LIMITS.values())))
def test_fast_path_gives_the_general_paths_entry_or_none(
    rng: random.Random, limits: Limits
) -> None:
    line = realistic(rng, rng.randrange(10**6))
    for _ in range(rng.randrange(4)):
        line = mutate(rng, line)
    try:
        parsed = orjson.loads(as_text(rng, line))
        assume(type(parsed) is dict and type(parsed.get("source-ref")) is str)
        fast_entry, general = _both_paths(parsed, limits)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return
    if fast_entry is not None:
        assert fast_entry == general
        assert [p.code for p in general.problems] in ([], ["WARNING_UNANNOTATED_RECORD"])


def test_fast_path_takes_every_clean_realistic_line() -> None:
    """What the speed rests on: the usual clean lines never reach the general path."""
    rng = random.Random(11)
    taken = 0
    for index in range(2000):
        fast_entry, general = _both_paths(realistic(rng, index), AWS_LIMITS)
        if [p.code for p in general.problems] in ([], ["WARNING_UNANNOTATED_RECORD"]):
            assert fast_entry == general, general.line
            taken += 1
    assert taken > 1900


# -- the corpus (used by --record) ----------------------------------------------------------------

VOCABULARY = [f"label-{i:02d}" for i in range(20)] + ["Echo Dot", "chat noir", "狗", "😀face"]
TYPES = ["groundtruth/image-classification", "groundtruth/image-classification-multilabel"]
BOX_TYPE = "groundtruth/object-detection"
SERVICE = ["errors", "warnings", "cl-metadata", "cl-errors"]
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2,
    1.0,
    0.5,
    -0.5,
    1.5,
    2**64,
    1e300,
    "",
    "1",
    "640",
    "yes",
    "no",
    "0",
    [],
    [1, 0],
    {},
    {"a": 1},
    [{}],
    "x" * 300,
]


def _ref(rng: random.Random, index: int) -> str:
    bucket = rng.choice(["my.bucket", "B_legacy-1"]) if rng.random() < 0.05 else "bench-bucket"
    return f"s3://{bucket}/images/{index // 100:04d}/img{index:08d}.jpg"


def image_line(rng: random.Random, index: int) -> dict[str, Any]:
    line: dict[str, Any] = {"source-ref": _ref(rng, index)}
    for slot in range(rng.randint(1, 3)):
        name = rng.choice([f"class{slot}", f"label-{slot}", f"étiquette{slot}"])
        meta: dict[str, Any] = {
            "class-name": rng.choice(VOCABULARY),
            "confidence": rng.choice([1, 0, 0.93, 1.0, round(rng.random(), 2)]),
            "type": rng.choice(TYPES),
            "human-annotated": rng.choice(["yes", "no"]),
            "creation-date": "2021-07-11T03:32:13.456Z",
        }
        if rng.random() < 0.8:
            meta["job-name"] = "labeling-job/bench"
        if rng.random() < 0.3:
            items = list(meta.items())
            rng.shuffle(items)
            meta = dict(items)
        line[name] = rng.choice([1, 0, 1, 2])
        line[f"{name}-metadata"] = meta
    return line


def box_line(rng: random.Random, index: int) -> dict[str, Any]:
    width, height = rng.choice(
        [(640, 480), (1024, 768), (1920, 1080), (700, 442), (64, 64), (4096, 4096), (64, 1280)]
    )
    used = rng.sample(VOCABULARY, rng.randint(1, 4))
    boxes = []
    for _ in range(rng.randint(1, 10)):
        box_width, box_height = rng.randint(2, width // 2), rng.randint(2, height // 2)
        box: dict[str, Any] = {
            "class_id": rng.randrange(len(used)),
            "top": rng.randint(0, height - box_height),
            "left": rng.randint(0, width - box_width),
            "width": box_width,
            "height": box_height,
        }
        if rng.random() < 0.1:
            box["left"] = box["left"] + 0.25
        if rng.random() < 0.05:  # touching the right edge: still inside
            box["left"] = width - box_width
        boxes.append(box)
    name = rng.choice(["bounding-box", "custom-labels_BB", "bb"])
    meta: dict[str, Any] = {
        "objects": [{"confidence": rng.choice([1, 0.87])} for _ in boxes],
        "class-map": {str(class_id): label for class_id, label in enumerate(used)},
        "type": BOX_TYPE,
        "human-annotated": "yes",
        "creation-date": "2021-06-09T05:26:56.180Z",
    }
    if rng.random() < 0.8:
        meta["job-name"] = "labeling-job/bench"
    return {
        "source-ref": _ref(rng, index),
        name: {
            "image_size": [{"width": width, "height": height, "depth": 3}],
            "annotations": boxes,
        },
        f"{name}-metadata": meta,
    }


def realistic(rng: random.Random, index: int) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.05:
        return {"source-ref": _ref(rng, index)}
    if roll < 0.5:
        return image_line(rng, index)
    if roll < 0.95:
        return box_line(rng, index)
    line = image_line(rng, index)  # both kinds on one line
    line.update(box_line(rng, index))
    return line


def _containers(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every dict and list in a parsed line, with its path."""
    if isinstance(value, dict | list):
        yield path, value
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            yield from _containers(item, (*path, key))


def mutate(rng: random.Random, line: dict[str, Any]) -> dict[str, Any]:
    """One random change to a parsed line."""
    line = copy.deepcopy(line)
    containers = list(_containers(line))
    _, target = rng.choice(containers)
    dicts = [c for _, c in containers if isinstance(c, dict)]
    roll = rng.randrange(12)
    if roll < 3 and target:  # an odd value anywhere
        key = rng.choice(list(target)) if isinstance(target, dict) else rng.randrange(len(target))
        target[key] = copy.deepcopy(rng.choice(ODD_VALUES))
    elif roll < 5 and target:  # a missing field anywhere
        if isinstance(target, dict):
            del target[rng.choice(list(target))]
        else:
            del target[rng.randrange(len(target))]
    elif roll == 5:  # a service key somewhere
        rng.choice(dicts)[rng.choice(SERVICE)] = rng.choice([[], {"is_labeled": True}, "x", 1])
    elif roll == 6:  # an extra key somewhere
        extra = rng.choice(["extra", "user-data", "annotations", "x-metadata", "image_size"])
        rng.choice(dicts)[extra] = copy.deepcopy(rng.choice(ODD_VALUES))
    elif roll == 7:  # a stray or odd top-level key
        key = rng.choice(
            ["source-ref-metadata", "lonely-metadata", "obj", "bounding-box-metadata-metadata"]
        )
        line[key] = rng.choice([{}, {"type": BOX_TYPE}, "text", 3, [1]])
    elif roll == 8:  # a number as a string or a float, or a boolean
        number_paths = [
            (path, key)
            for path, c in containers
            if isinstance(c, dict)
            for key, v in c.items()
            if type(v) in (int, float)
        ]
        if number_paths:
            path, key = rng.choice(number_paths)
            holder = line
            for step in path:
                holder = holder[step]
            value = holder[key]
            holder[key] = rng.choice([str(value), float(value), bool(value), -value, value * 100])
    elif roll == 9:  # key order shuffled
        items = list(target.items()) if isinstance(target, dict) else None
        if items:
            rng.shuffle(items)
            target.clear()
            target.update(items)
    elif roll == 10:  # a bad source-ref
        line["source-ref"] = rng.choice(BAD_REFS)
    else:  # boxes: a boundary value
        boxes = [c for path, c in containers if path[-1:] == ("annotations",)]
        if boxes and isinstance(boxes[0], list) and boxes[0]:
            box = rng.choice(boxes[0])
            if isinstance(box, dict):
                box[rng.choice(["left", "top", "width", "height", "class_id"])] = rng.choice(
                    [0, 1, 2, -1, 1.0, 1.5, 63, 64, 639, 640, 4096, 10_000, 99]
                )
    return line


BAD_REFS: list[Any] = [
    None,
    1,
    ["s3://b/x"],
    "",
    "s3://",
    "s3://bucket",
    "s3://bucket/",
    "S3://bucket/x",
    "s3:/bucket/x",
    " s3://bucket/x",
    "s3://ab/x",
    "s3://abc/x",
    "s3://a b/x",
    "s3://bück/x",
    "s3://bucket//x",
    "s3://bucket/x\ny",
    "s3://bucket/\u00e9\u00e8",
    "s3://" + "b" * 255 + "/x",
    "s3://" + "b" * 256 + "/x",
    "s3://bucket/" + "k" * 1024,
    "s3://bucket/" + "k" * 1025,
    "s3://bucket/" + "é" * 1024,
    "https://bucket/x",
    "s3://buc:ket/x",
    "s3://bucket/x?y#z",
]


def as_text(rng: random.Random, line: dict[str, Any]) -> bytes:
    """A parsed line as the bytes of one line, sometimes written unusually."""
    try:
        raw = orjson.dumps(line)
    except TypeError:  # an integer beyond 64 bits: json writes it
        raw = json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode()
    roll = rng.randrange(40)
    if roll == 0:
        return json.dumps(line, ensure_ascii=True).encode()  # \\uXXXX escapes, spaces
    if roll == 1:
        return raw.replace(b'"errors"', b'"\\u0065rrors"').replace(b"s3:", b"s3\\u003a")
    if roll == 2:
        return b" \t" + raw + b" \r"
    if roll == 3:
        return raw.replace(b"{", b'{"source-ref":"s3://dup/first",', 1)  # a duplicated key
    if roll == 4:
        return raw[: rng.randrange(len(raw))]  # truncated
    if roll == 5:
        cut = rng.randrange(len(raw))
        return (
            raw[:cut] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\\"]) + raw[cut:]
        )
    if roll == 6:
        return b"\xef\xbb\xbf" + raw
    if roll == 7:
        return raw[:-1] + b',"bulk":"' + "é".encode() * rng.choice([300, 700]) + b'"}'
    if roll == 8:
        # Not 100..255 levels: orjson <= 3.11.4 can write past its buffer on those (its
        # GHSA-hx9q-6w63-j58v); over 255 it raises before, and the line is dropped.
        depth = rng.choice([40, 64, 256, 300])
        return raw[:-1] + b',"deep":' + b"[" * depth + b"]" * depth + b"}"
    if roll == 9:
        return raw.replace(b'"annotations"', b'"\\u0061nnotations"').replace(
            b'"cl-metadata"', b'"cl-\\u006detadata"'
        )
    return raw


def random_json(rng: random.Random, depth: int = 0) -> Any:
    keys = ["source-ref", "label", "label-metadata", "bounding-box", "bounding-box-metadata"]
    keys += ["annotations", "image_size", "class-map", "type", "objects", "confidence", *SERVICE]
    roll = rng.random()
    if depth > 3 or roll < 0.4:
        if rng.random() < 0.3:
            return rng.choice([BOX_TYPE, *TYPES, "s3://bucket/r.jpg"])
        return copy.deepcopy(rng.choice(ODD_VALUES))
    if roll < 0.6:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randrange(6))}


def generated_lines(seed: int = 6) -> Iterator[tuple[bytes, str]]:
    """(line, limits) pairs: realistic lines, mutations, random JSON, odd texts."""
    rng = random.Random(seed)
    for index in range(2000):
        line = realistic(rng, index)
        yield orjson.dumps(line), "aws"
        for _ in range(4):
            mutated = line
            for _ in range(rng.randint(1, 3)):
                mutated = mutate(rng, mutated)
            yield as_text(rng, mutated), rng.choice(["aws", "aws", "relaxed", "tiny"])
    for _ in range(2000):
        line = random_json(rng)
        if isinstance(line, dict) and rng.random() < 0.7:
            line["source-ref"] = "s3://bucket/random.jpg"
        yield as_text(rng, line), rng.choice(["aws", "tiny"])
    for text in [b"", b" ", b"\t\r\x0b\x0c ", b"\xc2\xa0", b"null", b"[]", b"1", b'"s"', b"{}"]:
        yield text, "aws"
    head = b'{"source-ref":"s3://bucket/long.jpg","x":"'
    for count in (99_950, 99_951, 100_000):  # 99,998 .. 100,048 characters
        yield head + b"y" * count + b'"}', "aws"
    yield head + "é".encode() * 60_000 + b'"}', "aws"  # 120,046 bytes, 60,046 characters
    yield head + "é".encode() * 99_960 + b'"}', "aws"  # 100,006 characters


def sample_lines() -> Iterator[bytes]:
    for path in sorted(SAMPLES.iterdir()):
        if path.suffix in (".manifest", ".jsonl"):
            yield from (text for text in path.read_bytes().split(b"\n") if text)


def build(kept: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The corpus: `kept` (inputs recorded from the tests) plus what is generated here."""
    cases = [case for case in kept if case.get("source") == "tests"]
    inputs = [(t, limits) for limits in ("aws", "tiny") for t in sample_lines()]
    inputs += list(generated_lines())
    for number, (raw, limits) in enumerate(inputs, 1):
        cases.append({"kind": "line", "raw": encode(raw), "number": number, "limits": limits})
    # Stored lines judged again (as `jobs/steps.py` restores entries): str input.
    for raw, limits in inputs[:4000]:
        result = check_line(raw, 1, LIMITS[limits])
        if isinstance(result, Entry):
            cases.append({"kind": "line", "raw": {"s": result.line}, "number": 7, "limits": "aws"})
    return cases + generated_changes(inputs)


def generated_changes(inputs: list[tuple[bytes, str]]) -> list[dict[str, Any]]:
    rng = random.Random(7)
    realistic_lines = [orjson.dumps(realistic(rng, index)) for index in range(1500)]
    cases = [  # the generated lines as one change, whole or cut
        {"corpus_bytes": size, "limits": limits, "is_manifest": manifest, "keep_dropped": keep}
        for size, limits, manifest, keep in [
            (10**9, "aws", False, 10_000),
            (10**9, "relaxed", True, 50),
            (200_000, "tiny", False, 10_000),
            (50_000, "tiny", True, 3),
        ]
    ]
    changes: list[tuple[bytes, str, bool, int]] = [
        (b"\n".join(realistic_lines) + b"\n", "aws", False, 10_000),
        (b"\r\n".join(realistic_lines[:300]) + b"\r\n", "aws", True, 10_000),
    ]
    # duplicates: the same source-refs again, with other content
    dup = realistic_lines[:200] + [orjson.dumps(realistic(rng, i)) for i in range(0, 400, 3)]
    changes.append((b"\n".join(dup), "aws", False, 10_000))
    changes.append((b"\xef\xbb\xbf" + b"\n".join(realistic_lines[:50]), "aws", False, 10_000))
    changes.append(
        (b"\n\n  \n" + b"\n".join(realistic_lines[:50]) + b"\nbad\n" * 12, "aws", False, 5)
    )
    changes.append((b"[1]\nnull\n" * 5, "aws", False, 10_000))
    changes.append((b"", "aws", False, 10_000))
    cases += [
        {"data": encode(data), "limits": limits, "is_manifest": manifest, "keep_dropped": keep}
        for data, limits, manifest, keep in changes
    ]
    for case in cases:
        case["kind"] = "change"
        case["sizes"] = sorted([*rng.sample([7, 64, 600, 4096, 65_536], 2), 10**9])
    return cases


def record(recorded: list[Path]) -> None:
    """Rewrite the golden file: the inputs kept from it, those of recorder pickles (inputs the
    tests gave the engine: `{"lines": [(raw, number, limits fields)], "changes": [{"limits":
    fields, "is_manifest", "keep_dropped", "chunks"}]}`), the generated ones; wants recomputed."""
    kept = [case for case in golden() if case.get("source") == "tests"] if GOLDEN.exists() else []
    for path in recorded:
        data = pickle.loads(path.read_bytes())
        for raw, number, limits in data["lines"]:
            kept.append(
                {"kind": "line", "raw": encode(raw), "number": number, "limits": _name(limits)}
            )
        for change in data["changes"]:
            kept.append(
                {
                    "kind": "change",
                    "chunks": [encode(chunk) for chunk in change["chunks"]],
                    "limits": _name(change["limits"]),
                    "is_manifest": change["is_manifest"],
                    "keep_dropped": change["keep_dropped"],
                }
            )
    for case in kept:
        case["source"] = "tests"
    cases = build(kept)
    with lzma.open(GOLDEN, "wt", encoding="utf-8", preset=9) as out:
        for case in cases:
            for key in ("want", "want_str", "wants"):
                case.pop(key, None)
            if case["kind"] == "line":
                case.update(line_results(case))
            else:  # one per chunking: where reading stops early, bytes_read depends on it
                case["wants"] = [change_result(case, chunks) for chunks in chunkings(case, cases)]
            out.write(json.dumps(case, ensure_ascii=True, separators=(",", ":")) + "\n")
    print(f"{GOLDEN}: {len(cases)} cases, {GOLDEN.stat().st_size:,} bytes")


def _name(fields: dict[str, Any]) -> str | dict[str, Any]:
    """The name in LIMITS of recorded limits, else their fields."""
    for name, limits in LIMITS.items():
        if dataclasses.asdict(limits) == fields:
            return name
    return fields


if __name__ == "__main__":
    if sys.argv[1:2] != ["--record"]:
        raise SystemExit(__doc__)
    record([Path(arg) for arg in sys.argv[2:]])
