"""Ways to run a scan: on this machine, or on a Spark cluster (runners/spark).

A runner takes scan roots and yields rows; it stands on scan and transport.
"""
