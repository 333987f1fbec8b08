"""Domain errors: what a use case says when it refuses, with no HTTP in it.

A ``DomainError`` carries a ``kind`` (what sort of refusal), a stable ``code`` a client can branch on, a
``message`` that says what to do instead, and the ``field`` at fault when one is. ``services.api.errors``
maps the kinds to HTTP statuses in one place; the CLI and the bot show the message.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    INVALID = "invalid"  # the request itself is wrong: fix a field
    NOT_FOUND = "not_found"  # it names something that does not exist
    CONFLICT = "conflict"  # the thing exists but is not in a state that allows this now
    FORBIDDEN = "forbidden"  # allowed to someone else (an admin), not to this caller
    TOO_LARGE = "too_large"  # over a configured size limit
    UNAVAILABLE = "unavailable"  # the service cannot do it yet (configuration missing, starting up)


class DomainError(Exception):
    """A refusal the caller can act on; ``message`` says what to do."""

    kind: ErrorKind = ErrorKind.INVALID

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class Invalid(DomainError):
    kind = ErrorKind.INVALID


class NotFound(DomainError):
    kind = ErrorKind.NOT_FOUND


class Conflict(DomainError):
    kind = ErrorKind.CONFLICT


class Forbidden(DomainError):
    kind = ErrorKind.FORBIDDEN


class TooLarge(DomainError):
    kind = ErrorKind.TOO_LARGE


class Unavailable(DomainError):
    kind = ErrorKind.UNAVAILABLE
