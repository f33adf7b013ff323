"""Which failed attempts make a retried batch "maybe duplicated": CleverTap may have stored it."""

from __future__ import annotations

import socket

import pytest
import requests
import urllib3

IN1 = "https://in1.api.clevertap.com"
UPLOAD = f"{IN1}/1/upload"
SUCCESS = {"json": {"status": "success", "processed": 3, "unprocessed": []}}


def refused_connection() -> requests.exceptions.ConnectionError:
    """The error requests raises when nothing listens on the port: a real one, from a closed port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens there
    try:
        urllib3.PoolManager().request("POST", f"http://127.0.0.1:{port}/1/upload", retries=urllib3.Retry(0, read=False))
    except urllib3.exceptions.MaxRetryError as error:
        return requests.exceptions.ConnectionError(error)
    raise AssertionError("something listens on the closed port")


def events(count: int) -> list[dict]:
    return [{"type": "event", "identity": f"u{n}", "ts": 1, "evtName": "Charged", "evtData": {}} for n in range(count)]


@pytest.mark.parametrize(
    ("failure", "maybe_duplicated"),
    [
        pytest.param({"exc": requests.exceptions.ReadTimeout}, True, id="read-timeout"),
        pytest.param({"exc": requests.exceptions.ChunkedEncodingError}, True, id="dropped-mid-answer"),
        pytest.param({"exc": requests.exceptions.ConnectionError}, True, id="connection-aborted"),
        pytest.param({"status_code": 500}, True, id="500"),
        pytest.param({"status_code": 502}, True, id="502"),
        pytest.param({"status_code": 504}, True, id="504"),
        pytest.param({"exc": requests.exceptions.ConnectTimeout}, False, id="connect-timeout"),
        pytest.param({"exc": refused_connection()}, False, id="connection-refused"),
        pytest.param({"status_code": 429, "json": {"status": "fail", "error": "Too many"}}, False, id="429"),
        pytest.param({"status_code": 503}, False, id="503"),
    ],
)
def test_a_batch_retried_after_an_attempt_clevertap_may_have_processed_is_marked(
    failure, maybe_duplicated, in1_connection, make_hook, requests_mock
):
    requests_mock.post(UPLOAD, [failure, SUCCESS])

    [result] = make_hook(max_attempts=2).upload_records(events(3))

    assert result.attempts == 2 and result.accepted_count == 3
    assert result.maybe_duplicated is maybe_duplicated


def test_a_batch_answered_at_once_is_not_marked(in1_connection, make_hook, requests_mock):
    requests_mock.post(UPLOAD, [SUCCESS])

    [result] = make_hook().upload_records(events(3))

    assert result.attempts == 1 and result.maybe_duplicated is False


def test_only_the_batches_that_were_retried_ambiguously_are_marked(in1_connection, make_hook, requests_mock):
    def answer(request, context):
        identities = [record["identity"] for record in request.json()["d"]]
        return {"status": "success", "processed": len(identities), "unprocessed": []}

    first_batch_times_out = [{"exc": requests.exceptions.ReadTimeout}, {"json": answer}]
    requests_mock.post(UPLOAD, [*first_batch_times_out, {"json": answer}])

    results = list(make_hook(max_concurrency=1, max_attempts=2).upload_records(events(6), batch_size=3))

    assert sorted(result.maybe_duplicated for result in results) == [False, True]
