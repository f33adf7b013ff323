"""The state written as the run goes (state/recorder.py): an event sync killed with SIGKILL loses
at most the confirmations not yet written, and a state that cannot be written fails the task.

Against the emulator over real HTTP and a real PostgreSQL or SQLite (WAL, and rollback journal
where the state is still written at the end). Orderings are forced with events, never sleeps:
the emulator answers the first requests and holds every later one, so a run cannot finish before
the test has seen the state written and acted.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections import Counter
from typing import Any

import pytest

from airflow_provider_clevertap.emulator import CleverTapEmulator, EmulatorFaults
from airflow_provider_clevertap.operators import CleverTapEventUploadOperator
from airflow_provider_clevertap.state.recorder import StateWriteError
from tests.reliability._reliability import in_thread, wait_until
from tests.state.conftest import Warehouse

CONTEXT = {"run_id": "manual__2026-03-01T00:00:00+00:00"}
WAIT = 60.0  # a bound on a hang, not a timing
EVENTS = 2000
BATCH = 100
ANSWERED = 5  # requests the emulator answers before it holds every later one
SYNC_ID = "recorded.events"


def events(warehouse: Warehouse) -> CleverTapEventUploadOperator:
    return CleverTapEventUploadOperator(
        task_id="events",
        source_conn_id=warehouse.conn_id,
        sql=f"SELECT order_id, customer_id, placed FROM {warehouse.orders}",
        identity_column="customer_id",
        event_name="Order Placed",
        ts_column="placed",
        event_id_column="order_id",
        state_table=warehouse.state,
        sync_id=SYNC_ID,
        batch_size=BATCH,
        max_concurrency=4,
    )


def _run_events(warehouse: Warehouse) -> None:
    events(warehouse).execute(CONTEXT)


def journal(warehouse: Warehouse, mode: str) -> None:
    if warehouse.kind == "sqlite":
        assert warehouse.query(f"PRAGMA journal_mode={mode}") == [(mode,)]


def recorded(warehouse: Warehouse) -> set[str]:
    """The event ids the state holds (none before the run has created the table)."""
    if not warehouse.has_table(warehouse.state):
        return set()
    return {key for (key,) in warehouse.query(f"SELECT row_key FROM {warehouse.state}")}


def stored(emu: CleverTapEmulator) -> Counter[str]:
    """How many times the emulator stores each event id."""
    return Counter(event["evtData"]["order_id"] for held in emu.events().values() for event in held)


def hold_after_the_first_batches(emu: CleverTapEmulator) -> None:
    emu.configure(faults=EmulatorFaults(hold_after_request=emu.stats.requests + ANSWERED))


def kill_mid_run(warehouse: Warehouse, emu: CleverTapEmulator, *, killable: Any) -> tuple[set[str], Counter[str]]:
    """Run the sync in a forked process and SIGKILL it once ``killable()`` holds (the answered
    batches are in); return the state's ids and the emulator's events at the kill."""
    hold_after_the_first_batches(emu)
    process = multiprocessing.get_context("fork").Process(target=_run_events, args=(warehouse,))
    process.start()
    try:
        wait_until(killable)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.join(WAIT)
    assert process.exitcode == -signal.SIGKILL
    return recorded(warehouse), stored(emu)


def release_held_requests(emu: CleverTapEmulator) -> Counter[str]:
    """Configure no faults: the held requests go on, and the emulator stores their events though
    their client is gone (sent, never answered: the ambiguous failure's caveat). Returns those."""
    before = stored(emu)
    emu.configure(faults=EmulatorFaults())
    wait_until(lambda: emu.stats.in_flight == 0)
    return stored(emu) - before


def rerun_and_check(
    warehouse: Warehouse, emu: CleverTapEmulator, ids: list[str], held: set[str], at_kill: Counter[str]
) -> set[str]:
    """Run the sync again; check what the re-run stores; return the ids stored twice."""
    unanswered = release_held_requests(emu)
    summary = events(warehouse).execute(CONTEXT)

    assert summary["rows_unchanged"] == len(held)  # recorded before the kill: not sent again
    assert summary["rows_accepted"] == EVENTS - len(held)
    final = stored(emu)
    assert set(final) == set(ids)  # every event at least once
    assert all(final[key] == 1 for key in held)  # an id written to the state: stored once
    twice = {key for key, count in final.items() if count > 1}
    # Stored twice: only ids CleverTap took before the kill that the state did not hold yet
    # (the window), and those of requests that went out and were never answered.
    assert twice <= (set(at_kill) - held) | set(unanswered)
    assert recorded(warehouse) == set(ids)
    return twice


@pytest.mark.parametrize("warehouse", ["postgres", "sqlite"], indirect=True)
def test_an_event_sync_killed_with_sigkill_stores_each_recorded_event_once(warehouse, emu):
    """PostgreSQL, and SQLite in WAL mode: the state is written while the run goes."""
    journal(warehouse, "wal")
    ids = warehouse.stage_orders(EVENTS)

    # The answered batches' ids reach the state while the run goes: no later request is answered,
    # so the run cannot have reached its end.
    held, at_kill = kill_mid_run(warehouse, emu, killable=lambda: len(recorded(warehouse)) >= ANSWERED * BATCH)

    assert len(held) == ANSWERED * BATCH
    assert held <= set(at_kill)  # the state claims nothing CleverTap did not store
    twice = rerun_and_check(warehouse, emu, ids, held, at_kill)
    assert not twice & held


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_in_rollback_journal_mode_the_state_is_written_at_the_end_so_a_sigkill_loses_it(warehouse, emu):
    """SQLite's default journal cannot commit beside the open read: the state is spooled and
    written when the read ends, as before; a SIGKILL before then loses the run's confirmations."""
    journal(warehouse, "delete")
    ids = warehouse.stage_orders(EVENTS)

    held, at_kill = kill_mid_run(warehouse, emu, killable=lambda: emu.stats.events_stored >= ANSWERED * BATCH)

    assert held == set() and len(at_kill) == ANSWERED * BATCH
    twice = rerun_and_check(warehouse, emu, ids, held, at_kill)
    assert set(at_kill) <= twice  # what the killed run sent, CleverTap now holds twice


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_in_rollback_journal_mode_a_run_records_every_event_at_the_end_and_says_so(warehouse, emu, task_logs):
    journal(warehouse, "delete")
    ids = warehouse.stage_orders(300)

    summary = events(warehouse).execute(CONTEXT)

    assert summary["rows_accepted"] == 300
    assert recorded(warehouse) == set(ids)
    assert sum("rollback-journal mode" in record.getMessage() for record in task_logs.records) == 1


REFUSE_TRIGGER = {
    "sqlite": (
        "CREATE TRIGGER {prefix}_refuse BEFORE INSERT ON {state} BEGIN SELECT RAISE(ABORT, 'state refused'); END",
    ),
    "postgres": (
        "CREATE FUNCTION {prefix}_refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'state refused'; END $$ "
        "LANGUAGE plpgsql",
        "CREATE TRIGGER refuse BEFORE INSERT ON {state} FOR EACH ROW EXECUTE FUNCTION {prefix}_refuse()",
    ),
}
DROP_TRIGGER = {
    "sqlite": ("DROP TRIGGER {prefix}_refuse",),
    "postgres": ("DROP TRIGGER refuse ON {state}", "DROP FUNCTION {prefix}_refuse()"),
}


def run_sql(warehouse: Warehouse, statements: tuple[str, ...]) -> None:
    for statement in statements:
        warehouse.execute(statement.format(prefix=warehouse.prefix, state=warehouse.state))


@pytest.mark.parametrize("warehouse", ["postgres", "sqlite"], indirect=True)
def test_a_state_that_cannot_be_written_fails_the_task_and_the_next_run_resends(warehouse, emu):
    journal(warehouse, "wal")
    ids = warehouse.stage_orders(EVENTS)
    hold_after_the_first_batches(emu)
    runner, outcome = in_thread(events(warehouse), CONTEXT)
    wait_until(lambda: len(recorded(warehouse)) >= ANSWERED * BATCH)
    # The warehouse refuses every later write of the state (a trigger: created beside the open
    # read, which a DROP TABLE on PostgreSQL would wait for).
    run_sql(warehouse, REFUSE_TRIGGER[warehouse.kind])
    try:
        emu.configure(faults=EmulatorFaults())  # the held requests are answered, the run goes on
        runner.join(WAIT)
    finally:
        run_sql(warehouse, DROP_TRIGGER[warehouse.kind])

    assert not runner.is_alive()
    error = outcome.get("error")
    assert isinstance(error, StateWriteError), outcome
    assert f"writing to {warehouse.state} failed" in str(error) and "state refused" in str(error)
    assert f"{ANSWERED * BATCH} of the " in str(error) and "sent again on the next run" in str(error)
    held = recorded(warehouse)
    assert len(held) == ANSWERED * BATCH  # never more than was written
    at_first = stored(emu)
    assert held <= set(at_first)

    summary = events(warehouse).execute(CONTEXT)

    assert summary["rows_unchanged"] == len(held) and summary["rows_accepted"] == EVENTS - len(held)
    final = stored(emu)
    assert set(final) == set(ids) and all(final[key] == 1 for key in held)
    assert recorded(warehouse) == set(ids)


class WatchedEvents(CleverTapEventUploadOperator):
    """An event sync whose recorder the test can watch, to kill it once confirmations are in."""

    recorder: Any = None

    def start_state(self, *args: Any) -> Any:
        self.recorder = super().start_state(*args)
        return self.recorder


@pytest.mark.parametrize("warehouse", ["postgres", "sqlite"], indirect=True)
def test_an_event_sync_killed_through_airflow_records_every_confirmed_id(warehouse, emu):
    """on_kill (SIGTERM, mark failed): what CleverTap confirmed is written before the task ends."""
    journal(warehouse, "wal")
    warehouse.stage_orders(EVENTS)
    hold_after_the_first_batches(emu)
    operator = events(warehouse)
    operator.__class__ = WatchedEvents
    runner, outcome = in_thread(operator, CONTEXT)
    wait_until(lambda: operator.recorder is not None and operator.recorder.count >= ANSWERED * BATCH)
    # Every worker waits on a held request: the kill finds no request being opened.
    wait_until(lambda: emu.stats.in_flight == operator.max_concurrency)

    operator.on_kill()
    runner.join(WAIT)

    assert not runner.is_alive() and "cancelled" in str(outcome.get("error"))
    assert recorded(warehouse) == set(stored(emu)) and len(recorded(warehouse)) == ANSWERED * BATCH
    release_held_requests(emu)


@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_a_writer_that_falls_behind_makes_the_sender_wait(warehouse):
    """The queue to the writer is bounded: while the state table is locked, noting waits."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from airflow_provider_clevertap.responses import BatchResult
    from airflow_provider_clevertap.state.recorder import QUEUE_BATCHES, StateRecorder
    from airflow_provider_clevertap.state.table import SyncState

    state = SyncState(PostgresHook(postgres_conn_id=warehouse.conn_id), warehouse.state, SYNC_ID, "order_id")
    state.create()
    state.begin()
    batches = [
        BatchResult([f"c-{n}"] * 10, tags=[[f"o-{n}-{i}", "f" * 32, None, False] for i in range(10)])
        for n in range(QUEUE_BATCHES + 2)
    ]
    locker = warehouse.connect()
    locker.execute(f"LOCK TABLE {warehouse.state} IN EXCLUSIVE MODE")  # held until commit
    recorder = StateRecorder(state, "run")
    try:

        def note_all() -> None:
            for batch in batches:
                recorder.note(batch)

        noter = threading.Thread(target=note_all)
        noter.start()
        # The writer is stuck on its first INSERT; the queue fills, and the sender waits on it.
        wait_until(recorder._queue.full)
        assert noter.is_alive() and recorder.written == 0
    finally:
        locker.commit()
        locker.close()
    noter.join(WAIT)
    assert recorder.finish() == 10 * len(batches)
    assert len(recorded(warehouse)) == 10 * len(batches)
