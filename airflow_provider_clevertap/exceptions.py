"""Errors raised by the CleverTap hook and the operators, and how a driver's error is quoted.

Messages carry the HTTP status and CleverTap's own code and message: never the passcode,
never a request or response payload (both can hold personal data).
"""

from __future__ import annotations

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

_MAX_SERVER_MESSAGE = 200


class CleverTapAPIError(AirflowException):
    """CleverTap answered a request with an error that retrying did not (or cannot) fix."""

    def __init__(
        self,
        action: str,
        status: int | None,
        message: str,
        *,
        code: int | None = None,
        attempts: int = 1,
        hint: str = "",
    ) -> None:
        self.action = action
        self.status = status
        self.code = code
        self.server_message = message[:_MAX_SERVER_MESSAGE]
        self.attempts = attempts
        where = f"HTTP {status}" if status is not None else "no response"
        # CleverTap often repeats the status as its code (401, code 401): say it once.
        detail = f"code {code}: " if code is not None and code != status else ""
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(f"CleverTap {action} failed{tries} ({where}): {detail}{self.server_message}{hint}")


class CleverTapAuthError(CleverTapAPIError):
    """HTTP 401/403: wrong Account ID, wrong Passcode, or the right ones sent to the wrong region."""

    def __init__(self, action: str, status: int, message: str, *, code: int | None = None) -> None:
        super().__init__(
            action,
            status,
            message,
            code=code,
            hint=" - check the connection's Account ID, Passcode and region "
            "(credentials sent to the wrong region are refused the same way)",
        )


class CleverTapCancelled(AirflowException):
    """The hook was cancelled (the task was killed) while requests were pending."""


class CleverTapConfigError(AirflowFailException, ValueError):
    """The task's settings do not fit its query (a missing column, say): no retry will help."""


def driver_error(error: BaseException) -> str:
    """A database driver's error as a configuration error quotes it: its type and the first line of
    its message (each driver words its own; the first line says which table, column or right)."""
    first_line = (str(error).strip().splitlines() or [""])[0][:_MAX_SERVER_MESSAGE]
    return f"{type(error).__name__}: {first_line}"
