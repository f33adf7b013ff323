"""The emulator's counters, read by tests as attributes or as the state endpoint's JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

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
    :param events_received: accepted event records (dry runs too).
    :param events_stored: accepted event records stored with their profile (dry runs excluded).
    :param largest_batch: most records seen in one upload body, oversized ones included.
    :param in_flight: API requests being served right now.
    :param max_in_flight: most API requests served at once.
    :param throttled: 429 answers, injected or for concurrency.
    :param concurrency_limited: 429 answers because ``concurrency_limit`` requests were in flight.
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
    events_stored: int = 0
    largest_batch: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    throttled: int = 0
    concurrency_limited: int = 0
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
