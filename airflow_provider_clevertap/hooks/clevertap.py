"""CleverTapHook: auth, region endpoints, one pooled session, retries, throttling, batching."""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

import msgspec
import requests
import tenacity
from airflow.providers.common.compat.sdk import mask_secret
from airflow.providers.http.hooks.http import HttpHook
from more_itertools import chunked

from airflow_provider_clevertap import __version__
from airflow_provider_clevertap.exceptions import (
    CleverTapAPIError,
    CleverTapAuthError,
    CleverTapCancelled,
    CleverTapConfigError,
)
from airflow_provider_clevertap.hooks import connection_form
from airflow_provider_clevertap.hooks.batches import EncodedBatch, PackedIdentities, run_batches
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
from airflow_provider_clevertap.responses import BatchResult, Unreadable, as_code, read_answer

# CleverTap's documented limits.
MAX_UPLOAD_BATCH = 1000
MAX_DELETE_BATCH = 100
MAX_CONCURRENCY = 15  # concurrent requests per account; more answer 429

UPLOAD_ENDPOINT = "/1/upload"
DELETE_ENDPOINT = "/1/delete/profiles.json"
PROFILE_ENDPOINT = "/1/profile.json"

# The most of an answer read: its echoes of refused records are about the size of what was sent,
# so twice the request, plus room for CleverTap's messages. Beyond it the answer is not read.
ANSWER_FLOOR_BYTES = 1 << 20
_CHUNK_BYTES = 1 << 16

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode
_identity_field = operator.methodcaller("get", "identity")


class CleverTapHook(HttpHook):
    """
    Talk to CleverTap's server API through a ``clevertap`` connection.

    The connection holds the Account ID as its login, the Passcode as its password and the
    region (``eu1``, ``in1``, ``sg1``, ``us1``, ``aps3``, ``mec1``, ``sk1``) in its extra;
    a Host, when set, overrides the region (proxies, the local emulator). The extra may also
    set ``verify`` (TLS verification, on by default, or a CA bundle path) and ``proxies``.

    :param clevertap_conn_id: the Airflow connection to use.
    :param max_concurrency: requests in flight at once (at most 15, CleverTap's limit per account).
    :param max_attempts: attempts per request before a retryable failure (429, 5xx, network
        error, timeout) becomes an error.
    :param connect_timeout: seconds to wait for a connection.
    :param read_timeout: seconds to wait for an answer. ``connect_timeout + read_timeout`` is also
        the deadline of a request's whole exchange (connecting, sending, reading the whole
        answer): a request still going then is cut and counts as a timeout.
    :param backoff_base: first retry delay in seconds; it doubles per attempt, with jitter.
    :param backoff_max: the longest exponential delay between attempts (up to ``backoff_base``
        of random jitter is added on top), unless CleverTap asks for longer with ``Retry-After``.
    """

    conn_name_attr = "clevertap_conn_id"
    default_conn_name = "clevertap_default"
    conn_type = "clevertap"
    hook_name = "CleverTap"

    # Airflow 3.1 builds the connection form from these two; 3.2 and later from the provider info
    # (the same data), and do not call them.
    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The ``region`` field of the connection form (Airflow 3.1)."""
        return connection_form.connection_form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form's hidden fields, labels and placeholders (Airflow 3.1)."""
        return connection_form.ui_field_behaviour()

    def __init__(
        self,
        clevertap_conn_id: str = default_conn_name,
        *,
        max_concurrency: int = 10,
        max_attempts: int = 5,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        if not 1 <= max_concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"max_concurrency must be between 1 and {MAX_CONCURRENCY}, got {max_concurrency}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        # The pool holds one connection per concurrent request, so none is opened and dropped.
        adapter = CancellableAdapter(idle=120, count=20, interval=30, pool_connections=1, pool_maxsize=max_concurrency)
        super().__init__(method="POST", http_conn_id=clevertap_conn_id, adapter=adapter)
        self._cancellable_adapter = adapter
        self.clevertap_conn_id = clevertap_conn_id
        self.max_concurrency = max_concurrency
        self.max_attempts = max_attempts
        self.timeout = (connect_timeout, read_timeout)
        adapter.timeout = self.timeout  # also for requests sent through get_conn()'s session directly
        self._exchange_seconds = connect_timeout + read_timeout
        self._scrub: Callable[[str], str] = Scrubber(())
        # Jitter spreads the retries of concurrent workers that were throttled together.
        self._backoff = tenacity.wait_exponential(multiplier=backoff_base, max=backoff_max) + tenacity.wait_random(
            0, backoff_base
        )
        self._session: requests.Session | None = None
        self._prepared_requests: dict[tuple[Any, ...], requests.PreparedRequest] = {}
        # Re-entrant: on_kill (a signal handler on the main thread) may cancel while close() runs.
        self._session_lock = threading.RLock()
        self._cancelled = threading.Event()

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

    # -- HttpHook's requests, refused ----------------------------------------------------------

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Refused: HttpHook's requests follow redirects with the passcode, wait without a
        timeout and log the answer's text. Use the hook's own methods."""
        raise _refused("run")

    def run_and_check(self, *args: Any, **kwargs: Any) -> Any:
        """Refused, as ``run``."""
        raise _refused("run_and_check")

    def run_with_advanced_retry(self, *args: Any, **kwargs: Any) -> Any:
        """Refused, as ``run``."""
        raise _refused("run_with_advanced_retry")

    def check_response(self, response: requests.Response) -> None:
        """Refused, as ``run``: HttpHook's logs the answer's text, which may echo personal data."""
        raise _refused("check_response")

    # -- the API ----------------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Make one cheap authenticated read (a profile lookup) and report whether it worked."""
        try:
            body = self._request(
                "connection test", "GET", PROFILE_ENDPOINT, params={"identity": "airflow-connection-test"}, attempts=1
            )[0]
            if isinstance(body, Unreadable):  # a proxy's or portal's page proves nothing
                return False, f"CleverTap connection test failed: {body.reason}"
        except CleverTapAuthError as error:
            return False, str(error)
        except CleverTapAPIError as error:
            # 401/403 are the credential answers; any other 4xx (a 404 for the made-up test
            # identity, say) means they were accepted and only the lookup was refused. A 429
            # proves nothing either way.
            if error.status is not None and 400 <= error.status < 500 and error.status != 429:
                return True, self._accepted_message()
            return False, str(error)
        except Exception as error:  # the UI shows the reason instead of a stack trace
            return False, f"Could not reach CleverTap: {error}"
        finally:
            self.close()
        return True, self._accepted_message()

    def _accepted_message(self) -> str:
        return f"Connected to CleverTap at {self.base_url}: Account ID and Passcode accepted"

    def get_profile(self, identity: str) -> dict[str, Any] | None:
        """Return the stored profile of ``identity`` (CleverTap's ``record``), or None."""
        try:
            body = self._request("profile lookup", "GET", PROFILE_ENDPOINT, params={"identity": identity})[0]
        except CleverTapAPIError as error:
            if error.status == 404:
                return None
            raise
        if isinstance(body, Unreadable):
            raise CleverTapAPIError("profile lookup", None, body.reason)
        record = body.get("record") if isinstance(body, dict) else None
        return record if isinstance(record, dict) else None

    def upload_profiles(
        self,
        records: Iterable[dict[str, Any]],
        *,
        batch_size: int = MAX_UPLOAD_BATCH,
        dry_run: bool = False,
    ) -> Iterator[BatchResult]:
        """Upload records (profiles or events) in batches, several at once; yield each batch's outcome.

        Batches are yielded as they complete (not in input order). A batch retried after a
        transient failure is yielded once. On a failure that retries do not fix, batches
        already in flight are finished and yielded, then the error is raised.

        :param records: CleverTap records (``{"type": "profile", "identity": ...}``, or events).
        :param batch_size: records per request, at most 1000.
        :param dry_run: ask CleverTap to validate only (``?dryRun=1``); nothing is stored.
        """
        _check_batch_size(batch_size, MAX_UPLOAD_BATCH)
        batches = (
            EncodedBatch(PackedIdentities(_record_identities(batch)), _json_encode({"d": batch}))
            for batch in chunked(records, batch_size)
        )
        return self._upload_batches(batches, dry_run)

    def upload_encoded(
        self,
        records: Iterable[tuple[Any, bytes, Any]],
        *,
        batch_size: int = MAX_UPLOAD_BATCH,
        dry_run: bool = False,
    ) -> Iterator[BatchResult]:
        """Upload records already encoded as JSON, like ``upload_profiles``.

        :param records: ``(identity, JSON of the record, tag)``: the tag (any JSON value) comes
            back with the batch's outcome, in ``BatchResult.tags``, at the record's position.
        :param batch_size: records per request, at most 1000.
        :param dry_run: ask CleverTap to validate only (``?dryRun=1``); nothing is stored.
        """
        _check_batch_size(batch_size, MAX_UPLOAD_BATCH)
        batches = (
            EncodedBatch(
                PackedIdentities([record[0] for record in batch]),
                b'{"d":[' + b",".join([record[1] for record in batch]) + b"]}",
                PackedIdentities([record[2] for record in batch]),
            )
            for batch in chunked(records, batch_size)
        )
        return self._upload_batches(batches, dry_run)

    def delete_profiles(
        self,
        ids: Iterable[str],
        *,
        id_type: Literal["identity", "guid"] = "identity",
        batch_size: int = MAX_DELETE_BATCH,
    ) -> Iterator[BatchResult]:
        """Delete profiles by identity or by CleverTap guid, in batches; yield each outcome.

        :param ids: identities (or guids) to delete.
        :param id_type: ``identity`` or ``guid``; one request never mixes the two.
        :param batch_size: ids per request, at most 100.
        """
        if id_type not in ("identity", "guid"):
            raise ValueError(f"id_type must be 'identity' or 'guid', got {id_type!r}")
        _check_batch_size(batch_size, MAX_DELETE_BATCH)
        batches = (
            EncodedBatch(PackedIdentities(batch), _json_encode({id_type: batch})) for batch in chunked(ids, batch_size)
        )
        return self._send_batches("delete", DELETE_ENDPOINT, batches)

    def _upload_batches(self, batches: Iterator[EncodedBatch], dry_run: bool) -> Iterator[BatchResult]:
        params = {"dryRun": "1"} if dry_run else None
        return self._send_batches("upload", UPLOAD_ENDPOINT, batches, params, counted=not dry_run)

    def _send_batches(
        self,
        action: str,
        endpoint: str,
        batches: Iterator[EncodedBatch],
        params: dict[str, str] | None = None,
        *,
        counted: bool = False,
    ) -> Iterator[BatchResult]:
        """:param counted: answers must count the records processed (``read_answer``)."""

        def send(batch: EncodedBatch) -> BatchResult:
            answer, attempts, resent = self._request(action, "POST", endpoint, body=batch.body, params=params)
            refusals, unconfirmed = read_answer(answer, batch.identities, counted=counted, scrub=self._scrub)
            return BatchResult(
                batch.identities, refusals, attempts, batch.tags, maybe_duplicated=resent, unconfirmed=unconfirmed
            )

        self._cancelled.clear()
        self._cancellable_adapter.reopen()
        return run_batches(batches, send, concurrency=self.max_concurrency, on_interrupt=self.cancel)

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
        """The request without its body, prepared once per session and copied for each batch.

        Merging the session's headers, cookies and auth into every request took a quarter of a
        request's CPU; they do not change while the session lives.
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


def _refused(method: str) -> CleverTapConfigError:
    return CleverTapConfigError(
        f"CleverTapHook.{method} is not available: HttpHook's requests follow redirects carrying the "
        "passcode, have no timeout and log the answer. Use upload_profiles, upload_encoded, "
        "delete_profiles, get_profile or test_connection."
    )


def _record_identities(records: list[dict[str, Any]]) -> list[Any]:
    """Each record's identity, or its objectId when it has none."""
    identities = list(map(_identity_field, records))
    if None in identities:
        identities = [
            identity if identity is not None else record.get("objectId")
            for identity, record in zip(identities, records, strict=True)
        ]
    return identities


def _check_batch_size(batch_size: int, limit: int) -> None:
    if not 1 <= batch_size <= limit:
        raise ValueError(f"batch_size must be between 1 and {limit} (CleverTap's limit), got {batch_size}")


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
