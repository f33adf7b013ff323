"""DuckDB, through Airflow's DuckDB provider (docs/decisions/23c-1-warehouse-side-row-hashes.md).

Its connections commit each statement, so a transaction's time is the statement's. A chunk of the
state is one INSERT from one JSON array: DuckDB binds a long VALUES list far more slowly than it
reads JSON. The state has no index: its join is a hash join, and a DELETE of a chunk's keys scans the
state faster than it looks them up in one (docs/decisions/23d-1-duckdb-state-writes.md).

A snapshot is a transaction on one connection: the provider's connection's ``cursor()`` opens
another, so the count and the stream share the connection itself (``sources.transaction_cursor``).

The row hash is the MD5 of each column's text (``CAST(... AS VARCHAR)``: doubles and floats print
shortest-exact, -0.0 included; a BLOB escapes each byte it cannot print, a backslash too), each
after its length and ``:`` (a NULL: ``-:``, as ``concat`` takes a NULL for no text), then the salt.
Nested types (lists, structs, maps, unions) quote their strings only where DuckDB's version thinks
it needed: a query with one gets no warehouse hash.
"""

from __future__ import annotations

import re

from airflow_provider_clevertap.state.families.base import Dialect

DUCKDB = Dialect(
    timestamp="TIMESTAMPTZ",
    json_insert=(
        "INSERT INTO {table} (sync_id, row_key, identity, fingerprint, row_hash, synced_at, run_id) "
        "SELECT ?, r[1], r[2], r[3], r[4], get_current_timestamp(), ? "
        "FROM (SELECT unnest(CAST(CAST(? AS JSON) AS VARCHAR[][])) AS r)"
    ),
    snapshot=("BEGIN TRANSACTION",),
    # One concat() a row: a chain of || builds every partial text (decision 23d-1).
    row_hash="md5(concat({columns}'{salt}'))",
    row_hash_column=(
        "coalesce(CAST(length(CAST({column} AS VARCHAR)) AS VARCHAR), '-'), ':', CAST({column} AS VARCHAR), "
    ),
    inexact_types=re.compile(r"\[|\b(STRUCT|MAP|UNION)\b|^(LIST|ARRAY)$", re.IGNORECASE),
    proven=True,
    # No permissions: a table that cannot be read is not there. The first part of a two-part name
    # may be an attached database (its schema main) as well as a schema.
    schema_exists=(
        "SELECT 1 FROM information_schema.schemata "
        "WHERE LOWER(schema_name) = LOWER({schema}) OR LOWER(catalog_name) = LOWER({schema})"
    ),
)
