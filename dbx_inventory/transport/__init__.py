"""Talking to the workspace: the one HTTP client and what it stands on.

Credentials and settings, retries, pacing per API family, the in-flight limit, outage
detection, per-request deadlines, and the counters of what a run asked. Imports nothing
from the layers above it.
"""
