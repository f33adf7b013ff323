"""Hostile inputs, end to end against the emulator: values the driver cannot read, an event id
twice in one run, problems that can be found again. Each bad row is reported with a reason that
names it and its column (never its value); the rows around it go on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from _reliability import fast_hook

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
    """A PostgreSQL table of ``UNREADABLE_ROWS`` and the name of a rejected-rows table."""
    table, rejected = f"{postgres_warehouse}_dates", f"{postgres_warehouse}_rejected"
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
    yield table, rejected
    with psycopg.connect(postgres_uri, autocommit=True) as db:
        db.execute(f"DROP TABLE IF EXISTS {table}")
        db.execute(f"DROP TABLE IF EXISTS {rejected}")


def rejected_rows(postgres_uri: str, table: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(postgres_uri) as db:
        return db.execute(f"SELECT identity, code, error FROM {table}").fetchall()


@pytest.mark.parametrize("kind", ["profiles", "events"])
def test_a_value_python_cannot_hold_makes_its_row_invalid_naming_the_column(
    emu, postgres_uri, dates_table, context, task_logs, capfd, kind
):
    table, rejected = dates_table
    common: dict[str, Any] = {
        "task_id": "dates",
        "source_conn_id": "warehouse_pg",
        "sql": f"SELECT identity, born, seen, zoned, opens, unused FROM {table} ORDER BY seq",
        "ts_column": "seen",
        "property_columns": {"born": "Born", "zoned": "Zoned"},
        "batch_size": 2,
        "max_rejected_ratio": 1.0,
        "rejected_rows_table": rejected,
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
    problems = rejected_rows(postgres_uri, rejected)
    assert {identity: error for identity, _, error in problems} == {
        identity: f"column {column!r} holds a value Python cannot represent (an infinite or BC date, say)"
        for identity, column in invalid.items()
    }
    out, err = capfd.readouterr()
    for text in (task_logs.text, out, err, json.dumps(summary)):
        assert not [value for value in STORED_VALUES if f"'{value}" in text]
