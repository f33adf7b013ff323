"""Hostile inputs, end to end against the emulator: values the driver cannot read, an event id
twice in one run, problems that can be found again. Each bad row is reported with a reason that
names it and its column (never its value); the rows around it go on."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from _reliability import fast_hook

from airflow_provider_clevertap.emulator import EmulatorFaults
from airflow_provider_clevertap.exceptions import CleverTapConfigError
from airflow_provider_clevertap.operators import CleverTapEventUploadOperator, CleverTapUserUploadOperator

# -- values PostgreSQL holds and Python cannot ----------------------------------------------------

# (identity, born date, seen timestamp, zoned timestamptz, opens time, unused date), and the
# column a row is invalid for (None: stored).
UNREADABLE_ROWS: list[tuple[Any, ...]] = [
    ("dt-good-1", "1990-05-01", "2026-01-02 03:04:05", "2026-01-02 03:04:05+00", "09:00", None, None),
    ("dt-born-infinity", "infinity", "2026-01-02 03:04:05", None, None, None, "born"),
    ("dt-born-minus-infinity", "-infinity", "2026-01-02 03:04:05", None, None, None, "born"),
    ("dt-born-bc", "0044-03-15 BC", "2026-01-02 03:04:05", None, None, None, "born"),
    ("dt-seen-infinity", "1990-05-01", "infinity", None, None, None, "seen"),
    ("dt-zoned-minus-infinity", None, "2026-01-02 03:04:05", "-infinity", None, None, "zoned"),
    ("dt-zoned-after-9999", None, "2026-01-02 03:04:05", "12345-01-01 00:00:00+00", None, None, "zoned"),
    # read, not used (no property holds a time): the row goes on
    ("dt-opens-midnight", None, "2026-01-02 03:04:05", None, "24:00", None, None),
    ("dt-unused-infinity", "1990-05-01", "2026-01-02 03:04:05", None, None, "infinity", None),
    ("dt-good-2", None, "2026-01-02 03:04:05", None, None, None, None),
]
STORED_VALUES = ("infinity", "0044", "BC", "24:00", "12345")


@pytest.fixture
def dates_table(postgres_uri, postgres_warehouse) -> Iterator[tuple[str, str]]:
    """A PostgreSQL table of ``UNREADABLE_ROWS`` and the name of a failed-rows table."""
    table, failed = f"{postgres_warehouse}_dates", f"{postgres_warehouse}_failed"
    with psycopg.connect(postgres_uri, autocommit=True) as db:
        db.execute(
            f"CREATE TABLE {table} (seq int, identity text, born date, seen timestamp, zoned timestamptz, "
            "opens time, unused date)"
        )
        with db.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [(seq, *row[:6]) for seq, row in enumerate(UNREADABLE_ROWS)],
            )
    yield table, failed
    with psycopg.connect(postgres_uri, autocommit=True) as db:
        db.execute(f"DROP TABLE IF EXISTS {table}")
        db.execute(f"DROP TABLE IF EXISTS {failed}")


def failed_rows(postgres_uri: str, table: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(postgres_uri) as db:
        return db.execute(f"SELECT identity, code, error FROM {table}").fetchall()


@pytest.mark.parametrize("kind", ["profiles", "events"])
def test_a_value_python_cannot_hold_makes_its_row_invalid_naming_the_column(
    emu, postgres_uri, dates_table, context, task_logs, capfd, kind
):
    table, failed = dates_table
    common: dict[str, Any] = {
        "task_id": "dates",
        "source_conn_id": "warehouse_pg",
        "sql": f"SELECT identity, born, seen, zoned, opens, unused FROM {table} ORDER BY seq",
        "ts_column": "seen",
        "property_columns": {"born": "Born", "zoned": "Zoned"},
        "batch_size": 2,
        "max_failed_ratio": 1.0,
        "failed_rows_table": failed,
    }
    if kind == "profiles":
        operator: Any = CleverTapUserUploadOperator(**common)
    else:
        operator = CleverTapEventUploadOperator(event_name="Visit", **common)
    fast_hook(operator)

    summary = operator.execute(context)

    invalid = {row[0]: row[-1] for row in UNREADABLE_ROWS if row[-1] is not None}
    stored = [row[0] for row in UNREADABLE_ROWS if row[-1] is None]
    assert (summary["rows_read"], summary["rows_invalid"]) == (len(UNREADABLE_ROWS), len(invalid))
    assert summary["rows_accepted"] == len(stored)
    if kind == "profiles":
        assert set(emu.profiles) == set(stored)
    else:
        assert {identity: len(events) for identity, events in emu.events().items()} == dict.fromkeys(stored, 1)
    problems = failed_rows(postgres_uri, failed)
    assert {identity: error for identity, _, error in problems} == {
        identity: f"column {column!r} holds a value Python cannot represent (an infinite or BC date, say)"
        for identity, column in invalid.items()
    }
    out, err = capfd.readouterr()
    for text in (task_logs.text, out, err, json.dumps(summary)):
        assert not [value for value in STORED_VALUES if f"'{value}" in text]


# -- an event id twice in one run, and problems that name their event ------------------------------

# (order id, customer, placed, event name): customer c-2 has two addresses, so the join below
# returns order o-2 twice (a fan-out); o-5's name is one the account discards (refused, 555).
ORDERS = [
    ("o-1", "c-1", "2026-03-01 10:00:00", "Order Placed"),
    ("o-2", "c-2", "2026-03-01 10:01:00", "Order Placed"),
    ("o-3", "c-3", None, "Order Placed"),
    ("o-4", None, "2026-03-01 10:03:00", "Order Placed"),
    ("o-5", "c-5", "2026-03-01 10:04:00", "Old Event"),
    ("o-6", "c-6", "2026-03-01 10:05:00", "Order Placed"),
]
FAN_OUT = (
    "SELECT o.order_id, o.customer_id, o.placed, o.name, a.city FROM orders o "
    "LEFT JOIN addresses a ON a.customer_id = o.customer_id ORDER BY o.order_id, a.city"
)


def stage_orders(path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (order_id TEXT, customer_id TEXT, placed TEXT, name TEXT)")
        db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", ORDERS)
        db.execute("CREATE TABLE addresses (customer_id TEXT, city TEXT)")
        db.executemany("INSERT INTO addresses VALUES (?, ?)", [("c-1", "Oslo"), ("c-2", "Bonn"), ("c-2", "Pune")])


def events_operator(**kwargs: Any) -> CleverTapEventUploadOperator:
    operator = CleverTapEventUploadOperator(
        task_id="orders",
        source_conn_id="warehouse",
        sql=FAN_OUT,
        identity_column="customer_id",
        ts_column="placed",
        event_name_column="name",
        event_id_column="order_id",
        property_columns=["order_id", "city"],
        state_table="clevertap_state",
        sync_id="orders.once",
        batch_size=2,
        max_failed_ratio=1.0,
        **kwargs,
    )
    fast_hook(operator)
    return operator


def test_an_event_id_twice_in_one_run_is_sent_once_and_every_problem_names_its_event(
    emu, sqlite_warehouse, context, task_logs
):
    stage_orders(sqlite_warehouse)
    emu.configure(faults=EmulatorFaults(discarded_events=("Old Event",)))

    summary = events_operator(failed_rows_table="failed").execute(context)

    stored = sorted(event["evtData"]["order_id"] for events in emu.events().values() for event in events)
    assert stored == ["o-1", "o-2", "o-6"]  # o-2 once, from the first of its two rows
    assert summary["rows_read"] == len(ORDERS) + 1
    assert (summary["rows_accepted"], summary["rows_invalid"], summary["rows_refused"]) == (3, 3, 1)
    assert summary["rows_maybe_duplicated"] == 0
    with sqlite3.connect(sqlite_warehouse) as db:
        problems = db.execute("SELECT identity, code, error FROM failed ORDER BY error").fetchall()
    assert problems == [
        ("c-2", None, "event 'o-2': event id repeated in this run: only its first row is sent"),
        ("c-3", None, "event 'o-3': ts column 'placed' is null: an event needs the time it happened"),
        ("c-5", 555, "event 'o-5': Event name is discarded for this account"),
        (None, None, "row 5 of the read: event 'o-4': identity column 'customer_id' is null"),
    ]
    assert sorted(problem["error"] for problem in summary["failed_sample"]) == [error for *_, error in problems]
    assert "c-3: event 'o-3': ts column 'placed' is null" in task_logs.text

    # The next run sends nothing CleverTap holds: both rows of o-2 are the state's, unchanged.
    again = events_operator().execute(context)
    assert (again["rows_accepted"], again["rows_unchanged"], again["rows_invalid"]) == (0, 4, 2)
    assert sorted(event["evtData"]["order_id"] for events in emu.events().values() for event in events) == stored


# -- a stateful sync whose query lacks the state's key column ---------------------------------------


@pytest.mark.parametrize("kind", ["changed", "mirror", "events"])
def test_a_missing_key_column_fails_with_our_message_listing_the_columns(
    emu, postgres_uri, postgres_warehouse, context, kind
):
    table, state = f"{postgres_warehouse}_people", f"{postgres_warehouse}_state"
    with psycopg.connect(postgres_uri, autocommit=True) as db:
        db.execute(f"CREATE TABLE {table} (identity text, email text, seen text)")
        db.execute(f"INSERT INTO {table} VALUES ('u-1', 'a@example.com', '2026-01-01')")
    common: dict[str, Any] = {
        "task_id": "keyless",
        "source_conn_id": "warehouse_pg",
        "sql": f"SELECT identity, email, seen FROM {table}; -- the people",
        "state_table": state,
    }
    try:
        if kind == "events":
            operator: Any = CleverTapEventUploadOperator(
                event_name="Seen", ts_column="seen", event_id_column="seen_id", **common
            )
            parameter = "event_id_column 'seen_id'"
        else:
            operator = CleverTapUserUploadOperator(identity_column="user_id", sync_mode=kind, **common)
            parameter = "identity_column 'user_id'"

        with pytest.raises(CleverTapConfigError) as failure:
            operator.execute(context)

        assert str(failure.value).endswith(
            f"{parameter} is not among the columns the query returns: identity, email, seen"
        )
        assert emu.stats.requests == 0
        with psycopg.connect(postgres_uri) as db:  # failed before the state was touched
            assert db.execute("SELECT to_regclass(%s)", (state,)).fetchone() == (None,)
    finally:
        with psycopg.connect(postgres_uri, autocommit=True) as db:
            db.execute(f"DROP TABLE IF EXISTS {table}")
            db.execute(f"DROP TABLE IF EXISTS {state}")
