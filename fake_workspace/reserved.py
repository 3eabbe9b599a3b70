"""Reserved DBFS places: what a real DBFS root shows and its REST API refuses
(spec: "The platform as it is")."""

from __future__ import annotations

from .model import Workspace

VOLUME_ALIASES = ("/Volume", "/Volumes", "/volume", "/volumes")
MLFLOW_PLACES = ("/databricks/mlflow-tracking", "/databricks/mlflow-registry")
VOLUME_REFUSAL = "No operations allowed on this path"
MOUNT_REFUSAL = ("Cannot list a mount point: a technical limitation of the DBFS REST API; "
                 "list it on a cluster")


def add_reserved_dbfs_places(ws: Workspace) -> None:
    """The Unity Catalog volume aliases ("No operations allowed on this path") and the
    MLflow asset paths (mounted, refused like mount points), each holding something."""
    for alias in VOLUME_ALIASES:
        ws.dbfs.add_file(f"{alias}/main/default/files/readme.txt", size=64)
        ws.dbfs.refuse(alias, VOLUME_REFUSAL)
    for place in MLFLOW_PLACES:
        ws.dbfs.add_file(f"{place}/0/artifacts/model.pkl", size=4096)
        ws.dbfs.refuse(place, MOUNT_REFUSAL, status_ok=True)


def refuse_mount(ws: Workspace, path: str) -> None:
    """A mount point the DBFS REST API cannot list (some configurations)."""
    ws.dbfs.refuse(path, MOUNT_REFUSAL, status_ok=True)
