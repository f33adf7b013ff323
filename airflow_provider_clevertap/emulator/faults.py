"""Fault injection: the options that make the emulator misbehave, and the per-request draw."""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

DEFAULT_CONCURRENCY_LIMIT = 15
"""CleverTap's documented limit of concurrent upload requests per account."""

_RATIOS = ("throttle_ratio", "error_ratio", "drop_ratio", "slow_ratio")


@dataclass(frozen=True)
class EmulatorFaults:
    """How the emulator misbehaves; the defaults make it behave like a healthy CleverTap.

    Faults apply to API requests only (upload, delete, profile), never to ``/_emulator/*``.
    Requests are numbered from 1 in arrival order, counting every API request (refused ones
    included) since the emulator started or was last reset.

    :param latency: seconds added to every admitted API request before it is answered.
    :param throttle_ratio: fraction of requests answered 429.
    :param throttle_every: every Nth request is answered 429 (0: off).
    :param retry_after: whole seconds sent in ``Retry-After`` on injected 429s; None sends no
        header (whether CleverTap sends one is unconfirmed).
    :param error_ratio: fraction of requests answered ``error_status``.
    :param error_status: the 5xx status of those (500 or 503 are the ones CleverTap lists).
    :param drop_ratio: fraction of requests whose connection is closed with no response.
    :param slow_ratio: fraction of requests answered only after ``slow_seconds`` more (to
        trigger client read timeouts; the request is still processed, as a real slow server
        would, so a client that retries it sends it twice).
    :param slow_seconds: the delay of those slow requests.
    :param status_for_request: ``{request_number: status}``: answer exactly that request with
        that status (400 to 599) instead of processing it, e.g. ``{3: 400}``.
    :param process_then_drop: numbers of requests to process (store what they carry) and then
        answer with a closed connection: the ambiguous failure after which a retried upload is
        stored twice (events are not upserts).
    :param discarded_events: event names the emulated account discards (CleverTap's dashboard
        can discard an event name): events so named are refused, each at its position.
    :param concurrency_limit: a request arriving while this many are in flight answers 429.
    :param hold_until_requests: hold every admitted API request, unanswered, until this many API
        requests have arrived (0: off). Tests use it to have requests in flight together without
        relying on timing; configuring other faults releases the held ones.
    :param hold_after_request: answer API requests up to this number (counted from the server's
        start, as ``status_for_request``) as usual, and hold every later one unanswered until the
        faults are configured again or the server stops (0: off). Tests use it to stop a run
        part-way through, at a request they choose rather than after a sleep.
    :param seed: seed of the random draws, so that a run with faults can be replayed.
    """

    latency: float = 0.0
    throttle_ratio: float = 0.0
    throttle_every: int = 0
    retry_after: int | None = None
    error_ratio: float = 0.0
    error_status: int = 503
    drop_ratio: float = 0.0
    slow_ratio: float = 0.0
    slow_seconds: float = 0.0
    status_for_request: Mapping[int, int] = field(default_factory=dict)
    process_then_drop: tuple[int, ...] = ()
    discarded_events: tuple[str, ...] = ()
    concurrency_limit: int = DEFAULT_CONCURRENCY_LIMIT
    hold_until_requests: int = 0
    hold_after_request: int = 0
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in _RATIOS:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)!r}")
        if self.latency < 0 or self.slow_seconds < 0:
            raise ValueError("latency and slow_seconds must not be negative")
        if self.throttle_every < 0:
            raise ValueError(f"throttle_every must be 0 (off) or positive, got {self.throttle_every!r}")
        if self.retry_after is not None and (not isinstance(self.retry_after, int) or self.retry_after < 0):
            # Clients (urllib3 among them) only parse whole seconds in Retry-After.
            raise ValueError(f"retry_after must be a whole number of seconds or None, got {self.retry_after!r}")
        if not 500 <= self.error_status <= 599:
            raise ValueError(f"error_status must be a 5xx status, got {self.error_status!r}")
        for name in ("hold_until_requests", "hold_after_request"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 (off) or positive, got {getattr(self, name)!r}")
        if self.concurrency_limit < 1:
            raise ValueError(f"concurrency_limit must be at least 1, got {self.concurrency_limit!r}")
        # JSON object keys arrive as strings (configure over HTTP): normalise to ints.
        statuses = {int(number): int(status) for number, status in self.status_for_request.items()}
        for number, status in statuses.items():
            if number < 1 or not 400 <= status <= 599:
                raise ValueError(
                    f"status_for_request maps request numbers (from 1) to statuses 400-599, got {number}: {status}"
                )
        object.__setattr__(self, "status_for_request", statuses)
        numbers = tuple(int(number) for number in self.process_then_drop)
        if any(number < 1 for number in numbers):
            raise ValueError(f"process_then_drop lists request numbers (from 1), got {list(numbers)}")
        object.__setattr__(self, "process_then_drop", numbers)
        object.__setattr__(self, "discarded_events", tuple(self.discarded_events))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmulatorFaults:
        """Build faults from a JSON-like mapping; fields left out take their defaults."""
        unknown = set(data) - set(FAULT_FIELDS)
        if unknown:
            raise ValueError(f"unknown fault options: {', '.join(sorted(unknown))}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """The faults as a JSON-ready mapping (the inverse of :meth:`from_dict`)."""
        return asdict(self)


FAULT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(EmulatorFaults))


class FaultAction(enum.Enum):
    """What the emulator does with one admitted API request."""

    PROCESS = "process"
    STATUS = "status"
    DROP = "drop"
    SLOW = "slow"
    PROCESS_THEN_DROP = "process_then_drop"


@dataclass(frozen=True)
class FaultDecision:
    """The fate of one request: its action, and the status to answer for ``STATUS``."""

    action: FaultAction
    status: int = 0


_PROCESS = FaultDecision(FaultAction.PROCESS)
_DROP = FaultDecision(FaultAction.DROP)
_SLOW = FaultDecision(FaultAction.SLOW)
_THROTTLE = FaultDecision(FaultAction.STATUS, 429)
_PROCESS_THEN_DROP = FaultDecision(FaultAction.PROCESS_THEN_DROP)


def draw_fault(faults: EmulatorFaults, request_number: int, rng: random.Random) -> FaultDecision:
    """Decide the fate of API request number ``request_number`` (1-based).

    The first matching rule wins: an explicit ``status_for_request``, then ``process_then_drop``,
    drop, every-Nth throttle, ratio throttle, 5xx, slow.
    """
    # Every roll is drawn on every request, so with a seed request N's fate depends only on N,
    # not on which faults happened to fire before it.
    drop_roll, throttle_roll, error_roll, slow_roll = rng.random(), rng.random(), rng.random(), rng.random()
    forced = faults.status_for_request.get(request_number)
    if forced is not None:
        return FaultDecision(FaultAction.STATUS, forced)
    if request_number in faults.process_then_drop:
        return _PROCESS_THEN_DROP
    if drop_roll < faults.drop_ratio:
        return _DROP
    if faults.throttle_every and request_number % faults.throttle_every == 0:
        return _THROTTLE
    if throttle_roll < faults.throttle_ratio:
        return _THROTTLE
    if error_roll < faults.error_ratio:
        return FaultDecision(FaultAction.STATUS, faults.error_status)
    if slow_roll < faults.slow_ratio:
        return _SLOW
    return _PROCESS
