"""Accounting for every row of a sync: accepted, refused by CleverTap, or invalid, and reporting it.

Only identities, codes, reasons and counts are reported: never profile values.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Protocol

import msgspec
from airflow.providers.common.sql.hooks.sql import DbApiHook

from airflow_provider_clevertap.responses import BatchResult

SAMPLE_SIZE = 20
PROGRESS_INTERVAL = 10.0
_encode_problem = msgspec.json.Encoder().encode
_decode_problem = msgspec.json.Decoder().decode
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}")


class InfoLog(Protocol):
    """What the report logs through: a ``logging.Logger`` or Airflow 3's structlog task logger."""

    def info(self, event: Any, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Problem:
    """A row that did not make it: invalid (code None, our reason) or refused (CleverTap's code)."""

    identity: str | None
    code: int | None
    error: str

    def as_dict(self) -> dict[str, Any]:
        return {"identity": self.identity, "code": self.code, "error": self.error}


class SyncReport:
    """Running totals of one sync, progress lines in the log, and the final summary.

    :param action: what the rows are for (``upload``, ``delete``), for log lines.
    :param dry_run: whether nothing is stored.
    :param log: where progress goes.
    :param keep_problems: keep every problem (for the rejected-rows table), not only a sample.
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
        self.rows_rejected = 0
        self.rows_unchanged = 0  # stateful syncs: read, not sent, CleverTap already holds it
        self.profiles_deleted = 0  # mirror syncs: profiles that left the query, deleted
        # Accepted in a batch re-sent after an ambiguous failure: CleverTap may hold them twice.
        self.rows_maybe_duplicated = 0
        self.stateful = False  # whether the log's summary gives the two counts above
        self.batches = 0
        self.requests = 0
        self.retries = 0
        self.problems: list[Problem] = []  # the first SAMPLE_SIZE, for the summary and errors
        self._kept: IO[bytes] | None = tempfile.TemporaryFile() if keep_problems else None
        self._started = time.monotonic()
        self._next_progress = self._started + PROGRESS_INTERVAL

    def invalid(self, identity: str | None, reason: str) -> None:
        """Count a row that was not sent, with our reason."""
        self.rows_invalid += 1
        self._note(Problem(identity, None, reason))

    def batch_done(self, result: BatchResult) -> None:
        """Count one batch's outcome, exactly once, however many attempts it took."""
        self.batches += 1
        self.requests += result.attempts
        self.retries += max(result.attempts - 1, 0)  # a dry-run delete makes no request
        self.rows_rejected += len(result.refused)
        self.rows_accepted += result.accepted_count
        if result.maybe_duplicated:
            self.rows_maybe_duplicated += result.accepted_count
        for refusal in result.refused:
            identity = None if refusal.position is None else result.identities[refusal.position]
            self._note(Problem(identity, refusal.code, refusal.error))
        if time.monotonic() >= self._next_progress:
            self.log_progress()

    def _note(self, problem: Problem) -> None:
        if len(self.problems) < SAMPLE_SIZE:
            self.problems.append(problem)
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
            kept.seek(0, io.SEEK_END)  # problems noted afterwards are appended, never written over

    def close(self) -> None:
        """Remove the kept problems' temporary file."""
        if self._kept is not None:
            self._kept.close()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self._started

    @property
    def rows_failed(self) -> int:
        return self.rows_invalid + self.rows_rejected

    def log_progress(self) -> None:
        self._next_progress = time.monotonic() + PROGRESS_INTERVAL
        done = self.rows_accepted + self.rows_rejected
        self.log.info(
            "CleverTap %s progress: %d rows read, %d sent and answered (%.0f rows/s), "
            "%d invalid, %d refused, %d batches, %d retries",
            self.action,
            self.rows_read,
            done,
            done / max(self.seconds, 1e-9),
            self.rows_invalid,
            self.rows_rejected,
            self.batches,
            self.retries,
        )

    def summary(self) -> dict[str, Any]:
        """The JSON-serialisable summary the operator returns (and so pushes to XCom)."""
        return {
            "rows_read": self.rows_read,
            "rows_invalid": self.rows_invalid,
            "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected,
            "rows_unchanged": self.rows_unchanged,
            "profiles_deleted": self.profiles_deleted,
            "rows_maybe_duplicated": self.rows_maybe_duplicated,
            "batches": self.batches,
            "requests": self.requests,
            "retries": self.retries,
            "dry_run": self.dry_run,
            "seconds": round(self.seconds, 3),
            "rejected_sample": [problem.as_dict() for problem in self.problems[:SAMPLE_SIZE]],
        }

    def log_summary(self) -> None:
        self.log.info(
            "CleverTap %s%s finished: %d rows read, %d accepted, %d refused by CleverTap, %d invalid, "
            "%d batches, %d requests, %d retries, %.1f s%s",
            self.action,
            " (dry run)" if self.dry_run else "",
            self.rows_read,
            self.rows_accepted,
            self.rows_rejected,
            self.rows_invalid,
            self.batches,
            self.requests,
            self.retries,
            self.seconds,
            self._state_counts(),
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
        return f"; {self.rows_unchanged} unchanged (not sent), {self.profiles_deleted} profiles deleted"

    def describe_problems(self, limit: int = 5) -> str:
        """A few identities and reasons, for an error message."""
        return "; ".join(
            f"{problem.identity or '(no identity)'}: "
            f"{'' if problem.code is None else f'code {problem.code}, '}{problem.error}"
            for problem in self.problems[:limit]
        )


def write_problems(
    hook: DbApiHook, table: str, problems: Iterable[Problem], *, dag_id: str, task_id: str, run_id: str
) -> None:
    """Record every problem row in ``table`` (created if missing), so the warehouse keeps them."""
    if not _TABLE_NAME.fullmatch(table):
        raise ValueError(f"rejected_rows_table {table!r} is not a plain [schema.]table name")
    hook.run(
        f"CREATE TABLE IF NOT EXISTS {table} ("
        "dag_id VARCHAR(250), task_id VARCHAR(250), run_id VARCHAR(250), identity TEXT, "
        "code INTEGER, error TEXT, recorded_at VARCHAR(32))"
    )
    recorded_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    hook.insert_rows(
        table,
        ((dag_id, task_id, run_id, p.identity, p.code, p.error, recorded_at) for p in problems),
        target_fields=["dag_id", "task_id", "run_id", "identity", "code", "error", "recorded_at"],
        commit_every=1000,
    )
