"""Typed errors for everything that can go wrong talking to a workspace.

Callers branch on the class, never on message text.
"""

from __future__ import annotations


class InventoryError(Exception):
    """Base of the project's own errors."""


class ConfigError(InventoryError):
    """Settings are missing or contradictory (exit code 2)."""


class CheckpointBusy(ConfigError):
    """Another run holds the checkpoint's lock (exit code 2)."""


class JournalWriteError(InventoryError):
    """A checkpoint record could not be written whole (disk full, quota, I/O error)."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"cannot write the checkpoint {path}: {reason}")


class WorkspaceOutage(InventoryError):
    """The workspace as a whole stopped answering and did not come back in time."""


class ScanWorkerFailed(InventoryError):
    """A scan worker died on something unforeseen: the run stops, never waits for it."""


class NotAnAdmin(InventoryError):
    """The token reads SCIM as a non-admin does: users without their user names."""


class NotAWorkspace(InventoryError):
    """The host answers, but not the way a Databricks workspace does."""


class ForeignAnswer(NotAWorkspace):
    """A success status with a body that is not JSON: a sign-in or proxy web page stands
    between us and the API. Never an answer about a user: the run stops, --resume goes on."""


class ApiError(InventoryError):
    """A request the workspace answered with an error, or never answered."""

    def __init__(self, message: str, *, status: int | None = None,
                 error_code: str | None = None, path: str | None = None):
        self.status = status
        self.error_code = error_code
        self.message = message
        self.path = path
        super().__init__(self.describe())

    def describe(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(str(self.status))
        if self.error_code:
            parts.append(self.error_code)
        head = " ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        # Most messages already name the path; say it only when they do not.
        bare = (self.path or "").split(":", 1)[-1]
        return f"{text} ({self.path})" if self.path and bare not in text else text


class BadRequest(ApiError):
    """400: the server refused the request as malformed (odd paths do this)."""


class Unauthenticated(ApiError):
    """401: the token is wrong or expired."""


class OAuthFailed(Unauthenticated):
    """No OAuth access token could be had: client credentials refused, or no answer."""


class PermissionDenied(ApiError):
    """403: the token may not read this."""


class NotFound(ApiError):
    """404: the path or object does not exist."""


class Throttled(ApiError):
    """429 after every retry was spent."""


class ServerError(ApiError):
    """5xx after every retry was spent."""


class ListingTooLarge(ServerError):
    """A DBFS directory too large for dbfs/list: it failed the documented way, twice."""


class NetworkError(ApiError):
    """No HTTP answer: connection refused or reset, DNS, TLS, timeout."""


class WorkspaceUnreachable(NetworkError):
    """The workspace never answered at all: wrong host, no route, TLS mismatch."""


_BY_STATUS = {400: BadRequest, 401: Unauthenticated, 403: PermissionDenied,
              404: NotFound, 429: Throttled}


def error_for_status(status: int) -> type[ApiError]:
    """The exception class that stands for an HTTP status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, ApiError)


class SparkFailure(InventoryError):
    """Spark could not start the job or lost it; the caller may scan locally."""
