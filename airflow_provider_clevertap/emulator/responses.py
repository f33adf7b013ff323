"""The bodies the emulator answers with, each shape in one place.

Shapes marked unconfirmed are this emulator's guess at CleverTap's: change them here.
"""

from __future__ import annotations

from typing import Any

import msgspec

encode = msgspec.json.Encoder().encode

ACCOUNT_INVALID = "Account ID is not valid"
PASSCODE_INVALID = "Passcode is not valid"
TOO_MANY_CONCURRENT = "Too many concurrent requests"

_REASONS = {
    400: "Bad request",
    401: ACCOUNT_INVALID,
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    429: TOO_MANY_CONCURRENT,
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


def fail(code: int, error: str | None = None) -> bytes:
    """CleverTap's error shape: ``{"status": "fail", "error": ..., "code": ...}``."""
    return encode({"status": "fail", "error": error or _REASONS.get(code, "Error"), "code": code})


def upload(processed: int, unprocessed: list[dict[str, Any]]) -> bytes:
    """The answer to an upload, dry runs included (the dry-run shape is unconfirmed)."""
    if not unprocessed:
        status = "success"
    elif processed == 0:
        status = "fail"
    else:
        status = "partial"
    return encode({"status": status, "processed": processed, "unprocessed": unprocessed})


def deleted(processed: int) -> bytes:
    """The answer to a delete (unconfirmed: CleverTap documents only ``status: success``).

    ``processed`` counts every id in the request, known or not: CleverTap deletes
    asynchronously, so it cannot tell either.
    """
    return encode({"status": "success", "processed": processed})


def profile(record: dict[str, Any]) -> bytes:
    """The answer to a profile read: the profile under ``record`` (its fields unconfirmed)."""
    return encode({"status": "success", "record": record})


PROFILE_NOT_FOUND = fail(404, "Profile not found")
"""The answer (HTTP 404) to reading an unknown profile (unconfirmed)."""
