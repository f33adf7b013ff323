"""Everything the emulator remembers: credentials, faults, profiles and statistics.

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
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from airflow_provider_clevertap.emulator.faults import EmulatorFaults, FaultDecision, draw_fault
from airflow_provider_clevertap.emulator.persistence import ProfileStore
from airflow_provider_clevertap.emulator.responses import ACCOUNT_INVALID, PASSCODE_INVALID
from airflow_provider_clevertap.emulator.validation import BatchOutcome

ENDPOINTS = ("upload", "delete", "profile")


@dataclass
class EmulatorStats:
    """Counters since the emulator started or was last reset.

    Fields read as attributes (``stats.max_in_flight``) or as keys (``stats["max_in_flight"]``),
    so code written against ``GET /_emulator/state`` reads a local snapshot the same way.

    :param requests: API requests received (upload, delete, profile), refused ones included.
    :param requests_by_endpoint: the same, per endpoint.
    :param responses_by_status: API responses sent, per HTTP status.
    :param records_received: records in upload requests that reached validation (dry runs too).
    :param records_stored: accepted profile records upserted (dry runs excluded).
    :param events_received: accepted event records (counted, not stored).
    :param largest_batch: most records seen in one upload body, oversized ones included.
    :param in_flight: API requests being served right now.
    :param max_in_flight: most API requests served at once.
    :param throttled: 429 answers, injected or for concurrency.
    :param concurrency_rejected: 429 answers because ``concurrency_limit`` requests were in flight.
    :param failed: 5xx answers (all injected).
    :param dropped: connections closed with no answer.
    :param slowed: requests delayed by ``slow_seconds``.
    :param unauthorized: 401 answers.
    :param bad_requests: 400 answers.
    :param dry_run_requests: uploads with ``dryRun=1`` that reached validation.
    :param deletes: ids received in delete requests that were processed.
    :param profiles_deleted: of those, the ids that matched a stored profile.
    """

    requests: int = 0
    requests_by_endpoint: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENDPOINTS, 0))
    responses_by_status: dict[int, int] = field(default_factory=dict)
    records_received: int = 0
    records_stored: int = 0
    events_received: int = 0
    largest_batch: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    throttled: int = 0
    concurrency_rejected: int = 0
    failed: int = 0
    dropped: int = 0
    slowed: int = 0
    unauthorized: int = 0
    bad_requests: int = 0
    dry_run_requests: int = 0
    deletes: int = 0
    profiles_deleted: int = 0

    def __getitem__(self, name: str) -> Any:
        if name not in self.__dataclass_fields__:
            raise KeyError(name)
        return getattr(self, name)

    def as_dict(self) -> dict[str, Any]:
        """The counters as a JSON-ready mapping."""
        return asdict(self)


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
                stats.concurrency_rejected += 1
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
        """Count a validated upload and, unless it is a dry run, upsert its accepted profiles."""
        now = int(time.time())
        with self._lock:
            stats = self._stats
            stats.records_received += received
            stats.events_received += outcome.events
            if dry_run:
                stats.dry_run_requests += 1
                return
            stats.records_stored += len(outcome.profiles)
            touched = [self._upsert(record, now) for record in outcome.profiles]
            if self._store is not None and touched:
                # A batch may name a profile twice: write each one once, as it ends up.
                self._store.save({id(profile): profile for profile in touched}.values())

    def _upsert(self, record: dict[str, Any], now: int) -> dict[str, Any]:
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
    # Values are scalars or lists of strings: copying the lists is a full copy, far cheaper
    # than deepcopy when a benchmark has stored hundreds of thousands of profiles.
    return {
        **profile,
        "profileData": {
            key: list(value) if type(value) is list else value for key, value in profile["profileData"].items()
        },
    }
