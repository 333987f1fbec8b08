"""One error hierarchy for every AWS call, mapped once from botocore's ``ClientError`` / ``BotoCoreError``.

Callers outside ``services.aws`` catch these and never read botocore types or HTTP statuses. The error
reaches a caller only after botocore's own retries (``clients.py``) are spent, so a ``TransientError``
means "try again later", not "try again now".

- ``TransientError``: a timeout, a lost connection or a server error; ``Throttled`` (a subclass): AWS
  asked us to slow down (throttling, service unavailable, model not ready).
- ``QuotaExceeded``: an account quota is used up (wait for a slot, or ask for more).
- ``NotFound``, ``NameInUse``, ``AccessDenied``: what they say.
- ``Rejected``: AWS refused this request as invalid (its message names the field); another may pass.
- ``AwsError``: anything else. Each carries AWS's ``code`` and ``message``, the ``operation``, a
  ``hint`` saying what to do when the adapter knows one, and ``answered``: whether AWS answered at all
  (False for a connection, credentials or endpoint problem on our side, where ``code`` is botocore's).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    ConnectTimeoutError,
    HTTPClientError,
    ReadTimeoutError,
)

THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailableException",
        "ModelNotReadyException",
    }
)
TRANSIENT_CODES = frozenset(
    {"InternalServerException", "InternalFailure", "InternalError", "ModelTimeoutException", "RequestTimeout"}
)
QUOTA_CODES = frozenset({"ServiceQuotaExceededException", "LimitExceededException"})
NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "NoSuchKey", "NoSuchBucket", "NotFound", "404"})
ACCESS_DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "403"})
NAME_IN_USE_CODES = frozenset({"ResourceInUseException"})
REJECTED_CODES = frozenset({"ValidationException", "InvalidRequest", "InvalidArgument"})


class AwsError(Exception):
    """An AWS call failed; ``message`` is AWS's own text, ``hint`` what to do about it (or None)."""

    def __init__(
        self, code: str, message: str, operation: str, hint: str | None = None, *, answered: bool = True
    ) -> None:
        super().__init__(f"{operation}: {code}: {message}" + (f" ({hint})" if hint else ""))
        self.code = code
        self.message = message
        self.operation = operation
        self.hint = hint
        self.answered = answered


class TransientError(AwsError):
    """A timeout, a lost connection or a server error that outlasted botocore's retries: try later."""


class Throttled(TransientError):
    """AWS asked us to slow down, and botocore's retries did not get through: call less often."""


class QuotaExceeded(AwsError):
    """An account quota (e.g. concurrent customization jobs) is used up: wait for a slot."""


class NotFound(AwsError):
    """The resource (job, throughput, object, bucket) does not exist."""


class NameInUse(AwsError):
    """A resource with that name exists already (perhaps ours, made by a call whose answer was lost)."""


class AccessDenied(AwsError):
    """The service's AWS identity may not make this call."""


class Rejected(AwsError):
    """AWS refused this request as invalid; its message names what is wrong."""


def _kind(code: str, message: str, status: int) -> type[AwsError]:
    if code in THROTTLE_CODES or status == 429:
        return Throttled
    if code in QUOTA_CODES:
        return QuotaExceeded
    if code in NAME_IN_USE_CODES or "currently in use" in message:
        return NameInUse
    if code in NOT_FOUND_CODES:
        return NotFound
    if code in ACCESS_DENIED_CODES:
        return AccessDenied
    if code in TRANSIENT_CODES or status >= 500:
        return TransientError
    if code in REJECTED_CODES:
        return Rejected
    return AwsError


def translate(
    error: ClientError | BotoCoreError, operation: str, hints: Mapping[str, str] | None = None
) -> AwsError:
    """The ``AwsError`` for a botocore exception; ``hints`` maps AWS error codes to what to do."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code") or "Unknown")
        message = str(details.get("Message") or "") or str(error)
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return _kind(code, message, status)(code, message, operation, (hints or {}).get(code))
    code, message = type(error).__name__, str(error)
    transient = (ConnectionError, HTTPClientError, ReadTimeoutError, ConnectTimeoutError)
    kind = TransientError if isinstance(error, transient) else AwsError
    return kind(code, message, operation, (hints or {}).get(code), answered=False)


@contextmanager
def aws_errors(operation: str, hints: Mapping[str, str] | None = None) -> Iterator[None]:
    """Inside the block, botocore's exceptions become ``AwsError`` (the traceback's botocore part dropped)."""
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise translate(error, operation, hints) from None
