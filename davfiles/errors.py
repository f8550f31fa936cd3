"""Domain errors of davfiles. They carry data, never an HTTP status.

Each front door (the WebDAV provider, every REST dialect) translates them in one place::

    DavfilesError
    ├── ConfigError          bad or missing configuration (start-up, CLI)
    ├── InvalidName          a name or path that davfiles refuses (NUL, "..", too long, ...)
    ├── NotFound             no such user, file, folder or id
    ├── AlreadyExists        the target exists and may not be replaced
    ├── Conflict             the operation cannot apply here (missing parent, file vs folder)
    ├── PermissionDenied     the caller may not do this
    │   └── TooLarge         a file over a limit other than the quota (a drop link's cap)
    ├── PreconditionFailed   a conditional request's condition is false
    ├── QuotaExceeded        the byte or file quota would be exceeded
    ├── ChecksumMismatch     the content does not match the checksum the client sent
    ├── IncompleteUpload     the body ended before the announced length
    ├── AuthFailed           wrong credentials (same error for unknown users and bad passwords)
    ├── StorageFull          the disk under the data dir has no space left
    ├── BodyTooSlow          the client sent the request body slower than the minimum rate
    ├── Gone                 a share link that exists but serves nothing now (``reason``)
    └── Busy                 a limit on work in progress: try again after ``retry_after`` s
        └── TooManyUploads   the user has as many uploads in progress as allowed
"""

from __future__ import annotations


class DavfilesError(Exception):
    """Base of every error davfiles raises on purpose."""


class ConfigError(DavfilesError):
    pass


class InvalidName(DavfilesError):
    pass


class NotFound(DavfilesError):
    pass


class AlreadyExists(DavfilesError):
    pass


class Conflict(DavfilesError):
    pass


class PermissionDenied(DavfilesError):
    pass


class PreconditionFailed(DavfilesError):
    pass


class ChecksumMismatch(DavfilesError):
    pass


class IncompleteUpload(DavfilesError):
    pass


class AuthFailed(DavfilesError):
    pass


class StorageFull(DavfilesError):
    pass


class BodyTooSlow(DavfilesError):
    """Raised by the connection's body reader: the client held a request thread too long."""

    def __init__(self, min_rate: int, window: float) -> None:
        super().__init__(
            f"the request body arrived slower than {min_rate} bytes/s "
            f"(averaged over {window:g} s); the upload was not stored"
        )
        self.min_rate = min_rate
        self.window = window


class TooLarge(PermissionDenied):
    """A file larger than ``limit`` bytes, a limit of the way in (not the owner's quota)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"files are limited to {limit} bytes here")
        self.limit = limit


class Gone(DavfilesError):
    """A share link that exists but serves nothing now; ``reason`` is "trashed", "expired",
    "exhausted" or "disabled"."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"this link is {reason}")
        self.reason = reason


class QuotaExceeded(DavfilesError):
    """``kind`` is "bytes" or "files"; the figures are what the refusal was based on."""

    def __init__(self, kind: str, used: int, limit: int, requested: int) -> None:
        super().__init__(
            f"{kind} quota exceeded: used {used}, limit {limit}, requested {requested}"
        )
        self.kind = kind
        self.used = used
        self.limit = limit
        self.requested = requested


class Busy(DavfilesError):
    """A limit on work in progress refused the request; it may succeed in ``retry_after`` s.

    Front doors answer 429 with ``Retry-After``: the request was fine, only too early.
    """

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyUploads(Busy):
    """The user already has ``limit`` uploads in progress (the ``max_uploads_per_user`` cap)."""

    def __init__(self, limit: int, retry_after: int) -> None:
        super().__init__(
            f"too many uploads in progress: at most {limit} at once per user; retry later",
            retry_after,
        )
        self.limit = limit
