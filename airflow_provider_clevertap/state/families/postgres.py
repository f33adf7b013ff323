"""PostgreSQL, and Redshift (its SQL, without PostgreSQL's indexes and ON CONFLICT)."""

from __future__ import annotations

from airflow_provider_clevertap.state.families.base import DISPUTED, Dialect

# The system catalogs list every table and schema, whatever the role may do with them
# (information_schema lists only those it has a privilege on).
# An unquoted name is folded to lower case: a table found must be that one, not "Failed_Rows".
PG_TABLE_EXISTS = (
    "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = LOWER({schema}) AND tablename = LOWER('{table}')"
)
PG_SCHEMA_EXISTS = "SELECT 1 FROM pg_catalog.pg_namespace WHERE LOWER(nspname) = LOWER({schema})"

POSTGRES = Dialect(
    timestamp="TIMESTAMP WITH TIME ZONE",
    now="STATEMENT_TIMESTAMP()",  # CURRENT_TIMESTAMP is the transaction's start
    # Unique: one row a key. PostgreSQL names the index in the table's schema.
    index="CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {schema}{table} (sync_id, row_key)",
    index_name="{table}_sync_unique",
    key_bytes=2400,  # a btree entry holds 2704 bytes, the sync id's 250 included
    # One statement a chunk from one JSON value, encoded in C: psycopg 3 parses a long VALUES list
    # again each time. A disputed row never keeps a row hash: the warehouse would take it as unchanged.
    json_upsert=(
        "INSERT INTO {table} AS t (sync_id, row_key, identity, fingerprint, row_hash, synced_at, run_id) "
        "SELECT %s, r->>0, r->>1, r->>2, r->>3, STATEMENT_TIMESTAMP(), %s "
        "FROM json_array_elements(CAST(%s AS JSON)) r "
        "ON CONFLICT (sync_id, row_key) DO UPDATE SET identity = EXCLUDED.identity, "
        "fingerprint = CASE WHEN t.synced_at < %s OR t.fingerprint = EXCLUDED.fingerprint "
        "THEN EXCLUDED.fingerprint ELSE '" + DISPUTED + "' END, "
        "row_hash = CASE WHEN t.synced_at < %s OR (t.row_hash = EXCLUDED.row_hash "
        "AND t.fingerprint = EXCLUDED.fingerprint) THEN EXCLUDED.row_hash END, "
        "synced_at = EXCLUDED.synced_at, run_id = EXCLUDED.run_id"
    ),
    # Autovacuum renews the statistics late, or never where it is off: a state filled by one run
    # was planned as nearly empty by the next.
    stale_statistics=(
        "SELECT 1 FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
        "WHERE s.relid = CAST('{table}' AS regclass) AND s.n_mod_since_analyze > 1000 + c.reltuples / 10"
    ),
    analyze="ANALYZE {table}",  # by its owner; another role gets a warning, not an error
    # The row's text holds every column in its output form, so two rows of one text hold the same
    # values; floats only if printed exactly (a role may have lowered extra_float_digits): 1 is
    # PostgreSQL 12's default, shortest-exact.
    snapshot=("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "SET LOCAL extra_float_digits = 1"),
    row_hash="md5(CAST({row} AS TEXT) || '{salt}')",
    proven=True,
    table_exists=PG_TABLE_EXISTS,
    schema_exists=PG_SCHEMA_EXISTS,
)

# GETDATE() is the statement's start (SYSDATE, like PostgreSQL's CURRENT_TIMESTAMP, the
# transaction's): https://docs.aws.amazon.com/redshift/latest/dg/r_GETDATE.html
REDSHIFT = Dialect(
    timestamp="TIMESTAMPTZ", now="GETDATE()", table_exists=PG_TABLE_EXISTS, schema_exists=PG_SCHEMA_EXISTS
)
