"""Writing a stateful sync's state while it runs, batch by batch, as CleverTap confirms them, so
that a kill loses little and the writing overlaps the sending
(docs/decisions/27-state-written-as-the-run-goes.md).

A ``StateRecorder`` writes from a thread and a connection of its own, beside the source's open
read. The sender hands it each batch's confirmations through a queue of ``QUEUE_BATCHES`` (and waits
when the writer falls behind); the writer commits every ``COMMIT_ROWS`` rows, ``COMMIT_SECONDS``
after its first uncommitted row, and at the end, and writes again a transaction PostgreSQL ended to
break a deadlock (``writes.write_redoing_deadlocks``). A write that fails otherwise stops the run:
the next ``note`` raises ``StateWriteError``. What was not written is sent again by the next run.

Where a second connection cannot commit while the read is open (SQLite in rollback-journal mode),
``SpooledRecorder`` keeps the confirmations in a temporary file and writes them when the read is
over; ``open_recorder`` decides per connection (``dialects.writes_beside_read``).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from typing import Any, Protocol

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_clevertap.responses import BatchResult
from airflow_provider_clevertap.state.changes import Confirmations, Confirmed, confirmed_count, confirmed_entries
from airflow_provider_clevertap.state.dialects import writes_beside_read
from airflow_provider_clevertap.state.table import SyncState
from airflow_provider_clevertap.state.writes import COMMIT_ROWS, write_redoing_deadlocks

QUEUE_BATCHES = 8  # confirmed batches waiting for the writer: a few MB, whatever the run's size
COMMIT_SECONDS = 0.5  # the longest a confirmation waits uncommitted while the writer keeps up
_DONE = None  # what the sender queues last
_MAX_DETAIL = 200


class StateWriteError(AirflowException):
    """The state table could not be written: the task fails, and the next run sends again what
    was not recorded."""


class Recorder(Confirmations, Protocol):
    """Where a stateful upload notes what CleverTap confirmed, and has it written."""

    def finish(self) -> int:
        """Write what is left; return how many confirmations the state holds from this run."""
        ...


class StateRecorder:
    """Writes each noted batch's confirmations to the state as the run goes (see the module).

    :param state: the sync's state (``begin`` called).
    :param run_id: the Airflow run, written beside each row.
    """

    def __init__(self, state: SyncState, run_id: str) -> None:
        self.count = 0
        self.written = 0  # committed
        self.commits = 0
        self._state = state
        self._run_id = run_id
        self._queue: queue.Queue[BatchResult | None] = queue.Queue(QUEUE_BATCHES)
        self._failure: str | None = None  # why a write failed: its type and first line
        self._reported = False
        self._done = False  # the writer has taken the sender's last item
        self._thread = threading.Thread(target=self._run, name="state-recorder", daemon=True)
        self._thread.start()

    def note(self, result: BatchResult) -> None:
        """Queue a batch's confirmations (waiting while the queue is full); raise
        ``StateWriteError`` once a write has failed, so that nothing more is sent."""
        confirms = confirmed_count(result)
        self.count += confirms
        self._raise_if_failed()
        if confirms:
            # The entries are made in the writer's thread: this one reads and maps the rows.
            self._queue.put(result)

    def finish(self) -> int:
        """Write what is queued and stop the writer; raise ``StateWriteError`` if a write failed
        and no ``note`` said so yet."""
        self.close()
        self._raise_if_failed()
        return self.written

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_DONE)
            self._thread.join()

    def _raise_if_failed(self) -> None:
        if self._failure is None or self._reported:
            return
        self._reported = True
        raise StateWriteError(
            f"CleverTap state: writing to {self._state.table} failed ({self._failure}); "
            f"{self.written} of the {self.count} records CleverTap accepted are recorded, the others are "
            "sent again on the next run"
        ) from None

    # -- the writer's thread ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            # A connection of its own, made in the thread that uses it (SQLite's rule); closed
            # before the error is reported, so an uncommitted transaction rolls back at once.
            with contextlib.closing(self._state.hook.get_conn()) as connection:
                with contextlib.closing(connection.cursor()) as cursor:
                    self._write(connection, cursor)
        except BaseException as error:  # reported to the sender by its next note, or by finish
            self._failure = f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0][:_MAX_DETAIL]}"
        while not self._done and self._queue.get() is not _DONE:  # the sender never waits on a dead writer
            pass

    def _write(self, connection: Any, cursor: Any) -> None:
        uncommitted: list[Any] = []  # the open transaction's entries, written again after a deadlock
        deadline = 0.0
        while True:
            try:
                result = self._queue.get(timeout=max(deadline - time.monotonic(), 0.0) if uncommitted else None)
            except queue.Empty:  # COMMIT_SECONDS are up
                self._commit(connection, uncommitted)
                continue
            if result is _DONE:
                self._done = True
                break
            if not uncommitted:
                deadline = time.monotonic() + COMMIT_SECONDS
            entries = confirmed_entries(result)
            uncommitted.extend(entries)
            write_redoing_deadlocks(self._state, connection, cursor, entries, uncommitted, self._run_id)
            if len(uncommitted) >= COMMIT_ROWS:
                self._commit(connection, uncommitted)
        self._commit(connection, uncommitted)

    def _commit(self, connection: Any, uncommitted: list[Any]) -> None:
        if uncommitted:
            connection.commit()
            self.written += len(uncommitted)
            self.commits += 1
            uncommitted.clear()


class SpooledRecorder(Confirmed):
    """The confirmations in a temporary file, written once the source's read is over.

    :param state: the sync's state (``begin`` called).
    :param run_id: the Airflow run, written beside each row.
    """

    def __init__(self, state: SyncState, run_id: str) -> None:
        super().__init__()
        self._state = state
        self._run_id = run_id

    def finish(self) -> int:
        return self._state.record(self, self._run_id)


def open_recorder(state: SyncState, run_id: str, log: logging.Logger | Any) -> Recorder:
    """A ``StateRecorder`` where the source's connection can commit beside its open read, else a
    ``SpooledRecorder`` (said in the log)."""
    if writes_beside_read(state.hook):
        return StateRecorder(state, run_id)
    log.info(
        "CleverTap state: this SQLite database is in rollback-journal mode, where nothing commits while the "
        "source is read, so %s is written once the read is over (a kill before then loses the run's "
        "confirmations: they are sent again). In WAL mode (PRAGMA journal_mode=WAL) it is written as the run goes.",
        state.table,
    )
    return SpooledRecorder(state, run_id)
