"""A fake Databricks workspace served over real HTTP, for tests, the demo and the benchmark."""

from .faults import Faults, Stats
from .generate import generate_uniform, generate_workspace
from .model import ServicePrincipal, Truth, User, Workspace
from .mount import write_dbfs_mount
from .oidc import OAuthIssuer
from .server import FakeWorkspaceServer
from .unity import UnityCatalog, add_unity_catalog
from .whole import WholeWorkspace, add_whole_workspace

__all__ = ["FakeWorkspaceServer", "Faults", "OAuthIssuer", "ServicePrincipal", "Stats", "Truth",
           "UnityCatalog", "User", "WholeWorkspace", "Workspace", "add_unity_catalog",
           "add_whole_workspace", "generate_uniform", "generate_workspace", "write_dbfs_mount"]
