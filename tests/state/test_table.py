"""The state table: created with an index on (sync_id, row_key) where the warehouse has indexes, and
written in statements of as many rows as its dialect takes."""

from __future__ import annotations

import sqlite3

import pytest
from airflow.providers.postgres.hooks.postgres import PostgresHook
from airflow.providers.sqlite.hooks.sqlite import SqliteHook

from airflow_provider_clevertap.state.dialects import DIALECTS, GENERIC
from airflow_provider_clevertap.state.table import WRITE_CHUNK, SyncState, create_state_table


def test_sqlite_state_table_gets_its_index_and_a_second_create_is_harmless(sqlite_warehouse):
    hook = SqliteHook(sqlite_conn_id="warehouse")
    create_state_table(hook, "sync_state")
    create_state_table(hook, "sync_state")
    with sqlite3.connect(sqlite_warehouse) as db:
        plan = db.execute(
            "EXPLAIN QUERY PLAN DELETE FROM sync_state WHERE sync_id = 'a' AND row_key IN ('1', '2')"
        ).fetchall()
    assert any("sync_state_sync_key" in str(step) for step in plan), plan


def test_postgres_state_table_gets_its_index_in_the_tables_schema(postgres_warehouse):
    hook = PostgresHook(postgres_conn_id="warehouse_pg")
    schema = postgres_warehouse
    hook.run(f"CREATE SCHEMA {schema}")
    try:
        create_state_table(hook, f"{schema}.sync_state")
        create_state_table(hook, f"{schema}.sync_state")
        indexes = hook.get_records(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = 'sync_state'", parameters=(schema,)
        )
        assert [row[0] for row in indexes] == ["sync_state_sync_key"]
    finally:
        hook.run(f"DROP SCHEMA {schema} CASCADE")


def test_warehouses_without_indexes_get_no_index_statement():
    for name in ("snowflake", "gcpbigquery", "redshift", "mysql"):
        assert DIALECTS[name].index_ddl("db.sync_state") is None
    assert GENERIC.index_ddl("sync_state") is None


@pytest.mark.parametrize("warehouse", ["sqlite", "postgres"])
def test_every_entry_is_written_once_across_statements_of_many_rows(warehouse, request):
    """More entries than a chunk, and chunks that are no multiple of the rows a statement takes:
    every entry is in the table once, with its own values."""
    if warehouse == "sqlite":
        request.getfixturevalue("sqlite_warehouse")
        hook, table = SqliteHook(sqlite_conn_id="warehouse"), "sync_state"
    else:
        schema = request.getfixturevalue("postgres_warehouse")
        hook, table = PostgresHook(postgres_conn_id="warehouse_pg"), f"{schema}.sync_state"
        hook.run(f"CREATE SCHEMA {schema}")
        request.addfinalizer(lambda: hook.run(f"DROP SCHEMA {schema} CASCADE"))
    assert DIALECTS[warehouse].rows_per_insert > 1
    count = 2 * WRITE_CHUNK + DIALECTS[warehouse].rows_per_insert + 7
    entries = [(f"k{n}", f"fp{n}", f"rh{n}", f"id{n}") for n in range(count)]
    state = SyncState(hook, table, "many", "key")
    state.create()
    state.begin()

    assert state.record(entries, "run-1") == count

    rows = hook.get_records(f"SELECT row_key, fingerprint, row_hash, identity, run_id FROM {table}")
    assert sorted(rows) == sorted((*entry, "run-1") for entry in entries)
