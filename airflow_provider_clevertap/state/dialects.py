"""The few places where warehouses' SQL differs, for the state table: one row per connection type.

Everything else the state stage runs is SQL that PostgreSQL, SQLite, MariaDB/MySQL, DuckDB,
Snowflake and BigQuery all accept: CREATE TABLE IF NOT EXISTS, derived tables, LEFT JOIN, GROUP BY,
DELETE with IN lists, INSERT ... VALUES, CAST and CURRENT_TIMESTAMP. No MERGE, no locks. PostgreSQL
alone writes with ON CONFLICT (``json_upsert``), for a state of one row a key that is read without
an aggregate; the other warehouses' state may hold a key twice after overlapping runs.

A stateful sync runs only on a ``proven`` warehouse (the matrix of tests/warehouses runs it end to
end) unless its connection's extra says ``allow_unproven_warehouse``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_clevertap.flags import read_flag

# A [database.][schema.]table name, unquoted: it is written into SQL as it is.
TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}")
# A sync id is written into SQL as a string literal: only characters no dialect escapes.
SYNC_ID = re.compile(r"[A-Za-z0-9_.:\-\[\]]{1,250}")
# The fingerprint of a key two overlapping runs sent different records of: no record's (those are
# hex digits), so the next run sends the row again whatever it holds.
DISPUTED = "disputed"
# The longest identity (and key) the state holds, in characters: a longer one is invalid before it
# is sent, as the state could not record it.
KEY_LENGTH = 1024
# The connection extra that lets a stateful sync run on a warehouse outside the tested matrix.
ALLOW_UNPROVEN = "allow_unproven_warehouse"


@dataclass(frozen=True)
class Dialect:
    """How one kind of warehouse spells what the state stage needs.

    :param cast_text: the type an identity is CAST to, so the query's rows and the state match
        on the same text.
    :param key: the state's key of a row, from ``{column}`` (the key column of the user's query,
        quoted): its text, or where the text could be too wide to index, a hash of its bytes.
        Either way it compares byte for byte (no collation folds case or accents).
    :param key_length: the characters of the state's ``row_key`` column (32 for an MD5 in hex).
    :param key_bytes: the most UTF-8 bytes of a key the index holds, where fewer than
        ``key_length`` characters can take (PostgreSQL's btree: 2704 bytes an entry, the sync id's
        250 included); a longer key is invalid before it is sent.
    :param text_column: the column type of a string of at most ``{length}`` characters.
    :param timestamp: the column type of ``synced_at`` (it receives ``CURRENT_TIMESTAMP``).
    :param quote: the character that quotes a column name.
    :param now: the database's current time, for ``synced_at`` and the start of a run: its
        precision decides which runs count as overlapping (SQLite's CURRENT_TIMESTAMP has whole
        seconds only). It must be the time of the statement, not of its transaction: the state
        is written as the run goes, one transaction spanning several batches' sends, and a row
        stamped before its record was sent could be replaced by an overlapping run that sent an
        older record (PostgreSQL's CURRENT_TIMESTAMP is its transaction's start).
    :param write_beside_read: a query returning a row when a second connection can commit while
        the source's read is open, so the state is written as the run goes; None where it always
        can (row versions: PostgreSQL's read is streamed on a connection of its own, in its own
        transaction, and the other warehouses' reads do not block writers). SQLite can only in WAL
        mode: in rollback-journal mode the reader's SHARED lock blocks every commit until the read
        ends.
    :param index: the statement that indexes ``(sync_id, row_key)`` (``{name}``), or None where
        the warehouse has no indexes (Snowflake, BigQuery, Redshift). It must be harmless to repeat.
        Without it every recorded chunk's DELETE scans the whole table: a first run of a million
        rows took minutes on SQLite.
    :param inline_index: instead, the index as part of CREATE TABLE (``{name}``), where the
        warehouse has no ``CREATE INDEX IF NOT EXISTS`` (MySQL).
    :param rows_per_insert: write the state with one ``INSERT ... VALUES (...), (...)`` of this many
        rows at most, or with the driver's ``executemany`` where 1. An ``executemany`` may run a
        statement a row: psycopg2's sends each over the network, Python's sqlite3
        gives up the GIL around each (a fifth of an event sync's CPU went to its state writer).
    :param json_upsert: instead, one ``INSERT`` of a whole chunk from one JSON array of rows
        (``{table}``; its parameters: the sync id, the run id, the JSON text of the
        ``[key, identity, fingerprint, row hash]`` rows, then twice the run's start) into a table
        of one row a key (``index`` is unique; a chunk holds a key once): a row written before the
        run began is replaced, and a row another run wrote meanwhile is kept only where both runs
        sent the same record, else marked disputed (``DISPUTED``: no record's fingerprint, so the
        next run sends the row again). The reads then join the state with no GROUP BY. The statement stays short and its
        one value is encoded in C: psycopg 3 parses again each statement of over 4096 characters
        (the VALUES of 500 rows took half of a first run's CPU there).
    :param json_insert: where the state may hold a key twice, one ``INSERT`` of a whole chunk from
        one JSON array of ``[key, identity, fingerprint, row hash]`` rows (``{table}``; its
        parameters: the sync id, the run id, the JSON text), instead of ``rows_per_insert``: DuckDB
        binds the parameters of a long ``VALUES`` list far more slowly than it reads JSON.
    :param stale_statistics: a query returning a row when the planner's statistics of ``{table}``
        are stale (a tenth of it written since its last ``ANALYZE``), and ``analyze`` the statement
        that renews them; None where the warehouse keeps them itself or has no planner to mislead.
        PostgreSQL's autovacuum renews them late or, where it is off, never: a state table filled
        by one run and read by the next was planned as nearly empty, its ``DELETE ... IN`` of 500
        keys scanning every row of the sync (0.28 s each at 700k rows, 2 ms once analysed).
    :param snapshot: the statements that make the next statements of a transaction read one
        snapshot (and print rows as ``row_hash`` needs), or None where they are not known: the rows
        the warehouse finds unchanged are counted and the others streamed from the same data.
        Without them, every row streams by.
    :param row_hash: the warehouse's hash of a whole row ``{row}`` of the user's query, salted with
        ``{salt}`` (hex digits), or None where the warehouse has none to use. With it
        (and ``snapshot``), rows whose hash the state holds never leave the warehouse.
    :param proven: whether the warehouse matrix (tests/warehouses) runs stateful syncs on it.
    :param named_parameters: the driver binds only named ``%(name)s`` parameters from a dict (the
        Google provider's BigQuery cursor: a list fails with ``'list' object has no attribute
        'items'``); ``Binding`` makes the statement's marks and values in its style.
    :param timestamp_parameter: how a bound time (``{mark}``) is written in SQL.
    :param timestamp_value: how a datetime is passed: ``aware`` (as it is), ``naive`` (in UTC,
        without zone: MariaDB's strict mode refuses an offset in a ``DATETIME``) or ``text``
        (ISO-8601: SQLite has no time type; BigQuery's cursor writes any other value unquoted
        into the SQL).
    """

    cast_text: str = "VARCHAR"
    key: str = "CAST({column} AS {cast_text})"
    key_length: int = KEY_LENGTH
    key_bytes: int | None = None
    text_column: str = "VARCHAR({length})"
    timestamp: str = "TIMESTAMP"
    quote: str = '"'
    now: str = "CURRENT_TIMESTAMP"
    index: str | None = None
    inline_index: str | None = None
    index_name: str = "{table}_sync_key"
    write_beside_read: str | None = None
    rows_per_insert: int = 1
    json_upsert: str | None = None
    json_insert: str | None = None
    stale_statistics: str | None = None
    analyze: str | None = None
    snapshot: tuple[str, ...] | None = None
    row_hash: str | None = None
    proven: bool = False
    named_parameters: bool = False
    timestamp_parameter: str = "{mark}"
    timestamp_value: str = "aware"

    @property
    def one_row_a_key(self) -> bool:
        """Whether the state holds at most one row a key (``json_upsert``)."""
        return self.json_upsert is not None

    def text(self, length: int) -> str:
        return self.text_column.format(length=length)

    def key_of(self, column: str) -> str:
        """The state's key of a row whose key column is ``column`` (already qualified and quoted)."""
        return self.key.format(column=column, cast_text=self.cast_text)

    def inline_index_ddl(self, table: str) -> str:
        """``, <index>`` for CREATE TABLE of ``[schema.]table``, or nothing."""
        if self.inline_index is None:
            return ""
        return ", " + self.inline_index.format(name=self.index_name.format(table=table.rpartition(".")[2]))

    def index_ddl(self, table: str) -> str | None:
        """The index statement for the state table ``[schema.]table``, or None."""
        if self.index is None:
            return None
        schema, _, bare = table.rpartition(".")
        name = self.index_name.format(table=bare)
        return self.index.format(name=name, schema=f"{schema}." if schema else "", table=bare)

    def column(self, name: str) -> str:
        """``name`` quoted, exactly as the query's cursor describes it (quoting keeps its case)."""
        return f"{self.quote}{name.replace(self.quote, self.quote * 2)}{self.quote}"


GENERIC = Dialect()
# Keyed by the SQL hook's conn_type.
DIALECTS = {
    # PostgreSQL names the index in the table's schema; SQLite wants the schema on the index's name.
    "postgres": Dialect(
        timestamp="TIMESTAMP WITH TIME ZONE",
        now="STATEMENT_TIMESTAMP()",
        # Unique: one row a key.
        index="CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {schema}{table} (sync_id, row_key)",
        index_name="{table}_sync_unique",
        key_bytes=2400,
        # A disputed row never keeps a row hash: the warehouse would take the row as unchanged.
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
        stale_statistics=(
            "SELECT 1 FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
            "WHERE s.relid = CAST('{table}' AS regclass) AND s.n_mod_since_analyze > 1000 + c.reltuples / 10"
        ),
        analyze="ANALYZE {table}",  # by its owner; another role gets a warning, not an error
        # The row's text holds every column in its output form, so two rows of one text hold the
        # same values and map to the same record; floats only if printed exactly (a role may have
        # lowered extra_float_digits): 1 is PostgreSQL 12's default, shortest-exact.
        snapshot=("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "SET LOCAL extra_float_digits = 1"),
        row_hash="md5(CAST({row} AS TEXT) || '{salt}')",
        proven=True,
    ),
    # GETDATE() is the statement's start (SYSDATE, like PostgreSQL's CURRENT_TIMESTAMP, the
    # transaction's): https://docs.aws.amazon.com/redshift/latest/dg/r_GETDATE.html
    "redshift": Dialect(timestamp="TIMESTAMPTZ", now="GETDATE()"),
    # Snowflake (through fakesnow): the connector sends a multi-row INSERT as one statement.
    "snowflake": Dialect(timestamp="TIMESTAMP_TZ", rows_per_insert=500, proven=True),
    "sqlite": Dialect(
        now="STRFTIME('%Y-%m-%d %H:%M:%f', 'now')",  # UTC, with milliseconds
        index="CREATE INDEX IF NOT EXISTS {schema}{name} ON {table} (sync_id, row_key)",
        write_beside_read="SELECT 1 FROM pragma_journal_mode WHERE journal_mode = 'wal'",
        snapshot=("BEGIN",),  # a read transaction: one snapshot until the connection closes
        rows_per_insert=160,  # of 6 parameters each: under the 999 of SQLite before 3.32
        timestamp_value="text",
        proven=True,
    ),
    # MariaDB and MySQL: text in utf8mb4 compared by its bytes (utf8mb4_bin; the default collations
    # fold case and accents), whatever the database's default. The key is the MD5 of the key's
    # UTF-8 bytes: a key of 1024 characters (4096 bytes) is wider than InnoDB indexes (3072 bytes)
    # and than the automatic keys of the join's derived table, without which the join scans the
    # whole state for every row. The time has microseconds, of the statement's start (NOW(6)).
    # A transaction's reads share one snapshot once started WITH CONSISTENT SNAPSHOT.
    "mysql": Dialect(
        cast_text="CHAR",
        key="MD5(CAST({column} AS CHAR CHARACTER SET utf8mb4))",
        key_length=32,
        text_column="VARCHAR({length}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        timestamp="DATETIME(6)",
        now="NOW(6)",
        quote="`",
        inline_index="INDEX {name} (sync_id, row_key)",
        rows_per_insert=500,
        snapshot=("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION WITH CONSISTENT SNAPSHOT"),
        timestamp_value="naive",
        proven=True,
    ),
    # DuckDB (Airflow's DuckDB provider): its connections commit each statement (autocommit), so
    # the transaction's time is the statement's.
    "duckdb": Dialect(
        timestamp="TIMESTAMPTZ",
        index="CREATE INDEX IF NOT EXISTS {name} ON {schema}{table} (sync_id, row_key)",
        json_insert=(
            "INSERT INTO {table} (sync_id, row_key, identity, fingerprint, row_hash, synced_at, run_id) "
            "SELECT ?, r[1], r[2], r[3], r[4], get_current_timestamp(), ? "
            "FROM (SELECT unnest(CAST(CAST(? AS JSON) AS VARCHAR[][])) AS r)"
        ),
        proven=True,
    ),
    # A query job a statement: state rows go 250 to an INSERT (a state row's text is at most about
    # 2,300 characters; a query's text at most 1,024k), never a job a row.
    "gcpbigquery": Dialect(
        cast_text="STRING",
        text_column="STRING",
        quote="`",
        rows_per_insert=250,
        named_parameters=True,
        timestamp_parameter="TIMESTAMP({mark})",
        timestamp_value="text",
        proven=True,
    ),
}


class Binding:
    """The parameters of one statement, in the style its driver binds: positional marks (the
    hook's placeholder) with a list, or named ``%(pN)s`` marks with a dict (``named_parameters``).

    :param hook: the SQL hook the statement runs on.
    """

    def __init__(self, hook: Any) -> None:
        self.dialect = dialect_of(hook)
        self._placeholder = hook.placeholder
        self._values: list[Any] = []

    def mark(self, value: Any) -> str:
        """Bind ``value``; return the mark that stands for it in the SQL."""
        self._values.append(value)
        return f"%(p{len(self._values) - 1})s" if self.dialect.named_parameters else self._placeholder

    def marks(self, values: Sequence[Any]) -> str:
        """Bind each of ``values``; their marks, comma-separated."""
        return ", ".join(self.mark(value) for value in values)

    def time(self, value: Any) -> str:
        """Bind a time (a datetime, or the warehouse's own text of one) as the warehouse takes it."""
        kind = self.dialect.timestamp_value
        if isinstance(value, dt.datetime) and kind == "naive" and value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        elif isinstance(value, dt.datetime) and kind == "text":
            value = value.isoformat()
        return self.dialect.timestamp_parameter.format(mark=self.mark(value))

    @property
    def values(self) -> dict[str, Any] | list[Any]:
        if self.dialect.named_parameters:
            return {f"p{position}": value for position, value in enumerate(self._values)}
        return list(self._values)


def dialect_of(hook: Any) -> Dialect:
    """The dialect of a SQL hook, by its connection type; the generic one for any other."""
    return DIALECTS.get(str(getattr(hook, "conn_type", "") or ""), GENERIC)


def writes_beside_read(hook: Any) -> bool:
    """Whether the state can be committed while the source's read is open, on this connection."""
    query = dialect_of(hook).write_beside_read
    return query is None or hook.get_first(query) is not None


def check_table_name(name: str, role: str) -> str:
    if not isinstance(name, str) or not TABLE_NAME.fullmatch(name):
        raise ValueError(f"{role} {name!r} is not a plain [schema.]table name")
    return name


def check_sync_id(sync_id: Any) -> str:
    if not isinstance(sync_id, str) or not SYNC_ID.fullmatch(sync_id):
        raise ValueError(f"sync_id {sync_id!r} must be 1 to 250 letters, digits or the characters _ . : - [ ]")
    return sync_id


def check_proven(hook: Any) -> None:
    """Refuse a stateful sync on a warehouse the matrix does not run, unless its connection allows
    it knowingly (extra ``allow_unproven_warehouse``): before anything is sent."""
    conn_type = str(getattr(hook, "conn_type", "") or "")
    if dialect_of(hook).proven or _allows_unproven(hook):
        return
    proven = ", ".join(sorted(name for name, dialect in DIALECTS.items() if dialect.proven))
    raise ValueError(
        f"Stateful syncs are proven on {proven}, not on connection type {conn_type or '(unknown)'!r}: its SQL "
        f"(keys compared byte for byte, the state's writes, its timestamps) is untested there. To run it "
        f'anyway, knowingly, set {{"{ALLOW_UNPROVEN}": true}} in the connection\'s extra.'
    )


def _allows_unproven(hook: Any) -> bool:
    conn_id = getattr(hook, str(getattr(hook, "conn_name_attr", "")), None)
    if not conn_id:
        return False
    return read_flag(hook.get_connection(conn_id).extra_dejson.get(ALLOW_UNPROVEN), ALLOW_UNPROVEN)
