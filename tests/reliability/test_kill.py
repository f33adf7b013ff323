"""Killing a task mid-sync stops its in-flight work at once, with no worker thread left behind.

Airflow stops a task in two ways: SIGTERM to the task process (mark-failed, a killed worker, the
supervisor's own timeouts), whose handler calls the operator's ``on_kill``; and the
``execution_timeout`` alarm, which raises ``AirflowTaskTimeout`` inside ``execute`` and then calls
``on_kill``. Both go through Airflow's real task runner here (``dag.test()``); ``on_kill`` is also
called directly from another thread, the way a supervisor thread would.

No timing is asserted: the emulator holds every request unanswered (``hold_until_requests``), so
a task that ends has cut its requests in flight itself; that no request was retried or sent
after the kill shows it was the cancellation, not a read timeout (60 s by default, then retries).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading

import pytest
from _reliability import in_thread, leaks, stage_users, wait_until, worker_threads
from airflow.providers.common.compat.sdk import AirflowException
from test_fault_matrix import make_operator, seed_profiles

from airflow_provider_clevertap.emulator import EmulatorFaults
from airflow_provider_clevertap.operators import CleverTapUserUploadOperator

ROWS = 2000
BATCH = 100
HOLD_EVERY_REQUEST = EmulatorFaults(hold_until_requests=10**9)
JOIN = 120.0  # a bound on a hang: joins return as soon as the task ends


@pytest.fixture
def held(emu):
    """Every API request is held unanswered; released (and the emulator drained) at the end."""
    emu.configure(faults=HOLD_EVERY_REQUEST)
    yield emu
    emu.configure(faults=EmulatorFaults())
    wait_until(lambda: emu.stats.in_flight == 0)


def progress(emu, kind: str) -> int:
    stats = emu.stats
    return stats.deletes if kind == "delete" else stats.records_stored


@pytest.mark.parametrize("kind", ["upload", "delete"])
def test_on_kill_stops_a_running_sync_at_once(kind, emu, sqlite_warehouse, context, capfd):
    stage_users(sqlite_warehouse, ROWS)
    if kind == "delete":
        seed_profiles(emu)
    before = emu.stats
    emu.configure(faults=HOLD_EVERY_REQUEST)
    operator = make_operator(kind)
    runner, outcome = in_thread(operator, context)
    wait_until(lambda: emu.stats.in_flight == operator.max_concurrency)
    assert worker_threads(), "no worker threads while the sync runs: nothing to prove"

    operator.on_kill()
    runner.join(JOIN)

    assert not runner.is_alive()
    error = outcome.get("error")
    assert isinstance(error, AirflowException) and "cancelled" in str(error), outcome
    assert not worker_threads()
    stats = emu.stats
    # Ended while the emulator still held every request: cut by the cancellation, none retried,
    # none sent after it, nothing took effect.
    assert stats.in_flight == operator.max_concurrency
    assert stats.requests - before.requests == operator.max_concurrency
    assert (stats.records_stored, stats.deletes) == (before.records_stored, before.deletes)
    out, err = capfd.readouterr()  # the task logger writes to the console here
    assert f"CleverTap {kind} stopped (the task was killed): " in out
    assert "Tenacity" not in out + err and f"CleverTap {kind} finished" not in out
    emu.configure(faults=EmulatorFaults())
    wait_until(lambda: emu.stats.in_flight == 0)


def test_a_killed_attempt_marks_its_failed_rows_as_stopped(held, sqlite_warehouse, context):
    rows = [{"identity": None, "plan": "gold"}] + [{"identity": f"u{n}", "plan": "gold"} for n in range(50)]
    operator = CleverTapUserUploadOperator(
        task_id="upload_profiles",
        source_conn_id="warehouse",
        rows=rows,
        batch_size=10,
        max_concurrency=2,
        max_failed_ratio=1.0,
        failed_rows_table="failed",
    )
    runner, outcome = in_thread(operator, {**context, "ti": _TaskInstance(try_number=2, map_index=-1)})
    wait_until(lambda: held.stats.in_flight == 2)

    operator.on_kill()
    runner.join(JOIN)

    assert not runner.is_alive() and "cancelled" in str(outcome.get("error"))
    with sqlite3.connect(sqlite_warehouse) as db:
        recorded = db.execute("SELECT identity, try_number, map_index, attempt FROM failed").fetchall()
    # Written after the kill (what was found is kept), marked as from a stopped attempt.
    assert recorded == [(None, 2, -1, "stopped")]


class _TaskInstance:
    def __init__(self, try_number: int, map_index: int) -> None:
        self.try_number, self.map_index = try_number, map_index


def test_sigterm_through_airflow_task_runner_stops_the_sync(held, sqlite_warehouse, reliability_dags, capfd):
    stage_users(sqlite_warehouse, ROWS)
    pytest_handler = signal.getsignal(signal.SIGTERM)
    sent: dict[str, int] = {}

    def kill_mid_sync() -> None:
        try:
            wait_until(lambda: held.stats.in_flight >= 4)  # the DAG's max_concurrency
        except AssertionError:
            return
        if signal.getsignal(signal.SIGTERM) is pytest_handler:
            return  # Airflow's handler is not installed: a SIGTERM would kill pytest itself
        # On a loaded machine the held requests may already have timed out and been sent again.
        sent["requests"] = held.stats.requests
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=kill_mid_sync, name="sigterm-sender")
    killer.start()
    try:
        run = reliability_dags("reliability_upload")
    finally:
        killer.join(JOIN)
        signal.signal(signal.SIGTERM, pytest_handler)

    assert sent, "the task runner installed no SIGTERM handler, or the sync never started"
    assert run.state == "failed"
    stats = held.stats
    assert stats.requests == sent["requests"] and stats.records_stored == 0  # none sent after the kill
    assert not worker_threads()
    out, err = capfd.readouterr()
    assert "CleverTap upload stopped (the task was killed)" in out  # the task log was captured
    assert "Tenacity" not in out + err
    assert not leaks([out, err])


class _BlockingRows:
    """Rows that block on their first read until the task is killed: a query still running."""

    def __init__(self) -> None:
        self.reading = threading.Event()
        self.killed = threading.Event()

    def __iter__(self):
        self.reading.set()
        assert self.killed.wait(JOIN)
        yield from ((f"slow-{n}", "gold") for n in range(500))


def test_a_kill_while_the_source_query_runs_sends_nothing(emu, sqlite_warehouse, context, monkeypatch):
    from contextlib import contextmanager

    from airflow_provider_clevertap.sources import RowSource

    rows = _BlockingRows()

    @contextmanager
    def blocked_source(self, source_hook):
        yield RowSource(["identity", "plan"], iter(rows))

    monkeypatch.setattr(CleverTapUserUploadOperator, "read_source", blocked_source)
    operator = CleverTapUserUploadOperator(
        task_id="upload_profiles", source_conn_id="warehouse", sql="SELECT identity, plan FROM users", batch_size=50
    )
    runner, outcome = in_thread(operator, context)
    assert rows.reading.wait(JOIN)

    operator.on_kill()  # SIGTERM during the query: the hook may not even exist yet
    rows.killed.set()
    runner.join(JOIN)

    assert not runner.is_alive()
    error = outcome.get("error")
    assert isinstance(error, AirflowException) and "cancelled" in str(error), outcome
    assert emu.stats.requests == 0


# Every request is held: at the 1 s timeout all workers are waiting on one.
def test_execution_timeout_stops_requests_in_flight(held, sqlite_warehouse, reliability_dags, capfd):
    stage_users(sqlite_warehouse, ROWS)

    run = reliability_dags("reliability_upload_timeout")

    assert run.state == "failed"
    stats = held.stats
    assert stats.records_stored == 0 and stats.in_flight == stats.requests  # every one cut, unanswered
    assert not worker_threads()
    out, err = capfd.readouterr()
    assert "CleverTap upload stopped (execution_timeout reached)" in out
    assert "Tenacity" not in out + err
    assert not leaks([out, err])
