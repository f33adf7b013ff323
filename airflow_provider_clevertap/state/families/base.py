"""What a warehouse's SQL dialect is made of, for the state table: the ``Dialect`` record.

Each warehouse family's values are in the other modules of ``state/families/``; ``state/dialects``
keys them by the SQL hook's connection type. Why each value is what it is:
docs/decisions/23c-2-dialects-by-family.md and the records it links; what the choices cost:
docs/benchmarks.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

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

Shape = Sequence[Sequence[str]]  # the query's columns: [name, the driver's name of its type]
# The SQL standard's catalog, read where a warehouse has no other (Snowflake's tables, MariaDB/MySQL's
# and Snowflake's schemas): what the connection may use at all (a table it has no privilege on is
# not listed: the dry run passes it, and the real run's check fails it), names compared ignoring case.
STANDARD_TABLE_EXISTS = (
    "SELECT 1 FROM {prefix}information_schema.tables "
    "WHERE LOWER(table_schema) = LOWER({schema}) AND LOWER(table_name) = LOWER('{table}')"
)
STANDARD_SCHEMA_EXISTS = "SELECT 1 FROM {prefix}information_schema.schemata WHERE LOWER(schema_name) = LOWER({schema})"


@dataclass(frozen=True)
class Dialect:
    """How one kind of warehouse spells what the state stage needs.

    :param cast_text: the type an identity is CAST to, so the query's rows and the state match.
    :param key: the state's key of a row, from ``{column}`` (the query's key column, quoted): its
        text, or a hash of its bytes where the text could be too wide to index; either way compared
        byte for byte (no collation folds case or accents).
    :param key_length: the characters of the state's ``row_key`` column (32 for an MD5 in hex).
    :param key_bytes: the most UTF-8 bytes of a key the index holds, where fewer than
        ``key_length`` characters can take; a longer key is invalid before it is sent.
    :param text_column: the column type of a string of at most ``{length}`` characters.
    :param timestamp: the column type of ``synced_at`` (it receives ``now``).
    :param quote: the character that quotes a column name.
    :param now: the database's current time, of the statement (not of its transaction: the state is
        written as the run goes, and a row stamped before its record was sent could be replaced by
        an overlapping run that sent an older record).
    :param write_beside_read: a query returning a row when a second connection can commit while the
        source's read is open; None where it always can.
    :param index: the statement that indexes ``(sync_id, row_key)`` (``{name}``), harmless to
        repeat, or None where the warehouse has no indexes.
    :param inline_index: instead, the index as part of CREATE TABLE (``{name}``).
    :param rows_per_insert: rows of one ``INSERT ... VALUES``, or the driver's ``executemany`` at 1.
    :param json_upsert: instead, one ``INSERT ... ON CONFLICT`` of a whole chunk from one JSON array
        (``{table}``; parameters: sync id, run id, the JSON of ``[key, identity, fingerprint, row
        hash]`` rows, twice the run's start) into a table of one row a key (``index`` unique).
    :param json_insert: where a key may be held twice, one ``INSERT`` of a whole chunk from one
        JSON array (``{table}``; parameters: sync id, run id, the JSON text).
    :param stale_statistics: a query returning a row when the planner's statistics of ``{table}``
        are stale, and ``analyze`` the statement that renews them; None where not needed.
    :param snapshot: the statements that make a transaction's next statements read one snapshot,
        on one connection (``sources.transaction_cursor``), or None: then the rows the warehouse
        knows unchanged cannot be counted consistently with the streamed ones, and every row streams.
    :param row_hash: the warehouse's hash of a row salted with ``{salt}`` (hex digits): of the
        whole row ``{row}``, or of ``{columns}``, each column's ``row_hash_column`` one after the
        other; None where the warehouse has no hash to use. With ``snapshot``, rows whose hash the
        state holds never leave the warehouse. The text hashed must tell apart any two rows the
        driver reads differently.
    :param row_hash_column: one column's text in ``row_hash``'s ``{columns}``, from ``{column}``
        (qualified and quoted): self-delimiting (a NULL and each length of text distinct).
    :param inexact_types: a pattern of the driver's type names whose text may not tell two values
        apart: a query with such a column gets no warehouse-side hash.
    :param state_by_lookup: each row's state is read by subqueries on the state's index, not by a
        join with the state grouped by key (which this warehouse materializes and probes far more
        slowly: docs/decisions/23d-2-mysql-state-by-lookup.md).
    :param lookup_prefix: what goes before such a statement (nothing else changes how it runs).
    :param proven: whether the warehouse matrix (tests/warehouses) runs stateful syncs on it.
    :param named_parameters: the driver binds only named ``%(name)s`` parameters from a dict.
    :param timestamp_parameter: how a bound time (``{mark}``) is written in SQL.
    :param timestamp_value: how a datetime is passed: ``aware`` (as it is), ``naive`` (in UTC,
        without zone) or ``text`` (ISO-8601).
    :param table_exists: a catalog query returning a row where table ``{table}`` is in schema
        ``{schema}`` (an SQL expression; ``{prefix}``: the database of a three-part name and a dot),
        whether or not the connection may read it; None where there is none (or, as on SQLite,
        a table there can always be read). For a dry run's read-only check of a table (``state.catalog``).
    :param schema_exists: a catalog query returning a row where schema ``{schema}`` exists, or
        failing where it does not (BigQuery: the catalog of ``{qualifier}``, the name's part
        before the table); None where there is none.
    :param current_schema: the SQL of the schema an unqualified table name is created in.
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
    row_hash_column: str | None = None
    inexact_types: re.Pattern[str] | None = None
    state_by_lookup: bool = False
    lookup_prefix: str = ""
    proven: bool = False
    named_parameters: bool = False
    timestamp_parameter: str = "{mark}"
    timestamp_value: str = "aware"
    table_exists: str | None = None
    schema_exists: str | None = None
    current_schema: str = "current_schema()"

    @property
    def one_row_a_key(self) -> bool:
        """Whether the state holds at most one row a key (``json_upsert``)."""
        return self.json_upsert is not None

    @property
    def hashes_columns(self) -> bool:
        """Whether the row hash needs the query's columns (``row_hash_column``)."""
        return self.row_hash is not None and self.row_hash_column is not None

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

    def inexact_columns(self, shape: Shape) -> list[str]:
        """The columns of ``shape`` whose type's text may not tell two values apart."""
        pattern = self.inexact_types
        return [] if pattern is None else [name for name, kind in shape if pattern.search(kind)]

    def row_hash_of(self, salt: str, shape: Shape | None) -> str | None:
        """The hash of a row of the derived table ``q`` salted with ``salt``, or None where the
        warehouse has none, or needs the columns (``shape``) and has none or an inexact one."""
        if self.row_hash is None:
            return None
        if self.row_hash_column is None:
            return self.row_hash.format(row="q", salt=salt)
        if shape is None or self.inexact_columns(shape):
            return None
        columns = "".join(self.row_hash_column.format(column=f"q.{self.column(name)}") for name, _ in shape)
        return self.row_hash.format(columns=columns, salt=salt)
