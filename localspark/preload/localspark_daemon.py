"""pyspark's Python worker daemon with the modules every worker imports loaded first.

Each Spark Connect session gets a daemon of its own, which forks its Python workers;
pyspark's daemon loads pandas, pyarrow and the worker code in every forked worker
again (0.6 s of CPU each here). Loaded once in the daemon, a session's first Python job
costs 1.3 s less CPU on local[4]. The tests' servers use it (LocalSparkConnect
preload=True); benches keep pyspark's own daemon, as a cluster has.

This folder alone goes on the workers' PYTHONPATH: nothing else of the repository may
be importable there (the tool ships its package to executors itself).
"""

import pandas  # noqa: F401  (imports pyarrow)
import pyspark.worker  # noqa: F401
from pyspark.daemon import manager

if __name__ == "__main__":
    manager()
