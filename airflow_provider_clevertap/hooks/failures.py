"""Failed requests: which are worth another attempt, how long to wait, and whether the request got out."""

from __future__ import annotations

import http
from typing import Any

import urllib3

RETRY_AFTER_CAP = 300.0  # a broken Retry-After must not park a worker for hours
# Error answers that may come after CleverTap stored the batch: an internal error, or a gateway that
# lost or timed out on the backend. A 429 or a 503 turns the request away before any processing.
MAY_HAVE_PROCESSED_STATUSES = frozenset({500, 502, 504})
_RETRY = urllib3.Retry()  # for its Retry-After parser only


class Retryable(Exception):
    """A response or transport failure worth another attempt (429, 5xx, network)."""

    def __init__(
        self, status: int | None, message: str, retry_after: float | None = None, *, may_have_arrived: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after
        # CleverTap may have processed the request: it went out and no answer came, or the answer is
        # an error that can follow processing (MAY_HAVE_PROCESSED_STATUSES).
        self.may_have_arrived = may_have_arrived


def never_connected(error: BaseException) -> bool:
    """Whether a connection error happened before any connection was made (nothing was sent)."""
    causes: list[Any] = [error]
    while causes:
        cause = causes.pop()
        if isinstance(cause, urllib3.exceptions.NewConnectionError):
            return True
        if isinstance(cause, BaseException):
            causes.extend(argument for argument in cause.args if isinstance(argument, BaseException))
            causes.append(getattr(cause, "reason", None))
    return False


def status_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "no reason given"


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (whole seconds or an HTTP date, as urllib3's
    ``Retry`` reads it; a date past is 0), or None when there is none or it cannot be read."""
    if not value:
        return None
    try:
        return float(_RETRY.parse_retry_after(value))
    except (urllib3.exceptions.InvalidHeader, ValueError, OverflowError):  # the last two: a date out of range
        return None
