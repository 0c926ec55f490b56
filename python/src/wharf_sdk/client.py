"""A typed HTTP client over the Wharf API (httpx). Every failure is a WharfError."""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, cast
from urllib.parse import quote

import httpx

from .errors import WharfError

API_PREFIX = "/api/v1"
MSGPACK_MEDIA_TYPE = "application/msgpack"
_CHUNK = 1024 * 1024

JsonObject = dict[str, Any]


def encode_segment(value: str) -> str:
    """One path parameter, encoded as JavaScript's encodeURIComponent does."""
    return quote(value, safe="-_.!~*'()")


def encode_path(path: str) -> str:
    """An artifact or datastore path for a URL, segment by segment; UNSAFE_PATH for "." and ".." segments."""
    segments = path.split("/")
    if any(segment in (".", "..") for segment in segments):
        raise WharfError("UNSAFE_PATH", f'path "{path}" has a "." or ".." segment; give the path without them')
    return "/".join(encode_segment(segment) for segment in segments)


def _error_from_response(response: httpx.Response) -> WharfError:
    text = response.text
    try:
        body = json.loads(text)
        error = body.get("error", {}) if isinstance(body, dict) else {}
        code, message = error.get("code"), error.get("message")
        if isinstance(code, str) and isinstance(message, str):
            details = error.get("details")
            return WharfError(code, message, details=details if isinstance(details, dict) else None)
    except ValueError:
        pass  # Not our JSON: a proxy or another server answered.
    return WharfError(
        "INTERNAL",
        f"unexpected HTTP {response.status_code} from the server: {text[:200]}",
        details={"status": response.status_code},
    )


class WharfClient:
    """
    The HTTP API of one workspace on one server. Thread-safe (httpx's connection pool); no I/O until a
    call. Raises WharfError: the server's code for an error answer, SERVER_UNREACHABLE when unreachable.
    """

    def __init__(
        self, url: str, *, workspace: str = "default", token: str | None = None, timeout: float = 30.0
    ) -> None:
        self.url = url.rstrip("/")
        self.workspace = workspace
        self._token = token
        self._timeout = timeout
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        _live_clients.add(self)
        # Transfers of any size: httpx's timeouts bound the wait for each chunk, not the whole body, so
        # only a server silent this long (say, hashing a large upload before it answers) ends one.
        self._streamed_timeout = httpx.Timeout(timeout, read=max(timeout, 300.0))

    def _after_fork_in_child(self) -> None:
        """
        A forked child must not talk over the parent's pooled connections (both would read one socket's
        answers): it gets a pool of its own. The old one is kept, unclosed, so nothing is sent on the
        parent's connections (a TLS close, say).
        """
        _abandoned_in_child.append(self._http)
        headers = {"authorization": f"Bearer {self._token}"} if self._token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=self._timeout)

    def with_workspace(self, workspace: str) -> WharfClient:
        """The same server and token, acting on another workspace."""
        return WharfClient(self.url, workspace=workspace, token=self._token, timeout=self._timeout)

    def close(self) -> None:
        """Closes the connection pool."""
        self._http.close()

    # ------------------------------------------------------------------ transport

    def _ws(self, rest: str = "") -> str:
        return f"{API_PREFIX}/workspaces/{encode_segment(self.workspace)}{rest}"

    def _run(self, run_id: str, rest: str = "") -> str:
        return self._ws(f"/runs/{encode_segment(run_id)}{rest}")

    def _unreachable(self, error: Exception, what: str) -> WharfError:
        if isinstance(error, httpx.TimeoutException):
            return WharfError(
                "SERVER_UNREACHABLE", f"the Wharf server at {self.url} did not answer {what} in time ({error})"
            )
        return WharfError(
            "SERVER_UNREACHABLE",
            f'cannot reach the Wharf server at {self.url} ({error or type(error).__name__}); start it with "wharf server", '
            "or point WHARF_TRACKING_URI at it",
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content: bytes | Iterator[bytes] | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        streamed: bool = False,
    ) -> httpx.Response:
        """Sends one request and returns the successful (2xx) answer, read whole."""
        extra = dict(headers or {})
        data: bytes | Iterator[bytes] | None = content
        if body is not None:
            data = json.dumps(body, allow_nan=False).encode("utf-8")
            extra.setdefault("content-type", "application/json")
        query = {key: value for key, value in (params or {}).items() if value is not None}
        try:
            response = self._http.request(
                method,
                path,
                content=data,
                params=query,
                headers=extra,
                timeout=self._streamed_timeout if streamed else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TransportError as error:
            raise self._unreachable(error, f"{method} {path}") from error
        if response.is_error:
            raise _error_from_response(response)
        return response

    def _json(self, method: str, path: str, **options: Any) -> JsonObject:
        response = self.request(method, path, **options)
        try:
            return cast(JsonObject, response.json())
        except ValueError as error:
            raise self._unreachable(error, f"{method} {path}") from error

    def _pages(self, path: str, params: dict[str, Any], page_size: int | None = None) -> Iterator[JsonObject]:
        token: str | None = None
        while True:
            page = self._json("GET", path, params={**params, "pageSize": page_size, "pageToken": token})
            yield from page.get("items", [])
            token = page.get("nextPageToken")
            if not token:
                return

    @contextmanager
    def stream(self, path: str, *, headers: dict[str, str] | None = None) -> Iterator[httpx.Response]:
        """A download: the answer's body is read as it comes (``response.iter_bytes()``)."""
        try:
            with self._http.stream("GET", path, headers=headers or {}, timeout=self._streamed_timeout) as response:
                if response.is_error:
                    response.read()
                    raise _error_from_response(response)
                yield response
        except httpx.TransportError as error:
            raise self._unreachable(error, f"GET {path}") from error

    # ------------------------------------------------------------------ meta

    def health(self) -> JsonObject:
        """Server health, version and the limits it enforces."""
        return self._json("GET", f"{API_PREFIX}/health")

    def get_workspace(self) -> JsonObject:
        return self._json("GET", self._ws())

    # ------------------------------------------------------------------ runs

    def create_run(self, request: JsonObject) -> JsonObject:
        """Creates a run (its experiment on first use); the same runId again returns that run."""
        return self._json("POST", self._ws("/runs"), body=request)

    def get_run(self, run_id: str) -> JsonObject:
        return self._json("GET", self._run(run_id))

    def list_runs(self, **query: Any) -> Iterator[JsonObject]:
        return self._pages(self._ws("/runs"), query)

    def set_run_status(
        self, run_id: str, status: str, *, error: JsonObject | None = None, at: str | None = None
    ) -> JsonObject:
        """Moves a run along its lifecycle; INVALID_STATUS_TRANSITION for an illegal move."""
        body: JsonObject = {"status": status}
        if error is not None:
            body["error"] = error
        if at is not None:
            body["at"] = at
        return self._json("POST", self._run(run_id, "/status"), body=body)

    def update_tags(
        self, run_id: str, *, set: dict[str, str] | None = None, remove: list[str] | None = None
    ) -> JsonObject:
        body: JsonObject = {}
        if set is not None:
            body["set"] = set
        if remove is not None:
            body["remove"] = remove
        return self._json("PATCH", self._run(run_id, "/tags"), body=body)

    def add_properties(self, run_id: str, properties: dict[str, str]) -> JsonObject:
        """Adds properties; PROPERTY_IMMUTABLE when one would change."""
        return self._json("POST", self._run(run_id, "/properties"), body={"properties": properties})

    # ------------------------------------------------------------------ metrics

    def log_metrics(self, run_id: str, body: bytes) -> JsonObject:
        """Stores one MessagePack metric batch; idempotent per (writerId, sequence)."""
        return self._json(
            "POST", self._run(run_id, "/metrics"), content=body, headers={"content-type": MSGPACK_MEDIA_TYPE}
        )

    def list_metrics(self, run_id: str) -> list[JsonObject]:
        return cast(list[JsonObject], self._json("GET", self._run(run_id, "/metrics"))["items"])

    def get_metric_series(self, run_id: str, name: str, page_size: int = 1000) -> Iterator[JsonObject]:
        """Raw points of one metric by step, a page at a time."""
        return self._pages(self._run(run_id, "/metrics/series"), {"name": name}, page_size)

    # ------------------------------------------------------------------ artifacts

    def list_artifacts(self, run_id: str, prefix: str | None = None) -> Iterator[JsonObject]:
        return self._pages(self._run(run_id, "/artifacts"), {"prefix": prefix})

    def upload_artifact(
        self,
        run_id: str,
        path: str,
        body: bytes | IO[bytes],
        *,
        size: int | None = None,
        content_type: str | None = None,
    ) -> JsonObject:
        """Uploads one artifact; a file object is streamed, never read whole."""
        headers = {"content-type": content_type or "application/octet-stream"}
        content: bytes | Iterator[bytes] = body if isinstance(body, bytes) else _chunks(body)
        if size is not None and not isinstance(body, bytes):
            headers["content-length"] = str(size)
        return self._json(
            "PUT",
            self._run(run_id, f"/artifacts/content/{encode_path(path)}"),
            content=content,
            headers=headers,
            streamed=True,
        )

    def download_artifact_path(self, run_id: str, path: str) -> str:
        """The URL path of an artifact's bytes, for :meth:`stream`."""
        return self._run(run_id, f"/artifacts/content/{encode_path(path)}")

    # ------------------------------------------------------------------ assets

    def _asset(self, name: str, rest: str = "") -> str:
        return self._ws(f"/assets/{encode_segment(name)}{rest}")

    def promote_asset(self, request: JsonObject) -> JsonObject:
        """Makes the next version of asset ``request["name"]`` from a run's artifact or folder; ARTIFACT_NOT_FOUND."""
        return self._json("POST", self._ws("/assets"), body=request)

    def list_assets(self) -> Iterator[JsonObject]:
        """The workspace's assets by name, each with its latest version, a page at a time."""
        return self._pages(self._ws("/assets"), {})

    def list_asset_versions(self, name: str) -> Iterator[JsonObject]:
        """The versions of an asset, newest first, without their files; ASSET_NOT_FOUND."""
        return self._pages(self._asset(name, "/versions"), {})

    def get_asset_version(self, name: str, version: int | str) -> JsonObject:
        """One version with its files: a number, "latest" or an alias; ASSET_NOT_FOUND, ASSET_ALIAS_NOT_FOUND."""
        return self._json("GET", self._asset(name, f"/versions/{encode_segment(str(version))}"))

    def update_asset_version(
        self,
        name: str,
        version: int | str,
        *,
        description: str | None = None,
        set_tags: dict[str, str] | None = None,
        remove_tags: list[str] | None = None,
    ) -> JsonObject:
        """
        Edits a version's description and tags (set, then removed; its files never change) and answers the
        version with its files. ``version`` as for reading. ASSET_NOT_FOUND, LIMIT_EXCEEDED, INVALID_ARGUMENT.
        """
        body: JsonObject = {}
        if description is not None:
            body["description"] = description
        tags: JsonObject = {}
        if set_tags is not None:
            tags["set"] = set_tags
        if remove_tags is not None:
            tags["remove"] = remove_tags
        if tags:
            body["tags"] = tags
        return self._json("PATCH", self._asset(name, f"/versions/{encode_segment(str(version))}"), body=body)

    def asset_file_path(self, name: str, version: int, path: str) -> str:
        """The URL path of one file of an asset version, for :meth:`stream`."""
        return self._asset(name, f"/versions/{version}/files/{encode_path(path)}")

    def list_asset_aliases(self, name: str) -> list[JsonObject]:
        """The aliases of an asset, each with the version it points at."""
        return cast(list[JsonObject], self._json("GET", self._asset(name, "/aliases"))["items"])

    def set_asset_alias(self, name: str, alias: str, version: int) -> JsonObject:
        """Points ``alias`` at ``version`` of the asset: made when new, moved when it pointed elsewhere."""
        return self._json("PUT", self._asset(name, f"/aliases/{encode_segment(alias)}"), body={"version": version})

    def delete_asset_alias(self, name: str, alias: str) -> JsonObject:
        """Removes an alias (the version stays); ``deleted`` is False when there was none."""
        return self._json("DELETE", self._asset(name, f"/aliases/{encode_segment(alias)}"))

    # ------------------------------------------------------------------ datastores

    def get_datastore(self, name: str) -> JsonObject:
        return self._json("GET", self._ws(f"/datastores/{encode_segment(name)}"))

    def list_datastores(self) -> list[JsonObject]:
        return cast(list[JsonObject], self._json("GET", self._ws("/datastores"))["items"])

    def register_datastore(self, request: JsonObject) -> JsonObject:
        """Registers storage (validated unless skipValidation); DATASTORE_EXISTS unless ``overwrite`` in the request."""
        return self._json("POST", self._ws("/datastores"), body=request)

    def datastore_access(self, name: str, operation: str) -> JsonObject:
        """How to reach a datastore's bytes for ``operation`` (read or write): the server's grant."""
        return self._json("POST", self._ws(f"/datastores/{encode_segment(name)}/access"), body={"operation": operation})

    def list_datastore_files(self, name: str, prefix: str | None = None) -> Iterator[JsonObject]:
        return self._pages(self._ws(f"/datastores/{encode_segment(name)}/files"), {"prefix": prefix})

    def datastore_file_path(self, name: str, path: str) -> str:
        """The URL path of a datastore file's bytes, for :meth:`stream`."""
        return self._ws(f"/datastores/{encode_segment(name)}/files/content/{encode_path(path)}")

    def upload_datastore_file(self, name: str, path: str, body: IO[bytes], *, size: int, overwrite: bool) -> JsonObject:
        """Streams one file to a datastore; FILE_EXISTS unless ``overwrite``."""
        return self._json(
            "PUT",
            self.datastore_file_path(name, path),
            content=_chunks(body),
            params={"overwrite": "true" if overwrite else "false"},
            headers={"content-type": "application/octet-stream", "content-length": str(size)},
            streamed=True,
        )


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(_CHUNK):
        yield chunk


_live_clients: weakref.WeakSet[WharfClient] = weakref.WeakSet()
_abandoned_in_child: list[httpx.Client] = []


def _clients_after_fork_in_child() -> None:
    for client in list(_live_clients):
        client._after_fork_in_child()


os.register_at_fork(after_in_child=_clients_after_fork_in_child)
