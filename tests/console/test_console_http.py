"""The console's HTTP routes as curl sees them: images only of a dataset's entries, placeholders
with reasons, thumbnails with ETags, the API's own validation, and no data without auth."""

from __future__ import annotations

import io
import urllib.parse
from pathlib import Path

import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from console_kit import BUCKET, image_path, ref
from PIL import Image

from conftest import Sample
from support.raw import send
from support.server import Server, ServerFactory


def test_root_redirects_to_the_console(console: Server) -> None:
    answer = send(console.url, "GET", "/")
    assert answer.status == 302
    assert answer.headers["location"] == "/console/"
    page = send(console.url, "GET", "/console/datasets/anything")
    assert page.status == 200 and b"/console/static/app.js" in page.body
    assert (
        send(console.url, "GET", "/console/static/app.js")
        .headers["content-type"]
        .startswith("text/javascript")
    )


def test_a_thumbnail_is_a_small_upright_image_with_an_etag(console: Server, sample: Sample) -> None:
    answer = send(console.url, "GET", image_path(sample.dataset_arn, "thumbnail", ref("a.jpg")))
    assert answer.status == 200, answer.body[:300]
    assert answer.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(answer.body)).size == (256, 192)
    assert "max-age" in answer.headers["cache-control"]
    etag = answer.headers["etag"]
    again = send(
        console.url,
        "GET",
        image_path(sample.dataset_arn, "thumbnail", ref("a.jpg")),
        If_None_Match=etag,
    )
    assert again.status == 304 and again.body == b""
    assert again.headers["etag"] == etag
    rotated = send(
        console.url, "GET", image_path(sample.dataset_arn, "thumbnail", ref("rotated.jpg"))
    )
    # Stored 640x480 with EXIF orientation 6: upright it is 480x640.
    assert Image.open(io.BytesIO(rotated.body)).size == (192, 256)
    png = send(console.url, "GET", image_path(sample.dataset_arn, "thumbnail", ref("flower.png")))
    assert png.headers["content-type"] == "image/png"


def test_the_whole_image_is_the_object_itself(
    console: Server, sample: Sample, buckets: Path
) -> None:
    answer = send(console.url, "GET", image_path(sample.dataset_arn, "image", ref("a.jpg")))
    assert answer.status == 200
    assert answer.headers["content-type"] == "image/jpeg"
    assert answer.body == (buckets / BUCKET / "a.jpg").read_bytes()
    cached = send(
        console.url,
        "GET",
        image_path(sample.dataset_arn, "image", ref("a.jpg")),
        If_None_Match=answer.headers["etag"],
    )
    assert cached.status == 304


@pytest.mark.parametrize("kind", ["thumbnail", "image"])
@pytest.mark.parametrize(
    ("key", "reason"),
    [("missing.jpg", f"not found in bucket {BUCKET}"), ("notes.jpg", "not an image")],
)
def test_an_image_that_cannot_be_shown_is_a_placeholder_saying_why(
    console: Server, sample: Sample, kind: str, key: str, reason: str
) -> None:
    answer = send(console.url, "GET", image_path(sample.dataset_arn, kind, ref(key)))
    assert answer.status == 200
    assert answer.headers["content-type"] == "image/svg+xml"
    assert answer.headers["cache-control"] == "no-store"
    assert urllib.parse.unquote(answer.headers["x-manifestdb-placeholder"]) == reason
    assert reason in answer.body.decode()


@pytest.mark.parametrize(
    "source_ref",
    [
        "s3://imgs/../secret.txt",  # a path out of the bucket
        "s3://imgs/a.jpg/../../secret.txt",
        "/etc/passwd",
        "s3://imgs/other.jpg",  # in the bucket, but no entry of the dataset
        "s3://imgs/A.JPG",
    ],
)
@pytest.mark.parametrize("kind", ["thumbnail", "image"])
def test_only_an_entry_s_own_object_is_served(
    console: Server, sample: Sample, source_ref: str, kind: str
) -> None:
    answer = send(console.url, "GET", image_path(sample.dataset_arn, kind, source_ref))
    assert answer.status == 400
    assert answer.headers["content-type"] == "application/x-amz-json-1.1"
    assert answer.json["__type"] == "ResourceNotFoundException"
    assert "secret" not in answer.body.decode().replace("secret.txt", "")


def test_a_path_in_the_url_reaches_no_file(console: Server, sample: Sample) -> None:
    arn = urllib.parse.quote(sample.dataset_arn, safe="")
    for path in (
        "/console/static/..%2F..%2Fconfig.py",
        "/console/static/%2e%2e/routes.py",
        f"/console/images/{arn}/..%2F..%2Fsecret.txt?source-ref=s3://imgs/a.jpg",
        "/console/images/arn%3Aaws%3Arekognition%3Aus-east-1%3A123456789012%3Aproject%2Fx%2F"
        "dataset%2Ftrain%2F1/thumbnail?source-ref=s3://imgs/a.jpg",
    ):
        answer = send(console.url, "GET", path)
        assert answer.status in (400, 404), (path, answer.status)
        assert answer.json["__type"] in (
            "ResourceNotFoundException",
            "UnknownOperationException",
        ), path


def test_the_data_routes_validate_as_the_api_does(console: Server, sample: Sample) -> None:
    arn = urllib.parse.quote(sample.dataset_arn, safe="")
    bad = send(console.url, "GET", f"/console/api/datasets/{arn}/entries?MaxResults=0")
    assert bad.status == 400 and bad.json["__type"] == "ValidationException", bad.json
    unknown = send(console.url, "GET", f"/console/api/datasets/{arn}/entries?Offset=3")
    assert unknown.json["__type"] == "InvalidParameterException"
    token = send(console.url, "GET", f"/console/api/datasets/{arn}/entries?NextToken=abc")
    assert token.json["__type"] == "InvalidPaginationTokenException"
    not_bool = send(console.url, "GET", f"/console/api/datasets/{arn}/entries?Labeled=yes")
    assert not_bool.status == 400
    entries = send(
        console.url, "GET", f"/console/api/datasets/{arn}/entries?ContainsLabels=dog&MaxResults=1"
    ).json
    client = console.client()
    expected = client.list_dataset_entries(
        DatasetArn=sample.dataset_arn, ContainsLabels=["dog"], MaxResults=1
    )
    assert entries["DatasetEntries"] == expected["DatasetEntries"]
    one = send(
        console.url,
        "GET",
        f"/console/api/datasets/{arn}/entry?"
        + urllib.parse.urlencode({"source-ref": ref("a.jpg")}),
    )
    assert orjson.loads(one.json["DatasetEntry"])["source-ref"] == ref("a.jpg")


def test_with_sigv4_the_console_serves_no_data_without_a_signature(
    start_server: ServerFactory,
    tmp_path,
    buckets,  # type: ignore[no-untyped-def]
) -> None:
    key_id, secret = "AKIACONSOLE000000001", "console-secret-0000000000"
    auth_file = tmp_path / "auth.json"
    auth_file.write_bytes(
        orjson.dumps(
            {
                "users": [
                    {
                        "arn": "arn:aws:iam::111122223333:user/viewer",
                        "access_key_id": key_id,
                        "secret_access_key": secret,
                        "policy": {
                            "Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                        },
                    }
                ]
            }
        )
    )
    auth_file.chmod(0o600)
    server = start_server(
        "--auth", "sigv4", "--auth-file", str(auth_file), "--local-buckets", str(buckets)
    )
    arn = "arn:aws:rekognition:us-east-1:111122223333:project/p/dataset/train/1"
    quoted = urllib.parse.quote(arn, safe="")
    for path in (
        "/console/api/projects",
        f"/console/api/datasets/{quoted}",
        f"/console/api/datasets/{quoted}/entries",
        f"/console/api/datasets/{quoted}/labels",
        f"/console/api/datasets/{quoted}/entry?source-ref=s3://imgs/a.jpg",
        image_path(arn, "thumbnail", ref("a.jpg")),
        image_path(arn, "image", ref("a.jpg")),
    ):
        answer = send(server.url, "GET", path)
        assert answer.status == 400, path
        assert answer.json["__type"] == "MissingAuthenticationTokenException", path
    request = AWSRequest("GET", server.url + "/console/api/projects")
    SigV4Auth(Credentials(key_id, secret), "rekognition", "us-east-1").add_auth(request)
    signed = send(
        server.url,
        "GET",
        "/console/api/projects",
        **{name.replace("-", "_"): value for name, value in request.headers.items()},
    )
    assert signed.status == 200, signed.body
    assert signed.json == {"ProjectDescriptions": []}
