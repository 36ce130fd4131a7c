"""The web console's routes: its page and assets, the JSON its page reads, and entry images.

Every route is a handler behind the one request pipeline. The data routes take the API's own
parameters (query parameters named as the operation's members), validated by botocore's model
exactly as `POST /` validates them, and are authenticated and authorized as the API would for
the same operation, so the console can show nothing the caller could not list through boto3.

- `GET /` redirects to `/console/`; `GET /console/` and `GET /console/datasets/...` are the page
  (one HTML shell for every view: projects, a dataset's gallery, an entry), `GET
  /console/static/{name}` its assets (files of the package, by name: no path reaches a file);
- `GET /console/api/session`, `POST /console/api/login` and `/logout`: who the page acts as, and
  the login of `--auth sigv4` (`console.session`);
- `POST /console/api/operations/{Operation}`: any served operation, its body the API's JSON
  (creating, updating and deleting from the page), as `POST /` answers it;
- `POST /console/api/history/{Operation}`: a history operation (`wire.history`: versions, diff,
  revert, restore, deletion of entries), its body and answer those of `POST /_manifestdb/history/`,
  authorized with the same `manifestdb:` actions;
- `GET /console/api/projects`: DescribeProjects, with DescribeDataset of each dataset;
- `GET /console/api/datasets/{arn}`: DescribeDataset; `.../labels`: ListDatasetLabels;
  `.../entries`: ListDatasetEntries; `.../entry?source-ref=S`: the one entry of source-ref S
  and its problems, each with its detail (field, value found, rule: `service.problems`);
- `POST /console/api/datasets/{arn}/edits`: a save of edited entries (`service.edits`), one
  UpdateDatasetEntries change authorized and validated as the API's, sent with the lines the page
  loaded: a line changed since is refused with ConflictException (HTTP 409), nothing saved;
- `GET /console/images/{arn}/thumbnail?source-ref=S` and `.../image?source-ref=S`: the entry's
  thumbnail and whole image (`service.images`), with an ETag (304 on `If-None-Match`).

A request that changes state must come from the console's own page: it carries the header
`X-Manifestdb-Console: 1` (a cross-site form cannot set a header, and a cross-site script cannot
without a CORS preflight, which this server never grants), and, when the browser sends them,
`Sec-Fetch-Site: same-origin` and an `Origin` that is this server's (as the browser sees it:
`console.session.own_origin`, `--trusted-proxy`). Otherwise: AccessDenied-
Exception, HTTP 403. It also carries the CSRF token of its session in `X-CSRF-Token`
(`console.session`; `off` with `--auth off`).
"""

from __future__ import annotations

import base64
import urllib.parse
from importlib import resources
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from manifestdb.console.session import Sessions
from manifestdb.service import OPERATIONS, Service
from manifestdb.service.edits import read_edits
from manifestdb.service.errors import (
    InvalidParameterException,
    ResourceNotFoundException,
    ServiceError,
)
from manifestdb.service.images import EntryImage
from manifestdb.wire.auth import Authenticator, Identity
from manifestdb.wire.body import read_body
from manifestdb.wire.history import history_params
from manifestdb.wire.pipeline import Call, Handler, Pipeline
from manifestdb.wire.protocol import CONTENT_TYPE, Protocol, rekognition_model

ASSET_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
PAGE_HEADERS = {
    # The page runs only its own script and style, and images of this origin.
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
IMAGE_CACHE_CONTROL = "private, max-age=300"
SOURCE_REF = "source-ref"


def _assets() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("manifestdb.console") / "static"
    found = {}
    for item in folder.iterdir():
        suffix = "." + item.name.rpartition(".")[2]
        if item.is_file() and suffix in ASSET_TYPES:
            found[item.name] = (item.read_bytes(), ASSET_TYPES[suffix])
    return found


class Console:
    """The console's handlers over one service, protocol and authenticator."""

    def __init__(
        self, service: Service, protocol: Protocol, auth: Authenticator, sessions: Sessions
    ) -> None:
        self.service = service
        self.protocol = protocol
        self.auth = auth
        self.sessions = sessions
        self.assets = _assets()
        self.model = rekognition_model()

    def routes(self, pipeline: Pipeline) -> list[Route]:
        """Every console route, each behind `pipeline` (more specific paths first)."""

        def get(path: str, operation: str, handler: Handler) -> Route:
            return Route(path, pipeline.endpoint(operation, handler), methods=["GET"])

        def post(path: str, operation: str, handler: Handler) -> Route:
            return Route(path, pipeline.endpoint(operation, handler), methods=["POST"])

        datasets, images = "/console/api/datasets/{arn:path}", "/console/images/{arn:path}"
        return [
            get("/", "ConsoleRedirect", self.redirect),
            get("/console/static/{name}", "ConsoleAsset", self.asset),
            get("/console/api/session", "ConsoleSession", self.sessions.session),
            post("/console/api/login", "ConsoleLogin", self.sessions.login),
            post("/console/api/logout", "ConsoleLogout", self.sessions.logout),
            post("/console/api/operations/{operation}", "ConsoleOperation", self.run_operation),
            post("/console/api/history/{operation}", "ConsoleHistory", self.run_history),
            get("/console/api/projects", "ConsoleProjects", self.projects),
            get(datasets + "/labels", "ConsoleLabels", self.operation("ListDatasetLabels")),
            get(datasets + "/entries", "ConsoleEntries", self.operation("ListDatasetEntries")),
            get(datasets + "/entry", "ConsoleEntry", self.entry),
            post(datasets + "/edits", "ConsoleSaveEntries", self.save),
            get(datasets, "ConsoleDataset", self.operation("DescribeDataset")),
            get(images + "/thumbnail", "ConsoleThumbnail", self.thumbnail),
            get(images + "/image", "ConsoleImage", self.image),
            get("/console/", "ConsolePage", self.page),
            get("/console/datasets/{view:path}", "ConsolePage", self.page),
        ]

    # -- the page --------------------------------------------------------------------------

    async def redirect(self, call: Call) -> Response:
        return RedirectResponse("/console/", 302, headers={"x-amzn-RequestId": call.request_id})

    async def page(self, call: Call) -> Response:
        return self._asset_response(call, "index.html", "no-cache")

    async def asset(self, call: Call) -> Response:
        return self._asset_response(call, call.request.path_params["name"], "no-cache")

    def _asset_response(self, call: Call, name: str, cache: str) -> Response:
        found = self.assets.get(name)
        if found is None:
            return call.error(ResourceNotFoundException(f"The console has no file {name!r}."), 404)
        body, media_type = found
        headers = {"x-amzn-RequestId": call.request_id, "Cache-Control": cache, **PAGE_HEADERS}
        return Response(body, media_type=media_type, headers=headers)

    # -- data ------------------------------------------------------------------------------

    def operation(self, operation: str) -> Handler:
        """A handler that runs `operation` with the query's parameters and the path's ARN."""

        async def run(call: Call) -> Response:
            identity = await self.sessions.identity(call.request)
            params = self._params(operation, call.request.query_params, call)
            result = await self._call(identity, operation, params)
            return call.json(result, media_type=CONTENT_TYPE)

        return run

    async def projects(self, call: Call) -> Response:
        identity = await self.sessions.identity(call.request)
        projects: list[dict[str, Any]] = []
        params: dict[str, Any] = {}
        while True:
            page = orjson.loads(await self._call(identity, "DescribeProjects", params))
            projects.extend(page["ProjectDescriptions"])
            if not page.get("NextToken"):
                break
            params = {"NextToken": page["NextToken"]}
        for project in projects:
            for dataset in project.get("Datasets", []):
                try:
                    described = await self._call(
                        identity, "DescribeDataset", {"DatasetArn": dataset["DatasetArn"]}
                    )
                except ServiceError as error:
                    dataset["Error"] = {"Code": error.code, "Message": error.message}
                else:
                    dataset["Description"] = orjson.loads(described)["DatasetDescription"]
        return call.json({"ProjectDescriptions": projects})

    async def run_operation(self, call: Call) -> Response:
        """`POST /console/api/operations/{Operation}`: any served operation, its body the API's
        JSON, validated, authorized and answered exactly as `POST /` (a change: CSRF rule)."""
        request = call.request
        await self.sessions.check_change(request)
        operation = request.path_params["operation"]
        if operation not in OPERATIONS:
            raise InvalidParameterException(
                f"{operation[:64]!r} is not an operation the console can run: "
                f"{', '.join(OPERATIONS)}."
            )
        body = await read_body(
            request, self.service.settings.max_body_bytes, self.service.settings.request_timeout
        )
        identity = await self.sessions.identity(request, body)
        target = f"{self.model.metadata['targetPrefix']}.{operation}"
        _, params = self.protocol.parse(target, CONTENT_TYPE, body)
        self.auth.authorize(identity, operation, params)
        result = await run_in_threadpool(self.service.call, operation, identity.caller, params)
        return call.json(self.protocol.serialize(operation, result), media_type=CONTENT_TYPE)

    async def run_history(self, call: Call) -> Response:
        """`POST /console/api/history/{Operation}`: a history operation, its body and answer as
        `POST /_manifestdb/history/` (docs/history.md); a POST, so the CSRF rule holds."""
        request = call.request
        await self.sessions.check_change(request)
        operation = request.path_params["operation"]
        settings = self.service.settings
        body = await read_body(request, settings.max_body_bytes, settings.request_timeout)
        identity = await self.sessions.identity(request, body)
        params = history_params(operation, body)
        self.auth.authorize(identity, operation, params)
        result = await run_in_threadpool(self.service.call, operation, identity.caller, params)
        return call.json(result)

    async def entry(self, call: Call) -> Response:
        """The stored line and its problems, each with its detail (the stored line keeps only
        AWS's code and message)."""
        identity, arn, source_ref = await self._entry_request(call)
        line, problems = await run_in_threadpool(
            self.service.dataset_entry_problems, identity.caller, arn, source_ref
        )
        return call.json(
            {
                "DatasetEntry": line,
                "Problems": [
                    {
                        "Code": problem.code,
                        "Message": problem.message,
                        "Level": problem.level,
                        "Warning": problem.warning,
                        "Attribute": problem.attribute,
                        "AnnotationIndex": problem.annotation_index,
                        "Detail": problem.detail,
                    }
                    for problem in problems
                ],
            }
        )

    async def save(self, call: Call) -> Response:
        """Edited entries saved as one UpdateDatasetEntries change of their new lines."""
        request = call.request
        await self.sessions.check_change(request)
        settings = self.service.settings
        body = await read_body(request, settings.max_body_bytes, settings.request_timeout)
        identity = await self.sessions.identity(request, body)
        arn = request.path_params["arn"]
        self.auth.authorize(identity, "UpdateDatasetEntries", {"DatasetArn": arn})
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InvalidParameterException("The body of a save must be a JSON object.") from None
        edits = read_edits(document)
        change = await run_in_threadpool(self.service.edited_change, identity.caller, arn, edits)
        if change.source_refs:
            payload = base64.b64encode(change.payload).decode()
            params = {"DatasetArn": arn, "Changes": {"GroundTruth": payload}}
            await self._call(
                identity, "UpdateDatasetEntries", params, expected_lines=change.expected_lines
            )
        return call.json({"SourceRefs": change.source_refs})

    async def _call(
        self, identity: Identity, operation: str, params: dict[str, Any], **conditions: Any
    ) -> bytes:
        """`operation` validated by the model, authorized, run and serialized as the API does."""
        target = f"{self.model.metadata['targetPrefix']}.{operation}"
        _, checked = self.protocol.parse(target, CONTENT_TYPE, orjson.dumps(params))
        self.auth.authorize(identity, operation, checked)
        result = await run_in_threadpool(
            self.service.call, operation, identity.caller, checked, **conditions
        )
        return self.protocol.serialize(operation, result)

    def _params(self, operation: str, query: QueryParams, call: Call) -> dict[str, Any]:
        """The operation's parameters from the query string, typed by the model's shapes."""
        shape = self.model.operation_model(operation).input_shape
        members = shape.members if shape is not None else {}
        params: dict[str, Any] = {"DatasetArn": call.request.path_params["arn"]}
        for name in dict.fromkeys(query.keys()):
            member = members.get(name)
            if member is None or name == "DatasetArn":
                raise InvalidParameterException(
                    f"{name!r} is not a parameter of {operation}: use "
                    f"{', '.join(m for m in members if m != 'DatasetArn')}."
                )
            values = query.getlist(name)
            if member.type_name == "list":
                params[name] = values
            elif member.type_name == "boolean":
                params[name] = {"true": True, "false": False}.get(values[-1], values[-1])
            elif member.type_name == "integer":
                whole = values[-1].isascii() and values[-1].isdigit() and len(values[-1]) < 19
                params[name] = int(values[-1]) if whole else values[-1]
            else:
                params[name] = values[-1]
        return params

    # -- images ----------------------------------------------------------------------------

    async def _entry_request(self, call: Call) -> tuple[Identity, str, str]:
        """Who asks, for which dataset and source-ref; viewing an entry is listing it."""
        request = call.request
        identity = await self.sessions.identity(request)
        arn = request.path_params["arn"]
        source_ref = request.query_params.get(SOURCE_REF)
        if not source_ref:
            raise InvalidParameterException("Name the entry with the query parameter source-ref.")
        self.auth.authorize(identity, "ListDatasetEntries", {"DatasetArn": arn})
        return identity, arn, source_ref

    async def thumbnail(self, call: Call) -> Response:
        identity, arn, source_ref = await self._entry_request(call)
        image = await run_in_threadpool(
            self.service.entry_thumbnail, identity.caller, arn, source_ref
        )
        return self._image_response(call, image)

    async def image(self, call: Call) -> Response:
        identity, arn, source_ref = await self._entry_request(call)
        image = await run_in_threadpool(self.service.entry_image, identity.caller, arn, source_ref)
        return self._image_response(call, image)

    def _image_response(self, call: Call, image: EntryImage) -> Response:
        headers = {"x-amzn-RequestId": call.request_id, "X-Content-Type-Options": "nosniff"}
        if image.problem is not None or image.etag is None:
            headers["Cache-Control"] = "no-store"
            headers["X-Manifestdb-Placeholder"] = urllib.parse.quote(image.problem or "", " ")
            return Response(image.body, media_type=image.media_type, headers=headers)
        headers["ETag"] = f'"{image.etag}"'
        headers["Cache-Control"] = IMAGE_CACHE_CONTROL
        wanted = call.request.headers.get("if-none-match", "")
        if headers["ETag"] in [tag.strip() for tag in wanted.split(",")] or wanted == "*":
            if image.chunks is not None:
                close = getattr(image.chunks, "close", None)
                if close is not None:
                    close()
            return Response(status_code=304, headers=headers)
        if image.chunks is not None:
            return StreamingResponse(image.chunks, media_type=image.media_type, headers=headers)
        return Response(image.body, media_type=image.media_type, headers=headers)
