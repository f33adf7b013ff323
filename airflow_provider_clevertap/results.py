"""Accounting for every row of a sync: accepted, refused by CleverTap, invalid, or unconfirmed (an
answer that did not say), and reporting it.

Only identities, codes, reasons and counts are reported: never profile values. The failed-rows
table, where every problem can be kept, is ``failed_rows``.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Protocol

import msgspec

from airflow_provider_clevertap.responses import BatchResult

SAMPLE_SIZE = 20
SUMMARY_EXAMPLES = 3  # of each kind of problem, in the log's summary line
PROGRESS_INTERVAL = 10.0
_encode_problem = msgspec.json.Encoder().encode
_decode_problem = msgspec.json.Decoder().decode


class InfoLog(Protocol):
    """What the report logs through: a ``logging.Logger`` or Airflow 3's structlog task logger."""

    def info(self, event: Any, *args: Any, **kwargs: Any) -> Any: ...

    def warning(self, event: Any, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Problem:
    """A failed row: invalid (code None, our reason) or refused (CleverTap's code)."""

    identity: str | None
    code: int | None
    error: str

    def as_dict(self) -> dict[str, Any]:
        return {"identity": self.identity, "code": self.code, "error": self.error}

    def describe(self) -> str:
        code = "" if self.code is None else f"code {self.code}, "
        return f"{self.identity or '(no identity)'}: {code}{self.error}"


def balanced(invalid: list[Problem], refused: list[Problem], size: int) -> list[Problem]:
    """At most ``size`` problems, half of each kind when both have enough, the rest from the other.

    Invalid rows are found while reading, long before CleverTap's refusals come back: first come
    first kept would fill the sample with invalid rows only.
    """
    refused_count = min(len(refused), max(size - len(invalid), size // 2))
    invalid_count = min(len(invalid), size - refused_count)
    return invalid[:invalid_count] + refused[:refused_count]


class SyncReport:
    """Running totals of one sync, progress lines in the log, and the final summary.

    :param action: what the rows are for (``upload``, ``delete``), for log lines.
    :param dry_run: whether nothing is stored.
    :param log: where progress goes.
    :param keep_problems: keep every problem (for the failed-rows table), not only a sample.
        They are kept in a temporary file, not in memory: a sync with millions of bad rows stays
        flat. ``close()`` removes it.
    """

    def __init__(self, action: str, dry_run: bool, log: InfoLog, *, keep_problems: bool = False) -> None:
        self.action = action
        self.dry_run = dry_run
        self.log = log
        self.rows_read = 0
        self.rows_invalid = 0
        self.rows_accepted = 0
        self.rows_refused = 0
        self.rows_unchanged = 0  # stateful syncs: read, not sent, CleverTap already holds it
        self.profiles_deleted = 0  # mirror syncs: profiles that left the query, deleted
        # Accepted in a batch re-sent after an ambiguous failure: CleverTap may hold them twice.
        self.rows_maybe_duplicated = 0
        # Sent, and answered with something that confirms nothing: CleverTap may or may not hold them.
        self.rows_unconfirmed = 0
        self.batches_unconfirmed = 0
        self.stateful = False  # whether the log's summary gives the unchanged rows
        self.mirror = False  # whether it gives the profiles deleted
        self.batches = 0
        self.requests = 0
        self.retries = 0
        # The first SAMPLE_SIZE of each kind; ``problems`` picks the sample from them.
        self._invalid_sample: list[Problem] = []
        self._refused_sample: list[Problem] = []
        self._refusal_codes: Counter[int | None] = Counter()  # CleverTap's refusals by code
        self.stopped_reason: str | None = None  # set when the sync stops before every row was processed
        self._kept: IO[bytes] | None = tempfile.TemporaryFile() if keep_problems else None
        self._started = time.monotonic()
        self._next_progress = self._started + PROGRESS_INTERVAL

    def invalid(self, identity: str | None, reason: str) -> None:
        """Count a row that was not sent, with our reason."""
        self.rows_invalid += 1
        self._note(Problem(identity, None, reason), self._invalid_sample)

    def batch_done(self, result: BatchResult) -> None:
        """Count one batch's outcome, exactly once, however many attempts it took."""
        self.batches += 1
        self.requests += result.attempts
        self.retries += max(result.attempts - 1, 0)  # a dry-run delete makes no request
        self.rows_refused += len(result.refused)
        self.rows_accepted += result.accepted_count
        if result.unconfirmed is not None:
            self._unconfirmed(result)
        if result.maybe_duplicated:
            self.rows_maybe_duplicated += result.accepted_count
        for refusal in result.refused:
            self._refusal_codes[refusal.code] += 1
            identity = None if refusal.position is None else result.identities[refusal.position]
            self._note(Problem(identity, refusal.code, refusal.error), self._refused_sample)
        if time.monotonic() >= self._next_progress:
            self.log_progress()

    def _unconfirmed(self, result: BatchResult) -> None:
        self.rows_unconfirmed += result.unconfirmed_count
        self.batches_unconfirmed += 1
        self.log.warning(
            "CleverTap %s: a batch of %d rows (%s to %s) is unconfirmed: %s. They are not counted "
            "accepted nor recorded in a state; CleverTap may or may not hold them",
            self.action,
            result.unconfirmed_count,
            result.identities[0],
            result.identities[-1],
            result.unconfirmed,
        )

    def stopped(self, reason: str) -> None:
        """Note that the sync stopped early (killed, timed out, a failure retries did not fix)."""
        self.stopped_reason = reason

    @property
    def problems(self) -> list[Problem]:
        """A sample of at most SAMPLE_SIZE problems, with room for invalid and refused rows alike."""
        return balanced(self._invalid_sample, self._refused_sample, SAMPLE_SIZE)

    def _note(self, problem: Problem, sample: list[Problem]) -> None:
        if len(sample) < SAMPLE_SIZE:
            sample.append(problem)
        if self._kept is not None:
            # One JSON array a line: JSON escapes line breaks inside identities and reasons.
            self._kept.write(_encode_problem((problem.identity, problem.code, problem.error)) + b"\n")

    def kept_problems(self) -> Iterator[Problem]:
        """Every problem noted, in order, read back from the temporary file (``keep_problems``)."""
        if self._kept is None:
            raise ValueError("this report was made without keep_problems")
        kept = self._kept
        kept.seek(0)
        try:
            for line in kept:
                yield Problem(*_decode_problem(line))
        finally:
            # Problems noted afterwards are appended, never written over. A reader left unfinished
            # (its write failed) is closed when collected, maybe after the report closed the file.
            if not kept.closed:
                kept.seek(0, io.SEEK_END)

    def close(self) -> None:
        """Remove the kept problems' temporary file."""
        if self._kept is not None:
            self._kept.close()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self._started

    @property
    def rows_failed(self) -> int:
        return self.rows_invalid + self.rows_refused

    def log_progress(self) -> None:
        self._next_progress = time.monotonic() + PROGRESS_INTERVAL
        done = self.rows_accepted + self.rows_refused
        self.log.info(
            "CleverTap %s progress: %d rows read, %d sent and answered (%.0f rows/s), "
            "%d invalid, %d refused, %d batches, %d retries",
            self.action,
            self.rows_read,
            done,
            done / max(self.seconds, 1e-9),
            self.rows_invalid,
            self.rows_refused,
            self.batches,
            self.retries,
        )

    def summary(self) -> dict[str, Any]:
        """The JSON-serialisable summary the operator returns (and so pushes to XCom)."""
        return {
            "rows_read": self.rows_read,
            "rows_invalid": self.rows_invalid,
            "rows_accepted": self.rows_accepted,
            "rows_refused": self.rows_refused,
            "rows_failed": self.rows_failed,
            "rows_unchanged": self.rows_unchanged,
            "profiles_deleted": self.profiles_deleted,
            "rows_maybe_duplicated": self.rows_maybe_duplicated,
            "rows_unconfirmed": self.rows_unconfirmed,
            "batches": self.batches,
            "requests": self.requests,
            "retries": self.retries,
            "dry_run": self.dry_run,
            "seconds": round(self.seconds, 3),
            "failed_sample": [problem.as_dict() for problem in self.problems],
        }

    def log_summary(self) -> None:
        """One line of counts: a WARNING when rows failed, were left unconfirmed, or the sync
        stopped; else INFO."""
        failed = bool(self.rows_failed or self.rows_unconfirmed) or self.stopped_reason is not None
        (self.log.warning if failed else self.log.info)(
            "CleverTap %s%s %s: %d rows read, %d accepted, %d refused by CleverTap, %d invalid, "
            "%d batches, %d requests, %d retries, %.1f s%s%s%s%s",
            self.action,
            " (dry run)" if self.dry_run else "",
            "finished" if self.stopped_reason is None else f"stopped ({self.stopped_reason})",
            self.rows_read,
            self.rows_accepted,
            self.rows_refused,
            self.rows_invalid,
            self.batches,
            self.requests,
            self.retries,
            self.seconds,
            self._state_counts(),
            f"; {self.rows_unconfirmed} unconfirmed" if self.rows_unconfirmed else "",
            self._codes(),
            self._examples(),
        )
        if self.rows_maybe_duplicated:
            self.log.info(
                "CleverTap %s: %d accepted rows were in batches re-sent after an ambiguous failure "
                "(no answer to a request that went out, or an error that can follow processing): "
                "CleverTap may hold them twice",
                self.action,
                self.rows_maybe_duplicated,
            )

    def _state_counts(self) -> str:
        if not self.stateful:
            return ""
        deleted = f", {self.profiles_deleted} profiles deleted" if self.mirror else ""
        return f"; {self.rows_unchanged} unchanged (not sent){deleted}"

    def _codes(self) -> str:
        """CleverTap's refusals counted by code, most frequent first: ``; refused by code: 516 x2, 515 x1``."""
        if not self._refusal_codes:
            return ""
        counts = ", ".join(f"{code} x{count}" for code, count in self._refusal_codes.most_common())
        return f"; refused by code: {counts}"

    def _examples(self) -> str:
        parts = [
            f"{kind} e.g. " + "; ".join(problem.describe() for problem in sample[:SUMMARY_EXAMPLES])
            for kind, sample in (("invalid", self._invalid_sample), ("refused", self._refused_sample))
            if sample
        ]
        return "".join(f". {part}" for part in parts)

    def describe_problems(self, limit: int = 6) -> str:
        """A few identities and reasons of each kind, for an error message."""
        return "; ".join(problem.describe() for problem in balanced(self._invalid_sample, self._refused_sample, limit))
