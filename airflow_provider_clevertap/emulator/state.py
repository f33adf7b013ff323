"""Everything the emulator remembers: credentials, faults, profiles, their events and statistics.

The HTTP layer changes it from the server's event loop thread while tests read and configure
it from theirs, so every access goes through one lock, and readers get copies.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
import uuid
from dataclasses import replace
from typing import Any

import msgspec

from airflow_provider_clevertap.emulator.faults import EmulatorFaults, FaultDecision, draw_fault
from airflow_provider_clevertap.emulator.persistence import ProfileStore
from airflow_provider_clevertap.emulator.responses import ACCOUNT_INVALID, PASSCODE_INVALID
from airflow_provider_clevertap.emulator.stats import EmulatorStats
from airflow_provider_clevertap.emulator.validation import BatchOutcome


class EmulatorState:
    """The emulator's memory, shared by the HTTP layer and the Python accessors."""

    def __init__(self, account_id: str, passcode: str, faults: EmulatorFaults) -> None:
        self._lock = threading.Lock()
        self._credentials = (account_id, passcode)
        self._faults = faults
        self._rng = random.Random(faults.seed)
        # Keyed by identity, or by guid for profiles known only by objectId.
        self._profiles: dict[str, dict[str, Any]] = {}
        self._key_by_guid: dict[str, str] = {}
        # Events by the key of their profile, in arrival order; not persisted with the profiles.
        self._events: dict[str, list[dict[str, Any]]] = {}
        self._stats = EmulatorStats()
        self._store: ProfileStore | None = None
        # guids: a random prefix per emulator and a counter, unique without a uuid4 per
        # profile (which would cost more than validating it).
        self._guid_prefix = uuid.uuid4().hex[:16]
        self._guid_numbers = itertools.count(1)

    # -- configuration -------------------------------------------------------------------------

    @property
    def account_id(self) -> str:
        return self._credentials[0]

    @property
    def passcode(self) -> str:
        return self._credentials[1]

    @property
    def faults(self) -> EmulatorFaults:
        return self._faults

    def configure(
        self, *, account_id: str | None = None, passcode: str | None = None, faults: EmulatorFaults | None = None
    ) -> None:
        """Change credentials and/or faults; what is left as None stays as it is."""
        with self._lock:
            self._credentials = (account_id or self._credentials[0], passcode or self._credentials[1])
            if faults is not None:
                self._faults = faults
                self._rng = random.Random(faults.seed)

    def credentials_error(self, account_id: bytes | None, passcode: bytes | None) -> str | None:
        """Return CleverTap's 401 message for these header values, or None when they match."""
        expected_account, expected_passcode = self._credentials
        if account_id is None or account_id.decode("latin-1") != expected_account:
            return ACCOUNT_INVALID
        if passcode is None or passcode.decode("latin-1") != expected_passcode:
            return PASSCODE_INVALID
        return None

    # -- request accounting --------------------------------------------------------------------

    def begin_request(self, endpoint: str) -> int:
        """Count an arriving API request; return its 1-based number."""
        with self._lock:
            stats = self._stats
            stats.requests += 1
            stats.requests_by_endpoint[endpoint] += 1
            return stats.requests

    def requests_arrived(self) -> int:
        """API requests counted since the start or the last reset."""
        with self._lock:
            return self._stats.requests

    def admit(self) -> bool:
        """Take an in-flight slot; False (counted) when ``concurrency_limit`` are taken."""
        with self._lock:
            stats = self._stats
            if stats.in_flight >= self._faults.concurrency_limit:
                stats.concurrency_limited += 1
                return False
            stats.in_flight += 1
            if stats.in_flight > stats.max_in_flight:
                stats.max_in_flight = stats.in_flight
            return True

    def release(self) -> None:
        """Give back the in-flight slot taken by :meth:`admit`."""
        with self._lock:
            self._stats.in_flight -= 1

    def draw_fault(self, request_number: int) -> FaultDecision:
        """Decide, with the seeded generator, what happens to this admitted request."""
        with self._lock:
            return draw_fault(self._faults, request_number, self._rng)

    def count_response(self, status: int) -> None:
        """Count an answer sent to an API request."""
        with self._lock:
            stats = self._stats
            stats.responses_by_status[status] = stats.responses_by_status.get(status, 0) + 1
            if status == 400:
                stats.bad_requests += 1
            elif status == 401:
                stats.unauthorized += 1
            elif status == 429:
                stats.throttled += 1
            elif status >= 500:
                stats.failed += 1

    def count_dropped(self) -> None:
        with self._lock:
            self._stats.dropped += 1

    def count_slowed(self) -> None:
        with self._lock:
            self._stats.slowed += 1

    def note_batch(self, size: int) -> None:
        """Remember the size of an upload body, before its size is checked."""
        with self._lock:
            if size > self._stats.largest_batch:
                self._stats.largest_batch = size

    # -- profiles ------------------------------------------------------------------------------

    def record_upload(self, received: int, outcome: BatchOutcome, dry_run: bool) -> None:
        """Count a validated upload and, unless it is a dry run, upsert its accepted profiles and
        store its events (an event for an unknown identity creates the profile, as CleverTap does)."""
        now = int(time.time())
        with self._lock:
            stats = self._stats
            stats.records_received += received
            stats.events_received += len(outcome.events)
            if dry_run:
                stats.dry_run_requests += 1
                return
            stats.records_stored += len(outcome.profiles)
            stats.events_stored += len(outcome.events)
            touched = [self._upsert(record, now) for record in outcome.profiles]
            for event in outcome.events:
                profile = self._upsert(event, now, event=True)
                key = profile["guid"] if profile["identity"] is None else profile["identity"]
                self._events.setdefault(key, []).append(event)
                touched.append(profile)
            if self._store is not None and touched:
                # A batch may name a profile twice: write each one once, as it ends up.
                self._store.save({id(profile): profile for profile in touched}.values())

    def _upsert(self, record: dict[str, Any], now: int, *, event: bool = False) -> dict[str, Any]:
        identity = record.get("identity")
        if identity is not None:
            key = str(identity)
            profile = self._profiles.get(key)
        else:
            # An objectId is a guid: it finds a profile whatever that profile is keyed by.
            object_id = record["objectId"]
            known_key = self._key_by_guid.get(object_id)
            key = object_id if known_key is None else known_key
            profile = None if known_key is None else self._profiles[known_key]
        if profile is None:
            guid = record.get("objectId") or f"__{self._guid_prefix}{next(self._guid_numbers):016x}"
            profile = {"identity": None if identity is None else key, "guid": guid, "ts": now, "profileData": {}}
            self._profiles[key] = profile
            self._key_by_guid[guid] = key
        if not event:  # an event's time is not the profile's
            profile["ts"] = record.get("ts", now)
        profile_data = record.get("profileData")
        if profile_data:
            profile["profileData"].update(profile_data)
        return profile

    def delete(self, ids: list[str], by_guid: bool) -> None:
        """Remove the profiles with these identities (or guids); unknown ids are counted only."""
        with self._lock:
            removed = []
            for profile_id in ids:
                key = self._key_by_guid.get(profile_id) if by_guid else profile_id
                profile = self._profiles.pop(key, None) if key is not None else None
                if profile is not None:
                    del self._key_by_guid[profile["guid"]]
                    self._events.pop(key, None)  # type: ignore[arg-type]  # key is set when a profile is found
                    removed.append(profile["guid"])
            self._stats.deletes += len(ids)
            self._stats.profiles_deleted += len(removed)
            if self._store is not None and removed:
                self._store.delete(removed)

    def get_profile(self, identity: str | None = None, guid: str | None = None) -> dict[str, Any] | None:
        """A copy of one profile, found by identity or by guid; None when unknown."""
        with self._lock:
            key = identity if identity is not None else self._key_by_guid.get(guid or "")
            profile = self._profiles.get(key) if key is not None else None
            if profile is None or (identity is not None and profile["identity"] is None):
                return None
            return _copy_profile(profile)

    def profiles(self) -> dict[str, dict[str, Any]]:
        """Copies of every profile, keyed by identity (by guid when there is no identity)."""
        with self._lock:
            return {key: _copy_profile(profile) for key, profile in self._profiles.items()}

    def events(self, identity: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Copies of the stored events, by profile identity (guid when there is none); one profile's
        only when ``identity`` is given (an empty mapping when it has none)."""
        with self._lock:
            keys = list(self._events) if identity is None else [identity] if identity in self._events else []
            return {key: [msgspec.json.decode(msgspec.json.encode(e)) for e in self._events[key]] for key in keys}

    def stats(self) -> EmulatorStats:
        """A snapshot of the counters."""
        with self._lock:
            stats = self._stats
            return replace(
                stats,
                requests_by_endpoint=dict(stats.requests_by_endpoint),
                responses_by_status=dict(stats.responses_by_status),
            )

    def reset(self) -> None:
        """Forget profiles and counters, restart request numbering and the random draws."""
        with self._lock:
            self._profiles.clear()
            self._key_by_guid.clear()
            self._events.clear()
            # Requests still in flight will release their slot: keep them counted.
            in_flight = self._stats.in_flight
            self._stats = EmulatorStats(in_flight=in_flight, max_in_flight=in_flight)
            self._rng = random.Random(self._faults.seed)
            if self._store is not None:
                self._store.clear()

    # -- persistence ---------------------------------------------------------------------------

    def open_store(self, path: str | os.PathLike[str]) -> None:
        """Persist profiles to the SQLite file at ``path``, first loading those already there."""
        store = ProfileStore(path)
        with self._lock:
            self._store = store
            for profile in store.load():
                key = profile["identity"] if profile["identity"] is not None else profile["guid"]
                self._profiles[key] = profile
                self._key_by_guid[profile["guid"]] = key
            # Profiles uploaded before the file was opened belong in it too.
            store.save(self._profiles.values())

    def close_store(self) -> None:
        """Stop persisting and close the file; every accepted profile is already written."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def _copy_profile(profile: dict[str, Any]) -> dict[str, Any]:
    # Values are scalars or lists of strings: copying the lists is a full copy, without deepcopy's
    # walk of every value.
    return {
        **profile,
        "profileData": {
            key: list(value) if type(value) is list else value for key, value in profile["profileData"].items()
        },
    }
