"""Values mean the same on every warehouse: one staged table (a NUMERIC amount, a timestamp, an
integer, text) makes the same records everywhere. What the emulator stores of each record, as JSON
(types included: 37.5, not "37.500"), is compared with what PostgreSQL's run made of the same rows.
The state's fingerprints cannot be compared: they include the query's column types, which each
warehouse names its own way."""

from __future__ import annotations

import datetime as dt
import decimal
import json

import pytest

from tests.warehouses.scenarios import CONTEXT

pytestmark = pytest.mark.warehouse

COLUMNS = [
    ("identity", "key"),
    ("amount", "numeric"),
    ("seen_at", "timestamp"),
    ("visits", "integer"),
    ("plan", "text"),
]
# UTC, without zone: what every engine's timestamp column takes as UTC.
ROWS = [
    ("v-1", decimal.Decimal("37.500"), dt.datetime(2026, 12, 6, 13, 13, 18), 3, "gold"),
    ("v-2", decimal.Decimal("0.125"), dt.datetime(2001, 2, 3, 4, 5, 6), 0, "Ünïcode"),
]
# What CleverTap stores from either row, whichever warehouse it came from.
EXPECTED = {
    "v-1": {"amount": 37.5, "seen_at": 1796562798, "visits": 3, "plan": "gold"},
    "v-2": {"amount": 0.125, "seen_at": 981173106, "visits": 0, "plan": "Ünïcode"},
}


def _records(emu, conn_id: str, sql: str, state: str) -> dict[str, str]:
    """Sync ``sql`` (a first ``changed`` run: every row sent), and what CleverTap stores of each
    row's record, as sorted JSON."""
    from airflow_provider_clevertap.operators import CleverTapUserUploadOperator

    emu.reset()
    summary = CleverTapUserUploadOperator(
        task_id="values", source_conn_id=conn_id, sql=sql, state_table=state, sync_mode="changed", sync_id="values"
    ).execute(CONTEXT)
    assert summary["rows_accepted"] == len(ROWS)
    return {identity: json.dumps(profile["profileData"], sort_keys=True) for identity, profile in emu.profiles.items()}


def test_one_staged_table_makes_the_same_requests_on_every_warehouse(wh, emu, postgres_warehouse, postgres_uri):
    import psycopg

    # SQLite has no time type and Python's sqlite3 binds no Decimal: times staged as ISO-8601 text,
    # amounts as text its NUMERIC column makes numbers.
    sqlite = wh.engine.conn_type == "sqlite"
    rows = (
        [(r[0], str(r[1]), r[2].replace(tzinfo=dt.timezone.utc).isoformat(), *r[3:]) for r in ROWS] if sqlite else ROWS
    )
    table = wh.create("values", COLUMNS, rows)
    names = ", ".join(wh.q(name) for name, _ in COLUMNS)
    found = _records(emu, wh.conn_id, f"SELECT {names} FROM {table}", wh.table("state"))
    stored = {identity: emu.profiles[identity]["profileData"] for identity in EXPECTED}
    assert {
        identity: {key: data.get(key) for key in EXPECTED[identity]} for identity, data in stored.items()
    } == EXPECTED

    # The reference: PostgreSQL's driver returns Decimal and datetime itself.
    reference = f"{postgres_warehouse}_values"
    with psycopg.connect(postgres_uri, autocommit=True) as connection:
        connection.execute(
            f"CREATE TABLE {reference} (identity TEXT, amount NUMERIC(12, 3), seen_at TIMESTAMP WITH TIME ZONE, "
            "visits INTEGER, plan TEXT)"
        )
        for row in ROWS:
            connection.execute(
                f"INSERT INTO {reference} VALUES (%s, %s, %s, %s, %s)",
                (row[0], row[1], row[2].replace(tzinfo=dt.timezone.utc), *row[3:]),
            )
    try:
        expected = _records(emu, "warehouse_pg", f"SELECT * FROM {reference}", f"{reference}_state")
    finally:
        with psycopg.connect(postgres_uri, autocommit=True) as connection:
            connection.execute(f"DROP TABLE IF EXISTS {reference}, {reference}_state, {reference}_state_layout")
    assert found == expected and len(found) == len(ROWS)
