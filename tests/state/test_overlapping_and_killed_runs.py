"""Two runs of one sync at once, and a sync killed mid-run then run again, against the emulator
over real HTTP and a real SQLite or PostgreSQL state.

Orderings are forced with events, never sleeps: hooks that wait before or signal after a
request, and an operator that waits before writing its state.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_clevertap.emulator import EmulatorFaults
from airflow_provider_clevertap.hooks.clevertap import CleverTapHook
from airflow_provider_clevertap.operators import CleverTapUserUploadOperator
from airflow_provider_clevertap.state import SyncState
from airflow_provider_clevertap.state.dialects import DISPUTED
from tests.reliability._reliability import in_thread, wait_until
from tests.state.conftest import upload

CONTEXT = {"run_id": "manual__2026-01-01T00:00:00+00:00"}
WAIT = 60.0  # a bound on a hang, not a timing: every wait below is on an event


class GatedHook(CleverTapHook):
    """A CleverTapHook that calls ``before`` before each request and ``after`` after it."""

    def __init__(self, *args: Any, before=lambda: None, after=lambda: None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.before, self.after = before, after

    def _send_once(self, *args: Any, **kwargs: Any) -> Any:
        self.before()
        try:
            return super()._send_once(*args, **kwargs)
        finally:
            self.after()


class OrderedUpload(CleverTapUserUploadOperator):
    """An upload that may wait for an event before writing its state, and signal one after."""

    wait_before_saving: threading.Event | None = None
    saved: threading.Event | None = None

    def save_state(self, *args: Any) -> None:
        if self.wait_before_saving is not None:
            assert self.wait_before_saving.wait(WAIT)
        super().save_state(*args)
        if self.saved is not None:
            self.saved.set()


class WatchedUpload(CleverTapUserUploadOperator):
    """An upload whose confirmations the test can watch, to kill it once some are in."""

    confirmed: Any = None

    def start_state(self, *args: Any) -> Any:
        self.confirmed = super().start_state(*args)
        return self.confirmed


def sync(warehouse, cls: Any = None, **kwargs: Any) -> Any:
    kwargs.setdefault("batch_size", 100)
    return upload(warehouse, "overlap.sync", cls, **kwargs)


def test_two_overlapping_runs_never_leave_a_change_unsent(warehouse, emu):
    """The dangerous order: run B sends the newer record first, run A sends an older one after it
    (CleverTap now holds the older), A writes its state, and B writes its state last. Had B's
    write replaced A's, the state would claim the newer record and it would never be sent."""
    warehouse.stage(30)
    assert sync(warehouse).execute(CONTEXT)["rows_accepted"] == 30
    set_plan = f"UPDATE {warehouse.users} SET plan = ? WHERE identity = 'user-0007'"
    warehouse.execute(set_plan, [("older",)])

    a_waiting, b_sent, a_saved = threading.Event(), threading.Event(), threading.Event()

    def a_before() -> None:
        a_waiting.set()
        assert b_sent.wait(WAIT)

    run_a = sync(warehouse, OrderedUpload)
    run_a.saved = a_saved
    run_a._hook = GatedHook(before=a_before)
    thread_a, outcome_a = in_thread(run_a, CONTEXT)
    assert a_waiting.wait(WAIT)  # A has read the older record and waits to send it

    warehouse.execute(set_plan, [("newer",)])
    run_b = sync(warehouse, OrderedUpload)
    run_b.wait_before_saving = a_saved
    run_b._hook = GatedHook(after=b_sent.set)
    thread_b, outcome_b = in_thread(run_b, CONTEXT)
    thread_a.join(WAIT)
    thread_b.join(WAIT)

    assert outcome_a["summary"]["rows_accepted"] == 1 and outcome_b["summary"]["rows_accepted"] == 1
    assert emu.profile("user-0007")["profileData"]["plan"] == "older"  # A's record arrived last
    # The state claims neither record: both runs' rows are kept, and they disagree, or (PostgreSQL,
    # one row a key) the key's row is disputed. Either way the next run sends the row again.
    fingerprints = warehouse.query(f"SELECT fingerprint FROM {warehouse.state} WHERE identity = 'user-0007'")
    if warehouse.kind == "postgres":
        assert fingerprints == [(DISPUTED,)]
    else:
        assert len({fingerprint for (fingerprint,) in fingerprints}) == 2

    summary = sync(warehouse).execute(CONTEXT)

    assert summary["rows_accepted"] == 1 and summary["rows_unchanged"] == 29
    assert emu.profile("user-0007")["profileData"]["plan"] == "newer"
    assert len(warehouse.state_rows("overlap.sync")) == 30  # one row a key again
    assert sync(warehouse).execute(CONTEXT)["rows_unchanged"] == 30


ROWS = 2000


def test_a_sync_killed_mid_run_then_run_again_leaves_clevertap_holding_every_row(warehouse, emu):
    identities = warehouse.stage(ROWS)
    operator = sync(warehouse, WatchedUpload, max_concurrency=4)
    # Three requests go through; every later one waits until the kill, then finds the hook
    # cancelled: the run cannot finish before the kill, however fast or slow the machine.
    killed = threading.Event()
    sent = iter(range(ROWS))
    operator._hook = GatedHook(
        operator.clevertap_conn_id,
        max_concurrency=4,
        before=lambda: next(sent) < 3 or killed.wait(WAIT),
    )
    runner, outcome = in_thread(operator, CONTEXT)
    wait_until(lambda: operator.confirmed is not None and operator.confirmed.count >= 300)

    operator.on_kill()
    killed.set()
    runner.join(WAIT)

    assert not runner.is_alive()
    assert isinstance(outcome.get("error"), AirflowException) and "cancelled" in str(outcome["error"])
    held = warehouse.state_rows("overlap.sync")
    stored = set(emu.profiles)
    assert len(held) == 300
    assert set(held) <= stored  # the state claims nothing CleverTap did not accept

    emu.configure(faults=EmulatorFaults())
    summary = sync(warehouse).execute(CONTEXT)

    assert summary["rows_unchanged"] == len(held)
    assert summary["rows_accepted"] == ROWS - len(held)
    assert set(emu.profiles) == set(identities)
    assert set(warehouse.state_rows("overlap.sync")) == set(identities)


def _run_sync(warehouse) -> None:
    sync(warehouse, max_concurrency=4).execute(CONTEXT)


def test_a_sync_killed_with_sigkill_then_run_again_resends_and_skips_no_change(warehouse, emu):
    """SIGKILL leaves no chance to write the state: the next run sends again what was sent."""
    identities = warehouse.stage(ROWS)
    # Three requests are answered, every later one is held: the kill falls mid-run, however fast
    # or slow the machine.
    emu.configure(faults=EmulatorFaults(hold_after_request=emu.stats.requests + 3))
    process = multiprocessing.get_context("fork").Process(target=_run_sync, args=(warehouse,))
    process.start()
    try:
        wait_until(lambda: emu.stats.records_stored >= 300)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.join(WAIT)
    assert process.exitcode == -signal.SIGKILL
    killed_at = len(emu.profiles)
    assert 300 <= killed_at < ROWS
    held = set(warehouse.state_rows("overlap.sync")) if warehouse.has_table(warehouse.state) else set()
    assert held <= set(emu.profiles)

    emu.configure(faults=EmulatorFaults())
    summary = sync(warehouse).execute(CONTEXT)

    assert summary["rows_accepted"] + summary["rows_unchanged"] == ROWS
    assert set(emu.profiles) == set(identities)
    assert set(warehouse.state_rows("overlap.sync")) == set(identities)


@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_a_run_whose_state_transaction_began_before_another_run_never_loses_its_later_send(warehouse, emu, monkeypatch):
    """The state is written as the run goes, one transaction spanning several batches. Run A
    opens its transaction (batch 1), run B starts, sends the newer record of user-0007, A sends
    the older one after it (CleverTap holds the older) and commits, then B writes. Had A's row
    been stamped with its transaction's start (PostgreSQL's CURRENT_TIMESTAMP), B would take it
    for older than B's own start and replace it: the state would claim the newer record."""
    from airflow_provider_clevertap.state import recorder

    monkeypatch.setattr(recorder, "COMMIT_SECONDS", WAIT)  # A's transaction stays open until A ends
    warehouse.stage(30)
    assert sync(warehouse).execute(CONTEXT)["rows_accepted"] == 30
    # A sends users 1-5 (its first batch) and 7 (its second).
    warehouse.execute(f"UPDATE {warehouse.users} SET plan = 'older' WHERE n <= 5 OR n = 7")

    b_sent, a_done = threading.Event(), threading.Event()
    requests_of_a = iter(range(1, 100))
    run_a = sync(warehouse, batch_size=5, max_concurrency=1)
    run_a._hook = GatedHook(before=lambda: next(requests_of_a) < 2 or b_sent.wait(WAIT))
    thread_a, outcome_a = in_thread(run_a, CONTEXT)
    # A's first batch is written, uncommitted: its writer holds the state table's row lock mode.
    wait_until(lambda: warehouse.query(A_WRITES.format(table=warehouse.state)) == [(1,)])

    warehouse.execute(f"UPDATE {warehouse.users} SET plan = 'newer' WHERE n = 7")
    # The table is there. B skips creating it: PostgreSQL's CREATE INDEX IF NOT EXISTS takes the
    # table's SHARE lock before it looks, and would wait for A's open transaction, while the
    # danger is B starting inside it (in a real run that transaction lasts half a second).
    monkeypatch.setattr(SyncState, "create", lambda self: None)
    run_b = sync(warehouse)
    run_b._hook = GatedHook(after=lambda: b_sent.set() or a_done.wait(WAIT))  # B writes after A
    thread_b, outcome_b = in_thread(run_b, CONTEXT)
    thread_a.join(WAIT)
    a_done.set()
    thread_b.join(WAIT)

    assert outcome_a["summary"]["rows_accepted"] == 6 and outcome_b["summary"]["rows_accepted"] == 6
    assert emu.profile("user-0007")["profileData"]["plan"] == "older"  # A's record arrived last
    summary = sync(warehouse).execute(CONTEXT)
    assert summary["rows_accepted"] == 1  # the state's two records of user-0007 disagree: sent again
    assert emu.profile("user-0007")["profileData"]["plan"] == "newer"


# A transaction other than the test's holds ROW EXCLUSIVE on the state table: a writer's open one.
A_WRITES = (
    "SELECT COUNT(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
    "WHERE c.relname = '{table}' AND l.mode = 'RowExclusiveLock' AND l.granted"
)
