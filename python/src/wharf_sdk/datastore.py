"""
A registered datastore, reached through the server's grant (``POST …/datastores/:name/access``):
straight to a folder this machine shares with the server, straight to Azure Blob with the short-lived
SAS the server signs, or through the server's file routes. Credentials never reach this process.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import sys
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

import httpx
from tqdm import tqdm

from .client import encode_path
from .errors import WharfError
from .pool import run_pool

if TYPE_CHECKING:
    from .workspace import Workspace

TRANSFER_CONCURRENCY = 8
_CHUNK = 1024 * 1024


@dataclass
class TransferResult:
    """What a transfer did: each file's datastore path is in exactly one list (``failed`` with the reason)."""

    transferred: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class RemoteFile:
    """A file to download: its path (also its place under the target folder), size and stored digest."""

    path: str
    size: int
    md5: str | None  # base64, as the storage keeps it
    sha256: str | None = None  # hex, as the server keeps artifacts and asset files


class _Driver(Protocol):
    def list(self, prefix: str | None) -> Iterator[RemoteFile]: ...
    def find(self, path: str) -> RemoteFile | None: ...
    def upload(self, path: str, local: Path, overwrite: bool) -> None: ...
    def download(self, path: str, out: Any, progress: Callable[[int], None]) -> None: ...


def _md5_b64(file: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(file, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode("ascii")


def _sha256_hex(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _digest_matches(local: Path, remote: RemoteFile) -> bool:
    """True when the local file has the stored digest (sha256 when known, else MD5); True when none is stored."""
    if remote.sha256 is not None:
        return _sha256_hex(local) == remote.sha256
    return remote.md5 is None or _md5_b64(local) == remote.md5


def _same(local: Path, remote: RemoteFile) -> bool:
    return local.stat().st_size == remote.size and _digest_matches(local, remote)


class _FolderDriver:
    """A filesystem datastore whose folder this process sees itself (same device and inode as the server's)."""

    def __init__(self, root: str) -> None:
        self._root = Path(root)

    def _local(self, path: str) -> Path:
        encode_path(path)  # UNSAFE_PATH for "." and ".." segments
        return self._root.joinpath(*path.split("/"))

    def list(self, prefix: str | None) -> Iterator[RemoteFile]:
        for file in sorted(p for p in self._root.rglob("*") if p.is_file()):
            key = file.relative_to(self._root).as_posix()
            if key.startswith(".wharf/") or (prefix and not key.startswith(prefix)):
                continue
            yield RemoteFile(key, file.stat().st_size, None)

    def find(self, path: str) -> RemoteFile | None:
        file = self._local(path)
        return RemoteFile(path, file.stat().st_size, _md5_b64(file)) if file.is_file() else None

    def upload(self, path: str, local: Path, overwrite: bool) -> None:
        target = self._local(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.partial")
        shutil.copyfile(local, partial)
        os.replace(partial, target)

    def download(self, path: str, out: Any, progress: Callable[[int], None]) -> None:
        with open(self._local(path), "rb") as stream:
            while chunk := stream.read(_CHUNK):
                out.write(chunk)
                progress(len(chunk))


class _ServerDriver:
    """Bytes through the server's file routes (a filesystem datastore on another machine, or S3)."""

    def __init__(self, datastore: Datastore) -> None:
        self._client = datastore.workspace.client
        self._name = datastore.name

    def list(self, prefix: str | None) -> Iterator[RemoteFile]:
        for item in self._client.list_datastore_files(self._name, prefix):
            yield RemoteFile(item["path"], int(item["size"]), item.get("contentMd5"))

    def find(self, path: str) -> RemoteFile | None:
        return next((f for f in self.list(path) if f.path == path), None)

    def upload(self, path: str, local: Path, overwrite: bool) -> None:
        with open(local, "rb") as stream:
            stored = self._client.upload_datastore_file(
                self._name, path, stream, size=local.stat().st_size, overwrite=overwrite
            )
        if stored.get("md5") not in (None, _md5_b64(local)):
            raise WharfError("INTERNAL", f"{path} was stored with another MD5 than {local} has; upload it again")

    def download(self, path: str, out: Any, progress: Callable[[int], None]) -> None:
        with self._client.stream(self._client.datastore_file_path(self._name, path)) as response:
            for chunk in response.iter_bytes(_CHUNK):
                out.write(chunk)
                progress(len(chunk))


class _AzureBlobDriver:
    """An Azure Blob container reached with the SAS the server signed for this operation."""

    def __init__(self, grant: dict[str, Any]) -> None:
        self._base = f"{grant['serviceUrl'].rstrip('/')}/{quote(grant['containerName'])}"
        self._sas = grant["sasToken"].lstrip("?")
        self._http = httpx.Client(timeout=httpx.Timeout(60.0, read=300.0))

    def _url(self, path: str = "", query: str = "") -> str:
        blob = f"/{quote(path)}" if path else ""
        return f"{self._base}{blob}?{query + '&' if query else ''}{self._sas}"

    def _check(self, response: httpx.Response, what: str) -> None:
        if response.is_error:
            raise WharfError(
                "DATASTORE_UNAVAILABLE", f"Azure answered {response.status_code} to {what}: {response.text[:200]}"
            )

    def list(self, prefix: str | None) -> Iterator[RemoteFile]:
        marker = ""
        while True:
            query = "restype=container&comp=list" + (f"&prefix={quote(prefix)}" if prefix else "")
            query += f"&marker={quote(marker)}" if marker else ""
            response = self._http.get(self._url(query=query))
            self._check(response, "a blob listing")
            root = ElementTree.fromstring(response.content)
            for blob in root.iter("Blob"):
                md5 = blob.findtext("Properties/Content-MD5") or None
                size = int(blob.findtext("Properties/Content-Length") or "0")
                yield RemoteFile(blob.findtext("Name") or "", size, md5)
            marker = root.findtext("NextMarker") or ""
            if not marker:
                return

    def find(self, path: str) -> RemoteFile | None:
        response = self._http.head(self._url(path))
        if response.status_code == 404:
            return None
        self._check(response, f"reading {path}")
        return RemoteFile(path, int(response.headers.get("content-length", "0")), response.headers.get("content-md5"))

    def upload(self, path: str, local: Path, overwrite: bool) -> None:
        headers = {
            "x-ms-blob-type": "BlockBlob",
            "x-ms-blob-content-md5": _md5_b64(local),
            "content-length": str(local.stat().st_size),
        }
        if not overwrite:
            headers["if-none-match"] = "*"
        with open(local, "rb") as stream:
            response = self._http.put(self._url(path), content=iter(lambda: stream.read(_CHUNK), b""), headers=headers)
        self._check(response, f"uploading {path}")

    def download(self, path: str, out: Any, progress: Callable[[int], None]) -> None:
        with self._http.stream("GET", self._url(path)) as response:
            if response.is_error:
                response.read()
                self._check(response, f"downloading {path}")
            for chunk in response.iter_bytes(_CHUNK):
                out.write(chunk)
                progress(len(chunk))


def _progress_bar(title: str, total: int, show: bool) -> tqdm[Any]:
    # A bar on a terminal only: a log file would fill with carriage returns. A terminal that reports no
    # size (a fresh pseudo-terminal) gets 80x24 rather than a hidden bar.
    size = shutil.get_terminal_size((80, 24))
    return tqdm(
        total=total,
        desc=title,
        unit="B",
        unit_scale=True,
        ncols=size.columns,
        nrows=size.lines,
        disable=not (show and sys.stderr.isatty()),
    )


class Datastore:
    """A registered datastore: a named pointer to storage in a workspace (credentials stay on the server)."""

    def __init__(self, workspace: Workspace, info: dict[str, Any]) -> None:
        self.workspace = workspace
        self.name: str = info["name"]
        self.kind: str = info["kind"]
        self.settings: dict[str, Any] = dict(info.get("settings", {}))
        self.is_default: bool = bool(info.get("isDefault"))

    @staticmethod
    def _register(workspace: Workspace, request: dict[str, Any]) -> Datastore:
        body = {key: value for key, value in request.items() if value is not None}
        return Datastore(workspace, workspace.client.register_datastore(body))

    @staticmethod
    def register_azure_blob_container(
        workspace: Workspace,
        datastore_name: str,
        container_name: str,
        account_name: str,
        *,
        account_key: str | None = None,
        sas_token: str | None = None,
        endpoint: str | None = None,
        protocol: str | None = None,
        create_if_not_exists: bool = False,
        overwrite: bool = False,
    ) -> Datastore:
        """Registers an Azure Blob container; the key or SAS is kept encrypted on the server, never returned."""
        return Datastore._register(
            workspace,
            {
                "kind": "azure_blob",
                "name": datastore_name,
                "containerName": container_name,
                "accountName": account_name,
                "accountKey": account_key,
                "sasToken": sas_token,
                "endpoint": endpoint,
                "protocol": protocol,
                "createIfNotExists": create_if_not_exists,
                "overwrite": overwrite,
            },
        )

    @staticmethod
    def register_azure_file_share(
        workspace: Workspace,
        datastore_name: str,
        file_share_name: str,
        account_name: str,
        *,
        account_key: str | None = None,
        sas_token: str | None = None,
        endpoint: str | None = None,
        protocol: str | None = None,
        create_if_not_exists: bool = False,
        overwrite: bool = False,
    ) -> Datastore:
        """Registers an Azure file share; the key or SAS is kept encrypted on the server, never returned."""
        return Datastore._register(
            workspace,
            {
                "kind": "azure_file",
                "name": datastore_name,
                "fileShareName": file_share_name,
                "accountName": account_name,
                "accountKey": account_key,
                "sasToken": sas_token,
                "endpoint": endpoint,
                "protocol": protocol,
                "createIfNotExists": create_if_not_exists,
                "overwrite": overwrite,
            },
        )

    @staticmethod
    def register_s3_bucket(
        workspace: Workspace,
        datastore_name: str,
        bucket: str,
        *,
        access_key_id: str,
        secret_access_key: str,
        region: str | None = None,
        endpoint: str | None = None,
        force_path_style: bool | None = None,
        create_if_not_exists: bool = False,
        overwrite: bool = False,
    ) -> Datastore:
        """Registers an S3 bucket (or one on an S3-compatible server at ``endpoint``)."""
        return Datastore._register(
            workspace,
            {
                "kind": "s3",
                "name": datastore_name,
                "bucket": bucket,
                "accessKeyId": access_key_id,
                "secretAccessKey": secret_access_key,
                "region": region,
                "endpoint": endpoint,
                "forcePathStyle": force_path_style,
                "createIfNotExists": create_if_not_exists,
                "overwrite": overwrite,
            },
        )

    @staticmethod
    def register_filesystem(
        workspace: Workspace,
        datastore_name: str,
        path: str,
        *,
        create_if_not_exists: bool = False,
        overwrite: bool = False,
    ) -> Datastore:
        """Registers a folder on the server's machine (an absolute path there)."""
        return Datastore._register(
            workspace,
            {
                "kind": "filesystem",
                "name": datastore_name,
                "path": path,
                "createIfNotExists": create_if_not_exists,
                "overwrite": overwrite,
            },
        )

    @staticmethod
    def get(workspace: Workspace, name: str) -> Datastore:
        """A registered datastore by name; DATASTORE_NOT_FOUND (``wharf datastore list`` shows them)."""
        return Datastore(workspace, workspace.client.get_datastore(name))

    @staticmethod
    def get_default(workspace: Workspace) -> Datastore:
        return workspace.get_default_datastore()

    def _driver(self, operation: str) -> _Driver:
        grant = self.workspace.client.datastore_access(self.name, operation)
        mode = grant.get("mode")
        if mode == "filesystem":
            try:
                info = os.stat(grant["path"])
                if info.st_dev == grant["device"] and info.st_ino == grant["inode"]:
                    return _FolderDriver(grant["path"])
            except OSError:
                pass  # Not this machine's folder: through the server.
            return _ServerDriver(self)
        if mode == "azure_sas" and grant.get("kind") == "azure_blob":
            return _AzureBlobDriver(grant)
        if mode == "azure_sas":
            raise WharfError(
                "DATASTORE_UNAVAILABLE",
                f'datastore "{self.name}" is an Azure file share, which the Python SDK does not reach yet; '
                "use the TypeScript SDK or `wharf datastore upload|download`",
            )
        return _ServerDriver(self)

    def upload(
        self, src_dir: str, target_path: str | None = None, overwrite: bool = False, show_progress: bool = True
    ) -> TransferResult:
        """
        Uploads the whole tree of ``src_dir`` to ``target_path`` (the root when None). Identical files are
        left alone; ones that differ are skipped and listed unless ``overwrite``. Per-file failures are
        listed, never raised.
        """
        root = Path(src_dir).resolve()
        if not root.is_dir():
            raise WharfError("FILE_NOT_FOUND", f"{src_dir} is not a folder; give the folder to upload")
        files = sorted(p for p in root.rglob("*") if p.is_file())
        return self.upload_files(
            [str(p) for p in files],
            relative_root=str(root),
            target_path=target_path,
            overwrite=overwrite,
            show_progress=show_progress,
        )

    def upload_files(
        self,
        files: list[str],
        relative_root: str | None = None,
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> TransferResult:
        """Uploads the given files, each to ``target_path`` + its path relative to ``relative_root``."""
        locals_ = [Path(f).resolve() for f in files]
        base = Path(relative_root).resolve() if relative_root else Path(os.path.commonpath(locals_ or [Path.cwd()]))
        if base.is_file():
            base = base.parent
        prefix = (target_path or "").strip("/")
        items = []
        for local in locals_:
            try:
                relative = local.relative_to(base).as_posix()
            except ValueError as error:
                raise WharfError("INVALID_ARGUMENT", f"{local} is not under relative_root {base}") from error
            items.append((f"{prefix}/{relative}" if prefix else relative, local))
        driver = self._driver("write")
        result = TransferResult()
        lock = threading.Lock()
        with _progress_bar(f"Uploading {self.name}", sum(p.stat().st_size for _, p in items), show_progress) as bar:

            def one(item: tuple[str, Path]) -> None:
                key, local = item
                try:
                    existing = driver.find(key)
                    if existing is not None and _same(local, existing):
                        outcome = "unchanged"
                    elif existing is not None and not overwrite:
                        outcome = "skipped"
                    else:
                        driver.upload(key, local, overwrite=existing is not None)
                        outcome = "overwritten" if existing is not None else "transferred"
                except (WharfError, OSError, httpx.HTTPError) as error:
                    with lock:
                        result.failed.append((key, str(error)))
                    return
                with lock:
                    getattr(result, outcome).append(key)
                    bar.update(local.stat().st_size)

            run_pool(one, items, TRANSFER_CONCURRENCY)
        if show_progress and not sys.stderr.isatty():
            sys.stderr.write(_summary("uploaded", result))
        return result

    def download(
        self, target_path: str, prefix: str | None = None, overwrite: bool = False, show_progress: bool = True
    ) -> int:
        """
        Downloads the files under ``prefix`` (everything when None) into ``target_path``, keeping their
        datastore paths; returns how many were written. :meth:`download_files` returns the full report.
        """
        result = self.download_files(target_path, prefix=prefix, overwrite=overwrite, show_progress=show_progress)
        return len(result.transferred) + len(result.overwritten)

    def download_files(
        self, target_path: str, prefix: str | None = None, overwrite: bool = False, show_progress: bool = True
    ) -> TransferResult:
        """Like :meth:`download`, with what happened to every file; a file is checked against its MD5 before it is placed."""
        driver = self._driver("read")
        return download_remote_files(
            list(driver.list(prefix)),
            driver.download,
            target_dir=Path(target_path).resolve(),
            overwrite=overwrite,
            show_progress=show_progress,
            title=f"Downloading {self.name}",
        )


#: Writes the bytes of the file at a path to ``out``, calling ``progress`` with each chunk's size.
Fetch = Callable[[str, Any, Callable[[int], None]], None]


def download_remote_files(
    files: Sequence[RemoteFile],
    fetch: Fetch,
    *,
    target_dir: Path,
    overwrite: bool,
    show_progress: bool,
    title: str,
    overwrite_hint: str = "pass overwrite=True",
    errors: list[tuple[str, BaseException]] | None = None,
) -> TransferResult:
    """
    The one verified download, eight files at a time: each file goes to ``target_dir`` + its path through
    a temp file beside its target, is checked against its stored digest (sha256 or MD5) and renamed into
    place. An identical local file is left alone (``unchanged``); one with other content is replaced only
    with ``overwrite`` (else ``skipped``). Per-file failures are listed (with the error in ``errors``
    when given), never raised. A progress bar on a terminal, a summary line on stderr otherwise.
    """
    result = TransferResult()
    lock = threading.Lock()
    with _progress_bar(title, sum(f.size for f in files), show_progress) as bar:

        def one(file: RemoteFile) -> None:
            parts = file.path.split("/")
            try:
                encode_path(file.path)
                target = target_dir.joinpath(*parts)
                if target.exists():
                    if _same(target, file):
                        with lock:
                            result.unchanged.append(file.path)
                        return
                    if not overwrite:
                        with lock:
                            result.skipped.append(file.path)
                        return
                existed = target.exists()
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.partial")
                try:
                    with open(partial, "wb") as out:
                        fetch(file.path, out, lambda n: _locked(lock, bar.update, n))
                    if not _digest_matches(partial, file):
                        kind = "SHA-256" if file.sha256 is not None else "MD5"
                        raise WharfError(
                            "INTERNAL", f"{file.path} arrived with another {kind} than stored; download it again"
                        )
                    os.replace(partial, target)
                finally:
                    if partial.exists():
                        partial.unlink()
            except (WharfError, OSError, httpx.HTTPError) as error:
                with lock:
                    result.failed.append((file.path, str(error)))
                    if errors is not None:
                        errors.append((file.path, error))
                return
            with lock:
                (result.overwritten if existed else result.transferred).append(file.path)

        run_pool(one, files, TRANSFER_CONCURRENCY)
    if show_progress and not sys.stderr.isatty():
        sys.stderr.write(_summary("downloaded", result, overwrite_hint))
    return result


def _locked(lock: threading.Lock, update: Callable[[int], Any], amount: int) -> None:
    with lock:
        update(amount)


def _summary(verb: str, result: TransferResult, overwrite_hint: str = "pass overwrite=True") -> str:
    line = (
        f"{len(result.transferred) + len(result.overwritten)} files {verb}, {len(result.unchanged)} unchanged, "
        f"{len(result.skipped)} skipped (differ; {overwrite_hint}), {len(result.failed)} failed\n"
    )
    for path, reason in result.failed:
        line += f"  failed: {path}: {reason}\n"
    return line
