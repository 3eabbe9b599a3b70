"""One walker per file system: how to list one directory and what in it counts.

A walker turns one API listing into counts and subdirectories (listing.py); the
traversal (which directory next, how many at once) is the scanner's, shared by all.
A new file system is a module here with a walker, registered in WALKERS.
"""

from __future__ import annotations

from dbx_inventory.scan.filesystems.dbfs import DbfsWalker
from dbx_inventory.scan.filesystems.listing import DirListing
from dbx_inventory.scan.filesystems.volumes import VolumesWalker
from dbx_inventory.scan.filesystems.workspace import WorkspaceWalker

DBFS = DbfsWalker()
WORKSPACE = WorkspaceWalker()
VOLUMES = VolumesWalker()
WALKERS: dict[str, DbfsWalker | WorkspaceWalker | VolumesWalker] = {
    DBFS.name: DBFS, WORKSPACE.name: WORKSPACE, VOLUMES.name: VOLUMES}

__all__ = ["DBFS", "WORKSPACE", "VOLUMES", "WALKERS", "DirListing", "DbfsWalker",
           "VolumesWalker", "WorkspaceWalker"]
