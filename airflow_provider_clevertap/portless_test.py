"""The connections list's Test icon for a CleverTap connection without a port, on Airflow 3.3.1 and 3.3.2.

That icon sends ``port: Number(connection.port)``, ``0`` for a connection stored without a port,
and the API server of those two releases refuses the test with 400 ("The host or port to test
differs from the stored connection"): it compares ``0`` with the stored ``None`` (fixed upstream by
apache/airflow PR #73298, which reads ``0`` as no port). This root middleware, installed by the
provider's plugin on those releases only, rewrites that one request's ``port: 0`` to ``null`` when
the connection is ``clevertap`` and its metadata-database row has no port. Airflow's check still
runs on the rewritten request: ``null`` matches only a stored ``None``, so no other destination
gets through. Everything else passes untouched, unread. Imported by every Airflow process that
loads plugins: it imports nothing heavy at module level.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

CONNECTION_TYPE = "clevertap"
TEST_PATH = "/api/v2/connections/test"
# The releases whose connection test refuses the port 0 the Test icon sends (apache/airflow#73298).
AFFECTED_RELEASES = ((3, 3, 1), (3, 3, 2))

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
_App = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


def refuses_portless_test(airflow_version: str | None = None) -> bool:
    """Whether this Airflow refuses its own Test icon's request for a connection without a port.

    :param airflow_version: the version to judge; the installed Airflow's when None
    """
    if airflow_version is None:
        import airflow

        airflow_version = str(airflow.__version__)
    release = re.match(r"(\d+)\.(\d+)\.(\d+)", airflow_version)
    return release is not None and tuple(map(int, release.groups())) in AFFECTED_RELEASES


def root_middlewares(airflow_version: str | None = None) -> list[dict[str, Any]]:
    """The plugin's ``fastapi_root_middlewares``: the rewrite on the affected releases, else none.

    :param airflow_version: the version to judge; the installed Airflow's when None
    """
    if not refuses_portless_test(airflow_version):
        return []
    return [{"middleware": PortlessTestMiddleware, "name": "CleverTap: Test icon of a connection without a port"}]


def stored_without_port(connection_id: str) -> bool:
    """Whether the connection has a row in the metadata database (the connections list's source)
    and that row has no port.

    :param connection_id: the connection's id
    """
    from airflow.models import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.execute(select(Connection.port).where(Connection.conn_id == connection_id)).first()
    return row is not None and row.port is None


class PortlessTestMiddleware:
    """An ASGI middleware: ``port: 0`` becomes ``null`` in a Test request of a portless ``clevertap`` connection.

    :param app: the ASGI app it wraps (Airflow's API app)
    """

    def __init__(self, app: _App) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if not _is_test_request(scope):
            await self.app(scope, receive, send)
            return
        messages = await _read_request(receive)
        body = b"".join(message.get("body", b"") for message in messages)
        rewritten = await self._rewritten(body) if messages[-1]["type"] == "http.request" else None
        if rewritten is not None:
            messages = [{"type": "http.request", "body": rewritten, "more_body": False}]
            scope = {**scope, "headers": _with_content_length(scope["headers"], len(rewritten))}
        await self.app(scope, _replay(messages, receive), send)

    async def _rewritten(self, body: bytes) -> bytes | None:
        """The body with ``port`` null, or None when it is not the request this middleware mends."""
        try:
            test = json.loads(body)
        except ValueError:
            return None  # Airflow answers it
        if not (
            isinstance(test, dict)
            and test.get("conn_type") == CONNECTION_TYPE
            and type(test.get("port")) is int
            and test["port"] == 0
            and isinstance(test.get("connection_id"), str)
        ):
            return None
        from starlette.concurrency import run_in_threadpool

        if not await run_in_threadpool(stored_without_port, test["connection_id"]):
            return None
        return json.dumps({**test, "port": None}).encode()


def _is_test_request(scope: MutableMapping[str, Any]) -> bool:
    if scope["type"] != "http" or scope["method"] != "POST":
        return False
    path, root_path = scope["path"], scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    return bool(path == TEST_PATH)


async def _read_request(receive: Receive) -> list[Message]:
    """The request's messages up to its last body part, or up to anything else (a disconnect)."""
    messages = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that hands out ``messages`` first, then the real ``receive``'s."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def _with_content_length(headers: list[tuple[bytes, bytes]], length: int) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name, value in headers if name.lower() != b"content-length"] + [
        (b"content-length", str(length).encode())
    ]
