"""Fixtures for the CleverTapHook tests: a connection in the environment, hooks that retry fast,
and a tiny real HTTP server on 127.0.0.1 for what requests-mock cannot show (pooled sockets,
cancelling a request in flight, the ``airflow connections test`` subprocess)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

ACCOUNT_ID = "ACC-123-4W5Z"
# Distinctive, so a leak is found by plain substring search in logs, errors and reprs.
PASSCODE = "pc-Qz7!Vb2#Lm9-SECRET"
IN1_URL = "https://in1.api.clevertap.com"


@pytest.fixture
def set_connection(monkeypatch) -> Callable[..., None]:
    """Define an Airflow connection through its ``AIRFLOW_CONN_<ID>`` variable."""

    def _set(
        conn_id: str = "clevertap_default",
        *,
        host: str | None = None,
        extra: dict[str, Any] | None = None,
        login: str | None = ACCOUNT_ID,
        password: str | None = PASSCODE,
        port: int | None = None,
    ) -> None:
        conn: dict[str, Any] = {"conn_type": "clevertap"}
        if port is not None:
            conn["port"] = port
        if login is not None:
            conn["login"] = login
        if password is not None:
            conn["password"] = password
        if host is not None:
            conn["host"] = host
        if extra is not None:
            conn["extra"] = extra
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))

    return _set


@pytest.fixture
def in1_connection(set_connection) -> str:
    """``clevertap_default`` in region in1 (plus an unknown extra key); returns the base URL."""
    set_connection(extra={"region": "in1", "team": "growth"})
    return IN1_URL


@pytest.fixture
def make_hook() -> Iterator[Callable[..., Any]]:
    """Build CleverTapHooks with millisecond back-off; closes them after the test."""
    from airflow_provider_clevertap.hooks.clevertap import CleverTapHook

    hooks: list[CleverTapHook] = []

    def _make(conn_id: str = "clevertap_default", **kwargs: Any) -> CleverTapHook:
        kwargs.setdefault("backoff_base", 0.001)
        kwargs.setdefault("backoff_max", 0.01)
        hook = CleverTapHook(conn_id, **kwargs)
        hooks.append(hook)
        return hook

    yield _make
    for hook in hooks:
        hook.close()


@pytest.fixture
def passcode() -> str:
    return PASSCODE


@pytest.fixture
def account_id() -> str:
    return ACCOUNT_ID


# -- a real HTTP server ------------------------------------------------------------------------


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client: tuple[str, int]


HOLD_BOUND = 120.0  # seconds: a bound on a hang, never reached when the test works


@dataclass
class LocalServer:
    """A ThreadingHTTPServer speaking HTTP/1.1 keep-alive; ``respond`` decides each answer."""

    url: str = ""
    requests: list[SeenRequest] = field(default_factory=list)
    respond: Callable[[SeenRequest], tuple[int, dict[str, Any]]] = lambda seen: (
        200,
        {"status": "success", "processed": len(json.loads(seen.body)["d"]) if seen.body else 1, "unprocessed": []},
    )
    # Each answer waits until ``gather`` requests are being answered, then they are answered
    # together (0: at once): requests in flight side by side without relying on timing.
    gather: int = 0
    # When set, every answer waits for this event (set at the end of the test): a server that
    # never answers.
    release: threading.Event | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    _barrier: threading.Barrier | None = None

    def hold(self) -> None:
        """Hold the answer being given, as ``gather`` and ``release`` say."""
        if self.gather:
            with self.lock:
                if self._barrier is None or self._barrier.parties != self.gather:
                    self._barrier = threading.Barrier(self.gather)
                barrier = self._barrier
            barrier.wait(HOLD_BOUND)
        if self.release is not None:
            self.release.wait(HOLD_BOUND)


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    state = LocalServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen = SeenRequest(
                self.command, self.path, dict(self.headers), self.rfile.read(length), self.client_address
            )
            with state.lock:
                state.requests.append(seen)
            state.hold()
            status, body = state.respond(seen)
            payload = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the client hung up (a cancelled request)
                pass

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 64  # the default 5 drops bursts of connects (a 1 s SYN retry)

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    if state.release is not None:
        state.release.set()
    server.shutdown()
    server.server_close()
