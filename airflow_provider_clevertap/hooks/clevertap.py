"""CleverTapHook: the API's calls (uploads and deletes in batches, several at once), through a
``clevertap`` connection; its session and requests are ``transport.Transport``'s."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

import requests
import tenacity
from airflow.providers.http.hooks.http import HttpHook

from airflow_provider_clevertap.exceptions import CleverTapAPIError, CleverTapAuthError, CleverTapConfigError
from airflow_provider_clevertap.hooks import connection_form
from airflow_provider_clevertap.hooks.batches import EncodedBatch, run_batches
from airflow_provider_clevertap.hooks.bodies import (
    check_batch_size,
    delete_batches,
    encoded_record_batches,
    record_batches,
)
from airflow_provider_clevertap.hooks.scrubbing import Scrubber
from airflow_provider_clevertap.hooks.session import CancellableAdapter
from airflow_provider_clevertap.hooks.transport import Transport
from airflow_provider_clevertap.responses import BatchResult, Unreadable, read_answer

# CleverTap's documented limits.
MAX_UPLOAD_BATCH = 1000
MAX_DELETE_BATCH = 100
MAX_CONCURRENCY = 15  # concurrent requests per account; more answer 429

UPLOAD_ENDPOINT = "/1/upload"
DELETE_ENDPOINT = "/1/delete/profiles.json"
# The key of a delete request's ids, by identity_type: CleverTap calls its own id guid there.
DELETE_ID_KEYS = {"identity": "identity", "clevertap_id": "guid"}
PROFILE_ENDPOINT = "/1/profile.json"


class CleverTapHook(Transport, HttpHook):
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

    def upload_records(
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
        check_batch_size(batch_size, MAX_UPLOAD_BATCH)
        return self._upload_batches(record_batches(records, batch_size), dry_run)

    def upload_encoded(
        self,
        records: Iterable[tuple[Any, bytes, Any]],
        *,
        batch_size: int = MAX_UPLOAD_BATCH,
        dry_run: bool = False,
    ) -> Iterator[BatchResult]:
        """Upload records already encoded as JSON, like ``upload_records``.

        :param records: ``(identity, JSON of the record, tag)``: the tag (any JSON value) comes
            back with the batch's outcome, in ``BatchResult.tags``, at the record's position.
        :param batch_size: records per request, at most 1000.
        :param dry_run: ask CleverTap to validate only (``?dryRun=1``); nothing is stored.
        """
        check_batch_size(batch_size, MAX_UPLOAD_BATCH)
        return self._upload_batches(encoded_record_batches(records, batch_size), dry_run)

    def delete_profiles(
        self,
        ids: Iterable[str],
        *,
        identity_type: Literal["identity", "clevertap_id"] = "identity",
        batch_size: int = MAX_DELETE_BATCH,
    ) -> Iterator[BatchResult]:
        """Delete profiles by identity or by CleverTap's id (sent as ``guid``), in batches; yield each outcome.

        :param ids: identities (or CleverTap ids) to delete.
        :param identity_type: ``identity`` or ``clevertap_id``; one request never mixes the two.
        :param batch_size: ids per request, at most 100.
        """
        if identity_type not in DELETE_ID_KEYS:
            raise ValueError(f"identity_type must be 'identity' or 'clevertap_id', got {identity_type!r}")
        check_batch_size(batch_size, MAX_DELETE_BATCH)
        batches = delete_batches(ids, DELETE_ID_KEYS[identity_type], batch_size)
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


def _refused(method: str) -> CleverTapConfigError:
    return CleverTapConfigError(
        f"CleverTapHook.{method} is not available: HttpHook's requests follow redirects carrying the "
        "passcode, have no timeout and log the answer. Use upload_records, upload_encoded, "
        "delete_profiles, get_profile or test_connection."
    )
