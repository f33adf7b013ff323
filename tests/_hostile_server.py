"""A small real HTTP server that misbehaves on purpose: it answers what the test says, byte by byte
if need be, and counts what it sent.

Each answer is a function given the connection's ``Writer``; helpers build the usual ones. A
trickle waits on the server's ``stop`` event between bytes (so the server ends with the test), never
on a bare sleep.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG_GUARD = 120.0  # seconds: a bound on a hang, never reached when the code under test works


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Writer:
    """Sends bytes to the client and counts them on the server's tally."""

    server: HostileServer
    _wfile: Any

    def send(self, data: bytes) -> None:
        self._wfile.write(data)
        self._wfile.flush()
        with self.server.lock:
            self.server.bytes_sent += len(data)


Answer = Callable[[Writer, Seen], None]


@dataclass
class HostileServer:
    url: str = ""
    answer: Answer = field(default=lambda writer, seen: json_answer(200, {})(writer, seen))
    requests: list[Seen] = field(default_factory=list)
    bytes_sent: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


def head(status: int, headers: dict[str, str], reason: str = "") -> bytes:
    lines = [f"HTTP/1.1 {status} {reason or 'Answer'}", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def json_answer(status: int, body: Any, *, reason: str = "") -> Answer:
    """One whole answer at once: ``body`` as JSON (bytes are sent as they are)."""
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()

    def answer(writer: Writer, seen: Seen) -> None:
        headers = {"Content-Type": "application/json", "Content-Length": str(len(payload))}
        writer.send(head(status, headers, reason) + payload)

    return answer


def trickle(length: int, every: float, *, headers_too: bool) -> Answer:
    """A 200 of ``length`` bytes sent one byte each ``every`` seconds (from the status line on when
    ``headers_too``, else only the body), until done or the server stops."""

    def answer(writer: Writer, seen: Seen) -> None:
        start = head(200, {"Content-Type": "application/json", "Content-Length": str(length)})
        if not headers_too:
            writer.send(start)
            start = b""
        for byte in start + b" " * length:
            if writer.server.stop.wait(every):
                return
            writer.send(bytes([byte]))

    return answer


def endless_json(total: int, *, declared: bool) -> Answer:
    """A 200 whose body is a valid success answer padded with spaces to ``total`` bytes, sent as
    fast as the client reads: with its Content-Length (``declared``) or chunked."""
    opening = b'{"status":"success","processed":1,"unprocessed":[]}'
    padding = b" " * 65536

    def answer(writer: Writer, seen: Seen) -> None:
        if declared:
            writer.send(head(200, {"Content-Type": "application/json", "Content-Length": str(total)}) + opening)
            frame = lambda data: data  # noqa: E731
        else:
            writer.send(head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
            frame = lambda data: b"%x\r\n%s\r\n" % (len(data), data)  # noqa: E731
            writer.send(frame(opening))
        sent = len(opening)
        while sent < total and not writer.server.stop.is_set():
            piece = padding[: total - sent]
            writer.send(frame(piece))
            sent += len(piece)
        if not declared:
            writer.send(b"0\r\n\r\n")

    return answer


@contextmanager
def serving() -> Iterator[HostileServer]:
    """A HostileServer on 127.0.0.1, stopped (and its trickles ended) when the block ends."""
    state = HostileServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen = Seen(self.command, self.path, dict(self.headers), self.rfile.read(length))
            with state.lock:
                state.requests.append(seen)
            try:
                state.answer(Writer(state, self.wfile), seen)
            except OSError:  # the client hung up: what a cut or a bounded read does
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        state.stop.set()
        server.shutdown()
        server.server_close()
