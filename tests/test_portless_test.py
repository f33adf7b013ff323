"""The Test icon's mend for Airflow 3.3.1 and 3.3.2 (``portless_test``): which releases get it, and
what the middleware hands Airflow for each request, with connections stored in a real metadata
database. The real API server answering the mended request: tests/deployment/test_connections.py."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from airflow_provider_clevertap.portless_test import (
    PortlessTestMiddleware,
    refuses_portless_test,
    root_middlewares,
)
from airflow_provider_clevertap.syncs_view.plugin import CleverTapSyncsPlugin

TEST_PATH = "/api/v2/connections/test"


@pytest.fixture
def stored(airflow_db):
    """Stores a connection in the metadata database; its id."""
    from airflow.models import Connection
    from airflow.utils.session import create_session

    def store(conn_type: str, port: int | None) -> str:
        connection_id = f"portless_{uuid.uuid4().hex[:8]}"
        with create_session() as session:
            session.add(Connection(conn_id=connection_id, conn_type=conn_type, host="http://127.0.0.1", port=port))
        return connection_id

    return store


def _through(body: bytes, *, path: str = TEST_PATH, method: str = "POST", root_path: str = "", chunks: int = 1):
    """What Airflow's app receives behind the middleware: the body and the Content-Length header."""
    received: dict[str, Any] = {}

    async def airflow_app(scope, receive, send):
        parts = []
        while True:
            message = await receive()
            parts.append(message["body"])
            if not message.get("more_body"):
                break
        received["body"] = b"".join(parts)
        received["content-length"] = dict(scope["headers"]).get(b"content-length")

    size = -(-len(body) // chunks)
    messages = [
        {"type": "http.request", "body": body[start : start + size], "more_body": start + size < len(body)}
        for start in range(0, len(body), size)
    ]

    async def receive():
        return messages.pop(0)

    async def send(message):
        raise AssertionError("the middleware answers nothing itself")

    scope = {
        "type": "http",
        "method": method,
        "path": f"{root_path}{path}",
        "root_path": root_path,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    asyncio.run(PortlessTestMiddleware(airflow_app)(scope, receive, send))
    return received


def _icon_request(connection_id: str, conn_type: str = "clevertap", port: Any = 0) -> bytes:
    """The body the connections list's Test icon builds: blanks for missing text, Number(port)."""
    return json.dumps(
        {
            "conn_type": conn_type,
            "connection_id": connection_id,
            "description": "",
            "extra": '{"region": "eu1"}',
            "host": "http://127.0.0.1",
            "login": "ACCOUNT",
            "password": "***",
            "port": port,
            "schema": "",
        }
    ).encode()


@pytest.mark.parametrize(
    ("version", "affected"),
    [
        ("3.3.1", True),
        ("3.3.2", True),
        ("3.3.2rc1", True),
        ("3.3.0", False),
        ("3.3.3", False),
        ("3.2.2", False),
        ("3.1.8", False),
    ],
)
def test_only_the_affected_releases_get_the_middleware(version, affected):
    assert refuses_portless_test(version) is affected
    middlewares = root_middlewares(version)
    assert [entry["middleware"] for entry in middlewares] == ([PortlessTestMiddleware] if affected else [])
    # Airflow lists a plugin's middlewares by name.
    assert all(entry["name"] for entry in middlewares)


def test_the_plugin_carries_it_on_this_airflow_only_when_affected():
    assert CleverTapSyncsPlugin.fastapi_root_middlewares == root_middlewares()


def test_port_0_becomes_null_for_a_clevertap_connection_stored_without_a_port(stored):
    connection_id = stored("clevertap", None)
    body = _icon_request(connection_id)

    received = _through(body, chunks=3)

    assert json.loads(received["body"]) == {**json.loads(body), "port": None}
    assert received["content-length"] == str(len(received["body"])).encode()


def test_behind_a_base_url_path_too(stored):
    connection_id = stored("clevertap", None)

    received = _through(_icon_request(connection_id), root_path="/airflow")

    assert json.loads(received["body"])["port"] is None


@pytest.mark.parametrize(
    ("conn_type", "stored_port", "sent_port"),
    [
        ("http", None, 0),  # another type: Airflow's own behaviour
        ("clevertap", 8765, 8765),  # a real port: the icon sends it and Airflow matches it
        ("clevertap", 8765, 0),  # not what the icon sends: Airflow still refuses it
        ("clevertap", 0, 0),  # stored 0 (the old advice): already matches
        ("clevertap", None, None),
        ("clevertap", None, False),  # JSON false is not a port
    ],
)
def test_every_other_test_request_passes_untouched(stored, conn_type, stored_port, sent_port):
    body = _icon_request(stored(conn_type, stored_port), conn_type, sent_port)

    assert _through(body)["body"] == body


def test_a_connection_only_in_a_secrets_backend_passes_untouched(airflow_db):
    body = _icon_request("clevertap_not_in_the_database")

    assert _through(body)["body"] == body


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v2/connections", "POST"),
        ("/api/v2/connections/test", "PATCH"),
        ("/clevertap/api/v2/connections/test", "POST"),
    ],
)
def test_other_routes_pass_untouched(stored, path, method):
    """Saving a connection with port 0 keeps it: only the test request is mended."""
    body = _icon_request(stored("clevertap", None))

    assert _through(body, path=path, method=method)["body"] == body


def test_a_body_that_is_not_json_passes_untouched(airflow_db):
    assert _through(b'{"conn_type": "clevertap", "port": 0')["body"] == b'{"conn_type": "clevertap", "port": 0'
