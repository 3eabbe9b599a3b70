"""Spark mode: the session, credentials for executors, the units, budget and queue of
jobs, and the task an executor runs (the same Scanner local mode runs).
"""
