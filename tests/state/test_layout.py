"""Creating the state table (``state/layout.py``): its index where the warehouse has indexes, its
layout recorded, a later layout refused, and no hook lineage for the bookkeeping."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from airflow.providers.sqlite.hooks.sqlite import SqliteHook

from airflow_provider_clevertap.state.dialects import DIALECTS, GENERIC
from airflow_provider_clevertap.state.layout import LAYOUT, create_state_table


def test_sqlite_state_table_gets_its_index_and_a_second_create_is_harmless(sqlite_warehouse):
    hook = SqliteHook(sqlite_conn_id="warehouse")
    create_state_table(hook, "sync_state")
    create_state_table(hook, "sync_state")
    with sqlite3.connect(sqlite_warehouse) as db:
        plan = db.execute(
            "EXPLAIN QUERY PLAN DELETE FROM sync_state WHERE sync_id = 'a' AND row_key IN ('1', '2')"
        ).fetchall()
    assert any("sync_state_sync_key" in str(step) for step in plan), plan


def test_creating_the_state_table_reports_no_sql_to_airflows_hook_lineage(sqlite_warehouse, monkeypatch):
    """The state's bookkeeping statements run on a cursor of their own, as its writes do, not through
    ``DbApiHook.run``: none is reported as SQL lineage, whose first report starts Airflow's
    hook-lineage collector (about 1 s). (The lineage call's name differs between common-sql
    versions; ``run`` is where every version reports.)"""
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    reported: list[Any] = []
    monkeypatch.setattr(DbApiHook, "run", lambda self, sql, *args, **kwargs: reported.append(sql))

    create_state_table(SqliteHook(sqlite_conn_id="warehouse"), "sync_state")

    assert reported == []
    with sqlite3.connect(sqlite_warehouse) as db:
        assert db.execute("SELECT layout FROM sync_state_layout").fetchall() == [(LAYOUT,)]


def test_postgres_state_table_gets_its_unique_index_in_the_tables_schema(pg_schema):
    hook, schema = pg_schema
    create_state_table(hook, f"{schema}.sync_state")
    create_state_table(hook, f"{schema}.sync_state")
    indexes = hook.get_records(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = 'sync_state'",
        parameters=(schema,),
    )
    assert [name for name, _ in indexes] == ["sync_state_sync_unique"]
    assert "UNIQUE" in indexes[0][1] and "(sync_id, row_key)" in indexes[0][1]


def test_a_new_state_table_records_its_layout_and_one_of_a_later_layout_is_refused(pg_schema):
    hook, schema = pg_schema
    table = f"{schema}.sync_state"
    create_state_table(hook, table)
    create_state_table(hook, table)
    assert hook.get_records(f"SELECT layout FROM {table}_layout") == [(LAYOUT,)]

    hook.run(f"UPDATE {table}_layout SET layout = {LAYOUT + 1}")
    with pytest.raises(ValueError, match=f"has layout {LAYOUT + 1}, of a later version"):
        create_state_table(hook, table)


def test_warehouses_without_indexes_get_no_index_statement():
    for name in ("snowflake", "gcpbigquery", "redshift", "mysql", "duckdb"):
        assert DIALECTS[name].index_ddl("db.sync_state") is None
    assert GENERIC.index_ddl("sync_state") is None
