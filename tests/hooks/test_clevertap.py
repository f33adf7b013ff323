"""CleverTapHook: connection and regions, headers, one pooled session, batching, concurrency,
per-record outcomes, retries, cancellation, connection test, and secrets kept out of logs."""

from __future__ import annotations

import email.utils
import json
import logging
import os
import subprocess
import sys
import threading
import time
import traceback
import uuid
from datetime import datetime, timedelta, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from _airflow_compat import connections_test_exit_code_reports_failure, record_masked_secrets, redact

from airflow_provider_clevertap.exceptions import (
    CleverTapAPIError,
    CleverTapAuthError,
    CleverTapCancelled,
    CleverTapConfigError,
)
from airflow_provider_clevertap.hooks.clevertap import CleverTapHook
from airflow_provider_clevertap.regions import REGION_HOSTS  # checked against CleverTap's docs in test_regions.py

IN1 = "https://in1.api.clevertap.com"
UPLOAD = f"{IN1}/1/upload"
DELETE = f"{IN1}/1/delete/profiles.json"
PROFILE = f"{IN1}/1/profile.json"


def profiles(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"type": "profile", "identity": f"user-{i}", "profileData": {"Email": f"user{i}@example.com"}}
        for i in range(start, start + count)
    ]


def upload_success(request, context) -> dict[str, Any]:
    """requests-mock callback: every record of the batch accepted."""
    return {"status": "success", "processed": len(request.json()["d"]), "unprocessed": []}


def query(request) -> dict[str, list[str]]:
    # requests-mock's .qs lower-cases; read the URL as sent.
    return parse_qs(urlsplit(request.url).query)


# -- connection: regions and host ------------------------------------------------------------------


@pytest.mark.parametrize(("region", "base_url"), REGION_HOSTS.items())
def test_each_region_is_sent_to_its_https_host(region, base_url, set_connection, make_hook, requests_mock):
    set_connection(extra={"region": region})
    requests_mock.post(f"{base_url}/1/upload", json=upload_success)

    [result] = make_hook().upload_records(profiles(2))

    assert result.accepted_count == 2
    assert [r.url for r in requests_mock.request_history] == [f"{base_url}/1/upload"]


@pytest.mark.parametrize("extra", [None, {}, {"region": ""}])
def test_no_region_means_eu1(extra, set_connection, make_hook, requests_mock):
    set_connection(extra=extra)
    requests_mock.post("https://api.clevertap.com/1/upload", json=upload_success)

    list(make_hook().upload_records(profiles(1)))

    assert requests_mock.last_request.url == "https://api.clevertap.com/1/upload"


def test_unknown_region_is_a_clear_error_naming_the_valid_ones(set_connection, make_hook, requests_mock):
    set_connection(extra={"region": "eu2"})

    with pytest.raises(ValueError, match="eu2") as info:
        list(make_hook().upload_records(profiles(1)))

    for region in REGION_HOSTS:
        assert region in str(info.value)
    assert requests_mock.call_count == 0


def test_host_overrides_the_region(set_connection, make_hook, requests_mock):
    set_connection(host="http://127.0.0.1:8765", extra={"region": "in1"})
    requests_mock.post("http://127.0.0.1:8765/1/upload", json=upload_success)
    requests_mock.get("http://127.0.0.1:8765/1/profile.json", json={"status": "success", "record": {"Name": "A"}})

    hook = make_hook()
    list(hook.upload_records(profiles(1)))
    assert hook.get_profile("user-0") == {"Name": "A"}

    assert [r.netloc for r in requests_mock.request_history] == ["127.0.0.1:8765"] * 2


def test_host_override_also_wins_over_an_unknown_region(set_connection, make_hook, requests_mock):
    set_connection(host="http://127.0.0.1:8765/", extra={"region": "nowhere"})
    requests_mock.post("http://127.0.0.1:8765/1/upload", json=upload_success)

    list(make_hook().upload_records(profiles(1)))

    assert requests_mock.last_request.url == "http://127.0.0.1:8765/1/upload"


@pytest.mark.parametrize(
    ("host", "url"),
    [("http://127.0.0.1:8765", "http://127.0.0.1:8765/1/upload"), (None, "https://in1.api.clevertap.com/1/upload")],
)
def test_a_port_of_0_adds_nothing_to_the_url(host, url, set_connection, make_hook, requests_mock):
    # What the form stores on Airflow 3.3.1-3.3.2, where the Test button needs a stored port of 0.
    set_connection(host=host, port=0, extra={"region": "in1"})
    requests_mock.post(url, json=upload_success)

    list(make_hook().upload_records(profiles(1)))

    assert requests_mock.last_request.url == url


def test_the_hook_hands_no_extra_value_to_the_secrets_masker(set_connection, monkeypatch):
    """A value handed to mask_secret under 5 characters (every region code) logs "Skipping masking
    for a secret as it's too short". Airflow's own connection lookup hands it the extra once
    (``Connection.get_uri()`` calls ``extra_dejson``; see the README); the hook adds no other."""
    from airflow.providers.common.compat.sdk import BaseHook

    from airflow_provider_clevertap.hooks.connection_settings import read_settings

    set_connection(extra={"region": "in1", "verify": True})
    connection = BaseHook.get_connection("clevertap_default")
    masked = record_masked_secrets(monkeypatch)

    settings = read_settings(connection, "clevertap_default")

    assert settings.base_url == IN1
    assert masked == []


def test_airflows_connection_lookup_hands_the_extra_to_the_secrets_masker(set_connection, monkeypatch):
    """Where the task logs' "Skipping masking for a secret as it's too short" comes from (the README
    says so): Airflow's lookup itself, ``Connection.get_uri()`` calling ``extra_dejson``. When this
    fails, Airflow no longer does it: the README's note can go."""
    from airflow.providers.common.compat.sdk import BaseHook

    set_connection("clevertap_lookup", extra={"region": "in1"})
    masked = record_masked_secrets(monkeypatch)

    BaseHook.get_connection("clevertap_lookup")

    assert {"region": "in1"} in masked


@pytest.mark.parametrize(("min_length", "warns"), [(None, True), ("3", False)])
def test_airflows_min_length_setting_is_what_stops_the_short_secret_warning(min_length, warns, tmp_path):
    """The README's remedy, in a fresh interpreter as a task starts: with ``[logging]
    min_length_masked_secret = 3`` Airflow's lookup no longer warns about the region code, the
    region still reads as it is (``region`` is not a secret's name) and the Passcode stays masked."""
    script = (
        "from airflow.providers.common.compat.sdk import BaseHook\n"
        "from airflow_provider_clevertap.hooks.connection_settings import read_settings\n"
        "from _airflow_compat import redact\n"
        "connection = BaseHook.get_connection('clevertap_masking')\n"
        "print('base_url', read_settings(connection, 'clevertap_masking').base_url)\n"
        "print('redacted', redact('passcode: secret-passcode-1'))\n"
    )
    connection = {"conn_type": "clevertap", "login": "A", "password": "secret-passcode-1", "extra": {"region": "in1"}}
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AIRFLOW_CONN_") and key != "AIRFLOW__LOGGING__MIN_LENGTH_MASKED_SECRET"
    }
    env |= {"AIRFLOW_CONN_CLEVERTAP_MASKING": json.dumps(connection), "PYTHONPATH": str(Path(__file__).parents[1])}
    if min_length:
        env["AIRFLOW__LOGGING__MIN_LENGTH_MASKED_SECRET"] = min_length

    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )

    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    assert ("Skipping masking for a secret as it's too short" in output) is warns, output
    assert f"base_url {IN1}" in proc.stdout
    assert "redacted passcode: ***" in proc.stdout


@pytest.mark.parametrize("extra", ["{not json", "[1, 2]"])
def test_an_extra_that_is_not_a_json_object_is_a_clear_error(extra):
    """Not silently {}: the credentials would go to the default region.

    The connection is built as a task receives it (the Task SDK's, its extra unchecked: a row stored
    before Airflow validated extras, or a custom secrets backend's): Airflow's own
    environment-variable lookup refuses such an extra on 3.1 before any hook sees it.
    """
    from airflow.sdk import Connection

    from airflow_provider_clevertap.hooks.connection_settings import read_settings

    connection = Connection(
        conn_id="clevertap_default", conn_type="clevertap", login="A", password="secret-pc", extra=extra
    )
    with pytest.raises(CleverTapConfigError, match="'clevertap_default': the extra is not a JSON object|not JSON"):
        read_settings(connection, "clevertap_default")


@pytest.mark.parametrize("missing", ["login", "password"])
def test_connection_without_account_id_or_passcode_is_refused(missing, set_connection, make_hook, requests_mock):
    set_connection(extra={"region": "in1"}, **{missing: None})

    with pytest.raises(ValueError, match="Account ID"):
        list(make_hook().upload_records(profiles(1)))
    assert requests_mock.call_count == 0


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [
        ({"max_concurrency": 16}, "max_concurrency"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_limits_are_checked_when_the_hook_is_built(kwargs, bad):
    with pytest.raises(ValueError, match=bad):
        CleverTapHook(**kwargs)


def test_the_hook_builds_from_the_connection_id_alone(in1_connection):
    # The UI's "Test" button and `airflow connections test` build HookClass(<conn_name_attr>=conn_id).
    hook = CleverTapHook(**{CleverTapHook.conn_name_attr: "clevertap_default"})
    assert hook.clevertap_conn_id == "clevertap_default"
    assert CleverTapHook.default_conn_name == "clevertap_default"
    assert CleverTapHook.conn_type == "clevertap"


# -- headers --------------------------------------------------------------------------------------


def test_requests_carry_the_clevertap_headers_and_no_basic_auth(
    in1_connection, make_hook, requests_mock, account_id, passcode
):
    requests_mock.post(UPLOAD, json=upload_success)
    requests_mock.post(DELETE, json={"status": "success"})
    requests_mock.get(PROFILE, json={"status": "success", "record": {}})
    records = profiles(3)

    hook = make_hook()
    list(hook.upload_records(records))
    list(hook.delete_profiles(["user-1"]))
    hook.get_profile("user-1")

    assert requests_mock.call_count == 3
    for request in requests_mock.request_history:
        headers = request.headers
        assert headers["X-CleverTap-Account-Id"] == account_id
        assert headers["X-CleverTap-Passcode"] == passcode
        assert headers["Content-Type"] == "application/json; charset=utf-8"
        # The installed distribution's version, read independently of the package's __version__.
        assert headers["User-Agent"].startswith(f"airflow-provider-clevertap/{version('airflow-provider-clevertap')}")
        assert "Authorization" not in headers
    assert requests_mock.request_history[0].json() == {"d": records}


def test_extras_never_become_headers(set_connection, make_hook, requests_mock):
    # HttpHook would turn every unknown extra key into an HTTP header.
    set_connection(extra={"region": "in1", "team": "growth", "X-Debug": "1", "Authorization": "Bearer nope"})
    requests_mock.post(UPLOAD, json=upload_success)

    list(make_hook().upload_records(profiles(1)))

    sent = {name.lower(): value for name, value in requests_mock.last_request.headers.items()}
    assert not {"region", "team", "x-debug", "authorization"} & set(sent)
    assert "in1" not in sent.values() and "growth" not in sent.values()


def test_no_authorization_header_even_with_a_netrc_entry(
    in1_connection, make_hook, requests_mock, tmp_path, monkeypatch
):
    # requests adds Basic auth from ~/.netrc for a matching host unless the session has its own auth.
    netrc = tmp_path / "netrc"
    netrc.write_text("machine in1.api.clevertap.com login someone password netrc-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    requests_mock.post(UPLOAD, json=upload_success)
    requests_mock.get(PROFILE, json={"status": "success", "record": {}})

    hook = make_hook()
    list(hook.upload_records(profiles(1)))
    hook.get_profile("user-0")

    assert requests_mock.call_count == 2
    for request in requests_mock.request_history:
        assert "Authorization" not in request.headers


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed_so_the_passcode_stays_with_clevertap(
    status, in1_connection, make_hook, requests_mock
):
    # Following it would send X-CleverTap-Passcode to another host (requests strips only
    # Authorization), and a 302 turns the POST into a GET whose answer looked like a success.
    requests_mock.post(UPLOAD, status_code=status, headers={"Location": "https://elsewhere.example/collect"})
    requests_mock.get(
        "https://elsewhere.example/collect", json={"status": "success", "processed": 2, "unprocessed": []}
    )
    requests_mock.post("https://elsewhere.example/collect", json=upload_success)

    with pytest.raises(CleverTapAPIError) as info:
        list(make_hook().upload_records(profiles(2)))

    assert info.value.status == status
    assert [r.hostname for r in requests_mock.request_history] == ["in1.api.clevertap.com"]


# -- one session, one pool ------------------------------------------------------------------------


def test_one_session_and_one_connection_read_for_all_batches(in1_connection, make_hook, requests_mock, monkeypatch):
    requests_mock.post(UPLOAD, json=upload_success)
    requests_mock.post(DELETE, json={"status": "success"})
    hook = make_hook(max_concurrency=4)

    sessions: list[requests.Session] = []
    session = hook.get_conn()
    send = session.send

    def spy_send(prepared, **kwargs):
        sessions.append(session)
        return send(prepared, **kwargs)

    reads: list[str] = []
    get_connection = hook.get_connection

    def spy_get_connection(conn_id):
        reads.append(conn_id)
        return get_connection(conn_id)

    monkeypatch.setattr(session, "send", spy_send)
    monkeypatch.setattr(hook, "get_connection", spy_get_connection)

    results = list(hook.upload_records(profiles(50), batch_size=5))
    list(hook.delete_profiles([f"user-{i}" for i in range(250)]))

    assert len(results) == 10
    assert len(sessions) == 13
    assert all(session is sessions[0] for session in sessions)
    assert reads == []  # read once, by get_conn above
    # The session's pool for the API host holds one connection per concurrent request.
    adapter = sessions[0].adapters["https://"]
    assert adapter.poolmanager.connection_pool_kw["maxsize"] == 4


@pytest.mark.parametrize("concurrency", [4, 15])
def test_sockets_are_pooled_and_reused_across_batches_and_runs(
    concurrency, set_connection, make_hook, local_server, caplog
):
    """Against a real HTTP/1.1 server: every batch rides one of at most max_concurrency sockets.

    Each run sends exactly max_concurrency batches at once, so all sockets come back to the pool
    together: a pool smaller than the concurrency would drop some and open new ones next run.
    """
    caplog.set_level(logging.DEBUG, logger="urllib3")
    set_connection(host=local_server.url)
    local_server.gather = concurrency  # all of a run's batches in flight together
    hook = make_hook(max_concurrency=concurrency)

    for _ in range(3):
        results = list(hook.upload_records(profiles(concurrency), batch_size=1))
        assert len(results) == concurrency

    assert len(local_server.requests) == 3 * concurrency
    assert len({seen.client for seen in local_server.requests}) <= concurrency
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]


def test_the_proxy_of_the_environment_carries_every_request(set_connection, make_hook, local_server, monkeypatch):
    # The environment is read once per session; every batch still goes through the proxy.
    monkeypatch.setenv("HTTP_PROXY", local_server.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    set_connection(host="http://clevertap.invalid")

    results = list(make_hook(max_concurrency=2).upload_records(profiles(6), batch_size=2))

    assert sum(result.accepted_count for result in results) == 6
    # A proxy is asked for the absolute URL.
    assert [seen.path for seen in local_server.requests] == ["http://clevertap.invalid/1/upload"] * 3


def test_no_proxy_of_the_environment_is_honoured(set_connection, make_hook, local_server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    set_connection(host=local_server.url)

    [result] = make_hook(max_attempts=1).upload_records(profiles(2))

    assert result.accepted_count == 2
    assert [seen.path for seen in local_server.requests] == ["/1/upload"]


# -- upload batching and concurrency --------------------------------------------------------------


def test_upload_sends_batches_of_at_most_1000_each_record_once(in1_connection, make_hook, requests_mock):
    requests_mock.post(UPLOAD, json=upload_success)
    records = profiles(2500)

    results = list(make_hook().upload_records(records))

    bodies = [request.json() for request in requests_mock.request_history]
    assert sorted(len(body["d"]) for body in bodies) == [500, 1000, 1000]
    sent = [record["identity"] for body in bodies for record in body["d"]]
    assert sorted(sent) == sorted(record["identity"] for record in records)
    assert sum(len(result.identities) for result in results) == 2500
    assert sum(result.accepted_count for result in results) == 2500
    assert all(query(request) == {} for request in requests_mock.request_history)
    assert all(request.method == "POST" for request in requests_mock.request_history)


def test_upload_batch_size_is_configurable(in1_connection, make_hook, requests_mock):
    requests_mock.post(UPLOAD, json=upload_success)

    results = list(make_hook().upload_records(profiles(23), batch_size=7))

    assert sorted(len(r.json()["d"]) for r in requests_mock.request_history) == [2, 7, 7, 7]
    assert sorted(len(result.identities) for result in results) == [2, 7, 7, 7]


@pytest.mark.parametrize("batch_size", [0, 1001, 5000])
def test_upload_batch_size_is_capped_at_1000(batch_size, in1_connection, make_hook, requests_mock):
    with pytest.raises(ValueError, match="1000"):
        list(make_hook().upload_records(profiles(3), batch_size=batch_size))
    assert requests_mock.call_count == 0


def test_dry_run_adds_dryrun_1(in1_connection, make_hook, requests_mock):
    requests_mock.post(UPLOAD, json=upload_success)

    list(make_hook().upload_records(profiles(5), dry_run=True))

    assert query(requests_mock.last_request) == {"dryRun": ["1"]}
    assert requests_mock.last_request.path == "/1/upload"


def test_requests_prepared_once_each_carry_their_own_body_and_query(in1_connection, make_hook, requests_mock):
    # The request is prepared once per session and copied for each batch: nothing may leak
    # from one batch, or one call, into the next.
    requests_mock.post(UPLOAD, json=upload_success)
    hook = make_hook(max_concurrency=1)  # one at a time: the history is in the order sent

    list(hook.upload_records(profiles(3), batch_size=2, dry_run=True))
    list(hook.upload_records(profiles(1, start=3)))
    hook.get_conn(headers={"X-Request-Source": "backfill"})
    list(hook.upload_records(profiles(1, start=4)))

    sent = requests_mock.request_history
    assert [[record["identity"] for record in request.json()["d"]] for request in sent] == [
        ["user-0", "user-1"],
        ["user-2"],
        ["user-3"],
        ["user-4"],
    ]
    assert [int(request.headers["Content-Length"]) for request in sent] == [len(request.body) for request in sent]
    assert [query(request) for request in sent] == [{"dryRun": ["1"]}] * 2 + [{}] * 2
    assert [request.headers.get("X-Request-Source") for request in sent] == [None, None, None, "backfill"]


def test_empty_input_sends_nothing(in1_connection, make_hook, requests_mock):
    assert list(make_hook().upload_records([])) == []
    assert list(make_hook().delete_profiles([])) == []
    assert requests_mock.call_count == 0


@pytest.mark.parametrize(("kwargs", "cap"), [({"max_concurrency": 3}, 3), ({}, 10), ({"max_concurrency": 15}, 15)])
def test_requests_in_flight_never_exceed_max_concurrency(kwargs, cap, set_connection, make_hook, local_server):
    # Counted by a real threaded server: requests-mock's Mocker serialises every send behind
    # one global lock, so through it no two requests are ever in flight at once.
    set_connection(host=local_server.url)
    lock = threading.Lock()
    in_flight = peak = 0

    def counted_success(seen):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        together.wait(120)  # answered once `cap` are in flight: a request beyond them would count first
        with lock:
            in_flight -= 1
        return 200, {"status": "success", "processed": 1, "unprocessed": []}

    together = threading.Barrier(cap)
    local_server.respond = counted_success

    results = list(make_hook(**kwargs).upload_records(profiles(cap * 3), batch_size=1))

    assert len(results) == cap * 3 == len(local_server.requests)
    # Equal, not just at most: the requests really ran side by side, up to the cap.
    assert peak == cap


# -- per-record outcomes --------------------------------------------------------------------------


def test_refusals_are_mapped_by_position_not_by_the_normalised_echo(in1_connection, make_hook, requests_mock):
    batch = [
        {"type": "profile", "identity": "13", "profileData": {"Phone": "+35922333232"}},
        {"type": "profile", "identity": 13, "profileData": {"Phone": "+35922333232", "Email": "not-an-email"}},
        {"type": "profile", "identity": "14", "profileData": {"Phone": "+35922333232"}},
        {"type": "profile", "identity": "15", "profileData": {"Phone": "+3592x"}},
    ]
    # CleverTap echoes identity 13 as "13" and the phone without "+": matching the echo would
    # blame record 1 (identity "13", same phone) instead of record 2.
    requests_mock.post(
        UPLOAD,
        json={
            "status": "partial",
            "processed": 2,
            "unprocessed": [
                {
                    "status": "fail",
                    "code": 515,
                    "error": "Profile data is incorrect. Email is not valid.Skipped record number : 2",
                    "record": {
                        "identity": "13",
                        "type": "profile",
                        "profileData": {"Phone": "35922333232", "Email": "not-an-email"},
                    },
                },
                {
                    "status": "fail",
                    "code": 516,
                    "error": "Phone number is not valid. Skipped record number : 4",
                    "record": {"identity": "15", "type": "profile", "profileData": {"Phone": "3592x"}},
                },
            ],
        },
    )

    [result] = make_hook().upload_records(batch)

    refused = {refusal.position: refusal for refusal in result.refused}
    assert set(refused) == {1, 3}
    assert list(result.identities) == [record["identity"] for record in batch]
    assert refused[1].code == 515 and "Email is not valid" in refused[1].error
    assert refused[3].code == 516 and "Phone number is not valid" in refused[3].error
    assert result.accepted_count == 2


def test_a_batch_mixing_identity_and_object_id_reports_each_records_own_id(in1_connection, make_hook, requests_mock):
    batch = [
        {"type": "profile", "identity": "u1", "profileData": {}},
        {"type": "profile", "objectId": "__g2", "profileData": {}},
        {"type": "profile", "identity": "u3", "profileData": {}},
    ]
    requests_mock.post(
        UPLOAD,
        json={"status": "partial", "processed": 1, "unprocessed": [
            {"code": 526, "error": "objectId invalid. Skipped record number : 2"},
            {"code": 555, "error": "Server error", "record": {"identity": "u3"}},
        ]},
    )  # fmt: skip

    [result] = make_hook().upload_records(batch)

    assert list(result.identities) == ["u1", "__g2", "u3"]
    assert {refusal.position: refusal.code for refusal in result.refused} == {1: 526, 2: 555}
    assert requests_mock.last_request.json() == {"d": batch}


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_short_answer_leaves_its_whole_batch_unconfirmed(in1_connection, make_hook, requests_mock, dry_run):
    # Three sent, one counted processed and one listed: the answer does not say what became of
    # the third, so it confirms none of them.
    requests_mock.post(
        UPLOAD,
        json={
            "status": "partial",
            "processed": 1,
            "unprocessed": [{"code": 515, "error": "Email. Skipped record number : 3"}],
        },
    )

    [result] = make_hook().upload_records(profiles(3), dry_run=dry_run)

    assert (result.accepted_count, result.refused, result.unconfirmed_count) == (0, [], 3)
    assert "counts 1 records processed and lists 1 unprocessed of the 3 sent" in (result.unconfirmed or "")


def test_positions_are_relative_to_each_batch(in1_connection, make_hook, requests_mock):
    def refuse_first_of_second_batch(request, context):
        records = request.json()["d"]
        if records[0]["identity"] != "user-2":
            return upload_success(request, context)
        return {
            "status": "partial",
            "processed": 1,
            "unprocessed": [
                {"status": "fail", "code": 523, "error": "Identity missing. Skipped record number : 1", "record": {}}
            ],
        }

    requests_mock.post(UPLOAD, json=refuse_first_of_second_batch)

    results = list(make_hook().upload_records(profiles(6), batch_size=2))

    refused = [(result.identities[r.position], r.code) for result in results for r in result.refused]
    assert refused == [("user-2", 523)]
    assert sum(result.accepted_count for result in results) == 5


def test_without_a_position_the_echoed_identity_places_the_refusal(in1_connection, make_hook, requests_mock):
    batch = [
        {"type": "profile", "identity": 12},
        {"type": "profile", "identity": 13},
        {"type": "profile", "identity": 14},
    ]
    requests_mock.post(
        UPLOAD,
        json={
            "status": "partial",
            "processed": 2,
            "unprocessed": [{"status": "fail", "code": 555, "error": "Try later", "record": {"identity": "13"}}],
        },
    )

    [result] = make_hook().upload_records(batch)

    assert [(r.position, r.code, r.error) for r in result.refused] == [(1, 555, "Try later")]


def test_a_failed_batch_with_no_list_refuses_every_record(in1_connection, make_hook, requests_mock):
    requests_mock.post(UPLOAD, json={"status": "fail", "error": "Invalid payload", "code": 400})

    [result] = make_hook().upload_records(profiles(4))

    assert sorted(r.position for r in result.refused) == [0, 1, 2, 3]
    assert {(r.code, r.error) for r in result.refused} == {(400, "Invalid payload")}
    assert result.accepted_count == 0


def test_every_record_gets_exactly_one_outcome(in1_connection, make_hook, requests_mock):
    def refuse_every_third(request, context):
        records = request.json()["d"]
        unprocessed = [
            {"status": "fail", "code": 515, "error": f"Email is not valid.Skipped record number : {n}", "record": {}}
            for n, record in enumerate(records, start=1)
            if int(record["identity"].split("-")[1]) % 3 == 0
        ]
        return {
            "status": "partial" if unprocessed else "success",
            "processed": len(records) - len(unprocessed),
            "unprocessed": unprocessed,
        }

    requests_mock.post(UPLOAD, json=refuse_every_third)

    results = list(make_hook(max_concurrency=5).upload_records(profiles(95), batch_size=10))

    refused = sorted(int(result.identities[r.position].split("-")[1]) for result in results for r in result.refused)
    assert refused == list(range(0, 95, 3))
    assert sum(result.accepted_count for result in results) == 95 - len(refused)


# -- delete -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("identity_type", "key"), [("identity", "identity"), ("clevertap_id", "guid")])
def test_delete_sends_batches_of_at_most_100_under_one_key(
    identity_type, key, in1_connection, make_hook, requests_mock
):
    requests_mock.post(DELETE, json={"status": "success"})
    ids = [f"id-{i}" for i in range(250)]

    results = list(make_hook().delete_profiles(ids, identity_type=identity_type))

    bodies = [request.json() for request in requests_mock.request_history]
    assert all(list(body) == [key] for body in bodies)
    assert sorted(len(body[key]) for body in bodies) == [50, 100, 100]
    assert sorted(i for body in bodies for i in body[key]) == sorted(ids)
    assert sum(result.accepted_count for result in results) == 250


def test_delete_refuses_bad_arguments(in1_connection, make_hook, requests_mock):
    hook = make_hook()
    with pytest.raises(ValueError, match="100"):
        list(hook.delete_profiles(["a"], batch_size=101))
    with pytest.raises(ValueError, match="identity_type"):
        list(hook.delete_profiles(["a"], identity_type="guid"))  # type: ignore[arg-type]
    assert requests_mock.call_count == 0


def test_a_failed_delete_refuses_every_id(in1_connection, make_hook, requests_mock):
    requests_mock.post(DELETE, json={"status": "fail", "error": "Nothing deleted"})

    [result] = make_hook().delete_profiles(["a", "b"])

    assert [(r.position, r.error) for r in result.refused] == [(0, "Nothing deleted"), (1, "Nothing deleted")]


# -- retries ----------------------------------------------------------------------------------------

TRANSIENT = [
    pytest.param({"status_code": 429, "json": {"status": "fail", "error": "Too many concurrent requests"}}, id="429"),
    pytest.param({"status_code": 500, "text": "oops"}, id="500"),
    pytest.param({"status_code": 502, "text": "<html>bad gateway</html>"}, id="502"),
    pytest.param({"status_code": 503}, id="503"),
    pytest.param({"status_code": 504}, id="504"),
    pytest.param({"exc": requests.exceptions.ConnectionError}, id="connection-error"),
    pytest.param({"exc": requests.exceptions.ConnectTimeout}, id="connect-timeout"),
    pytest.param({"exc": requests.exceptions.ReadTimeout}, id="read-timeout"),
    pytest.param({"exc": requests.exceptions.ChunkedEncodingError}, id="connection-broken-mid-answer"),
]


@pytest.mark.parametrize("failure", TRANSIENT)
def test_transient_failures_are_retried(failure, in1_connection, make_hook, requests_mock):
    requests_mock.post(UPLOAD, [failure, failure, {"json": upload_success}])

    results = list(make_hook(max_attempts=3).upload_records(profiles(5)))

    assert requests_mock.call_count == 3
    assert len(results) == 1
    assert results[0].attempts == 3 and results[0].accepted_count == 5
    # The retried request is the same request.
    assert len({request.body for request in requests_mock.request_history}) == 1


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, CleverTapAPIError),
        (401, CleverTapAuthError),
        (403, CleverTapAuthError),
        (404, CleverTapAPIError),
        (409, CleverTapAPIError),
    ],
)
def test_client_errors_are_never_retried(status, error_type, in1_connection, make_hook, requests_mock):
    requests_mock.post(UPLOAD, status_code=status, json={"status": "fail", "error": "Not like this", "code": status})
    requests_mock.post(DELETE, status_code=status, json={"status": "fail", "error": "Not like this", "code": status})
    hook = make_hook(max_attempts=5)

    with pytest.raises(error_type) as info:
        list(hook.upload_records(profiles(2)))
    assert requests_mock.call_count == 1
    assert info.value.status == status
    assert f"HTTP {status}" in str(info.value) and "Not like this" in str(info.value)

    with pytest.raises(error_type):
        list(hook.delete_profiles(["a"]))
    assert requests_mock.call_count == 2


def test_a_401_says_account_id_passcode_or_region(in1_connection, make_hook, requests_mock):
    requests_mock.post(
        UPLOAD, status_code=401, json={"status": "fail", "error": "Account ID is not valid", "code": 401}
    )

    with pytest.raises(CleverTapAuthError) as info:
        list(make_hook().upload_records(profiles(1)))

    message = str(info.value)
    assert "Account ID" in message and "Passcode" in message and "region" in message


def test_every_request_has_connect_and_read_timeouts(in1_connection, make_hook, requests_mock):
    requests_mock.post(UPLOAD, json=upload_success)
    requests_mock.post(DELETE, json={"status": "success"})
    requests_mock.get(PROFILE, json={"status": "success", "record": {}})

    hook = make_hook(connect_timeout=3.5, read_timeout=42)
    list(hook.upload_records(profiles(3), batch_size=1))
    list(hook.delete_profiles(["a"]))
    hook.get_profile("a")
    hook.test_connection()

    assert requests_mock.call_count == 6
    assert {request.timeout for request in requests_mock.request_history} == {(3.5, 42)}


def test_default_timeouts_are_set(in1_connection, requests_mock):
    requests_mock.post(UPLOAD, json=upload_success)
    hook = CleverTapHook()
    list(hook.upload_records(profiles(1)))
    hook.close()

    connect, read = requests_mock.last_request.timeout
    assert 0 < connect <= 60 and 0 < read <= 300


def test_when_retries_run_out_the_error_names_status_and_message_but_no_secrets(
    in1_connection, make_hook, requests_mock, passcode
):
    requests_mock.post(
        UPLOAD,
        status_code=503,
        json={
            "status": "fail",
            "error": "Service temporarily unavailable",
            "record": {"profileData": {"Email": "jane.doe@example.com"}},
        },
    )
    records = [{"type": "profile", "identity": "jane", "profileData": {"Email": "jane.doe@example.com"}}]

    with pytest.raises(CleverTapAPIError) as info:
        list(make_hook(max_attempts=4).upload_records(records))

    assert requests_mock.call_count == 4
    error = info.value
    assert error.status == 503
    assert "503" in str(error) and "Service temporarily unavailable" in str(error)
    shown = str(error) + repr(error) + "".join(traceback.format_exception(error))
    assert passcode not in shown
    assert "jane.doe@example.com" not in shown


def test_an_error_without_a_body_names_the_status(in1_connection, make_hook, requests_mock):
    requests_mock.post(UPLOAD, status_code=503)  # no body, no reason phrase

    with pytest.raises(CleverTapAPIError) as info:
        list(make_hook(max_attempts=2).upload_records(profiles(1)))

    assert "HTTP 503" in str(info.value) and "Service Unavailable" in str(info.value)
    assert "None" not in str(info.value)


def test_when_the_network_stays_down_the_error_says_so(in1_connection, make_hook, requests_mock):
    requests_mock.post(UPLOAD, exc=requests.exceptions.ConnectionError("Failed to establish a new connection"))

    with pytest.raises(CleverTapAPIError) as info:
        list(make_hook(max_attempts=3).upload_records(profiles(1)))

    assert requests_mock.call_count == 3
    assert info.value.status is None
    assert "connection" in str(info.value).lower()


def test_a_retried_batch_is_yielded_once(in1_connection, make_hook, requests_mock):
    seen: set[str] = set()
    lock = threading.Lock()

    def throttle_first_attempt(request, context):
        first = request.json()["d"][0]["identity"]
        with lock:
            retry = first not in seen
            seen.add(first)
        if retry:
            context.status_code = 429
            return {"status": "fail", "error": "Too many concurrent requests"}
        return upload_success(request, context)

    requests_mock.post(UPLOAD, json=throttle_first_attempt)

    results = list(make_hook(max_concurrency=4).upload_records(profiles(30), batch_size=3))

    assert requests_mock.call_count == 20
    assert len(results) == 10
    assert all(result.attempts == 2 for result in results)
    identities = sorted(identity for result in results for identity in result.identities)
    assert identities == sorted(record["identity"] for record in profiles(30))


def test_a_failing_batch_stops_the_run_after_the_others_are_reported(in1_connection, make_hook, requests_mock):
    def refuse_one_batch(request, context):
        if request.json()["d"][0]["identity"] == "user-4":
            context.status_code = 400
            return {"status": "fail", "error": "Bad request", "code": 400}
        return upload_success(request, context)

    requests_mock.post(UPLOAD, json=refuse_one_batch)
    reported: list[Any] = []

    with pytest.raises(CleverTapAPIError) as info:
        for result in make_hook(max_concurrency=1).upload_records(profiles(20), batch_size=2):
            reported.append(result)

    assert info.value.status == 400
    # The batches before the failure are reported (as they complete: in any order); then the
    # run stops. With one worker nothing was in flight beside the failed batch, so nothing
    # more goes out, not even the batch already queued for the worker.
    assert {result.identities[0] for result in reported} == {"user-0", "user-2"}
    assert requests_mock.call_count == 3


def _record_sleeps(hook, monkeypatch) -> list[float]:
    sleeps: list[float] = []
    monkeypatch.setattr(hook, "_sleep", sleeps.append)
    return sleeps


def test_backoff_is_exponential_with_jitter(in1_connection, make_hook, requests_mock, monkeypatch):
    requests_mock.post(UPLOAD, status_code=503)
    runs = []
    for _ in range(2):
        hook = make_hook(max_attempts=5, backoff_base=0.5, backoff_max=100)
        sleeps = _record_sleeps(hook, monkeypatch)
        with pytest.raises(CleverTapAPIError):
            list(hook.upload_records(profiles(1)))
        runs.append(sleeps)

    for sleeps in runs:
        assert len(sleeps) == 4
        for n, wait in enumerate(sleeps):
            # 0.5, 1, 2, 4 seconds, each plus up to one base of random jitter.
            assert 0.5 * 2**n <= wait <= 0.5 * 2**n + 0.5
    assert runs[0] != runs[1]  # jitter: two throttled workers do not retry in lock-step


def test_backoff_is_bounded_by_backoff_max(in1_connection, make_hook, requests_mock, monkeypatch):
    requests_mock.post(UPLOAD, status_code=500)
    hook = make_hook(max_attempts=8, backoff_base=0.1, backoff_max=0.4)
    sleeps = _record_sleeps(hook, monkeypatch)

    with pytest.raises(CleverTapAPIError):
        list(hook.upload_records(profiles(1)))

    assert len(sleeps) == 7
    # Doubling from 0.1 s stops at backoff_max (0.4 s); the jitter (up to backoff_base) comes on top.
    assert all(0.4 <= wait <= 0.5 for wait in sleeps[2:])
    assert max(sleeps) <= 0.5


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_is_honoured(status, in1_connection, make_hook, requests_mock, monkeypatch):
    requests_mock.post(UPLOAD, [{"status_code": status, "headers": {"Retry-After": "7"}}, {"json": upload_success}])
    hook = make_hook(backoff_base=0.001, backoff_max=0.01)
    sleeps = _record_sleeps(hook, monkeypatch)

    [result] = hook.upload_records(profiles(1))

    assert sleeps == [7]
    assert result.attempts == 2


def test_retry_after_as_an_http_date_is_honoured(in1_connection, make_hook, requests_mock, monkeypatch):
    when = email.utils.format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    requests_mock.post(UPLOAD, [{"status_code": 429, "headers": {"Retry-After": when}}, {"json": upload_success}])
    hook = make_hook(backoff_base=0.001, backoff_max=0.01)
    sleeps = _record_sleeps(hook, monkeypatch)

    list(hook.upload_records(profiles(1)))

    # An HTTP date has whole seconds: between 29 and 30 s from now, less the test's own time.
    assert len(sleeps) == 1
    assert 27 <= sleeps[0] <= 30


def test_a_retry_after_in_the_past_or_unreadable_falls_back(in1_connection, make_hook, requests_mock, monkeypatch):
    past = email.utils.format_datetime(datetime.now(timezone.utc) - timedelta(minutes=5), usegmt=True)
    requests_mock.post(
        UPLOAD,
        [
            {"status_code": 429, "headers": {"Retry-After": past}},
            {"status_code": 429, "headers": {"Retry-After": "soon"}},
            {"json": upload_success},
        ],
    )
    hook = make_hook(backoff_base=0.001, backoff_max=0.01)
    sleeps = _record_sleeps(hook, monkeypatch)

    list(hook.upload_records(profiles(1)))

    assert len(sleeps) == 2
    assert all(0 <= wait < 0.05 for wait in sleeps)


# -- cancel -----------------------------------------------------------------------------------------


JOIN = 120.0  # seconds: a bound on a hang, far below the waits a cancel must cut short


def _run_in_thread(fn) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def target():
        try:
            outcome["value"] = fn()
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def test_cancel_cuts_a_retry_wait_short(in1_connection, make_hook, requests_mock):
    first_request = threading.Event()

    def throttled(request, context):
        first_request.set()
        context.status_code = 429
        context.headers["Retry-After"] = "300"
        return {"status": "fail", "error": "Too many concurrent requests"}

    requests_mock.post(UPLOAD, json=throttled)
    hook = make_hook()
    thread, outcome = _run_in_thread(lambda: list(hook.upload_records(profiles(1))))
    assert first_request.wait(JOIN)

    hook.cancel()
    thread.join(JOIN)

    assert not thread.is_alive()  # not the 300 s CleverTap asked for
    assert isinstance(outcome.get("error"), CleverTapCancelled)
    assert requests_mock.call_count == 1


def test_cancel_sends_no_further_batch(in1_connection, make_hook, requests_mock):
    hook = make_hook(max_concurrency=2)

    def cancel_on_first(request, context):
        if requests_mock.call_count == 1:
            hook.cancel()
        return upload_success(request, context)

    requests_mock.post(UPLOAD, json=cancel_on_first)

    with pytest.raises(CleverTapCancelled):
        list(hook.upload_records(profiles(40), batch_size=1))

    # At most the two requests already in flight when cancel() was called.
    assert requests_mock.call_count <= 2


def test_cancel_aborts_a_request_in_flight(set_connection, make_hook, local_server):
    """A real socket waiting on a slow answer: cancel() must not wait for it (or the read timeout)."""
    set_connection(host=local_server.url)
    local_server.release = threading.Event()  # the server never answers
    hook = make_hook(max_concurrency=2, read_timeout=3600)
    thread, outcome = _run_in_thread(lambda: list(hook.upload_records(profiles(10), batch_size=1)))
    deadline = time.monotonic() + JOIN
    while len(local_server.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(local_server.requests) == 2

    hook.cancel()
    thread.join(JOIN)

    assert not thread.is_alive()  # only cutting the sockets ends a request no answer and no timeout ends
    assert isinstance(outcome.get("error"), CleverTapCancelled)
    assert len(local_server.requests) == 2


def test_a_cancel_while_a_worker_connects_sends_nothing(set_connection, make_hook, local_server, monkeypatch):
    """The kill arrives after the worker's last look at the cancel flag, while its socket is being
    opened: the connection is cut before the request's first byte, so nothing is sent after a kill."""
    import urllib3.util.connection

    set_connection(host=local_server.url)
    hook = make_hook(max_concurrency=1)
    real_create_connection = urllib3.util.connection.create_connection

    def cancel_then_connect(*args, **kwargs):
        hook.cancel()
        return real_create_connection(*args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", cancel_then_connect)

    with pytest.raises(CleverTapCancelled):
        list(hook.upload_records(profiles(1)))
    assert local_server.requests == []


def test_the_hook_sends_again_after_a_cancelled_run(set_connection, make_hook, local_server):
    """A cancel refuses new connections until the hook's next run, which opens them again."""
    set_connection(host=local_server.url)
    hook = make_hook()
    hook.cancel()

    results = list(hook.upload_records(profiles(3), batch_size=1))

    assert sum(result.accepted_count for result in results) == 3
    assert len(local_server.requests) == 3


def test_the_hook_works_again_after_a_cancelled_run(in1_connection, make_hook, requests_mock):
    requests_mock.post(UPLOAD, json=upload_success)
    hook = make_hook()
    hook.cancel()

    results = list(hook.upload_records(profiles(3)))

    assert sum(result.accepted_count for result in results) == 3


# -- test_connection --------------------------------------------------------------------------------


def test_test_connection_succeeds_with_one_authenticated_read(in1_connection, requests_mock, passcode):
    requests_mock.get(PROFILE, json={"status": "success", "record": {"Name": "x"}})

    ok, message = CleverTapHook(clevertap_conn_id="clevertap_default").test_connection()

    assert ok is True and isinstance(message, str) and message
    assert requests_mock.call_count == 1
    request = requests_mock.last_request
    assert request.method == "GET" and request.path == "/1/profile.json"
    assert request.headers["X-CleverTap-Passcode"] == passcode


@pytest.mark.parametrize("status", [401, 403])
def test_test_connection_reports_bad_credentials_or_region(status, in1_connection, requests_mock):
    requests_mock.get(
        PROFILE, status_code=status, json={"status": "fail", "error": "Account ID is not valid", "code": 401}
    )

    ok, message = CleverTapHook().test_connection()

    assert ok is False
    assert "Account ID" in message and "Passcode" in message and "region" in message
    # The status once: CleverTap repeats it as its code.
    assert message.count(str(status)) == 1 and f"HTTP {status}" in message
    assert requests_mock.call_count == 1


@pytest.mark.parametrize(
    "failure",
    [
        {"status_code": 429},  # throttled before the credentials were looked at: proves nothing
        {"status_code": 500},
        {"status_code": 503},
        {"exc": requests.exceptions.ConnectionError},
        {"exc": requests.exceptions.ReadTimeout},
    ],
)
def test_test_connection_reports_other_failures_without_raising(failure, in1_connection, requests_mock):
    requests_mock.get(PROFILE, **failure)

    ok, message = CleverTapHook(backoff_base=0.001).test_connection()

    assert ok is False and message
    assert requests_mock.call_count == 1  # one cheap read: the UI button must answer quickly


def test_test_connection_fails_on_a_200_that_is_not_json(in1_connection, requests_mock):
    requests_mock.get(PROFILE, status_code=200, text="<html>Sign in to the proxy</html>")

    ok, message = CleverTapHook().test_connection()

    # A proxy's or portal's page proves nothing about the credentials.
    assert ok is False and "not JSON" in message and "<html>" not in message


def test_test_connection_accepts_credentials_when_only_the_lookup_is_refused(in1_connection, requests_mock):
    requests_mock.get(PROFILE, status_code=404, json={"status": "fail", "error": "Profile not found", "code": 404})

    ok, message = CleverTapHook().test_connection()

    # A user reads "404" as a failure: the message says what the test proved, in words.
    assert ok is True and "404" not in message
    assert message == "Connected to CleverTap at https://in1.api.clevertap.com: Account ID and Passcode accepted"


def test_get_profile_reads_a_stored_profile_and_none_for_an_unknown_one(set_connection, account_id, passcode):
    from airflow_provider_clevertap.emulator import CleverTapEmulator

    with CleverTapEmulator(account_id=account_id, passcode=passcode) as emulator:
        set_connection(host=emulator.url)
        hook = CleverTapHook(max_attempts=1)
        record = {"type": "profile", "identity": "u-1", "profileData": {"Plan": "gold"}}
        assert [result.refused for result in hook.upload_records([record])] == [[]]

        assert hook.get_profile("u-1")["profileData"] == {"Plan": "gold"}
        assert hook.get_profile("nobody") is None


def test_test_connection_reports_an_unknown_region(set_connection, requests_mock):
    set_connection(extra={"region": "mars1"})

    ok, message = CleverTapHook().test_connection()

    assert ok is False
    assert "mars1" in message and all(region in message for region in REGION_HOSTS)
    assert requests_mock.call_count == 0


AIRFLOW_CLI = Path(sys.executable).with_name("airflow")


@pytest.mark.parametrize(("status", "succeeds"), [(200, True), (401, False)])
def test_airflow_connections_test_cli(status, succeeds, local_server, passcode, account_id, monkeypatch):
    """`airflow connections test` in a subprocess, against a real local HTTP server."""
    answer = (
        {"status": "success", "record": {}}
        if status == 200
        else {"status": "fail", "error": "Account ID is not valid", "code": 401}
    )
    local_server.respond = lambda seen: (status, answer)
    monkeypatch.setenv("AIRFLOW__CORE__TEST_CONNECTION", "Enabled")
    monkeypatch.setenv(
        "AIRFLOW_CONN_CLEVERTAP_DEFAULT",
        json.dumps({"conn_type": "clevertap", "login": account_id, "password": passcode, "host": local_server.url}),
    )

    proc = subprocess.run(
        [str(AIRFLOW_CLI), "connections", "test", "clevertap_default"], capture_output=True, text=True, timeout=60
    )

    output = proc.stdout + proc.stderr
    if succeeds or connections_test_exit_code_reports_failure():
        assert (proc.returncode == 0) is succeeds, output
    assert ("Connection success!" in output) is succeeds
    if not succeeds:
        assert "Connection failed!" in output
        assert "Passcode" in output and "region" in output
    assert passcode not in output
    [seen] = local_server.requests
    assert seen.method == "GET" and seen.path.startswith("/1/profile.json")
    assert seen.headers["X-CleverTap-Passcode"] == passcode
    assert "Authorization" not in seen.headers


# -- secrets ----------------------------------------------------------------------------------------


def test_the_passcode_never_reaches_a_log_record_or_an_error(
    set_connection, make_hook, requests_mock, local_server, task_logs, capfd, passcode
):
    caplog = task_logs
    errors: list[BaseException] = []
    outcomes: list[Any] = []

    def attempt(fn):
        try:
            outcomes.append(fn())
        except Exception as error:  # collected and inspected below
            errors.append(error)

    # Through requests-mock: success, partial refusals, every retry and failure path.
    set_connection(extra={"region": "in1", "team": "growth"})
    requests_mock.post(
        UPLOAD,
        [
            {"json": upload_success},
            {
                "json": {
                    "status": "partial",
                    "processed": 0,
                    "unprocessed": [
                        {"code": 515, "error": "Email is not valid.Skipped record number : 1", "record": {}}
                    ],
                }
            },
            {"status_code": 429, "headers": {"Retry-After": "0"}},
            {"status_code": 503},
            {"exc": requests.exceptions.ConnectionError("connection refused")},
            {"exc": requests.exceptions.ReadTimeout("read timed out")},
            {"json": {"status": "fail", "error": "Invalid", "code": 400}},
            {"status_code": 400, "json": {"status": "fail", "error": "Bad request", "code": 400}},
            {"status_code": 401, "json": {"status": "fail", "error": "Account ID is not valid", "code": 401}},
            {"status_code": 403, "text": "forbidden"},
            {"status_code": 500},
            {"status_code": 500},
            {"status_code": 302, "headers": {"Location": "https://elsewhere.example/"}},
            {"status_code": 200, "text": "not json"},
        ],
    )
    requests_mock.post(DELETE, status_code=401, json={"status": "fail", "error": "Account ID is not valid"})
    requests_mock.get(
        PROFILE, [{"json": {"record": {}}}, {"status_code": 401}, {"exc": requests.exceptions.ConnectTimeout}]
    )
    hook = make_hook(max_attempts=2, max_concurrency=1)
    for _ in range(11):
        attempt(lambda: list(hook.upload_records(profiles(1))))
    attempt(lambda: list(hook.delete_profiles(["a"])))
    attempt(hook.test_connection)
    attempt(hook.test_connection)
    attempt(hook.test_connection)

    # Bad connections.
    set_connection("clevertap_bad_region", extra={"region": "xx9"})
    attempt(lambda: list(make_hook("clevertap_bad_region").upload_records(profiles(1))))
    attempt(make_hook("clevertap_bad_region").test_connection)
    set_connection("clevertap_no_login", login=None)
    attempt(lambda: list(make_hook("clevertap_no_login").upload_records(profiles(1))))

    # Through real sockets (urllib3 logs at DEBUG): success, 401, retries, cancel.
    requests_mock.real_http = True
    set_connection("clevertap_local", host=local_server.url)
    answers = iter(
        [
            (200, {"status": "success", "processed": 1, "unprocessed": []}),
            (401, {"error": "Account ID is not valid"}),
            (503, {}),
            (503, {}),
        ]
    )
    local_server.respond = lambda seen: next(answers)
    local_hook = make_hook("clevertap_local", max_attempts=2)
    for _ in range(3):
        attempt(lambda: list(local_hook.upload_records(profiles(1))))
    local_hook.cancel()
    attempt(lambda: [local_hook.cancel(), list(local_hook.upload_records(profiles(1)))])

    # Every path ran and was logged: retries, ignored extras.
    # 7 failed uploads (the 200 that is not JSON leaves its batch unconfirmed, no error) + delete +
    # bad region + no login + local 401, 503s and cancel.
    assert len(errors) == 13, errors
    assert [outcome[0] for outcome in outcomes if isinstance(outcome, tuple)] == [True, False, False, False]
    assert any("retrying" in record.getMessage() for record in caplog.records)
    assert any("ignoring extra" in record.getMessage() for record in caplog.records)
    assert any(record.name.startswith("urllib3") for record in caplog.records)

    for record in caplog.records:
        assert passcode not in record.getMessage()
        assert passcode not in repr(record.args)
    assert passcode not in caplog.text
    out, err = capfd.readouterr()
    assert passcode not in out + err
    for error in errors:
        assert passcode not in str(error)
        assert passcode not in repr(error)
        assert passcode not in "".join(traceback.format_exception(error))
    assert passcode not in repr(hook) and passcode not in str(outcomes)


def test_airflow_masks_the_passcode_once_the_hook_has_read_it(set_connection, make_hook, requests_mock):
    from airflow.sdk.log import mask_logs

    # A passcode no earlier test can have registered with the (process-wide) masker.
    fresh = f"pc-{uuid.uuid4().hex}"
    set_connection(extra={"region": "in1"}, password=fresh)
    assert fresh in str(redact(f"before: {fresh}"))
    requests_mock.get(PROFILE, json={"record": {}})
    hook = make_hook()
    hook.get_profile("a")
    headers = dict(hook.get_conn().headers)

    # Airflow's own task-log processor and redact(): the passcode, alone or inside the headers.
    event = mask_logs(None, "info", {"event": f"sending with {headers}", "headers": headers})
    assert fresh not in str(event)
    assert fresh not in str(redact(f"passcode={fresh}"))
    assert headers["X-CleverTap-Account-Id"] in str(event)  # only the secret is masked
