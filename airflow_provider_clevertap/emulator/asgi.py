"""What the emulator's ASGI application needs of the raw protocol: reading a request's body,
answering JSON, dropping the connection, and the body and query decoded."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import parse_qs

import msgspec

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Handler = Callable[[Scope, bytes], "tuple[int, bytes]"]

_decode = msgspec.json.Decoder().decode
_JSON_HEADERS = [(b"content-type", b"application/json; charset=utf-8")]
_TRUE = frozenset({"1", "true"})


async def read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def respond(send: Send, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def drop(receive: Receive, send: Send) -> None:
    """Close the connection with no response at all, as a crashing server or proxy would."""
    _transport(send).abort()
    # Wait for uvicorn to see the connection gone; returning earlier, it would try to answer
    # "500 ASGI callable returned without starting response" on the dead socket.
    await receive()


def _transport(send: Send) -> asyncio.Transport:
    # ASGI gives an application no handle on its connection. uvicorn's ``send`` is a bound
    # method of its request cycle, which holds the transport (true of both its HTTP/1.1
    # implementations, h11 and httptools); the contract tests check a drop really happens.
    return send.__self__.transport  # type: ignore[attr-defined]


def json_body(body: bytes) -> Any:
    try:
        return _decode(body)
    except msgspec.DecodeError:
        return None


def query_of(scope: Scope) -> dict[str, list[str]]:
    """The request's query parameters, each with all its values."""
    return parse_qs(scope["query_string"].decode("latin-1"))


def query_flag(scope: Scope, name: str) -> bool:
    """Whether the query sets ``name`` to 1 or true (its last value)."""
    return query_of(scope).get(name, [""])[-1].lower() in _TRUE
