"""SQLite, and the cloud warehouses run on stand-ins (Snowflake on fakesnow, BigQuery on bqemulator)."""

from __future__ import annotations

from airflow_provider_clevertap.state.families.base import STANDARD_SCHEMA_EXISTS, STANDARD_TABLE_EXISTS, Dialect

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
    # A schema is an attached database; no permissions: a table there can be read.
    schema_exists="SELECT 1 FROM pragma_database_list WHERE LOWER(name) = LOWER({schema})",
)

# The connector sends a multi-row INSERT as one statement.
SNOWFLAKE = Dialect(
    timestamp="TIMESTAMP_TZ",
    rows_per_insert=500,
    proven=True,
    table_exists=STANDARD_TABLE_EXISTS,
    schema_exists=STANDARD_SCHEMA_EXISTS,
)

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
    # A dataset's own catalog, which BigQuery refuses to read for a dataset that does not exist
    # (bqemulator answers it with no rows: unproven there).
    schema_exists="SELECT COUNT(*) FROM {qualifier}.INFORMATION_SCHEMA.TABLES",
)
