"""Secrets and personal data: the passcode and profile values stay out of everything the provider
writes or raises, on success and on failure; the region and TLS settings fail safe.

The task log is read from Airflow's own logging: DAGs run with ``dag.test()``, whose task log
goes to stdout *unmasked* (so what is checked there is what our code wrote, not what Airflow's
masker hid), and Airflow's masker is checked separately to hide the passcode anyway.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import sqlite3
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from _airflow_compat import redact, rendered_fields, xcom_values
from _reliability import (
    ACCOUNT_ID,
    EMAIL_DOMAIN,
    NAME_MARKER,
    PASSCODE,
    PHONE_PREFIX,
    ROTATED_PASSCODE,
    fast_hook,
    leaks,
    stage_users,
)
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_clevertap.emulator import EmulatorFaults
from airflow_provider_clevertap.get_provider_info import get_provider_info
from airflow_provider_clevertap.hooks.clevertap import CleverTapHook
from airflow_provider_clevertap.operators import CleverTapUserDeleteOperator, CleverTapUserUploadOperator
from airflow_provider_clevertap.regions import REGION_HOSTS

USERS = 300


def stage_users_with_problems(path: Path) -> None:
    """Valid users plus rows CleverTap refuses and rows that are invalid, all with personal data."""
    stage_users(path, USERS)
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO users VALUES (?, ?, ?, ?, ?)",
            [
                ("refused-email", f"Cy {NAME_MARKER}", f"cy@@{EMAIL_DOMAIN}", f"{PHONE_PREFIX}00001", "gold"),
                ("refused-phone", f"Di {NAME_MARKER}", f"di@{EMAIL_DOMAIN}", PHONE_PREFIX[1:] + "99", "gold"),
                ("too-long-name", f"Ed {NAME_MARKER} " * 60, f"ed@{EMAIL_DOMAIN}", f"{PHONE_PREFIX}00002", "free"),
                (None, f"Flo {NAME_MARKER}", f"flo@{EMAIL_DOMAIN}", f"{PHONE_PREFIX}00003", "free"),
            ],
        )


# -- the task log, XCom and rendered fields of real task runs ---------------------------------------


def test_a_run_with_retries_and_refusals_leaks_nothing(emu, sqlite_warehouse, reliability_dags, capfd):
    stage_users_with_problems(sqlite_warehouse)
    # 429s asking for no wait: retries (and their log lines) without the default 1 s back-off.
    emu.configure(faults=EmulatorFaults(throttle_ratio=0.4, retry_after=0, seed=31))

    run = reliability_dags("reliability_upload_templated")
    out, err = capfd.readouterr()

    assert run.state == "success"
    assert "retrying" in out and "CleverTap upload finished" in out  # the log was captured
    assert not leaks([out, err])
    (summary,) = xcom_values(run)
    assert summary["rows_read"] == USERS + 4 and summary["rows_refused"] == 2 and summary["rows_invalid"] == 2
    assert summary["retries"] > 0
    assert {problem["identity"] for problem in summary["failed_sample"]} >= {"refused-email", "refused-phone"}
    assert not leaks([json.dumps(summary)])
    rendered = rendered_fields(run)
    assert "2026-03-02" in rendered["sql"] and rendered["failed_rows_table"] == "clevertap_failed_20260302"
    assert not leaks([json.dumps(rendered, default=str)])
    # Airflow's masker learnt the passcode when the task read the connection.
    assert PASSCODE not in str(redact(f"passcode {PASSCODE}"))
    assert PASSCODE not in str(redact({"X-CleverTap-Passcode": PASSCODE}))


@pytest.mark.parametrize("failure", ["passcode-rotated", "rows-over-threshold", "bad-request"])
def test_a_failed_run_leaks_nothing(failure, emu, sqlite_warehouse, reliability_dags, capfd):
    stage_users_with_problems(sqlite_warehouse)
    dag_id = "reliability_upload"
    if failure == "passcode-rotated":
        emu.configure(passcode=ROTATED_PASSCODE)
        expected = "HTTP 401"
    elif failure == "rows-over-threshold":
        dag_id = "reliability_upload_strict"
        expected = "rows failed"
    else:
        emu.configure(faults=EmulatorFaults(status_for_request={2: 400}))
        expected = "HTTP 400"

    run = reliability_dags(dag_id)
    out, err = capfd.readouterr()

    assert run.state == "failed"
    assert expected in out  # the error and its traceback are in the task log
    assert not leaks([out, err])
    assert not leaks([json.dumps(value, default=str) for value in xcom_values(run)])


# -- errors and reprs of our objects --------------------------------------------------------------------


def test_reprs_and_errors_of_our_objects_hold_no_passcode(emu, sqlite_warehouse, context):
    stage_users(sqlite_warehouse, 50)
    operator = CleverTapUserUploadOperator(
        task_id="upload", source_conn_id="warehouse", sql="SELECT * FROM users", batch_size=10
    )
    hook = fast_hook(operator)
    summary = operator.execute(context)
    hook.get_conn()  # a live session, headers and all
    results = list(hook.upload_records([{"type": "profile", "identity": "u", "profileData": {}}]))
    emu.configure(passcode=ROTATED_PASSCODE)
    with pytest.raises(AirflowException) as failure:
        CleverTapUserDeleteOperator(task_id="delete", rows=[{"identity": "u"}]).execute(context)

    texts = [
        repr(hook),
        str(hook),
        repr(vars(hook)),
        repr(operator),
        repr(vars(operator)),
        repr(results),
        json.dumps(summary),
        str(failure.value),
        repr(failure.value),
        repr(failure.value.args),
    ]
    assert not leaks(texts)


def test_an_unknown_region_is_a_clear_error_naming_the_valid_ones(monkeypatch, context):
    monkeypatch.setenv(
        "AIRFLOW_CONN_CLEVERTAP_DEFAULT",
        json.dumps({"conn_type": "clevertap", "login": ACCOUNT_ID, "password": PASSCODE, "extra": {"region": "eu2"}}),
    )
    with pytest.raises(Exception) as failure:
        CleverTapUserUploadOperator(task_id="upload", rows=[{"identity": "u", "plan": "gold"}]).execute(context)
    message = str(failure.value)
    assert "'eu2'" in message
    assert all(region in message for region in REGION_HOSTS)
    assert PASSCODE not in message

    ok, reason = CleverTapHook().test_connection()
    assert not ok and "'eu2'" in reason and all(region in reason for region in REGION_HOSTS)


def test_the_host_override_is_described_as_an_administrators_setting():
    (connection_type,) = get_provider_info()["connection-types"]
    # The Host placeholder is short (it must fit the input); the form's explanation is in the
    # Region's description, next to it.
    assert "administrator" in connection_type["conn-fields"]["region"]["description"]
    connection_doc = (Path(__file__).resolve().parents[2] / "docs" / "connection.md").read_text()
    assert "administrator" in connection_doc


# -- TLS verification stays on unless the connection turns it off -----------------------------------------


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A local HTTPS CleverTap stand-in with a self-signed certificate: (base URL, certificate path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the profile lookup test_connection() makes
            body = b'{"status": "success", "record": {"identity": "airflow-connection-test"}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    class TLSServer(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client refusing our certificate is the point of most tests

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = TLSServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name="tls-server", daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert_path
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # verify off: the point
@pytest.mark.parametrize(
    ("extra", "verified"),
    [
        ({}, True),
        ({"verify": None}, True),  # an empty form field
        ({"verify": ""}, True),
        ({"verify": True}, True),
        ({"verify": "true"}, True),
        ({"verify": False}, False),
        ({"verify": "false"}, False),
        ({"verify": "CERT"}, "bundle"),
    ],
    ids=["absent", "null", "empty", "true", "true-string", "false", "false-string", "ca-bundle"],
)
def test_tls_verification_stays_on_unless_turned_off(extra, verified, tls_server, monkeypatch):
    url, cert_path = tls_server
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(variable, raising=False)
    if extra.get("verify") == "CERT":
        extra = {"verify": str(cert_path)}
    monkeypatch.setenv(
        "AIRFLOW_CONN_CLEVERTAP_DEFAULT",
        json.dumps({"conn_type": "clevertap", "login": ACCOUNT_ID, "password": PASSCODE, "host": url, "extra": extra}),
    )

    ok, message = CleverTapHook(max_attempts=1).test_connection()

    if verified is True:
        # Our self-signed certificate is refused: verification was on.
        assert not ok, f"connected to a self-signed server with extra {extra}: TLS verification was off"
        assert "SSLError" in message, message
    else:
        assert ok, message  # explicitly off, or our certificate given as the CA bundle
    assert PASSCODE not in message


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_the_ca_bundle_of_the_environment_is_trusted(variable, tls_server, monkeypatch):
    # The hook reads the environment once per session (not per request): what it reads must
    # still be what requests would have read.
    url, cert_path = tls_server
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, str(cert_path))
    monkeypatch.setenv(
        "AIRFLOW_CONN_CLEVERTAP_DEFAULT",
        json.dumps({"conn_type": "clevertap", "login": ACCOUNT_ID, "password": PASSCODE, "host": url}),
    )

    ok, message = CleverTapHook(max_attempts=1).test_connection()

    assert ok, message


# -- a passcode pasted with stray characters -------------------------------------------------------------

HALVES = (PASSCODE[:9], PASSCODE[9:])


@pytest.mark.parametrize(
    ("pasted", "works"),
    [
        (PASSCODE + "\n", True),  # a line break copied along with it
        (f"  {PASSCODE}\t", True),
        (f"{HALVES[0]}\n{HALVES[1]}", False),
        (PASSCODE + "\u2019", False),  # a typographic apostrophe: no HTTP header can carry it
    ],
    ids=["trailing-newline", "surrounding-blanks", "inner-newline", "non-latin"],
)
def test_a_passcode_pasted_with_stray_characters_never_leaks(pasted, works, emu, monkeypatch, context, task_logs):
    import traceback

    monkeypatch.setenv(
        "AIRFLOW_CONN_CLEVERTAP_DEFAULT",
        json.dumps({"conn_type": "clevertap", "login": f" {ACCOUNT_ID} ", "password": pasted, "host": emu.url}),
    )
    operator = CleverTapUserUploadOperator(task_id="upload", rows=[{"identity": "u1", "plan": "gold"}])

    try:
        summary = operator.execute(context)
    except Exception as error:  # noqa: BLE001 - whatever it is, it must not carry the passcode
        assert not works, f"surrounding blanks should be ignored: {error}"
        texts = [str(error), repr(error), "".join(traceback.format_exception(error)), task_logs.text]
        assert not leaks(texts, secrets=HALVES), texts[0]
        assert "Passcode" in str(error)
    else:
        assert works, "a passcode no HTTP header can carry was accepted"
        assert summary["rows_accepted"] == 1 and "u1" in emu.profiles
