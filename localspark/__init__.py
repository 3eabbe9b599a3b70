"""A local Spark Connect server from the installed pyspark, for tests, demo and bench."""

from .server import LocalSparkConnect, free_port

__all__ = ["LocalSparkConnect", "free_port"]
