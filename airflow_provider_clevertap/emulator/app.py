"""The HTTP layer: a bare ASGI application serving CleverTap's endpoints, and the control ones
of ``control.py``.

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
import functools
from collections.abc import Sequence

from airflow_provider_clevertap.emulator import control, responses
from airflow_provider_clevertap.emulator.asgi import (
    Handler,
    Receive,
    Scope,
    Send,
    drop,
    json_body,
    query_flag,
    query_of,
    read_body,
    respond,
)
from airflow_provider_clevertap.emulator.faults import EmulatorFaults, FaultAction
from airflow_provider_clevertap.emulator.state import EmulatorState
from airflow_provider_clevertap.emulator.validation import MAX_RECORDS_PER_UPLOAD, validate_batch

MAX_DELETE_IDS = 100
_HOLD_POLL = 0.005  # seconds between looks at the request count while holding a request


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
            ("GET", "/_emulator/state"): functools.partial(control.state_answer, state),
            ("POST", "/_emulator/reset"): functools.partial(control.reset, state),
            ("POST", "/_emulator/configure"): functools.partial(control.configure, state),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off and websockets are not served
            return
        body = await read_body(receive)
        if body is None:  # the client left before sending its whole request
            return
        path, method = scope["path"], scope["method"]
        route = self._api.get(path)
        if route is not None:
            if method != route[0]:
                await respond(send, 405, responses.fail(405))
                return
            await self._serve_api(route[1], route[2], scope, body, receive, send)
            return
        control = self._control.get((method, path))
        if control is None:
            await respond(send, 404, responses.fail(404))
            return
        status, payload = control(scope, body)
        await respond(send, status, payload)

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
                await drop(receive, send)
                return
            if 0 < faults.hold_after_request < number and await self._held_after(number):
                await drop(receive, send)
                return
            if faults.latency and await self._interrupted(faults.latency):
                await drop(receive, send)
                return
            decision = state.draw_fault(number)
            if decision.action is FaultAction.DROP:
                state.count_dropped()
                await drop(receive, send)
                return
            if decision.action is FaultAction.STATUS:
                await self._answer_injected(send, decision.status, faults)
                return
            if decision.action is FaultAction.SLOW:
                state.count_slowed()
                if await self._interrupted(faults.slow_seconds):
                    await drop(receive, send)
                    return
            status, payload = handler(scope, body)
            if decision.action is FaultAction.PROCESS_THEN_DROP:
                state.count_dropped()
                await drop(receive, send)
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
        await respond(send, status, body, headers)

    async def _answer_injected(self, send: Send, status: int, faults: EmulatorFaults) -> None:
        headers = []
        if status == 429 and faults.retry_after is not None:
            headers.append((b"retry-after", str(faults.retry_after).encode()))
        await self._answer(send, status, responses.fail(status), headers)

    # -- CleverTap's endpoints: (status, body) from (scope, request body) ------------------------

    def _upload(self, scope: Scope, body: bytes) -> tuple[int, bytes]:
        payload = json_body(body)
        records = payload.get("d") if isinstance(payload, dict) else None
        if not isinstance(records, list) or not records:
            return 400, responses.fail(400, 'Payload must be a JSON object with a non-empty "d" array')
        self._state.note_batch(len(records))
        if len(records) > MAX_RECORDS_PER_UPLOAD:
            return 400, responses.fail(
                400, f"Too many records: {len(records)}; at most {MAX_RECORDS_PER_UPLOAD} are allowed per request"
            )
        dry_run = query_flag(scope, "dryRun")
        outcome = validate_batch(records, discarded_events=self._state.faults.discarded_events)
        self._state.record_upload(len(records), outcome, dry_run)
        return 200, responses.upload(outcome.processed, outcome.unprocessed)

    def _delete(self, scope: Scope, body: bytes) -> tuple[int, bytes]:
        payload = json_body(body)
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
        query = query_of(scope)
        identity, object_id = query.get("identity", [None])[-1], query.get("objectId", [None])[-1]
        if (identity is None) == (object_id is None):
            return 400, responses.fail(400, 'Give exactly one of "identity" and "objectId"')
        profile = self._state.get_profile(identity=identity, guid=object_id)
        if profile is None:
            return 404, responses.PROFILE_NOT_FOUND
        return 200, responses.profile(profile)
