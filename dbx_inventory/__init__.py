"""dbx workspace inventory: count each user's files and bytes in DBFS and the Workspace."""

__version__ = "0.1.0"
