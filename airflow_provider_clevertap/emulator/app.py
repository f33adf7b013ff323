"""The HTTP layer: a bare ASGI application serving CleverTap's endpoints and the control ones.

A bare ASGI callable rather than a FastAPI app: the emulator needs three routes, the raw
connection (to drop it) and as little per-request overhead as possible for benchmarks.

An API request goes through, in order: routing, credentials (401), the concurrency limit
(429, answered at once), ``hold_until_requests``, ``hold_after_request``, ``latency``, the injected fault of its number,
then the handler.
The concurrency limit counts the API requests of all three endpoints together: CleverTap
documents 15 for uploads, and its limit for deletes is unconfirmed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import parse_qs

import msgspec

from airflow_provider_clevertap.emulator import responses
from airflow_provider_clevertap.emulator.faults import FAULT_FIELDS, EmulatorFaults, FaultAction
from airflow_provider_clevertap.emulator.state import EmulatorState
from airflow_provider_clevertap.emulator.validation import MAX_RECORDS_PER_UPLOAD, validate_batch

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Handler = Callable[[Scope, bytes], "tuple[int, bytes]"]

MAX_DELETE_IDS = 100
_HOLD_POLL = 0.005  # seconds between looks at the request count while holding a request

_decode = msgspec.json.Decoder().decode
_JSON_HEADERS = [(b"content-type", b"application/json; charset=utf-8")]
_TRUE = frozenset({"1", "true"})


class EmulatorApp:
    """The ASGI application of one emulator, reading and changing its :class:`EmulatorState`."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self._stopping = asyncio.Event()
        # path -> (method, endpoint name, handler)
        self._api: dict[str, tuple[str, str, Handler]] = {
            "/1/upload": ("POST", "upload", self._upload),
            "/1/delete/profiles.json": ("POST", "delete", self._delete),
            "/1/profile.json": ("GET", "profile", self._profile),
        }
        self._control: dict[tuple[str, str], Handler] = {
            ("GET", "/_emulator/state"): self._control_state,
            ("POST", "/_emulator/reset"): self._control_reset,
            ("POST", "/_emulator/configure"): self._control_configure,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off and websockets are not served
            return
        body = await _read_body(receive)
        if body is None:  # the client left before sending its whole request
            return
        path, method = scope["path"], scope["method"]
        route = self._api.get(path)
        if route is not None:
            if method != route[0]:
                await _respond(send, 405, responses.fail(405))
                return
            await self._serve_api(route[1], route[2], scope, body, receive, send)
            return
        control = self._control.get((method, path))
        if control is None:
            await _respond(send, 404, responses.fail(404))
            return
        status, payload = control(scope, body)
        await _respond(send, status, payload)

    async def _serve_api(
        self, endpoint: str, handler: Handler, scope: Scope, body: bytes, receive: Receive, send: Send
    ) -> None:
        state = self._state
        number = state.begin_request(endpoint)
        headers = dict(scope["headers"])
        problem = state.credentials_error(headers.get(b"x-clevertap-account-id"), headers.get(b"x-clevertap-passcode"))
        if problem is not None:
            await self._answer(send, 401, responses.fail(401, problem))
            return
        if not state.admit():
            await self._answer(send, 429, responses.fail(429, responses.TOO_MANY_CONCURRENT))
            return
        try:
            faults = state.faults
            if faults.hold_until_requests and await self._held():
                await _drop(receive, send)
                return
            if 0 < faults.hold_after_request < number and await self._held_after(number):
                await _drop(receive, send)
                return
            if faults.latency and await self._interrupted(faults.latency):
                await _drop(receive, send)
                return
            decision = state.draw_fault(number)
            if decision.action is FaultAction.DROP:
                state.count_dropped()
                await _drop(receive, send)
                return
            if decision.action is FaultAction.STATUS:
                await self._answer_injected(send, decision.status, faults)
                return
            if decision.action is FaultAction.SLOW:
                state.count_slowed()
                if await self._interrupted(faults.slow_seconds):
                    await _drop(receive, send)
                    return
            status, payload = handler(scope, body)
            if decision.action is FaultAction.PROCESS_THEN_DROP:
                state.count_dropped()
                await _drop(receive, send)
                return
            await self._answer(send, status, payload)
        finally:
            state.release()

    def interrupt_waits(self) -> None:
        """Cut short every latency and slow-answer wait: the server is stopping.

        Call it from the event loop. The waiting requests close their connections, as a
        server going down would, instead of holding stop() up until they are cancelled.
        """
        self._stopping.set()

    async def _held(self) -> bool:
        """Wait until ``hold_until_requests`` API requests have arrived (read afresh, so that
        configuring other faults releases the wait); True when the server is stopping."""
        state = self._state
        while state.requests_arrived() < state.faults.hold_until_requests:
            if await self._interrupted(_HOLD_POLL):
                return True
        return False

    async def _held_after(self, number: int) -> bool:
        """Hold request ``number`` while ``hold_after_request`` is below it (read afresh, so that
        configuring the faults again releases it); True when the server is stopping."""
        state = self._state
        while 0 < state.faults.hold_after_request < number:
            if await self._interrupted(_HOLD_POLL):
                return True
        return False

    async def _interrupted(self, seconds: float) -> bool:
        """Wait ``seconds``; True when :meth:`interrupt_waits` cut the wait short."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except asyncio.TimeoutError:
            return False
        return True

    async def _answer(self, send: Send, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
        self._state.count_response(status)
        await _respond(send, status, body, headers)

    async def _answer_injected(self, send: Send, status: int, faults: EmulatorFaults) -> None:
        headers = []
        if status == 429 and faults.retry_after is not None:
            headers.append((b"retry-after", str(faults.retry_after).encode()))
        await self._answer(send, status, responses.fail(status), headers)

    # -- CleverTap's endpoints: (status, body) from (scope, request body) ------------------------

    def _upload(self, scope: Scope, body: bytes) -> tuple[int, bytes]:
        payload = _json(body)
        records = payload.get("d") if isinstance(payload, dict) else None
        if not isinstance(records, list) or not records:
            return 400, responses.fail(400, 'Payload must be a JSON object with a non-empty "d" array')
        self._state.note_batch(len(records))
        if len(records) > MAX_RECORDS_PER_UPLOAD:
            return 400, responses.fail(
                400, f"Too many records: {len(records)}; at most {MAX_RECORDS_PER_UPLOAD} are allowed per request"
            )
        dry_run = _query(scope).get("dryRun", [""])[-1].lower() in _TRUE
        outcome = validate_batch(records, discarded_events=self._state.faults.discarded_events)
        self._state.record_upload(len(records), outcome, dry_run)
        return 200, responses.upload(outcome.processed, outcome.unprocessed)

    def _delete(self, scope: Scope, body: bytes) -> tuple[int, bytes]:
        payload = _json(body)
        if not isinstance(payload, dict):
            return 400, responses.fail(400, 'Payload must be a JSON object with "identity" or "guid"')
        present = [key for key in ("identity", "guid") if key in payload]
        if len(present) != 1:
            return 400, responses.fail(400, 'Send exactly one of "identity" and "guid"')
        ids = payload[present[0]]
        if isinstance(ids, (str, int)) and not isinstance(ids, bool):
            ids = [ids]
        if not isinstance(ids, list) or not ids:
            return 400, responses.fail(400, f'"{present[0]}" must be an id or a non-empty array of ids')
        if len(ids) > MAX_DELETE_IDS:
            return 400, responses.fail(
                400, f"Too many ids: {len(ids)}; at most {MAX_DELETE_IDS} are allowed per request"
            )
        if not all(isinstance(i, (str, int)) and not isinstance(i, bool) for i in ids):
            return 400, responses.fail(400, "Ids must be strings or numbers")
        self._state.delete([str(i) for i in ids], by_guid=present[0] == "guid")
        return 200, responses.deleted(len(ids))

    def _profile(self, scope: Scope, body: bytes) -> tuple[int, bytes]:
        query = _query(scope)
        identity, object_id = query.get("identity", [None])[-1], query.get("objectId", [None])[-1]
        if (identity is None) == (object_id is None):
            return 400, responses.fail(400, 'Give exactly one of "identity" and "objectId"')
        profile = self._state.get_profile(identity=identity, guid=object_id)
        if profile is None:
            return 404, responses.PROFILE_NOT_FOUND
        return 200, responses.profile(profile)

    # -- control endpoints: no CleverTap auth, not counted as API requests -----------------------

    def _control_state(self, scope: Scope, body: bytes) -> tuple[int, bytes]:
        state = self._state
        answer: dict[str, Any] = {
            "account_id": state.account_id,
            "faults": state.faults.to_dict(),
            "stats": state.stats().as_dict(),
        }
        if _query(scope).get("profiles", [""])[-1].lower() in _TRUE:
            answer["profiles"] = state.profiles()
        if _query(scope).get("events", [""])[-1].lower() in _TRUE:
            answer["events"] = state.events()
        return 200, responses.encode(answer)

    def _control_reset(self, scope: Scope, body: bytes) -> tuple[int, bytes]:
        self._state.reset()
        return 200, responses.encode({"status": "success"})

    def _control_configure(self, scope: Scope, body: bytes) -> tuple[int, bytes]:
        """Change credentials and/or faults.

        Fault fields in the body replace the whole fault set (fields left out take their
        defaults), as ``configure(faults=EmulatorFaults(...))`` does; a body without any fault
        field leaves the faults alone.
        """
        payload = _json(body)
        if not isinstance(payload, dict):
            return 400, responses.fail(400, "Body must be a JSON object")
        unknown = set(payload) - set(FAULT_FIELDS) - {"account_id", "passcode"}
        if unknown:
            return 400, responses.fail(400, f"Unknown options: {', '.join(sorted(unknown))}")
        fault_options = {key: value for key, value in payload.items() if key in FAULT_FIELDS}
        try:
            faults = EmulatorFaults.from_dict(fault_options) if fault_options else None
        except (TypeError, ValueError) as error:
            return 400, responses.fail(400, str(error))
        self._state.configure(account_id=payload.get("account_id"), passcode=payload.get("passcode"), faults=faults)
        return 200, responses.encode({"status": "success", "faults": self._state.faults.to_dict()})


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _drop(receive: Receive, send: Send) -> None:
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


def _json(body: bytes) -> Any:
    try:
        return _decode(body)
    except msgspec.DecodeError:
        return None


def _query(scope: Scope) -> dict[str, list[str]]:
    return parse_qs(scope["query_string"].decode("latin-1"))
