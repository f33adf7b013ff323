"""MariaDB and MySQL (docs/decisions/23a-2-mysql-state-keys.md, 23c-1-warehouse-side-row-hashes.md,
23c-3-mysql-state-from-json.md).

Text in utf8mb4 compared by its bytes (``utf8mb4_bin``), whatever the database's default; the key
is the MD5 of the key's UTF-8 bytes, narrow enough to index and to join on. The time has
microseconds, of the statement's start (``NOW(6)``). A transaction's reads share one snapshot once
started ``WITH CONSISTENT SNAPSHOT``.

The row hash is the MD5 of each column's text as the server sends it (``CAST(... AS BINARY)``: the
text protocol's own, byte for byte; a string's bytes in its character set, named beside them), a
NULL as ``-``, then the salt. Every type prints what the driver reads, so no type falls back.
"""

from __future__ import annotations

from airflow_provider_clevertap.state.families.base import STANDARD_SCHEMA_EXISTS, Dialect

MYSQL = Dialect(
    cast_text="CHAR",
    key="MD5(CAST({column} AS CHAR CHARACTER SET utf8mb4))",
    key_length=32,
    text_column="VARCHAR({length}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
    timestamp="DATETIME(6)",
    now="NOW(6)",
    quote="`",
    inline_index="INDEX {name} (sync_id, row_key)",  # MySQL has no CREATE INDEX IF NOT EXISTS
    rows_per_insert=500,  # the failed rows' inserts (failed_rows.py)
    # The state: one INSERT a chunk from one JSON array, escaped once by the driver's C code: a
    # VALUES list is escaped value by value in Python, in the task's process (JSON_TABLE: MariaDB
    # 10.6, MySQL 8.0). A JSON null is SQL NULL; a missing or unconvertible value too, which the
    # NOT NULL columns refuse.
    json_insert=(
        "INSERT INTO {table} (sync_id, row_key, identity, fingerprint, row_hash, synced_at, run_id) "
        "SELECT %s, r.row_key, r.identity, r.fingerprint, r.row_hash, NOW(6), %s FROM JSON_TABLE(%s, '$[*]' COLUMNS ("
        "row_key VARCHAR(32) CHARACTER SET utf8mb4 PATH '$[0]', "
        "identity VARCHAR(1024) CHARACTER SET utf8mb4 PATH '$[1]', "
        "fingerprint VARCHAR(32) CHARACTER SET utf8mb4 PATH '$[2]', "
        "row_hash VARCHAR(32) CHARACTER SET utf8mb4 PATH '$[3]')) r"
    ),
    snapshot=("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION WITH CONSISTENT SNAPSHOT"),
    row_hash="MD5(CONCAT({columns}'{salt}'))",
    # IF, not COALESCE: a text too long for CONCAT is NULL, which must make the hash NULL (never
    # held), not pass for a NULL value.
    row_hash_column=(
        "IF({column} IS NULL, '-', CONCAT(CHARSET({column}), ':', LENGTH(CAST({column} AS BINARY)), ':', "
        "CAST({column} AS BINARY))), "
    ),
    timestamp_value="naive",  # strict mode refuses an offset in a DATETIME
    state_by_lookup=True,
    # MariaDB caches a subquery's result by the values of the outer row it reads, compared by their
    # collation: an id differing only by case would get another id's answer. Off for the statement
    # (a comment to MySQL, which has no such cache).
    lookup_prefix="/*M! SET STATEMENT optimizer_switch='subquery_cache=off' FOR */ ",
    proven=True,
    # Names compared byte for byte, as a server with lower_case_table_names=0 (Linux's default) does:
    # a table found must be that one, not "Failed_Rows" (elsewhere the dry run passes a table it
    # cannot tell, and the real run's check decides).
    table_exists=(
        "SELECT 1 FROM information_schema.tables WHERE BINARY table_schema = {schema} AND BINARY table_name = '{table}'"
    ),
    schema_exists=STANDARD_SCHEMA_EXISTS,
    current_schema="DATABASE()",
)
