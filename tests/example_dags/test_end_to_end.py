"""Each example DAG runs with ``dag.test()`` against the emulator and a SQLite warehouse.

The emulator then holds exactly the expected profiles: these tests check what CleverTap would
have stored, not what the operators say they sent.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from _airflow_compat import load_dag

from airflow_provider_clevertap.emulator import CleverTapEmulator
from demo.warehouse import build_warehouse, customer_rows, expected_outcome

CUSTOMERS = 2500
DELETIONS = 40
LOGICAL_DATE = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
INTERVAL_START = LOGICAL_DATE - dt.timedelta(days=1)
EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"


@pytest.fixture(scope="module")
def emulator():
    with CleverTapEmulator(account_id="E2E-ACCOUNT", passcode="e2e-passcode-0123") as running:
        yield running


@pytest.fixture
def environment(emulator, airflow_db, tmp_path, monkeypatch):
    """A fresh warehouse and a fresh emulator, wired to the example DAGs' connection ids."""
    emulator.reset()
    warehouse = build_warehouse(tmp_path / "warehouse.db", CUSTOMERS, INTERVAL_START, deletions=DELETIONS)
    monkeypatch.setenv("AIRFLOW_CONN_CLEVERTAP_DEFAULT", emulator.connection_json())
    monkeypatch.delenv("CLEVERTAP_ACCOUNT_ID", raising=False)  # the example DAGs run unchanged for any account
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(warehouse)}))
    return warehouse


def run_dag(dag_id: str, **kwargs):
    dag = load_dag(EXAMPLE_DAGS / f"{dag_id}.py", dag_id)
    return dag.test(logical_date=LOGICAL_DATE, **kwargs)


def stored_identities(count: int) -> set[str]:
    """The identities CleverTap keeps from ``customer_rows(count)``: not refused, not invalid."""
    refused_emails = {"not-an-email"}
    return {
        row[1]
        for row in customer_rows(count, INTERVAL_START)
        if row[1] is not None and row[3] not in refused_emails and row[4].startswith("+") and row[5] in ("M", "F")
    }


def test_user_sync_stores_exactly_the_valid_profiles_and_records_the_rest(environment, emulator):
    run = run_dag("clevertap_user_sync")

    assert run.state == "success"
    profiles = emulator.profiles
    assert set(profiles) == stored_identities(CUSTOMERS)
    assert len(profiles) == expected_outcome(CUSTOMERS)["rows_accepted"]
    sample = profiles["cust-0000002"]
    source = next(row for row in customer_rows(2, INTERVAL_START) if row[1] == "cust-0000002")
    assert sample["profileData"]["Email"] == source[3]
    assert sample["profileData"]["Signup Date"].startswith("$D_")  # converted to a CleverTap date
    with sqlite3.connect(environment) as db:
        codes = [code for (code,) in db.execute("SELECT code FROM clevertap_failed_rows")]
    expected = expected_outcome(CUSTOMERS)
    assert len(codes) == expected["rows_refused"] + expected["rows_invalid"]
    assert sorted(code for code in codes if code is not None) == sorted([514, 515, 516, 514, 515, 516, 515, 516])


def test_user_sync_sends_only_what_changed_and_everything_on_a_full_refresh(environment, emulator):
    dag = load_dag(EXAMPLE_DAGS / "clevertap_user_sync.py", "clevertap_user_sync")
    assert dag.test(logical_date=LOGICAL_DATE).state == "success"
    expected = expected_outcome(CUSTOMERS)
    with sqlite3.connect(environment) as db:
        db.execute(
            "UPDATE staged_customers SET plan = 'platinum' WHERE customer_id IN ('cust-0000002', 'cust-0000003')"
        )
        db.execute("UPDATE staged_customers SET email = 'fixed@example.com' WHERE customer_id = 'cust-0000017'")
    received = emulator.stats.records_received

    # The next day: the two edited rows, the fixed one, and the others CleverTap refused before.
    assert dag.test(logical_date=LOGICAL_DATE + dt.timedelta(days=1)).state == "success"

    assert emulator.stats.records_received - received == 2 + expected["rows_refused"]
    assert emulator.profile("cust-0000002")["profileData"]["Plan"] == "platinum"
    assert emulator.profile("cust-0000017")["profileData"]["Email"] == "fixed@example.com"
    assert set(emulator.profiles) == stored_identities(CUSTOMERS) | {"cust-0000017"}

    received = emulator.stats.records_received
    run = dag.test(logical_date=LOGICAL_DATE + dt.timedelta(days=2), run_conf={"full_refresh": True})
    assert run.state == "success"
    assert emulator.stats.records_received - received == CUSTOMERS - expected["rows_invalid"]


def test_user_sync_sql_needs_no_data_interval():
    """A manual run has no data interval: the query must render without one."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(EXAMPLE_DAGS), undefined=jinja2.StrictUndefined)
    sql = env.get_template("sql/staged_customers.sql").render(params={"full_refresh": False})
    assert "FROM staged_customers" in sql


def test_user_delete_removes_the_staged_identities(environment, emulator):
    assert run_dag("clevertap_user_sync").state == "success"
    before = set(emulator.profiles)

    assert run_dag("clevertap_user_delete").state == "success"

    staged = {f"cust-{key:07d}" for key in range(1, DELETIONS + 1)}
    assert set(emulator.profiles) == before - staged
    assert emulator.stats.deletes == DELETIONS


def test_partitioned_sync_sends_every_row_once(environment, emulator):
    run = run_dag("clevertap_partitioned_sync")

    assert run.state == "success"
    assert set(emulator.profiles) == stored_identities(CUSTOMERS)
    # Every row with an identity was sent by exactly one partition: none twice, none missing.
    assert emulator.stats.records_received == CUSTOMERS - expected_outcome(CUSTOMERS)["rows_invalid"]


def test_event_sync_sends_the_intervals_orders_once_as_charged_events(environment, emulator):
    from demo.orders import customer_of, in_interval, order_id, stage_orders

    stage_orders(environment, 200, CUSTOMERS, INTERVAL_START)
    dag = load_dag(EXAMPLE_DAGS / "clevertap_event_sync.py", "clevertap_event_sync")

    run = dag.test(logical_date=LOGICAL_DATE)

    assert run.state == "success"
    sent = sorted(order_id(key) for key in range(1, 201) if in_interval(key))
    events = [event for stored in emulator.events().values() for event in stored]
    assert sorted(event["evtData"]["Order ID"] for event in events) == sent
    [first] = emulator.events(customer_of(1, CUSTOMERS))[customer_of(1, CUSTOMERS)]
    assert first["evtName"] == "Charged" and first["evtData"]["Currency"] == "EUR"
    items = first["evtData"]["Items"]
    assert items and first["evtData"]["Amount"] == sum(item["Quantity"] * item["Price"] for item in items)

    received = emulator.stats.records_received
    assert dag.test(logical_date=LOGICAL_DATE).state == "success"  # a re-run of the same day
    assert emulator.stats.records_received == received


def test_event_sync_sql_reads_every_staged_order_without_a_data_interval():
    """A manual run has no data interval: the query renders, without the interval's filter."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(EXAMPLE_DAGS), undefined=jinja2.StrictUndefined)
    template = env.get_template("sql/staged_orders.sql")
    for context in ({}, {"data_interval_start": None, "data_interval_end": None}):
        assert "WHERE" not in template.render(**context)
    daily = template.render(data_interval_start=LOGICAL_DATE, data_interval_end=LOGICAL_DATE + dt.timedelta(days=1))
    assert "o.ordered_at >= '2026-03-02 00:00:00'" in daily and "< '2026-03-03 00:00:00'" in daily


def test_event_sync_run_without_a_data_interval_sends_every_staged_order_not_yet_accepted(environment, emulator):
    """A manual trigger has no logical date, hence no data interval: the DAG sends all staged orders once."""
    from demo.orders import in_interval, order_id, stage_orders

    stage_orders(environment, 200, CUSTOMERS, INTERVAL_START)
    dag = load_dag(EXAMPLE_DAGS / "clevertap_event_sync.py", "clevertap_event_sync")
    assert dag.test(logical_date=LOGICAL_DATE).state == "success"  # the scheduled run of the day
    received = emulator.stats.records_received

    run = dag.test(logical_date=None)  # as a manual trigger without a logical date

    assert run.state == "success" and run.data_interval_start is None
    # Only the orders of the day before were left: the interval's were accepted by the scheduled run.
    assert emulator.stats.records_received - received == sum(not in_interval(key) for key in range(1, 201))
    events = [event for stored in emulator.events().values() for event in stored]
    assert sorted(event["evtData"]["Order ID"] for event in events) == [order_id(key) for key in range(1, 201)]


def test_first_sync_checks_with_a_dry_run_then_uploads(environment, emulator):
    run = run_dag("clevertap_first_sync")

    assert run.state == "success"
    # Its query leaves Gender out: only bad emails and phones are refused.
    rows = [row for row in customer_rows(CUSTOMERS, INTERVAL_START) if row[1] is not None]
    stored = {row[1] for row in rows if row[3] != "not-an-email" and row[4].startswith("+")}
    assert set(emulator.profiles) == stored
    assert emulator.stats.records_received == 2 * len(rows)  # each valid row: in the dry run, then for real
    assert emulator.stats.dry_run_requests == 3  # 1000 a request
    with sqlite3.connect(environment) as db:
        (problems,) = db.execute("SELECT COUNT(*) FROM clevertap_failed_rows WHERE task_id = 'upload'").fetchone()
    assert problems == CUSTOMERS - len(stored)


def test_first_sync_stops_after_its_dry_run_when_too_many_rows_would_be_refused(environment, emulator):
    with sqlite3.connect(environment) as db:  # 1 phone in 20 without its country code: 5% refused
        db.execute("UPDATE staged_customers SET phone = '020 7946 0018' WHERE customer_key % 20 = 0")

    run = run_dag("clevertap_first_sync")

    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["dry_run"] == "failed"
    assert states["upload"] != "success"
    assert emulator.stats.dry_run_requests == emulator.stats.requests == 3
    assert emulator.profiles == {}
