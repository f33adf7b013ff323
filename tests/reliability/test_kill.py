"""Killing a task mid-sync stops its in-flight work promptly, with no worker thread left behind.

Airflow stops a task in two ways: SIGTERM to the task process (mark-failed, a killed worker, the
supervisor's own timeouts), whose handler calls the operator's ``on_kill``; and the
``execution_timeout`` alarm, which raises ``AirflowTaskTimeout`` inside ``execute`` and then calls
``on_kill``. Both go through Airflow's real task runner here (``dag.test()``); ``on_kill`` is also
called directly from another thread, the way a supervisor thread would.

The operators use their own hook with its default settings (60 s read timeout, 1 s back-off):
only cancelling can make them stop in well under a second or two.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest
from _reliability import leaks, stage_users, worker_threads
from airflow.providers.common.compat.sdk import AirflowException
from test_fault_matrix import accepted_in_message, make_operator, seed_profiles, stored_outcome

from airflow_provider_clevertap.emulator import EmulatorFaults
from airflow_provider_clevertap.operators import CleverTapUserUploadOperator

ROWS = 2000
BATCH = 100
STOP_WITHIN = 2.0  # seconds from the kill to the task's end


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the run to get going"
        time.sleep(0.005)


def progress(emu, kind: str) -> int:
    stats = emu.stats
    return stats.deletes if kind == "delete" else stats.records_stored


@pytest.mark.parametrize("kind", ["upload", "delete"])
def test_on_kill_stops_a_running_sync_promptly(kind, emu, sqlite_warehouse, context):
    identities = stage_users(sqlite_warehouse, ROWS)
    if kind == "delete":
        seed_profiles(emu)
    emu.configure(faults=EmulatorFaults(latency=0.3))
    operator = make_operator(kind)
    outcome: dict[str, Any] = {}

    def task() -> None:
        try:
            outcome["summary"] = operator.execute(context)
        except BaseException as error:  # noqa: BLE001 - the test inspects whatever ended the task
            outcome["error"] = error

    runner = threading.Thread(target=task, name="task-execute")
    runner.start()
    wait_until(lambda: progress(emu, kind) >= 3 * BATCH)
    assert worker_threads(), "no worker threads while the sync runs: nothing to prove"

    killed = time.monotonic()
    operator.on_kill()
    runner.join(10)
    stopped_after = time.monotonic() - killed

    assert not runner.is_alive()
    assert stopped_after < STOP_WITHIN
    error = outcome.get("error")
    assert isinstance(error, AirflowException) and "cancelled" in str(error), outcome
    assert not worker_threads()
    # Nothing is sent once the task has stopped.
    requests_at_stop = emu.stats.requests
    time.sleep(0.4)
    assert emu.stats.requests == requests_at_stop
    # Rows confirmed before the kill are all stored; those cut in flight may be stored too
    # (the server had them), never more than one window of batches.
    took_effect = len(stored_outcome(kind, emu, identities))
    confirmed = accepted_in_message(str(error))
    assert confirmed <= took_effect <= confirmed + 2 * operator.max_concurrency * BATCH
    assert 3 * BATCH <= took_effect < ROWS


def test_sigterm_through_airflow_task_runner_stops_the_sync(emu, sqlite_warehouse, reliability_dags, capfd):
    stage_users(sqlite_warehouse, ROWS)
    emu.configure(faults=EmulatorFaults(latency=0.3))
    pytest_handler = signal.getsignal(signal.SIGTERM)
    sent: dict[str, float] = {}

    def kill_mid_sync() -> None:
        try:
            wait_until(lambda: progress(emu, "upload") >= 3 * BATCH)
        except AssertionError:
            return
        if signal.getsignal(signal.SIGTERM) is pytest_handler:
            return  # Airflow's handler is not installed: a SIGTERM would kill pytest itself
        sent["at"] = time.time()
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=kill_mid_sync, name="sigterm-sender")
    killer.start()
    try:
        run = reliability_dags("reliability_upload")
    finally:
        killer.join(15)
        signal.signal(signal.SIGTERM, pytest_handler)

    assert "at" in sent, "the task runner installed no SIGTERM handler, or the sync never started"
    assert run.state == "failed"
    ended = run.get_task_instance("upload_profiles").end_date.timestamp()
    assert ended - sent["at"] < STOP_WITHIN
    assert not worker_threads()
    assert emu.stats.records_stored < ROWS
    out, err = capfd.readouterr()
    assert "cancelled" in out or "Timeout" in out  # the task log was captured
    assert not leaks([out, err])


# Sorting four million generated rows keeps SQLite busy for a second or so before the first row.
SLOW_QUERY = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 4000000) "
    "SELECT 'slow-' || x AS identity, 'gold' AS plan FROM c ORDER BY x DESC LIMIT 500"
)


def test_a_kill_while_the_source_query_runs_sends_nothing(emu, sqlite_warehouse, context):
    operator = CleverTapUserUploadOperator(
        task_id="upload_profiles", source_conn_id="warehouse", sql=SLOW_QUERY, batch_size=50
    )
    outcome: dict[str, Any] = {}

    def task() -> None:
        try:
            outcome["summary"] = operator.execute(context)
        except BaseException as error:  # noqa: BLE001
            outcome["error"] = error

    runner = threading.Thread(target=task, name="task-execute")
    runner.start()
    time.sleep(0.25)
    assert runner.is_alive() and emu.stats.requests == 0, "the query was not running at the kill"
    operator.on_kill()  # SIGTERM during the query: the hook may not even exist yet
    runner.join(10)

    assert not runner.is_alive()
    error = outcome.get("error")
    assert isinstance(error, AirflowException) and "cancelled" in str(error), outcome
    assert emu.stats.requests == 0


# Last in the module: its requests sleep in the emulator for 4 s after the task is gone.
def test_execution_timeout_stops_requests_in_flight_promptly(emu, sqlite_warehouse, reliability_dags, capfd):
    # Every request takes 4 s to answer: at the 1 s timeout all workers are waiting on one.
    stage_users(sqlite_warehouse, ROWS)
    emu.configure(faults=EmulatorFaults(latency=4.0))

    run = reliability_dags("reliability_upload_timeout")

    assert run.state == "failed"
    ti = run.get_task_instance("upload_profiles")
    duration = (ti.end_date - ti.start_date).total_seconds()
    assert duration < 1.0 + STOP_WITHIN, f"the task ran {duration:.1f} s past its 1 s timeout"
    assert not worker_threads()
    assert emu.stats.records_stored == 0
    out, err = capfd.readouterr()
    assert "cancelled" in out or "Timeout" in out  # the task log was captured
    assert not leaks([out, err])
