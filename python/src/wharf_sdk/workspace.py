"""A workspace on a Wharf server: the handle everything else hangs off."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .client import WharfClient
from .environment import find_workspace_config, read_environment

if TYPE_CHECKING:
    from .datastore import Datastore
    from .experiment import Experiment


class Workspace:
    """A workspace at a server URL. Creating one does no I/O."""

    def __init__(
        self,
        url: str,
        name: str = "default",
        *,
        token: str | None = None,
        spool_dir: str | None = None,
        config_source: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.name = name
        self.client = WharfClient(self.url, workspace=name, token=token)
        self.spool_dir = spool_dir or read_environment().spool_dir
        """Where unsent metrics and runs started offline wait for ``wharf sync`` ($WHARF_HOME/spool)."""
        self.config_source = config_source

    @classmethod
    def from_config(cls, path: str | None = None) -> Workspace:
        """
        The workspace named by ``.wharf/config.json`` (or ``config.json``) in the current folder or a parent,
        with WHARF_TRACKING_URI, WHARF_WORKSPACE and WHARF_AUTH_TOKEN / WHARF_RUN_TOKEN overriding.
        CONFIG_NOT_FOUND, saying how to write one, when there is none.
        """
        env = read_environment()
        config = find_workspace_config(path=path, env=env)
        return cls(
            config.url, config.workspace, token=config.token, spool_dir=env.spool_dir, config_source=config.source
        )

    def experiment(self, name: str) -> Experiment:
        """A handle on an experiment (created on the server on first use)."""
        from .experiment import Experiment

        return Experiment(self, name)

    def get_details(self) -> dict[str, Any]:
        """The workspace as the server knows it: default and artifact datastores, creation time."""
        return self.client.get_workspace()

    @property
    def datastores(self) -> dict[str, Datastore]:
        """The registered datastores by name (credentials are never included)."""
        from .datastore import Datastore

        return {info["name"]: Datastore(self, info) for info in self.client.list_datastores()}

    def get_default_datastore(self) -> Datastore:
        """The default datastore (``workspaceblobstore`` until changed)."""
        from .datastore import Datastore

        return Datastore.get(self, self.get_details()["defaultDatastore"])
