"""
Wharf's Python SDK: log metrics and files to a Wharf server, register and load models, and move datastore
data through its grants.
"""

from .context import Logger, get_context_run, get_logger
from .datastore import Datastore, TransferResult
from .environment import find_workspace_config, read_environment
from .errors import WharfError
from .experiment import Experiment
from .logger import MetricLogger, PendingLog
from .model import Model, ModelFile, ModelSummary
from .retry import RetryPolicy
from .run import Run
from .workspace import Workspace

__all__ = [
    "Datastore",
    "Experiment",
    "Logger",
    "MetricLogger",
    "Model",
    "ModelFile",
    "ModelSummary",
    "PendingLog",
    "RetryPolicy",
    "Run",
    "TransferResult",
    "WharfError",
    "Workspace",
    "find_workspace_config",
    "get_context_run",
    "get_logger",
    "read_environment",
]
