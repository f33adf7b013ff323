"""DuckDB, through Airflow's DuckDB provider (docs/decisions/23c-1-warehouse-side-row-hashes.md).

Its connections commit each statement, so a transaction's time is the statement's. A chunk of the
state is one INSERT from one JSON array: DuckDB binds a long VALUES list far more slowly than it
reads JSON. A snapshot is a transaction on one connection: the provider's connection's ``cursor()``
opens another, so the count and the stream share the connection itself
(``sources.transaction_cursor``).

The row hash is the MD5 of each column's text (``CAST(... AS VARCHAR)``: doubles and floats print
shortest-exact, -0.0 included; a BLOB escapes each byte it cannot print, a backslash too), each
after its length, a NULL as ``-``, then the salt. Nested types (lists, structs, maps, unions) quote
their strings only where DuckDB's version thinks it needed: a query with one gets no warehouse hash.
"""

from __future__ import annotations

import re

from airflow_provider_clevertap.state.families.base import STANDARD_SCHEMA_EXISTS, STANDARD_TABLE_EXISTS, Dialect

DUCKDB = Dialect(
    timestamp="TIMESTAMPTZ",
    index="CREATE INDEX IF NOT EXISTS {name} ON {schema}{table} (sync_id, row_key)",
    json_insert=(
        "INSERT INTO {table} (sync_id, row_key, identity, fingerprint, row_hash, synced_at, run_id) "
        "SELECT ?, r[1], r[2], r[3], r[4], get_current_timestamp(), ? "
        "FROM (SELECT unnest(CAST(CAST(? AS JSON) AS VARCHAR[][])) AS r)"
    ),
    snapshot=("BEGIN TRANSACTION",),
    row_hash="md5({columns}'{salt}')",
    row_hash_column=(
        "CASE WHEN {column} IS NULL THEN '-' ELSE "
        "CAST(length(CAST({column} AS VARCHAR)) AS VARCHAR) || ':' || CAST({column} AS VARCHAR) END || "
    ),
    inexact_types=re.compile(r"\[|\b(STRUCT|MAP|UNION)\b|^(LIST|ARRAY)$", re.IGNORECASE),
    proven=True,
    # One catalog lists every attached database's schemas: the database of a three-part name is
    # not named in front of it.
    table_exists=STANDARD_TABLE_EXISTS.replace("{prefix}", ""),
    schema_exists=STANDARD_SCHEMA_EXISTS.replace("{prefix}", ""),
)
