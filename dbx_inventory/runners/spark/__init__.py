"""Spark mode: the session, credentials for executors, the job queue and the task an
executor runs (the same Scanner local mode runs).
"""
