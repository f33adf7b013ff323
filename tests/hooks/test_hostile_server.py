"""CleverTapHook against a hostile server (tests/_hostile_server.py, real sockets): answers that confirm
nothing, a trickle, an endless body, a server echoing the passcode, redirects for HttpHook's own
methods. Every wait is bounded by HANG_GUARD, used only to catch a hang."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import requests_mock
from _hostile_server import HANG_GUARD, HostileServer, endless_json, json_answer, serving, trickle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_clevertap.exceptions import CleverTapAPIError, CleverTapConfigError
from airflow_provider_clevertap.hooks.clevertap import CleverTapHook

MB = 1 << 20


@pytest.fixture
def hostile(set_connection) -> Iterator[HostileServer]:
    """A hostile server as ``clevertap_default``."""
    with serving() as server:
        set_connection(host=server.url)
        yield server


def profiles(count: int) -> list[dict[str, Any]]:
    return [{"type": "profile", "identity": f"user-{n}", "profileData": {"Plan": "gold"}} for n in range(count)]


def finish(work: Callable[[], Any]) -> dict[str, Any]:
    """Run ``work`` in a thread; return its result or error, or fail the test if it hangs."""
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as error:  # noqa: BLE001 - the test inspects it
            outcome["error"] = error
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(HANG_GUARD), "the request is still waiting: nothing bounded it"
    return outcome


# -- a 200 that confirms nothing (issue 24, item 1) -------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        [],
        {"status": "partial"},
        {"status": "success", "processed": 2, "unprocessed": []},  # three sent
        b"<html>OK</html>",
    ],
)
def test_a_200_that_confirms_nothing_leaves_the_batch_unconfirmed(hostile, make_hook, body):
    hostile.answer = json_answer(200, body)

    [result] = make_hook().upload_records(profiles(3))

    assert (result.accepted_count, result.refused) == (0, [])
    assert result.unconfirmed and result.unconfirmed_count == 3


def test_the_other_batches_are_read_on_their_own(hostile, make_hook):
    good = json_answer(200, {"status": "success", "processed": 2, "unprocessed": []})
    hostile.answer = lambda writer, seen: (json_answer(200, {}) if len(hostile.requests) == 2 else good)(writer, seen)

    results = list(make_hook(max_concurrency=1).upload_records(profiles(6), batch_size=2))

    assert sorted((result.accepted_count, result.unconfirmed_count) for result in results) == [(0, 2), (2, 0), (2, 0)]


# -- a trickle (item 3) -------------------------------------------------------------------------------


@pytest.mark.parametrize("headers_too", [True, False], ids=["status-line-trickled", "body-trickled"])
def test_a_trickling_answer_times_out_at_the_exchange_deadline(hostile, make_hook, headers_too):
    # A byte every 50 ms never trips a 1.5 s read timeout; the answer would take over an hour.
    length = 100_000
    hostile.answer = trickle(length, 0.05, headers_too=headers_too)
    hook = make_hook(connect_timeout=0.5, read_timeout=1.5, max_attempts=2)

    outcome = finish(lambda: list(hook.upload_records(profiles(1))))

    error = outcome.get("error")
    assert isinstance(error, CleverTapAPIError), outcome
    assert "timed out" in str(error) and "after 2 attempts" in str(error)
    assert len(hostile.requests) == 2  # retried like a timeout, up to max_attempts
    assert hostile.bytes_sent < length


def test_a_retry_after_the_deadline_counts_its_batch_maybe_duplicated(hostile, make_hook):
    # The first attempt trickles past its deadline (it may have been stored); the second is answered.
    trickled = trickle(100_000, 0.05, headers_too=False)
    answered = json_answer(200, {"status": "success", "processed": 1, "unprocessed": []})
    hostile.answer = lambda writer, seen: (trickled if len(hostile.requests) == 1 else answered)(writer, seen)
    hook = make_hook(connect_timeout=0.5, read_timeout=1.5, max_attempts=2)

    outcome = finish(lambda: list(hook.upload_records(profiles(1))))

    [result] = outcome["result"]
    assert (result.accepted_count, result.attempts, result.maybe_duplicated) == (1, 2, True)


# -- an endless answer (item 7) ----------------------------------------------------------------------


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_answer_past_the_bound_is_not_read_and_leaves_its_batch_unconfirmed(hostile, make_hook, declared):
    # A valid success padded to 64 MB: read whole, it would be taken for a confirmation.
    hostile.answer = endless_json(64 * MB, declared=declared)

    outcome = finish(lambda: list(make_hook(max_attempts=1).upload_records(profiles(1))))

    [result] = outcome["result"]
    assert result.accepted_count == 0
    assert "larger than" in (result.unconfirmed or "") and result.unconfirmed_count == 1
    # The hook stopped reading near its bound (1 MB and change); socket buffers hold a few MB more.
    assert hostile.bytes_sent < 16 * MB


# -- text from the server, scrubbed (item 4) -----------------------------------------------------------


def test_a_400_echoing_the_passcode_is_raised_without_it(hostile, make_hook, passcode):
    hostile.answer = json_answer(
        400, {"status": "fail", "error": f"bad header X-CleverTap-Passcode: {passcode}", "code": passcode}
    )

    with pytest.raises(CleverTapAPIError) as raised:
        list(make_hook().upload_records(profiles(1)))

    assert passcode not in str(raised.value) and passcode not in repr(raised.value)
    assert "bad header X-CleverTap-Passcode: ***" in str(raised.value)


def test_a_reason_phrase_echoing_the_passcode_is_raised_without_it(hostile, make_hook, passcode):
    hostile.answer = json_answer(418, b"", reason=f"Teapot {passcode}")

    with pytest.raises(CleverTapAPIError) as raised:
        list(make_hook().upload_records(profiles(1)))

    assert passcode not in str(raised.value) and "Teapot ***" in str(raised.value)


def test_a_refusal_echoing_the_passcode_is_kept_without_it(hostile, make_hook, passcode):
    hostile.answer = json_answer(
        200,
        {
            "status": "fail",
            "processed": 0,
            "unprocessed": [{"code": 515, "error": f"{passcode} is no email. Skipped record number : 1"}],
        },
    )

    [result] = make_hook().upload_records(profiles(1))

    assert [(refusal.position, refusal.error) for refusal in result.refused] == [(0, "*** is no email")]


# -- HttpHook's own methods (item 10) ---------------------------------------------------------------------


@pytest.fixture
def redirected(hostile) -> Iterator[HostileServer]:
    """A second server, where the hostile one redirects every request; returns the second."""
    with serving() as elsewhere:
        elsewhere.answer = json_answer(200, {"status": "success"})

        def redirect(writer: Any, seen: Any) -> None:
            writer.send(
                b"HTTP/1.1 302 Found\r\nLocation: " + elsewhere.url.encode() + b"/\r\nContent-Length: 0\r\n\r\n"
            )

        hostile.answer = redirect
        yield elsewhere


@pytest.mark.parametrize(
    "call",
    [
        lambda hook: hook.run("/1/upload", data="{}"),
        lambda hook: hook.run_with_advanced_retry({"stop": __import__("tenacity").stop_after_attempt(1)}, "/1/upload"),
        lambda hook: hook.run_and_check(
            hook.get_conn(), requests.Request("GET", hook.url_from_endpoint("/")).prepare(), {}
        ),
        lambda hook: hook.check_response(requests.Response()),
    ],
    ids=["run", "run_with_advanced_retry", "run_and_check", "check_response"],
)
def test_httphooks_own_requests_are_refused(redirected, make_hook, call):
    hook = make_hook()

    with pytest.raises(CleverTapConfigError, match="is not available"):
        call(hook)

    assert redirected.requests == []  # nothing, and no passcode, went elsewhere


def test_the_hooks_session_follows_no_redirect_whoever_sends(redirected, hostile, make_hook, passcode):
    session = make_hook().get_conn()

    response = session.post(f"{hostile.url}/1/upload", data=b"{}")

    assert response.status_code == 302
    assert redirected.requests == []
    assert [seen.headers.get("X-CleverTap-Passcode") for seen in hostile.requests] == [passcode]


def test_the_hooks_session_sends_nothing_without_a_timeout(hostile, make_hook):
    # A server that never answers: the session's own send still gives up at the read timeout.
    hostile.answer = lambda writer, seen: writer.server.stop.wait(HANG_GUARD)
    session = make_hook(connect_timeout=0.5, read_timeout=0.5).get_conn()

    outcome = finish(lambda: session.post(f"{hostile.url}/1/upload", data=b"{}"))

    assert isinstance(outcome.get("error"), requests.Timeout), outcome


# -- any status, any body (property-based) ---------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    status=st.integers(200, 599),
    body=st.none()
    | st.binary(max_size=30)
    | st.recursive(
        st.none() | st.booleans() | st.integers(-2, 5) | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["status", "processed", "unprocessed", "error", "code"]), inner, max_size=4
            )
        ),
        max_leaves=8,
    ),
    size=st.integers(1, 4),
)
def test_any_status_and_body_is_an_outcome_or_an_error_never_an_unconfirmed_acceptance(
    clevertap_connection, status, body, size
):
    hook = CleverTapHook(max_attempts=1)
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    with requests_mock.Mocker() as mock:
        mock.post(f"{clevertap_connection}/1/upload", status_code=status, content=content)
        try:
            [result] = hook.upload_records(profiles(size))
        except CleverTapAPIError:
            assert not 200 <= status < 300  # an answer other than a 2xx fails the batch
            return
        finally:
            hook.close()
    assert 200 <= status < 300
    assert result.accepted_count + len(result.refused) + result.unconfirmed_count == size
    if result.accepted_count:
        assert isinstance(body, dict) and body.get("processed") == result.accepted_count
