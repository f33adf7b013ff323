"""Creating the state table, and the layout version it records beside it in ``<state_table>_layout``:
a later layout converts the tables of an earlier one by their number, and a table of a later
layout than this version's is refused (docs/decisions/23a-6-state-layout-version.md)."""

from __future__ import annotations

from typing import Any

from airflow.providers.common.sql.hooks.sql import DbApiHook

from airflow_provider_clevertap.exceptions import driver_error
from airflow_provider_clevertap.state.dialects import KEY_LENGTH, check_table_name, dialect_of

LAYOUT = 1


def _ddl(hook: DbApiHook, table: str) -> str:
    dialect = dialect_of(hook)
    text = dialect.text
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (sync_id {text(250)} NOT NULL, "
        f"row_key {text(dialect.key_length)} NOT NULL, identity {text(KEY_LENGTH)} NOT NULL, "
        f"fingerprint {text(32)} NOT NULL, synced_at {dialect.timestamp} NOT NULL, run_id {text(250)}, "
        f"row_hash {text(32)}"
        f"{dialect.inline_index_ddl(table)})"
    )


def create_state_table(hook: DbApiHook, table: str) -> None:
    """Create the state table, and its index where the warehouse has indexes, if they are missing;
    record the layout of a new table, and refuse a table of a later layout than this version's.
    Where a chunk of the state is written from JSON (``Dialect.json_insert``), write an empty one:
    a warehouse that cannot (MariaDB before 10.6, MySQL before 8.0) fails before the first request.

    One connection and cursor of its own, as the state's writes: ``hook.run`` opened one a
    statement, and its first call starts Airflow's hook-lineage collector (its cost:
    docs/decisions/23c-4-*.md) for statements that only keep the sync's books."""
    check_table_name(table, "state_table")
    dialect = dialect_of(hook)
    connection = hook.get_conn()
    try:
        cursor = connection.cursor()
        for statement in (_ddl(hook, table), dialect.index_ddl(table)):
            if statement:
                cursor.execute(statement)
        if dialect.json_insert is not None:
            try:
                cursor.execute(dialect.json_insert.format(table=table), ["", "", "[]"])
            except Exception as error:  # each driver has its own errors
                raise ValueError(
                    f"state_table {table}: this warehouse cannot write the state from a JSON array "
                    f"(MariaDB needs 10.6 or later, MySQL 8.0 or later): {driver_error(error)}"
                ) from None
        layout = _layout(cursor, table)
        connection.commit()
        cursor.close()
    finally:
        connection.close()
    if layout > LAYOUT:
        raise ValueError(
            f"state_table {table} has layout {layout}, of a later version of this provider than this one "
            f"(layout {LAYOUT}): run that version, or another state_table"
        )


def _layout(cursor: Any, table: str) -> int:
    """The layout ``<table>_layout`` records, recording this version's where it records none (a new
    table; two runs creating it at once both record the same)."""
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {table}_layout (layout INTEGER NOT NULL)")
    cursor.execute(f"SELECT MAX(layout) FROM {table}_layout")
    row = cursor.fetchone()
    if row is None or row[0] is None:
        cursor.execute(f"INSERT INTO {table}_layout (layout) VALUES ({LAYOUT})")
        return LAYOUT
    return int(row[0])
