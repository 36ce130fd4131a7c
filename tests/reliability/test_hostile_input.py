"""Hostile input against a real server: whatever arrives, the answer is a well-formed AWS success
or error, never a 5xx, and an untouched control dataset stays byte-identical.

Six fuzzers on hypothesis, each run on SQLite and on PostgreSQL:
- requests for every operation built from botocore's input shapes: valid values, boundary values
  (lengths and ranges one past the limit, huge strings, 5 MiB + 1 blobs, integers past 64 bits)
  and wrong ones (other JSON types, NaN/Infinity, deep nesting, unknown members, invalid base64,
  manifests of invalid UTF-8 or broken lines), with byte-level mutations of the JSON text
  (invalid UTF-8, truncation, trailing garbage, a BOM);
- HTTP requests with garbage methods, paths, headers and bodies;
- raw bytes on a socket (not even HTTP);
- the `/_manifestdb/` routes with any text in their path and query (NUL, lone surrogates, control
  characters, Unicode digits, very long values, bytes that are not UTF-8);
- S3 object names for CreateDataset (the same strings, `..`, and the names of what a local bucket
  can hold: a looping link, a folder, a FIFO, a dangling link, a link out of the bucket);
- the JSON bodies of the history operations (`POST /_manifestdb/history/{Operation}`), built from
  their rules (`wire.history.RULES`) as the model-shaped ones are from botocore's shapes, with
  reverts, restores and deletions of the fuzz projects' datasets that succeed.

Examples per fuzzer: MANIFESTDB_FUZZ_EXAMPLES (default 150; `make fuzz` runs thousands).
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import socket
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
import urllib3
from botocore.model import Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_kit import JSON_11, TARGET, Api, env_int, new_dataset, update

from manifestdb.harness import ConnectionClosed, RawResponse, ResponseReader
from manifestdb.service import OPERATIONS as SERVED_OPERATIONS
from manifestdb.wire.history import RULES as HISTORY_RULES
from support.lines import box_line, image_line, manifest
from support.raw import Answer, check_shape, operation_model, rekognition_model

EXAMPLES = env_int("MANIFESTDB_FUZZ_EXAMPLES", 150)
SERVED = tuple(SERVED_OPERATIONS)  # every served operation, in the order of the spec
NOT_SERVED = ("DetectLabels", "CopyProjectVersion", "IndexFaces")
# Where the control dataset's ARN may be sent: operations that only read it.
CONTROL_MAY_BE_READ = {
    ("DescribeDataset", "DatasetArn"),
    ("ListDatasetEntries", "DatasetArn"),
    ("ListDatasetLabels", "DatasetArn"),
    ("CreateDataset", "DatasetArn"),  # DatasetSource.DatasetArn: a copy reads the source
}
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)
# pytest-timeout: room for the examples asked for (the project default is 120 s a test).
pytestmark = pytest.mark.timeout(120 + EXAMPLES // 10)
RUN: Counter[str] = Counter()  # examples run per fuzzer
OUTCOMES: Counter[str] = Counter()  # "<operation> <status> <code>" of the model-shaped requests


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, chosen with the given weights (shrinks towards the first)."""
    total = sum(weight for weight, _ in choices)

    def pick(k: int) -> st.SearchStrategy[Any]:
        for weight, strategy in choices:
            if k < weight:
                return strategy
            k -= weight
        raise AssertionError(k)

    return st.integers(0, total - 1).flatmap(pick)


class Raw:
    """JSON text emitted as it is (numbers JSON parsers choke on, deep nesting, bad escapes)."""

    def __init__(self, text: bytes) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:60]!r}{'...' if len(self.text) > 60 else ''})"


def encode(value: Any) -> bytes:
    """JSON text of `value`, allowing what real JSON forbids (NaN, lone surrogates, Raw)."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return b"{" + b",".join(encode(str(k)) + b":" + encode(v) for k, v in value.items()) + b"}"
    if isinstance(value, list | tuple):
        return b"[" + b",".join(encode(v) for v in value) + b"]"
    if isinstance(value, str):
        return json.dumps(value).encode()  # \ud800 escapes for lone surrogates
    if isinstance(value, float) and not math.isfinite(value):
        return b"NaN" if math.isnan(value) else (b"Infinity" if value > 0 else b"-Infinity")
    return json.dumps(value).encode()


# -- the world the fuzzer plays in ------------------------------------------------------------


@dataclass
class World:
    api: Api
    control: str  # the dataset nobody may change
    control_project: str
    control_name: str
    slots: list[dict[str, str]]  # projects (name, project, train, test) the fuzzer may change
    tokens: list[str]
    server_log: Callable[[], str]
    before: dict[str, list[bytes]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [slot["name"] for slot in self.slots]

    def pool(self, kind: str) -> list[str]:
        """ARNs of fuzz projects or datasets (as they are now: deleted ones get replaced)."""
        keys = ["project"] if kind == "project" else ["train", "test"]
        return [slot[key] for slot in self.slots for key in keys if key in slot]

    def renew(self, body: bytes) -> None:
        """Replace the fuzz projects a successful delete or distribution named with fresh ones."""
        for index, slot in enumerate(self.slots):
            if any(arn.encode() in body for key, arn in slot.items() if key != "name"):
                self.slots[index] = fuzz_project(self.api, with_test=index == 0)

    def look(self) -> dict[str, list[bytes]]:
        """Everything a client can read of the control dataset, as raw response bodies."""
        seen: dict[str, list[bytes]] = {}
        for operation, params, key in (
            ("ListDatasetEntries", {"DatasetArn": self.control, "MaxResults": 7}, "entries"),
            ("ListDatasetLabels", {"DatasetArn": self.control, "MaxResults": 3}, "labels"),
            ("DescribeDataset", {"DatasetArn": self.control}, "describe"),
            ("DescribeProjects", {"ProjectNames": [self.control_name]}, "project"),
        ):
            pages: list[bytes] = []
            token = None
            while True:
                reply = self.api.call(
                    operation, {**params, **({"NextToken": token} if token else {})}
                )
                assert reply.status == 200, reply.body[:300]
                pages.append(reply.body)
                token = reply.json.get("NextToken")
                if not token:
                    break
            seen[key] = pages
        return seen

    def check_control(self) -> None:
        after = self.look()
        for key, pages in self.before.items():
            assert after[key] == pages, f"the control dataset's {key} changed"
        health = self.api.http.request("GET", self.api.url + "/_manifestdb/health")
        assert health.status == 200
        # No request ended in an exception the server did not expect (each is logged with its
        # stack).
        unexpected = [line for line in self.server_log().splitlines() if "unexpected error" in line]
        assert unexpected == [], unexpected[:5]


@pytest.fixture(scope="module")
def world(start_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    buckets = tmp_path_factory.mktemp("buckets")
    (buckets / "fuzz-bucket").mkdir()
    (buckets / "fuzz-bucket" / "manifest.jsonl").write_bytes(
        manifest(*(image_line(f"s3://fuzz-bucket/{i}.jpg", f"l{i % 3}") for i in range(6)))
    )
    (buckets / "fuzz-bucket" / "bad.jsonl").write_bytes(b"\xff\xfe not a manifest\n{")
    # What a local bucket can hold where an object is expected (S3 object names below).
    folder = buckets / "fuzz-bucket"
    (folder / "loop").symlink_to(folder / "loop")
    (folder / "a-folder").mkdir()
    (folder / "a-folder" / "inner.jsonl").write_bytes(b"")
    os.mkfifo(folder / "a-fifo")
    (folder / "dangling").symlink_to(folder / "nothing-here")
    (folder / "out").symlink_to(buckets.parent)
    server = start_server("--local-buckets", str(buckets), "--request-timeout", "5")
    api = Api(server.url, read_timeout=60)
    name = f"control-{uuid.uuid4().hex[:8]}"
    control = new_dataset(api, name)
    lines = [image_line(f"s3://ctl/{i}.jpg", f"label-{i % 11}") for i in range(40)]
    lines += [
        box_line(f"s3://ctl/box{i}.jpg", [(f"box-{i % 5}", 10, 10, 50, 60)]) for i in range(20)
    ]
    assert update(api, control, manifest(*lines, "not json", '{"source-ref": 3}')).status == 200
    assert api.settle(control)["Status"] == "UPDATE_COMPLETE"
    (described,) = api.ok("DescribeProjects", {"ProjectNames": [name]})["ProjectDescriptions"]
    control_project = described["ProjectArn"]

    slots = [fuzz_project(api, with_test=n == 0) for n in range(3)]
    for slot in slots:  # the fuzz projects hold entries, for revert, restore and deletion
        assert api.settle(slot["train"])["DatasetStats"]["TotalEntries"] == 30
    tokens = [
        api.ok(operation, {**params, "MaxResults": 1})["NextToken"]
        for operation, params in (
            ("ListDatasetEntries", {"DatasetArn": control}),
            ("ListDatasetLabels", {"DatasetArn": control}),
            ("DescribeProjects", {}),
        )
    ]
    world = World(api, control, control_project, name, slots, tokens, server.log)
    world.before = world.look()
    assert world.look() == world.before  # reads are deterministic, byte for byte
    yield world


FUZZ_LINES = manifest(*(image_line(f"s3://fuzz-data/{i}.jpg", f"label-{i % 4}") for i in range(30)))


def fuzz_project(api: Api, with_test: bool) -> dict[str, str]:
    """A project for the fuzzer to play with: a TRAIN dataset of 30 lines, maybe a TEST one."""
    name = f"fuzz-{uuid.uuid4().hex[:10]}"
    slot = {"name": name, "project": api.ok("CreateProject", {"ProjectName": name})["ProjectArn"]}
    for kind in ("TRAIN", "TEST") if with_test else ("TRAIN",):
        slot[kind.lower()] = api.ok(
            "CreateDataset", {"ProjectArn": slot["project"], "DatasetType": kind}
        )["DatasetArn"]
    assert update(api, slot["train"], FUZZ_LINES).status == 200
    return slot


# -- values from the model's shapes -----------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
DEEP = [
    Raw(b"[" * 5000 + b"]" * 5000),
    Raw(b'{"a":' * 3000 + b"1" + b"}" * 3000),
    Raw(b"[" * 100_000),
]
NUMBERS = [Raw(b"1e400"), Raw(b"-0"), Raw(b"1.0"), Raw(b"0x10"), Raw(b"01"), Raw(b"1E-400")]
wrong_values = (
    json_values
    | st.sampled_from(DEEP + NUMBERS)
    | st.sampled_from([math.nan, math.inf, -math.inf, "\ud800", "\x00", 2**64, -(2**63) - 1])
)
HUGE = "x" * 1_000_000
B64_BAD = ["@@@@", "abc", "YQ", "YQ=", "====", "Y Q = =", "\u00e9\u00e9\u00e9\u00e9", "YQ==YQ=="]
OVER_5MIB = base64.b64encode(b"a" * (5 * 1024 * 1024 + 1)).decode()
AT_5MIB = base64.b64encode((b'{"source-ref":"s3://b5/x.jpg"}\n' * 170_000)[: 5 * 1024 * 1024])


def _manifests() -> st.SearchStrategy[str]:
    refs = st.sampled_from(["s3://fuzz/a.jpg", "s3://fuzz/b.jpg", "s3://other/c.png", "nope"])
    labels = st.text(min_size=0, max_size=20) | st.sampled_from(["cat", "dog", "l0"])
    good_line = st.builds(lambda r, n: orjson.dumps(image_line(r, n)), refs, labels) | st.builds(
        lambda r, n, x, y: orjson.dumps(box_line(r, [(n, x, y, 30, 40)])),
        refs,
        labels,
        st.integers(-100, 5000),
        st.integers(-100, 5000),
    )
    bad_line = (
        st.binary(max_size=200)
        | st.sampled_from(
            [
                b'{"source-ref": NaN}',
                b'{"source-ref": "s3://b/\xff\xfe.jpg"}',
                b"[" * 3000,
                b'{"source-ref":"s3://b/k.jpg","a":1,"a-metadata":{"class-name":' + b"[" * 500,
                b"\xef\xbb\xbf" + orjson.dumps(image_line("s3://fuzz/bom.jpg", "bom")),
                b'{"source-ref":"s3://b/' + b"k" * 120_000 + b'"}',
            ]
        )
        | json_values.map(encode)
    )
    content = st.lists(good_line | bad_line, min_size=0, max_size=8).map(b"\n".join)
    return content.map(lambda b: base64.b64encode(b).decode())


def _is_arn(name: str, shape: Shape) -> bool:
    return name.endswith("Arn") or shape.name.endswith("Arn")


def _arn_strategy(world: World, operation: str, name: str, shape: Shape) -> st.SearchStrategy[Any]:
    kind = "project" if "Project" in shape.name else "dataset"
    control = kind == "dataset" and (operation, name) in CONTROL_MAY_BE_READ

    def pick(index: int) -> str:  # at draw time: the pool changes as the fuzzer deletes things
        pool = world.pool(kind) + ([world.control] if control else [])
        return pool[index % len(pool)]

    def mangle(arn: str) -> str:
        return (
            arn.replace("123456789012", "210987654321")
            .replace("us-east-1", "eu-west-1")
            .replace("/train/", "/test/")
            .replace(world.control_name, "not-" + world.control_name)
        )

    pattern = shape.metadata.get("pattern", "")
    return weighted(
        (8, st.integers(0, 15).map(pick)),
        (1, st.integers(0, 15).map(pick).map(mangle)),
        (
            1,
            st.from_regex(pattern, fullmatch=True).filter(
                lambda arn: world.control not in arn and world.control_name not in arn
            ),
        ),
    )


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
        return True
    except re.error:
        return False


def value_for(
    shape: Shape, world: World, operation: str, name: str = "", depth: int = 0
) -> st.SearchStrategy[Any]:
    """Valid (85%), boundary (10%) or wrong (5%) values for `shape`: most requests get past
    the protocol checks to the service, and every check still gets its share of bad values."""
    return weighted(
        (17, _valid(shape, world, operation, name, depth)),
        (2, _boundary(shape, world, operation, name, depth)),
        (1, wrong_values),
    )


def _valid(
    shape: Shape, world: World, operation: str, name: str, depth: int
) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if kind == "structure":
        members = {
            member: value_for(child, world, operation, member, depth + 1)
            for member, child in shape.members.items()
        }
        required = {k: v for k, v in members.items() if k in shape.required_members}
        optional = {k: v for k, v in members.items() if k not in shape.required_members}
        return st.fixed_dictionaries(required, optional=optional)
    if kind == "list":
        child = value_for(shape.member, world, operation, name, depth + 1)
        generic = st.lists(child, min_size=low or 0, max_size=min(high or 4, 4))
        if shape.name == "DistributeDatasetMetadataList":  # the TRAIN and TEST of one project
            pair = st.booleans().map(
                lambda flip: [
                    {"Arn": world.slots[0][key]}
                    for key in (("test", "train") if flip else ("train", "test"))
                ]
            )
            return weighted((1, pair), (1, generic))
        return generic
    if kind == "map":
        keys = value_for(shape.key, world, operation, name, depth + 1).map(
            lambda key: key if isinstance(key, str) else encode(key).decode("utf-8", "replace")
        )  # JSON object keys are strings, whatever the value was
        return st.dictionaries(
            keys, value_for(shape.value, world, operation, name, depth + 1), max_size=3
        )
    if kind == "string":
        if _is_arn(name, shape):
            return _arn_strategy(world, operation, name, shape)
        if shape.name == "ExtendedPaginationToken":
            return st.sampled_from(world.tokens) | st.sampled_from(world.tokens).map(
                lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1]
            )
        enum = getattr(shape, "enum", None)
        if enum:
            return st.sampled_from(enum)
        if shape.name == "ProjectName":
            return st.sampled_from([*world.names, world.control_name]) | st.from_regex(
                r"[a-zA-Z0-9_.\-]{1,40}", fullmatch=True
            )
        if shape.name == "S3Bucket":
            return st.sampled_from(["fuzz-bucket", "no-such-bucket", "..", "fuzz-bucket/.."])
        if shape.name == "S3ObjectName":
            return st.sampled_from(
                ["manifest.jsonl", "bad.jsonl", "missing", "../../etc/passwd", "a\x00b", "n" * 1024]
            ) | st.text(min_size=1, max_size=40)
        pattern = shape.metadata.get("pattern")
        text = st.text(min_size=low or 0, max_size=min(high or 40, 40))
        if pattern and _compiles(pattern):
            return (
                st.from_regex(pattern, fullmatch=True).filter(
                    lambda s: (low or 0) <= len(s) <= (high or 10**9)
                )
                | text
            )
        return text
    if kind in ("integer", "long"):
        return st.integers(
            min_value=low if low is not None else -(2**31),
            max_value=high if high is not None else 2**31 - 1,
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "blob":
        return _manifests()
    return st.floats(allow_nan=False, allow_infinity=False)


def _boundary(
    shape: Shape, world: World, operation: str, name: str, depth: int
) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if kind == "structure":
        members = list(shape.members)
        unknown = st.dictionaries(
            st.text(min_size=1, max_size=12).filter(lambda k: k not in shape.members),
            json_values,
            min_size=1,
            max_size=3,
        )
        return (
            st.just({})
            | st.builds(
                lambda valid, extra: {**valid, **extra},
                _valid(shape, world, operation, name, depth),
                unknown,
            )
            | st.sampled_from(members or ["x"]).map(lambda m: {m.lower(): "x", m.upper(): 1})
        )
    if kind == "list":
        child = _valid(shape.member, world, operation, name, depth + 1)
        sizes = [0, (high or 10) + 1] + ([low - 1] if low else [])
        return st.sampled_from(sizes).flatmap(
            lambda n: st.lists(child, min_size=min(n, 12), max_size=min(n, 12))
        )
    if kind == "map":
        return st.just({f"k{i}": "v" for i in range((high or 200) + 1)}) | st.just({"": ""})
    if kind == "string":
        lengths = [0, (high or 2048) + 1] + ([low - 1] if low else [])
        return (
            st.sampled_from(lengths).map(lambda n: "a" * n)
            | st.just(HUGE)
            | st.text(alphabet=st.characters(codec=None), min_size=1, max_size=30)
            | st.just("\ud800\udfff\ufffe\u202e")
        )
    if kind in ("integer", "long"):
        edges = [0, -1, 2**31, -(2**31) - 1, 2**63, 2**64 + 1, -(2**64), 10**30]
        if low is not None:
            edges.append(low - 1)
        if high is not None:
            edges.append(high + 1)
        return st.sampled_from(edges) | st.sampled_from([*NUMBERS, math.nan, math.inf, 1.5])
    if kind == "boolean":
        return st.sampled_from([0, 1, "true", "false", Raw(b"True"), Raw(b"tru")])
    if kind == "blob":
        return st.sampled_from([*B64_BAD, "", OVER_5MIB, AT_5MIB.decode()]) | st.binary(
            max_size=40
        ).map(lambda b: base64.b64encode(b).decode() + "=")
    return st.sampled_from([math.nan, math.inf, -0.0, 1e308])


# -- byte-level mutations of the JSON text ----------------------------------------------------


def _mutations() -> st.SearchStrategy[Callable[[bytes], bytes]]:
    def invalid_utf8(garbage: bytes) -> Callable[[bytes], bytes]:
        def mutate(body: bytes) -> bytes:
            at = body.find(b'":"')
            return body if at < 0 else body[: at + 3] + garbage + body[at + 3 :]

        return mutate

    def truncate(at: int) -> Callable[[bytes], bytes]:
        return lambda body: body[: at % max(1, len(body))]

    return weighted(
        (16, st.just(lambda body: body)),
        (4, _mangled(invalid_utf8, truncate)),
    )


def _mangled(
    invalid_utf8: Callable[[bytes], Callable[[bytes], bytes]],
    truncate: Callable[[int], Callable[[bytes], bytes]],
) -> st.SearchStrategy[Callable[[bytes], bytes]]:
    return (
        st.sampled_from(
            [
                lambda body: b"\xef\xbb\xbf" + body,
                lambda body: body + b"garbage",
                lambda body: body + b" " * 1000 + b"{}",
                lambda body: body.replace(b'"', b"'"),
                lambda body: body.replace(b":", b": ", 1),
                lambda body: b'{"a":1,' + body[1:] if body.startswith(b"{") else body,
            ]
        )
        | st.builds(
            invalid_utf8,
            st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]),
        )
        | st.builds(truncate, st.integers(0, 10_000))
    )


# -- checking an answer -----------------------------------------------------------------------


def check_answer(
    status: int, headers: Any, body: bytes, operation: str | None, method: str = "POST"
) -> None:
    """A well-formed AWS JSON 1.1 success or error, and no 5xx."""
    assert status < 500, (status, body[:500])
    request_id = headers.get("x-amzn-RequestId")
    assert request_id and str(uuid.UUID(request_id)) == request_id.lower(), dict(headers)
    if status == 302:  # GET / (or HEAD /): the redirect to the web console
        assert headers.get("Location") == "/console/", dict(headers)
        return
    document = orjson.loads(body)
    assert isinstance(document, dict), body[:300]
    if status == 200:
        assert "__type" not in document
        if operation is not None and method == "POST":
            assert headers.get("Content-Type") == JSON_11
            check_shape(document, operation_model(operation).output_shape)
        return
    assert headers.get("Content-Type") == JSON_11, dict(headers)
    code = document.get("__type")
    assert isinstance(code, str) and code, document
    assert headers.get("X-Amzn-Errortype") == code
    message = document.get("Message")
    assert isinstance(message, str) and message.strip(), document
    assert len(message) < 20_000


def _served(target: str) -> str | None:
    operation = target.removeprefix(TARGET)
    return operation if target.startswith(TARGET) and operation in SERVED else None


# -- the fuzzers ------------------------------------------------------------------------------


def test_model_shaped_requests_for_every_operation(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    documents = {
        operation: value_for(
            rekognition_model().operation_model(operation).input_shape, world, operation
        )
        for operation in SERVED
    }

    @FUZZ
    @given(
        operation=weighted((12, st.sampled_from(SERVED)), (1, st.sampled_from(NOT_SERVED))),
        data=st.data(),
        mutate=_mutations(),
        content_type=st.sampled_from(
            [JSON_11] * 12 + ["application/json", None, "text/plain", JSON_11 + "; x=y"]
        ),
    )
    def fuzz(
        operation: str,
        data: st.DataObject,
        mutate: Callable[[bytes], bytes],
        content_type: str | None,
    ) -> None:
        source = documents.get(operation, documents["DescribeProjects"])
        document = data.draw(weighted((19, source), (1, wrong_values)), label="document")
        body = mutate(encode(document))
        headers = {"X-Amz-Target": TARGET + operation}
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = world.api.http.request("POST", world.api.url + "/", body=body, headers=headers)
        RUN["model-shaped requests"] += 1
        if response.status == 200 and operation in (
            "DeleteProject",
            "DeleteDataset",
            "DistributeDatasetEntries",  # its TEST dataset is no longer empty
        ):
            world.renew(body)
        check_answer(response.status, response.headers, response.data, _served(TARGET + operation))
        code = orjson.loads(response.data).get("__type", "")
        OUTCOMES[f"{operation} {response.status} {code}".strip()] += 1

    fuzz()
    world.check_control()
    successes = {op: OUTCOMES[f"{op} 200"] for op in SERVED}
    with capsys.disabled():
        print(f"\nfuzz: {RUN['model-shaped requests']} model-shaped requests, control intact")
        print(f"fuzz: 200s per operation {successes}")
        print(f"fuzz: answers {dict(OUTCOMES.most_common())}")


header_names = st.from_regex(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,40}", fullmatch=True)
header_values = st.binary(max_size=200).map(
    lambda b: b.replace(b"\r", b"").replace(b"\n", b"").decode("latin-1").strip()
)


def test_garbage_http_requests(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    @FUZZ
    @given(
        method=st.sampled_from(
            ["POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS"]
        ),
        path=st.sampled_from(["/", "/", "/_manifestdb/health", "/x", "//", "/?a=b"])
        | st.builds(
            lambda arn, query: f"/_manifestdb/datasets/{arn}/updates?{query}",
            st.sampled_from([world.control, "x", "%00", "arn%3Aaws"]),
            st.sampled_from(
                ["", "max_results=0", "max_results=-1", "next_token=abc", "max_results=1e9"]
            ),
        ),
        target=st.sampled_from([f"{TARGET}{op}" for op in SERVED])
        | st.sampled_from(["", "RekognitionService.", "rekognitionservice.DescribeProjects"])
        | st.text(max_size=60).map(lambda t: t.encode("utf-8", "replace").decode("latin-1")),
        headers=st.dictionaries(header_names, header_values, max_size=6),
        body=st.binary(max_size=3000)
        | json_values.map(encode)
        | st.sampled_from(
            [b"", b"{}", b"null", b"[]", b'{"ProjectName":"p"}', *[d.text for d in DEEP]]
        ),
    )
    def fuzz(method: str, path: str, target: str, headers: dict[str, str], body: bytes) -> None:
        sent = {k: v for k, v in headers.items() if k.lower() not in _FRAMING}
        sent["X-Amz-Target"] = target.replace("\r", "").replace("\n", "")
        try:
            response = world.api.http.request(
                method, world.api.url + path, body=body or None, headers=sent
            )
        except (ValueError, urllib3.exceptions.LocationParseError):
            return  # urllib3 itself refuses to send it
        RUN["garbage HTTP requests"] += 1
        operation = _served(target) if path == "/" else None
        check_answer(response.status, response.headers, response.data, operation, method)

    fuzz()
    world.check_control()
    with capsys.disabled():
        print(f"\nfuzz: {RUN['garbage HTTP requests']} garbage HTTP requests, control intact")


_FRAMING = {"content-length", "transfer-encoding", "host", "connection", "expect", "upgrade"}


def _read_answer(sock: socket.socket) -> RawResponse | None:
    """The first response on `sock` (after any 100 Continue), or None when the server is
    (rightly) waiting for more, or closes without a word."""
    reader = ResponseReader(sock)
    try:
        return reader.read()
    except ConnectionClosed as closed:
        assert not closed.received, f"a partial response, then close: {closed.received!r}"
        return None
    except TimeoutError:
        assert b"\r\n\r\n" not in reader.received, "a response without its whole body"
        return None


def test_raw_bytes_on_the_socket(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    port = int(world.api.url.rsplit(":", 1)[1])
    request_line = st.sampled_from(
        [b"POST / HTTP/1.1", b"GET / HTTP/1.0", b"POST / HTTP/2.0", b"POST /", b"\x00 / HTTP/1.1"]
    ) | st.binary(min_size=1, max_size=60).map(lambda b: b.replace(b"\r\n", b""))
    header_lines = st.lists(
        st.binary(max_size=80).map(lambda b: b.replace(b"\r\n", b""))
        | st.sampled_from(
            [
                b"Content-Length: -1",
                b"Content-Length: 99999999999999999999",
                b"Content-Length: 1, 2",
                b"Transfer-Encoding: chunked",
                b"Transfer-Encoding: gzip, chunked",
                b"Transfer-Encoding: bogus",
                b"Host: " + b"h" * 20_000,
                b" folded: header",
                b"X-Amz-Target: " + TARGET.encode() + b"DescribeProjects",
                b"Expect: 100-continue",
                b"Connection: upgrade\r\nUpgrade: websocket",
            ]
        ),
        max_size=6,
    )

    @FUZZ
    @given(
        line=request_line,
        headers=header_lines,
        body=st.binary(max_size=500) | st.sampled_from([b"0\r\n\r\n", b"zz\r\n", b"{}"]),
    )
    def fuzz(line: bytes, headers: list[bytes], body: bytes) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"\r\n".join([line, *headers]) + b"\r\n\r\n" + body)
            answer = _read_answer(sock)
        RUN["raw socket requests"] += 1
        if answer is not None:
            check_answer(answer.status, answer.headers, answer.body, None, "RAW")

    fuzz()
    world.check_control()
    with capsys.disabled():
        print(f"\nfuzz: {RUN['raw socket requests']} raw socket requests, control intact")


def test_an_s3_object_without_bucket_or_name_is_a_client_error(world: World) -> None:
    project = world.slots[1]["project"]
    for s3_object in ({}, {"Name": "manifest.jsonl"}, {"Bucket": "fuzz-bucket"}):
        reply = world.api.call(
            "CreateDataset",
            {
                "ProjectArn": project,
                "DatasetType": "TEST",
                "DatasetSource": {"GroundTruthManifest": {"S3Object": s3_object}},
            },
        )
        check_answer(reply.status, reply.headers, reply.body, "CreateDataset")
        assert reply.json["__type"] == "InvalidParameterException"


def test_a_host_header_that_is_not_a_url_gets_an_aws_error(world: World) -> None:
    """Found by the raw fuzzer: `Host: [` made building the request URL raise (a text 500)."""
    port = int(world.api.url.rsplit(":", 1)[1])
    for request in (b"PUT / HTTP/1.1\r\nHost: [\r\n\r\n", b"GET /x HTTP/1.1\r\nHost: a[\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(request)
            answer = _read_answer(sock)
        assert answer is not None
        check_answer(answer.status, answer.headers, answer.body, None, "GET")
        assert orjson.loads(answer.body)["__type"] == "UnknownOperationException"


# Strings that reach a file name, an S3 key, an integer, SQL or a log line.
hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8", categories=["Nd", "No", "Cc", "Cs", "Zs"]), max_size=12),
    st.sampled_from(["\x00", "a\x00b", "\ud800", "²", "١٢", "9" * 5000, "x" * 300, "..", "%"]),
    st.binary(max_size=20).map(lambda raw: raw.decode("latin-1")),
)


def _quoted(text: str) -> str:
    """Percent-encoded as a client sends it (lone surrogates and latin-1 bytes as they are)."""
    return urllib.parse.quote(text.encode("utf-8", "surrogatepass"), safe="")


def test_manifestdb_routes_with_hostile_paths_and_queries(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    control = urllib.parse.quote(world.control, safe="")

    @FUZZ
    @given(
        arn=st.sampled_from([control, control + "%2F"]) | hostile_text.map(_quoted),
        key=st.sampled_from(["max_results", "next_token", "x"]) | hostile_text.map(_quoted),
        value=st.sampled_from(["1", "100", world.tokens[0]]) | hostile_text.map(_quoted),
        route=st.sampled_from(["updates", "updates/", "", "updates/x"]),
    )
    def fuzz(arn: str, key: str, value: str, route: str) -> None:
        path = f"/_manifestdb/datasets/{arn}/{route}?{key}={value}"
        response = world.api.http.request("GET", world.api.url + path)
        RUN["/_manifestdb/ requests"] += 1
        check_answer(response.status, response.headers, response.data, None, "GET")

    fuzz()
    world.check_control()
    with capsys.disabled():
        print(f"\nfuzz: {RUN['/_manifestdb/ requests']} /_manifestdb/ requests, control intact")


LOCAL_NAMES = [
    "manifest.jsonl",
    "bad.jsonl",
    "loop",
    "loop/x",
    "a-folder",
    "a-folder/inner.jsonl",
    "a-fifo",
    "dangling",
    "out",
    "out/x",
    "../fuzz-bucket/manifest.jsonl",
    "a-folder/..",
]


def test_s3_object_names_of_create_dataset(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    names = (
        st.sampled_from(LOCAL_NAMES)
        | hostile_text
        | st.lists(st.sampled_from(LOCAL_NAMES) | hostile_text, min_size=2, max_size=4).map(
            "/".join
        )
    )
    buckets = st.sampled_from(["fuzz-bucket", "fuzz-bucket", "nobucket", "..."]) | hostile_text

    name = f"s3-names-{uuid.uuid4().hex[:8]}"
    project = world.api.ok("CreateProject", {"ProjectName": name})["ProjectArn"]

    @FUZZ
    @given(bucket=buckets, name=names, version=st.none() | hostile_text)
    def fuzz(bucket: str, name: str, version: str | None) -> None:
        s3_object = {"Bucket": bucket, "Name": name, **({"Version": version} if version else {})}
        document = {
            "ProjectArn": project,
            "DatasetType": "TEST",
            "DatasetSource": {"GroundTruthManifest": {"S3Object": s3_object}},
        }
        response = world.api.http.request(
            "POST",
            world.api.url + "/",
            body=encode(document),
            headers={"X-Amz-Target": TARGET + "CreateDataset", "Content-Type": JSON_11},
        )
        reply = Answer(response.status, response.headers, response.data)
        RUN["S3 object names"] += 1
        check_answer(reply.status, reply.headers, reply.body, "CreateDataset")
        if reply.status == 200:
            # Created from a readable manifest: it settles, then makes room for the next example.
            arn = reply.json["DatasetArn"]
            assert world.api.settle(arn)["Status"] in ("CREATE_COMPLETE", "CREATE_FAILED")
            assert world.api.call("DeleteDataset", {"DatasetArn": arn}).status == 200
            deadline = time.monotonic() + 30
            while world.api.call("DescribeDataset", {"DatasetArn": arn}).status == 200:
                assert time.monotonic() < deadline, "the deleted dataset is still there"
                time.sleep(0.02)
        else:
            assert reply.json["__type"] in {
                "InvalidS3ObjectException",
                "ValidationException",
                "InvalidParameterException",
                "SerializationException",
            }, reply.json

    fuzz()
    world.check_control()
    with capsys.disabled():
        print(f"\nfuzz: {RUN['S3 object names']} S3 object names, control intact")


# -- the history operations' JSON bodies (POST /_manifestdb/history/{Operation}) ---------------

# The operations that only read a dataset, and the member a 200 of each carries. The control
# dataset may be named to these; the others change what they name, so they get the fuzz
# projects' datasets (or ARNs that name nothing).
HISTORY_READS = {
    "ListDatasetVersions": "Versions",
    "DescribeDatasetVersion": "Version",
    "ListDatasetEntriesAtVersion": "DatasetEntries",
    "ListDatasetLabelsAtVersion": "DatasetLabelDescriptions",
    "DiffDatasetVersions": "Changes",
}
HISTORY_ERRORS = {
    "ValidationException",
    "SerializationException",
    "UnknownOperationException",
    "ResourceNotFoundException",
    "ResourceInUseException",
    "InvalidPaginationTokenException",
    "ConflictException",
    "InvalidParameterException",
    "LimitExceededException",
}


def _history_members(world: World, operation: str, token: str) -> dict[str, Any]:
    """A strategy per member of the history operations (`wire.history.RULES`): valid values
    mostly, boundary and wrong ones too (the same 85/10/5 split as the model-shaped fuzzer)."""

    def arn(index: int) -> str:  # at draw time: the pool changes as the fuzzer deletes things
        pool = world.pool("dataset") + ([world.control] if operation in HISTORY_READS else [])
        return pool[index % len(pool)]

    strings = st.sampled_from(["", "a" * 4097, HUGE, "\ud800\udfff\ufffe\u202e"]) | hostile_text
    integers = st.sampled_from(
        [-1, 2**31, 2**63, 2**64 + 1, -(2**64), 10**30, 1.5, math.nan, math.inf, *NUMBERS]
    )
    booleans = st.sampled_from([0, 1, "true", "false", Raw(b"True"), Raw(b"tru"), None])

    def member(valid: st.SearchStrategy[Any], boundary: st.SearchStrategy[Any]) -> Any:
        return weighted((17, valid), (2, boundary), (1, wrong_values))

    refs = st.sampled_from(
        [f"s3://fuzz-data/{i}.jpg" for i in range(0, 30, 7)] + ["s3://ctl/1.jpg", "s3://none/x.jpg"]
    )
    labels = st.lists(
        st.sampled_from(["label-0", "label-1", "label-3", "nope"]) | st.text(max_size=20),
        min_size=1,
        max_size=3,
    )
    filters = {
        "ContainsLabels": member(labels, st.just([]) | st.just(["x"] * 11) | strings),
        "Labeled": member(st.booleans(), booleans),
        "HasErrors": member(st.booleans(), booleans),
        "SourceRefContains": member(st.sampled_from(["fuzz-data/", "ctl", "1.jpg"]), strings),
    }
    versions = member(st.integers(0, 2) | st.integers(3, 9), integers | strings)
    return {
        "DatasetArn": weighted(
            (8, st.integers(0, 15).map(arn)),
            (1, st.integers(0, 15).map(arn).map(lambda a: a.replace("123456789012", "2" * 12))),
            (1, strings),
        ),
        "VersionNumber": versions,
        "FromVersion": versions,
        "ToVersion": versions,
        "NextToken": member(
            st.just(token) | st.just(token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]),
            strings,
        ),
        "MaxResults": member(st.integers(1, 100), integers | st.sampled_from([0, 101, 1001])),
        "Force": member(st.booleans(), booleans),
        "SourceRefs": member(
            st.lists(refs, min_size=1, max_size=4),
            st.just([]) | st.lists(strings, min_size=1, max_size=3) | strings,
        ),
        "Filter": member(
            st.fixed_dictionaries({}, optional=filters),
            strings | st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=2),
        ),
        **filters,
    }


def _history_document(world: World, operation: str, token: str) -> st.SearchStrategy[Any]:
    members, required = HISTORY_RULES[operation]
    strategies = _history_members(world, operation, token)
    mine = {name: strategies[name] for name in members}

    def document(*also: str) -> st.SearchStrategy[dict[str, Any]]:
        """The required members and `also`, with the others optional (those of `also` left
        out: DeleteDatasetEntries takes one of SourceRefs or Filter)."""
        needed = (*required, *also)
        optional = () if also else tuple(name for name in mine if name not in needed)
        return st.fixed_dictionaries(
            {name: mine[name] for name in needed},
            optional={name: mine[name] for name in optional},
        )

    valid = document()
    if operation == "DeleteDatasetEntries":
        valid = weighted((4, document("SourceRefs")), (4, document("Filter")), (1, valid))
    unknown = st.dictionaries(
        st.text(min_size=1, max_size=12).filter(lambda key: key not in members),
        json_values,
        min_size=1,
        max_size=2,
    )
    return weighted(
        (17, valid),
        (1, st.builds(lambda body, extra: {**body, **extra}, valid, unknown)),
        (1, st.just({}) | st.sampled_from(list(members)).map(lambda m: {m.lower(): 1})),
        (1, wrong_values),
    )


def test_history_operations_with_hostile_bodies(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    first = world.api.http.request(
        "POST",
        world.api.url + "/_manifestdb/history/ListDatasetVersions",
        body=orjson.dumps({"DatasetArn": world.control, "MaxResults": 1}),
        headers={"Content-Type": "application/json"},
    )
    assert first.status == 200, first.data[:300]
    token = orjson.loads(first.data)["NextToken"]  # a real page token of the control's history
    operations = list(HISTORY_RULES)
    documents = {op: _history_document(world, op, token) for op in operations}
    outcomes: Counter[str] = Counter()

    @FUZZ
    @given(
        operation=weighted(
            (16, st.sampled_from(operations)),
            (1, st.sampled_from(["", "listdatasetversions", "Nope", "ListDatasetVersions/x"])),
            (1, hostile_text.map(_quoted)),
        ),
        data=st.data(),
        mutate=_mutations(),
        content_type=st.sampled_from(["application/json"] * 6 + [JSON_11, None, "text/plain"]),
    )
    def fuzz(
        operation: str,
        data: st.DataObject,
        mutate: Callable[[bytes], bytes],
        content_type: str | None,
    ) -> None:
        source = documents.get(operation, documents["ListDatasetVersions"])
        body = mutate(encode(data.draw(source, label="document")))
        headers = {} if content_type is None else {"Content-Type": content_type}
        response = world.api.http.request(
            "POST", world.api.url + "/_manifestdb/history/" + operation, body=body, headers=headers
        )
        RUN["history bodies"] += 1
        check_answer(response.status, response.headers, response.data, None)
        document = orjson.loads(response.data)
        if response.status == 200:
            if operation in HISTORY_READS:
                assert HISTORY_READS[operation] in document, document
            else:  # a revert, a restore or a deletion: a job was queued
                assert operation in HISTORY_RULES, (operation, document)
        else:
            assert document["__type"] in HISTORY_ERRORS, document
        code = document.get("__type", "")
        outcomes[f"{urllib.parse.unquote(operation)[:30]} {response.status} {code}".strip()] += 1

    fuzz()
    world.check_control()
    with capsys.disabled():
        print(f"\nfuzz: {RUN['history bodies']} history bodies, control intact")
        print(f"fuzz: history answers {dict(outcomes.most_common())}")
