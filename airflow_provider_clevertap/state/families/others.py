"""SQLite, and the cloud warehouses run on stand-ins (Snowflake on fakesnow, BigQuery on bqemulator)."""

from __future__ import annotations

from airflow_provider_clevertap.state.families.base import Dialect

SQLITE = Dialect(
    now="STRFTIME('%Y-%m-%d %H:%M:%f', 'now')",  # UTC, with milliseconds
    # SQLite wants the schema on the index's name.
    index="CREATE INDEX IF NOT EXISTS {schema}{name} ON {table} (sync_id, row_key)",
    # In rollback-journal mode the reader's SHARED lock blocks every commit until the read ends.
    write_beside_read="SELECT 1 FROM pragma_journal_mode WHERE journal_mode = 'wal'",
    snapshot=("BEGIN",),  # a read transaction: one snapshot until the connection closes
    rows_per_insert=160,  # of 6 parameters each: under the 999 of SQLite before 3.32
    timestamp_value="text",  # no time type
    proven=True,
)

# The connector sends a multi-row INSERT as one statement.
SNOWFLAKE = Dialect(timestamp="TIMESTAMP_TZ", rows_per_insert=500, proven=True)

# A query job a statement: state rows go 250 to an INSERT (a state row's text is at most about
# 2,300 characters; a query's text at most 1,024k), never a job a row. The Google provider's cursor
# binds only named parameters from a dict, and writes any value but text unquoted into the SQL.
BIGQUERY = Dialect(
    cast_text="STRING",
    text_column="STRING",
    quote="`",
    rows_per_insert=250,
    named_parameters=True,
    timestamp_parameter="TIMESTAMP({mark})",
    timestamp_value="text",
    proven=True,
)
