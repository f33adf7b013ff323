"""The HTTP side of CleverTapHook: its one session, built from the connection, and each request
sent until it succeeds or fails for good, its answer read within bounds."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec
import requests
import tenacity
from airflow.providers.common.compat.sdk import mask_secret

from airflow_provider_clevertap import __version__
from airflow_provider_clevertap.exceptions import CleverTapAPIError, CleverTapAuthError, CleverTapCancelled
from airflow_provider_clevertap.hooks.connection_settings import read_settings
from airflow_provider_clevertap.hooks.failures import (
    MAY_HAVE_PROCESSED_STATUSES,
    RETRY_AFTER_CAP,
    Retryable,
    never_connected,
    retry_after,
    status_phrase,
)
from airflow_provider_clevertap.hooks.scrubbing import Scrubber
from airflow_provider_clevertap.hooks.session import (
    CancellableAdapter,
    HeaderAuthOnly,
    NoRedirectSession,
    settle_environment,
)
from airflow_provider_clevertap.responses import Unreadable, as_code

if TYPE_CHECKING:
    from airflow.providers.http.hooks.http import HttpHook
else:
    HttpHook = object

# The most of an answer read: its echoes of refused records are about the size of what was sent,
# so twice the request, plus room for CleverTap's messages. Beyond it the answer is not read.
ANSWER_FLOOR_BYTES = 1 << 20
_CHUNK_BYTES = 1 << 16

_json_decode = msgspec.json.Decoder().decode


class Transport(HttpHook):
    """The hook's session and requests; ``CleverTapHook.__init__`` sets the attributes below."""

    clevertap_conn_id: str
    timeout: tuple[float, float]
    max_attempts: int
    _exchange_seconds: float
    _scrub: Callable[[str], str]
    _backoff: Any  # a tenacity wait
    _session_lock: Any  # a threading.RLock
    _prepared_requests: dict[tuple[Any, ...], requests.PreparedRequest]
    _cancelled: threading.Event
    _cancellable_adapter: CancellableAdapter
    _session: requests.Session | None

    # -- connection and session ------------------------------------------------------------

    def get_conn(
        self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None
    ) -> requests.Session:
        """Return the hook's one session, built on first use and reused for every request."""
        with self._session_lock:
            if self._session is None:
                self._session = self._build_session()
            if headers:
                self._session.headers.update(headers)
                self._prepared_requests.clear()
            return self._session

    def _build_session(self) -> requests.Session:
        connection = self.get_connection(self.clevertap_conn_id)
        if connection.password:
            mask_secret(connection.password)
        settings = read_settings(connection, self.clevertap_conn_id)
        if settings.passcode != connection.password:
            mask_secret(settings.passcode)
        self._scrub = Scrubber((connection.password, settings.passcode))
        if settings.ignored_extras:
            # HttpHook would send unknown extras as HTTP headers; CleverTap gets none of them.
            self.log.warning("Connection %s: ignoring extra fields %s", self.clevertap_conn_id, settings.ignored_extras)
        self.base_url = settings.base_url
        self._base_url_initialized = True

        session = NoRedirectSession()
        session.auth = self._extract_auth(connection)
        session.verify = settings.verify
        session.proxies.update(settings.proxies)
        session.headers.update(
            {
                "X-CleverTap-Account-Id": settings.account_id,
                "X-CleverTap-Passcode": settings.passcode,
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": f"airflow-provider-clevertap/{__version__} {requests.utils.default_user_agent()}",
            }
        )
        settle_environment(session, self.base_url)
        return self._configure_session_from_mount_adapters(session)

    def _extract_auth(self, connection: Any) -> requests.auth.AuthBase:
        """CleverTap authenticates with headers only: never send HTTP Basic auth (nor netrc's)."""
        return HeaderAuthOnly()

    def close(self) -> None:
        """Close the session and its pooled connections."""
        with self._session_lock:
            session, self._session = self._session, None
            self._prepared_requests.clear()
        if session is not None:
            session.close()

    def cancel(self) -> None:
        """Stop promptly: no new requests, no more retries, in-flight connections closed."""
        self._cancelled.set()
        self.close()
        self._cancellable_adapter.abort()

    # -- one request, with retries -----------------------------------------------------------

    def _request(
        self,
        action: str,
        method: str,
        endpoint: str,
        *,
        body: bytes | None = None,
        params: dict[str, str] | None = None,
        attempts: int | None = None,
    ) -> tuple[Any, int, bool]:
        """Send one request until it succeeds or fails for good.

        Return the decoded answer (``Unreadable`` for a 2xx that could not be read), the attempts it
        took, and whether it was sent again after an attempt that may have reached CleverTap (which
        may then have processed it twice).
        """
        if self._cancelled.is_set():  # not even a new session once cancelled
            raise CleverTapCancelled(f"CleverTap {action} cancelled")
        session = self.get_conn()
        prepared = self._prepared(session, method, endpoint, params).copy()
        prepared.prepare_body(body, None)
        resent_after_arrival = False

        def before_retry(state: tenacity.RetryCallState) -> None:
            nonlocal resent_after_arrival
            error = state.outcome.exception() if state.outcome else None
            resent_after_arrival |= isinstance(error, Retryable) and error.may_have_arrived
            self._log_retry(action, state)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(attempts or self.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(Retryable),
            sleep=self._sleep,
            before_sleep=before_retry,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    answer = self._send_once(action, session, prepared)
        except Retryable as error:
            raise CleverTapAPIError(
                action, error.status, error.message, attempts=attempts or self.max_attempts
            ) from None
        return answer, attempt.retry_state.attempt_number, resent_after_arrival

    def _prepared(
        self, session: requests.Session, method: str, endpoint: str, params: dict[str, str] | None
    ) -> requests.PreparedRequest:
        """The request without its body, prepared once per session and copied for each batch:
        the session's headers, cookies and auth do not change while it lives.

        Speed shortcut for ``session.prepare_request``; what it buys: docs/benchmarks.md, "The speed shortcuts".
        """
        key = (method, endpoint, tuple(sorted((params or {}).items())))
        with self._session_lock:
            prepared = self._prepared_requests.get(key)
            if prepared is None:
                prepared = session.prepare_request(
                    requests.Request(method, self.url_from_endpoint(endpoint), params=params)
                )
                self._prepared_requests[key] = prepared
            return prepared

    def _send_once(self, action: str, session: requests.Session, prepared: requests.PreparedRequest) -> Any:
        if self._cancelled.is_set():
            raise CleverTapCancelled(f"CleverTap {action} cancelled")
        body_size = len(prepared.body) if isinstance(prepared.body, bytes) else 0
        limit = ANSWER_FLOOR_BYTES + 2 * body_size
        with self._cancellable_adapter.deadline(self._exchange_seconds) as deadline:
            try:
                # Never follow a redirect: it would carry the passcode header to another host
                # (requests strips only Authorization), and a 302 would turn the POST into a GET.
                # Sent by the session itself, not HttpHook.run_and_check: that logs "Tenacity will
                # retry" on every connection error, for requests we may not retry (a cancelled run).
                # The environment's proxy and CA settings are in the session already.
                response = session.send(prepared, timeout=self.timeout, allow_redirects=False, stream=True)
                with response:
                    content = _read_bounded(response, limit)
                if deadline.expired:  # a cut can also read as an answer ending early
                    raise requests.Timeout
            except (
                requests.Timeout,
                requests.ConnectionError,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as error:
                if deadline.expired:
                    raise Retryable(
                        None, f"timed out (no whole answer within {self._exchange_seconds:g} s)", may_have_arrived=True
                    ) from None
                if isinstance(error, requests.Timeout):
                    # A read timeout: the request was out. A connect timeout: it never left.
                    arrived = not isinstance(error, requests.ConnectTimeout)
                    raise Retryable(None, f"timed out ({type(error).__name__})", may_have_arrived=arrived) from None
                if self._cancelled.is_set():
                    raise CleverTapCancelled(f"CleverTap {action} cancelled") from None
                arrived = not never_connected(error)
                raise Retryable(None, f"connection failed ({type(error).__name__})", may_have_arrived=arrived) from None

        status = response.status_code
        body = _decode(content)
        # Only CleverTap's own error fields are kept (a body may echo profile data), scrubbed of
        # the connection's secrets (a proxy may echo the passcode).
        reason = self._scrub(response.reason or status_phrase(status))
        message = self._scrub(str(body.get("error") or reason)) if isinstance(body, dict) else reason
        code = as_code(body.get("code")) if isinstance(body, dict) else None
        if 200 <= status < 300:
            if content is None:
                return Unreadable(f"the answer (HTTP {status}) was larger than {limit} bytes, the most read")
            if body is None:
                return Unreadable(f"the answer (HTTP {status}) was not JSON")
            return body
        if status == 429 or status >= 500:
            raise Retryable(
                status,
                message,
                retry_after(response.headers.get("Retry-After")),
                may_have_arrived=status in MAY_HAVE_PROCESSED_STATUSES,
            )
        if status in (401, 403):
            raise CleverTapAuthError(action, status, message, code=code)
        raise CleverTapAPIError(action, status, message, code=code)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, Retryable) and error.retry_after is not None:
            return min(error.retry_after, RETRY_AFTER_CAP)
        return self._backoff(state)

    def _sleep(self, seconds: float) -> None:
        if self._cancelled.wait(seconds):
            raise CleverTapCancelled("CleverTap request cancelled while waiting to retry")

    def _log_retry(self, action: str, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        status = f"HTTP {error.status}" if isinstance(error, Retryable) and error.status else str(error)
        delay = state.next_action.sleep if state.next_action else 0.0
        self.log.warning(
            "CleverTap %s: %s; retrying in %.1f s (attempt %d of %d)",
            action,
            status,
            delay,
            state.attempt_number + 1,
            self.max_attempts,
        )


def _read_bounded(response: requests.Response, limit: int) -> bytes | None:
    """The answer's body, or None when it is longer than ``limit`` bytes (then not read further)."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(_CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(content: bytes | None) -> Any:
    try:
        return _json_decode(content) if content else None
    except msgspec.DecodeError:
        return None
