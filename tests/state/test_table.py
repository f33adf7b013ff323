"""The state table is created with an index on (sync_id, row_key) where the warehouse has indexes."""

from __future__ import annotations

import sqlite3

from airflow.providers.postgres.hooks.postgres import PostgresHook
from airflow.providers.sqlite.hooks.sqlite import SqliteHook

from airflow_provider_clevertap.state.dialects import DIALECTS, GENERIC
from airflow_provider_clevertap.state.table import create_state_table


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
