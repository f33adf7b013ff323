"""Event upload end to end: DAG runs through Airflow's task runner, a real SQLite or PostgreSQL
warehouse holding the orders and the state, and the emulator over real HTTP. What the emulator
stores is the evidence, not what the operator says it sent."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from _airflow_compat import xcom_values
from _sql_warehouse import SqlWarehouse

from airflow_provider_clevertap.emulator import CleverTapEmulator, EmulatorFaults
from airflow_provider_clevertap.operators import CleverTapEventUploadOperator

DAG_FILE = Path(__file__).resolve().parent / "dags" / "event_dags.py"
NOTE_MARKER = "private-note-7Qx"  # in every event's data: it must never reach a log
ORDERS = 30
# Rows the mapper reports invalid: no time, no event id, a reserved event name.
NO_TS, NO_ID, RESERVED = 7, 13, 21
INVALID = 3


def order(n: int, day: int | None = None) -> tuple[Any, ...]:
    """Order n: customer c-(n % 5), placed on March (day, by default 1 + n % 3)."""
    kind = "App Launched" if n == RESERVED else ("Points Earned" if n % 4 == 0 else "Order Placed")
    placed = None if n == NO_TS else f"2026-03-{day or 1 + n % 3:02d} 10:{n % 60:02d}:00"
    return (None if n == NO_ID else f"o-{n:03d}", f"c-{n % 5}", kind, n * 10, f"{NOTE_MARKER} {n}", placed)


class Warehouse(SqlWarehouse):
    def table(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    def stage(self, orders: Sequence[tuple[Any, ...]]) -> None:
        placed = "TIMESTAMP" if self.kind == "postgres" else "TEXT"
        self.execute(
            f"CREATE TABLE {self.table('orders')} (order_id VARCHAR(20), customer_id VARCHAR(20), kind VARCHAR(40), "
            f"amount INTEGER, note VARCHAR(80), ordered_at {placed})"
        )
        self.execute(f"INSERT INTO {self.table('orders')} VALUES (?, ?, ?, ?, ?, ?)", orders)

    def state(self) -> dict[str, str]:
        """order id -> identity of the state's rows; an id held twice fails the test."""
        rows = self.query(f"SELECT row_key, identity FROM {self.table('state')}")
        held = dict(rows)
        assert len(held) == len(rows), "an event id is held twice"
        return held

    def has(self, name: str) -> bool:
        return self.has_table(self.table(name))


@pytest.fixture(scope="module")
def emulator() -> Iterator[CleverTapEmulator]:
    with CleverTapEmulator(account_id="EVENTS-ACCOUNT", passcode="events-passcode-0123") as running:
        yield running


@pytest.fixture
def emu(emulator: CleverTapEmulator, monkeypatch) -> CleverTapEmulator:
    emulator.configure(faults=EmulatorFaults())
    emulator.reset()
    monkeypatch.setenv("AIRFLOW_CONN_CLEVERTAP_DEFAULT", emulator.connection_json())
    return emulator


def _sqlite(request, monkeypatch) -> Warehouse:
    path = request.getfixturevalue("sqlite_warehouse")
    monkeypatch.setenv("EVENTS_TEST_SOURCE", "warehouse")
    monkeypatch.setenv("EVENTS_TEST_PREFIX", "t")
    return Warehouse("sqlite", "t", lambda: sqlite3.connect(path), "?")


@pytest.fixture(params=["sqlite", "postgres"])
def warehouse(request, monkeypatch) -> Iterator[Warehouse]:
    """A real SQLite file or a real PostgreSQL database, as the DAGs' source connection."""
    if request.param == "sqlite":
        yield _sqlite(request, monkeypatch)
        return
    import psycopg

    uri = request.getfixturevalue("postgres_uri")
    prefix = request.getfixturevalue("postgres_warehouse")  # the warehouse_pg connection, a unique prefix
    monkeypatch.setenv("EVENTS_TEST_SOURCE", "warehouse_pg")
    monkeypatch.setenv("EVENTS_TEST_PREFIX", prefix)
    try:
        yield Warehouse("postgres", prefix, lambda: psycopg.connect(uri), "%s")
    finally:
        with psycopg.connect(uri, autocommit=True) as connection:
            for name in ("orders", "items", "state", "state_layout", "failed", "deletions"):
                connection.execute(f"DROP TABLE IF EXISTS {prefix}_{name}")


@pytest.fixture
def sqlite_only(request, monkeypatch) -> Warehouse:
    return _sqlite(request, monkeypatch)


@pytest.fixture
def run(dag_runner) -> Callable[..., tuple[Any, dict[str, Any]]]:
    """``run(dag_id, **kwargs) -> (dag run, its task's summary)``."""
    runner = dag_runner(DAG_FILE)

    def _run(dag_id: str, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        dag_run = runner(dag_id, **kwargs)
        values = [json.loads(value) if isinstance(value, str) else value for value in xcom_values(dag_run)]
        summaries = [value for value in values if isinstance(value, dict) and "rows_read" in value]
        return dag_run, summaries[0] if summaries else {}

    return _run


def stored(emu: CleverTapEmulator) -> list[dict[str, Any]]:
    return [event for events in emu.events().values() for event in events]


def stored_ids(emu: CleverTapEmulator) -> list[str]:
    return sorted(event["evtData"]["order_id"] for event in stored(emu))


def accounted(summary: dict[str, Any]) -> bool:
    return summary["rows_read"] == (
        summary["rows_invalid"] + summary["rows_accepted"] + summary["rows_refused"] + summary["rows_unchanged"]
    )


VALID_IDS = sorted(f"o-{n:03d}" for n in range(1, ORDERS + 1) if n not in (NO_TS, NO_ID, RESERVED))


# -- mapping, invalid rows, once per event id ---------------------------------------------------


def test_orders_become_events_once_and_a_rerun_sends_nothing(warehouse, emu, run):
    warehouse.stage([order(n) for n in range(1, ORDERS + 1)])

    dag_run, summary = run("event_sync")

    assert dag_run.state == "success"
    assert summary["rows_read"] == ORDERS and summary["rows_invalid"] == INVALID
    assert summary["rows_accepted"] == ORDERS - INVALID and accounted(summary)
    assert stored_ids(emu) == VALID_IDS
    [first] = [event for event in emu.events("c-1")["c-1"] if event["evtData"]["order_id"] == "o-001"]
    assert first == {
        "type": "event",
        "identity": "c-1",
        "ts": 1772445660,  # 2026-03-02 10:01:00 UTC
        "evtName": "Order Placed",
        "evtData": {"order_id": "o-001", "amount": 10, "note": f"{NOTE_MARKER} 1"},
    }
    # The state keys each event by its id and holds the identity it was sent with.
    assert warehouse.state() == {f"o-{n:03d}": f"c-{n % 5}" for n in range(1, ORDERS + 1) if f"o-{n:03d}" in VALID_IDS}
    reasons = {row[0]: row[1] for row in warehouse.query(f"SELECT identity, error FROM {warehouse.table('failed')}")}
    assert "ts column 'ordered_at' is null" in reasons[f"c-{NO_TS % 5}"]
    assert "event_id_column 'order_id' is null" in reasons[f"c-{NO_ID % 5}"]
    assert "'App Launched', a system event" in reasons[f"c-{RESERVED % 5}"]

    received = emu.stats.records_received
    dag_run, summary = run("event_sync")
    assert dag_run.state == "success"
    assert emu.stats.records_received == received  # nothing sent
    assert summary["rows_unchanged"] == ORDERS - INVALID and summary["rows_invalid"] == INVALID
    assert summary["rows_accepted"] == 0 and accounted(summary)
    assert stored_ids(emu) == VALID_IDS


def test_refusals_are_placed_and_a_refused_event_is_sent_again_next_run(warehouse, emu, run):
    warehouse.stage([order(n) for n in range(1, ORDERS + 1)])
    emu.configure(faults=EmulatorFaults(discarded_events=("Points Earned",)))
    points = sorted(f"o-{n:03d}" for n in range(4, ORDERS + 1, 4))

    _, summary = run("event_sync")

    assert summary["rows_refused"] == len(points) and accounted(summary)
    refused = sorted(problem["identity"] for problem in summary["failed_sample"] if problem["code"] == 555)
    assert refused == sorted(f"c-{n % 5}" for n in range(4, ORDERS + 1, 4))
    assert set(stored_ids(emu)) == set(VALID_IDS) - set(points)
    assert set(warehouse.state()) == set(VALID_IDS) - set(points)

    emu.configure(faults=EmulatorFaults())  # the account takes Points Earned again
    received = emu.stats.records_received
    _, summary = run("event_sync")
    assert emu.stats.records_received - received == len(points)  # only the refused ones
    assert summary["rows_accepted"] == len(points) and summary["rows_unchanged"] == len(VALID_IDS) - len(points)
    assert stored_ids(emu) == VALID_IDS  # each once


def test_an_overlapping_backfill_sends_each_event_id_once(warehouse, emu, run):
    import datetime as dt

    warehouse.stage([order(n, day=1 + n % 3) for n in range(1, ORDERS + 1) if n not in (NO_TS, NO_ID, RESERVED)])
    for day in (2, 3, 2):  # March 2 reads March 1-2, March 3 reads 2-3, March 2 again (a re-run)
        dag_run, _ = run("event_window", logical_date=dt.datetime(2026, 3, day, tzinfo=dt.timezone.utc))
        assert dag_run.state == "success"
    assert stored_ids(emu) == VALID_IDS  # the overlap (March 2) sent once


def test_charged_events_carry_their_items(warehouse, emu, run):
    warehouse.stage([order(1), order(2)])
    warehouse.execute(
        f"CREATE TABLE {warehouse.table('items')} (order_id VARCHAR(20), name VARCHAR(40), quantity INTEGER)"
    )
    warehouse.execute(
        f"INSERT INTO {warehouse.table('items')} VALUES (?, ?, ?)",
        [("o-001", "Book 1", 1), ("o-001", "Pen", 3), ("o-002", "Lamp", 1)],
    )

    dag_run, summary = run("event_charged")

    assert dag_run.state == "success" and summary["rows_accepted"] == 2
    [charged] = emu.events("c-1")["c-1"]
    assert charged["evtName"] == "Charged" and charged["evtData"]["Amount"] == 10
    assert sorted(charged["evtData"]["Items"], key=lambda item: item["Name"]) == [
        {"Name": "Book 1", "Quantity": 1},
        {"Name": "Pen", "Quantity": 3},
    ]
    assert emu.events("c-2")["c-2"][0]["evtData"]["Items"] == [{"Name": "Lamp", "Quantity": 1}]


def test_a_deleted_users_events_are_forgotten_and_sent_again_if_they_reappear(warehouse, emu, run):
    warehouse.stage([order(n) for n in range(1, ORDERS + 1)])
    run("event_sync")
    warehouse.execute(f"CREATE TABLE {warehouse.table('deletions')} (identity VARCHAR(20))")
    warehouse.execute(f"INSERT INTO {warehouse.table('deletions')} VALUES (?)", [("c-1",)])
    of_c1 = sorted(order_id for order_id in VALID_IDS if int(order_id[2:]) % 5 == 1)

    dag_run, _ = run("event_delete")

    assert dag_run.state == "success"
    assert "c-1" not in emu.events() and "c-1" not in warehouse.state().values()
    received = emu.stats.records_received
    _, summary = run("event_sync")
    assert emu.stats.records_received - received == len(of_c1)  # c-1's events, and only those
    assert sorted(event["evtData"]["order_id"] for event in emu.events("c-1")["c-1"]) == of_c1


# -- without ids, dry runs ----------------------------------------------------------------------


def test_without_event_ids_every_row_is_sent_every_run(sqlite_only, emu, run):
    sqlite_only.stage([order(n) for n in range(1, 11)])
    for _ in range(2):
        dag_run, summary = run("event_sync_without_ids")
        assert dag_run.state == "success" and summary["rows_unchanged"] == 0
    assert not sqlite_only.has("state")
    expected = sorted(f"o-{n:03d}" for n in range(1, 11) if n != NO_TS) * 2
    assert stored_ids(emu) == sorted(expected)


def test_a_dry_run_validates_and_writes_no_state(sqlite_only, emu, run):
    sqlite_only.stage([order(n) for n in range(1, ORDERS + 1)])

    dag_run, summary = run("event_sync_dry_run")

    assert dag_run.state == "success" and summary["dry_run"] is True
    assert summary["rows_accepted"] == ORDERS - INVALID
    assert summary["rows_invalid"] == INVALID  # counted, and not written to the failed-rows table
    assert emu.stats.dry_run_requests > 0 and emu.events() == {}
    assert not sqlite_only.has("state")
    assert not sqlite_only.has("failed")
    _, summary = run("event_sync")  # a real run afterwards still sends everything
    assert summary["rows_accepted"] == ORDERS - INVALID


# -- ambiguous failures, concurrency, logs ------------------------------------------------------


def test_a_batch_resent_after_an_ambiguous_failure_is_counted_as_maybe_duplicated(sqlite_only, emu, run, capfd):
    sqlite_only.stage([order(n) for n in range(1, ORDERS + 1)])
    # Request 1 is stored, then its connection dropped: the hook's retry stores it again.
    emu.configure(faults=EmulatorFaults(process_then_drop=(1,)))

    dag_run, summary = run("event_sync_one_at_a_time")

    assert dag_run.state == "success"
    first_batch = 10  # batches are made of valid rows only
    assert summary["rows_maybe_duplicated"] == first_batch
    assert summary["rows_accepted"] == ORDERS - INVALID and summary["retries"] == 1
    ids = stored_ids(emu)
    assert len(ids) == len(VALID_IDS) + first_batch  # CleverTap would hold them twice too
    assert sorted(set(ids)) == VALID_IDS
    out, err = capfd.readouterr()
    assert f"{first_batch} events were in batches re-sent after an ambiguous failure" in out + err
    # The ids are recorded once: the next run sends nothing.
    received = emu.stats.records_received
    run("event_sync_one_at_a_time")
    assert emu.stats.records_received == received


def test_requests_stay_within_the_accounts_concurrency_limit(sqlite_only, emu, run):
    sqlite_only.stage([order(n) for n in range(1, 301) if n not in (NO_TS, NO_ID, RESERVED)])
    emu.configure(faults=EmulatorFaults(latency=0.02))

    dag_run, summary = run("event_sync_at_the_limit")

    assert dag_run.state == "success" and summary["rows_accepted"] == 297
    assert emu.stats.concurrency_limited == 0 and emu.stats.throttled == 0
    assert emu.stats.max_in_flight <= 15


def test_no_event_data_reaches_the_log_or_xcom(sqlite_only, emu, run, capfd):
    sqlite_only.stage([order(n) for n in range(1, ORDERS + 1)])
    emu.configure(faults=EmulatorFaults(discarded_events=("Points Earned",), process_then_drop=(2,)))

    dag_run, summary = run("event_sync")

    assert dag_run.state == "success" and summary["rows_refused"] and summary["rows_invalid"]
    out, err = capfd.readouterr()
    assert "CleverTap event upload" in out + err  # the task log was captured
    assert NOTE_MARKER not in out + err
    assert NOTE_MARKER not in json.dumps(xcom_values(dag_run), default=str)


# -- the contract's arguments -------------------------------------------------------------------


def test_event_ids_need_the_source_the_state_lives_on():
    with pytest.raises(ValueError, match="event_id_column needs sql and source_conn_id"):
        CleverTapEventUploadOperator(
            task_id="t", rows=[], identity_column="c", event_name="A", ts_column="ts", event_id_column="id"
        )


def test_exactly_one_event_naming_and_a_ts_column_are_required():
    with pytest.raises(ValueError, match="exactly one of event_name"):
        CleverTapEventUploadOperator(task_id="t", rows=[], ts_column="ts")
    with pytest.raises(TypeError):
        CleverTapEventUploadOperator(task_id="t", rows=[], event_name="A")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="reserves"):
        CleverTapEventUploadOperator(task_id="t", rows=[], event_name="App Launched", ts_column="ts")
