"""
Models: numbered versions of a named asset, promoted from a run's artifacts (``run.register_model``),
read by number, ``"latest"`` or an alias (``"champion"``), and downloaded with every file checked.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .datastore import RemoteFile, download_remote_files
from .errors import WharfError
from .validation import check_asset_alias

if TYPE_CHECKING:
    from .workspace import Workspace

_CHUNK = 1024 * 1024
#: How many refused files a FILE_EXISTS message names before it says "and N more".
_NAMED = 5


@dataclass(frozen=True)
class ModelFile:
    """One file of a model version: its path inside the model, size in bytes and SHA-256 (hex)."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ModelSummary:
    """A model as :meth:`Model.list` gives it: its name, latest version, how many versions, last change."""

    name: str
    latest_version: int
    version_count: int
    description: str
    updated_at: str


class Model:
    """
    One version of a named model (a Wharf asset): the files a run registered, with where they came from.
    Its files never change; its description and tags can (:meth:`add_tags`, :meth:`remove_tags`,
    :meth:`update`), and :attr:`info` holds the server's answer to this handle's last call. Aliases can
    move, so :attr:`aliases` is read each time. ``Model(ws, name)`` is the latest version; ``version`` is a number, ``"latest"`` or an
    alias. ASSET_NOT_FOUND for an unknown name or version, ASSET_ALIAS_NOT_FOUND for an unknown alias.
    """

    def __init__(self, workspace: Workspace, name: str, version: int | str | None = None) -> None:
        if isinstance(version, bool) or not isinstance(version, (int, str, type(None))):
            raise WharfError(
                "INVALID_ARGUMENT",
                f'version of model "{name}" must be a number, "latest" or an alias such as "champion", not {version!r}',
            )
        info = workspace.client.get_asset_version(name, "latest" if version is None else version)
        self._adopt(workspace, info)

    @classmethod
    def _from_info(cls, workspace: Workspace, info: dict[str, Any]) -> Model:
        """A handle on a version the server just answered with (no request)."""
        model = cls.__new__(cls)
        model._adopt(workspace, info)
        return model

    def _adopt(self, workspace: Workspace, info: dict[str, Any]) -> None:
        self.workspace = workspace
        self.info: dict[str, Any] = info
        """The version as the server answered it."""

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, version={self.version})"

    # ------------------------------------------------------------------ what the version is

    @property
    def name(self) -> str:
        return str(self.info["name"])

    @property
    def version(self) -> int:
        """The version number (also when the model was asked for by "latest" or an alias)."""
        return int(self.info["version"])

    @property
    def id(self) -> str:
        """``name:version``, as Azure ML v1 names a model version."""
        return f"{self.name}:{self.version}"

    @property
    def description(self) -> str:
        return str(self.info.get("description", ""))

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.info.get("tags", {}))

    @property
    def source_run_id(self) -> str:
        """The run whose artifacts the version was made from."""
        return str(self.info["sourceRunId"])

    @property
    def run_id(self) -> str:
        """The same as :attr:`source_run_id` (Azure ML v1's name)."""
        return self.source_run_id

    @property
    def artifact_path(self) -> str:
        """The run's artifact (a file, or a folder) the version was made from, such as ``outputs/model.pkl``."""
        return str(self.info["artifactPath"])

    @property
    def created_at(self) -> str:
        """When the version was made (ISO 8601, UTC)."""
        return str(self.info["createdAt"])

    @property
    def files(self) -> builtins.list[ModelFile]:
        """The version's files; paths keep the artifact's last segment (``model.pkl``, ``ckpt/a.pt``)."""
        return [ModelFile(str(f["path"]), int(f["size"]), str(f["sha256"])) for f in self.info.get("files", [])]

    # ------------------------------------------------------------------ description and tags

    def add_tags(self, tags: Mapping[str, Any]) -> None:
        """
        Adds tags to this version, or replaces the values of keys it has (values are made strings); its
        other tags stay. :attr:`info` then shows the version as it is. LIMIT_EXCEEDED past the tag limit.
        """
        self._change(set_tags={str(k): str(v) for k, v in tags.items()})

    def remove_tags(self, keys: Sequence[str]) -> None:
        """Removes tags from this version by key (keys it does not have are ignored)."""
        if isinstance(keys, str):
            raise WharfError("INVALID_ARGUMENT", f'remove_tags takes a list of keys; write remove_tags(["{keys}"])')
        self._change(remove_tags=[str(k) for k in keys])

    def update(self, tags: Mapping[str, Any] | None = None, description: str | None = None) -> None:
        """
        Sets the description, and merges ``tags`` into the version's tags (keys given are added or replaced,
        the others stay; :meth:`remove_tags` removes), in one request. ``None`` leaves a field as it is.
        """
        self._change(
            description=description,
            set_tags=None if tags is None else {str(k): str(v) for k, v in tags.items()},
        )

    def _change(
        self,
        *,
        description: str | None = None,
        set_tags: dict[str, str] | None = None,
        remove_tags: builtins.list[str] | None = None,
    ) -> None:
        # By number: the version this handle holds, not where the alias it was read by points now.
        self.info = self.workspace.client.update_asset_version(
            self.name, self.version, description=description, set_tags=set_tags, remove_tags=remove_tags
        )

    # ------------------------------------------------------------------ listing

    @staticmethod
    def list(workspace: Workspace) -> builtins.list[ModelSummary]:
        """Every model of the workspace by name, each with its latest version (read a page at a time)."""
        return [
            ModelSummary(
                name=str(item["name"]),
                latest_version=int(item["latestVersion"]),
                version_count=int(item["versionCount"]),
                description=str(item.get("description", "")),
                updated_at=str(item["updatedAt"]),
            )
            for item in workspace.client.list_assets()
        ]

    @staticmethod
    def list_versions(workspace: Workspace, name: str) -> builtins.list[int]:
        """The version numbers of a model, newest first; ASSET_NOT_FOUND for an unknown name."""
        return [int(item["version"]) for item in workspace.client.list_asset_versions(name)]

    # ------------------------------------------------------------------ aliases

    @property
    def aliases(self) -> builtins.list[str]:
        """The aliases pointing at this version now, sorted (read from the server each time)."""
        items = self.workspace.client.list_asset_aliases(self.name)
        return sorted(str(item["alias"]) for item in items if int(item["version"]) == self.version)

    def set_alias(self, alias: str) -> None:
        """
        Points ``alias`` (such as ``"champion"``) at this version: made when new, moved from the version it
        pointed at. INVALID_ARGUMENT, before any request, for a name that is not a valid alias.
        """
        check_asset_alias(alias)
        self.workspace.client.set_asset_alias(self.name, alias, self.version)

    @staticmethod
    def delete_alias(workspace: Workspace, name: str, alias: str) -> bool:
        """Removes an alias of model ``name`` (its version stays); False when the model had no such alias."""
        check_asset_alias(alias)
        return bool(workspace.client.delete_asset_alias(name, alias)["deleted"])

    # ------------------------------------------------------------------ download

    def download(self, target_dir: str = ".", exist_ok: bool = False, show_progress: bool = True) -> str:
        """
        Downloads every file into ``target_dir`` (keeping the paths in :attr:`files`), each through a temp
        file checked against its SHA-256 before it is put in place; a progress bar on a terminal, a summary
        line on stderr otherwise. Identical files already there are left alone. Files there with other
        content are left alone too, and the call raises FILE_EXISTS naming them, unless ``exist_ok``
        (then they are replaced). Returns the model's path, as Azure ML v1 does: the file for a model
        registered from one file (``<target_dir>/model.pkl``), the folder for one registered from a folder.
        """
        root = Path(target_dir).resolve()
        client = self.workspace.client
        name, version = self.name, self.version

        def fetch(path: str, out: Any, progress: Callable[[int], None]) -> None:
            with client.stream(client.asset_file_path(name, version, path)) as response:
                for chunk in response.iter_bytes(_CHUNK):
                    out.write(chunk)
                    progress(len(chunk))

        errors: builtins.list[tuple[str, BaseException]] = []
        result = download_remote_files(
            [RemoteFile(f.path, f.size, None, f.sha256) for f in self.files],
            fetch,
            target_dir=root,
            overwrite=exist_ok,
            show_progress=show_progress,
            title=f"Downloading model {self.id}",
            overwrite_hint="pass exist_ok=True",
            errors=errors,
        )
        if errors:
            path, error = errors[0]
            more = f" (and {len(errors) - 1} more file(s) failed)" if len(errors) > 1 else ""
            if isinstance(error, WharfError):
                raise WharfError(
                    error.code, f"{path}: {error.message}{more}", details={**error.details, "path": path}
                ) from error
            raise error
        if result.skipped:
            existing = [str(root.joinpath(*key.split("/"))) for key in result.skipped]
            named = ", ".join(existing[:_NAMED])
            rest = f" and {len(existing) - _NAMED} more" if len(existing) > _NAMED else ""
            raise WharfError(
                "FILE_EXISTS",
                f"{len(existing)} file(s) exist with other content and were left alone: {named}{rest}; pass "
                f"exist_ok=True to replace them with model {self.id}, or download into another folder",
                details={"existing": existing},
            )
        top = self.artifact_path.rsplit("/", 1)[-1]
        paths = [f.path for f in self.files]
        if top and paths and all(p == top or p.startswith(f"{top}/") for p in paths):
            return str(root.joinpath(top))
        return str(root)
