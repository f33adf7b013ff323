"""Where rows come from: a SQL query streamed from any Airflow SQL connection, or a list.

Rows are read in chunks so memory stays flat however many rows the query returns. PostgreSQL's
default (client-side) cursor would load the whole result on execute: psycopg 3 streams it instead
(``Cursor.stream``: libpq's chunked rows, the query run as one statement, which PostgreSQL may give
parallel workers, as it never does a cursor's; docs/benchmarks.md, "Stateful syncs on PostgreSQL,
2026-12-02 evening"), and psycopg2 reads through a named, server-side cursor. Other drivers' cursors use ``fetchmany``.
"""

from __future__ import annotations

import functools
import itertools
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from airflow.providers.common.compat.sdk import BaseHook
from airflow.providers.common.sql.hooks.sql import DbApiHook

from airflow_provider_clevertap.cells import cell_readers, typed_rows
from airflow_provider_clevertap.properties import UNREADABLE
from airflow_provider_clevertap.sql_text import statement_of

FETCH_SIZE = 5000
# PostgreSQL types holding values Python's cannot: infinite and BC dates and times, years after
# 9999, times of 24:00, intervals of over 2.7 million years.
UNREADABLE_TYPES = ("date", "timestamp", "timestamptz", "time", "timetz", "interval")


@dataclass
class RowSource:
    """Rows as tuples, with the column names that say what each position holds.

    ``unchanged`` counts the rows the warehouse itself found unchanged (a stateful sync), known
    once the rows end: read there, never streamed, and accounted for as read and unchanged.
    """

    columns: list[str]
    rows: Iterator[tuple[Any, ...]]
    unchanged: int = 0


_ROWS_AFFECTED = "Rows affected: %s"  # common-sql's line after each statement ``run()`` executes


class _QuietStatementLog:
    """A hook's logger without common-sql's ``Rows affected: N`` line: the statements are ours (the
    state and failed-rows tables), and the sync's summary says what they did."""

    def __init__(self, log: Any) -> None:
        self._log = log

    def info(self, event: Any, *args: Any, **kwargs: Any) -> Any:
        if event == _ROWS_AFFECTED:
            return None
        return self._log.info(event, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)


def get_sql_hook(conn_id: str) -> DbApiHook:
    """Return the connection's SQL hook, with statement logging off (parameters can be personal data)
    and without the per-statement ``Rows affected`` lines."""
    hook = BaseHook.get_connection(conn_id).get_hook()
    if not isinstance(hook, DbApiHook):
        raise TypeError(f"Connection {conn_id!r} is of type {type(hook).__name__}, not a SQL connection (DbApiHook)")
    hook.log_sql = False
    hook._log = _QuietStatementLog(hook.log)
    return hook


@contextmanager
def sql_source(
    hook: DbApiHook,
    sql: str,
    parameters: Mapping[str, Any] | Sequence[Any] | None = None,
    *,
    before: Callable[[Any], None] | None = None,
) -> Iterator[RowSource]:
    """Run ``sql`` and stream its rows; the connection closes when the block ends.

    :param before: called with the connection before ``sql`` runs, to run statements of the same
        transaction first (a stateful sync counts its unchanged rows in the snapshot it streams).
    """
    connection = hook.get_conn()
    try:
        if before is not None:
            before(connection)
        if _is_psycopg3(connection):
            columns, rows = _psycopg3_stream(connection, sql, parameters)
            yield RowSource(columns, _in_column_order(rows, columns))
            return
        cursor = _streaming_cursor(connection)
        cursor.execute(sql, parameters) if parameters is not None else cursor.execute(sql)
        # A server-side cursor describes its columns only once it has fetched.
        first_chunk = cursor.fetchmany(FETCH_SIZE)
        if cursor.description is None:
            raise ValueError(NO_RESULT_SET)
        columns = [column[0] for column in cursor.description]
        readers = cell_readers(_conn_type(hook), cursor.description)
        yield RowSource(columns, _in_column_order(typed_rows(_chunks(cursor, first_chunk), readers), columns))
        cursor.close()
    finally:
        connection.close()


def first_row(hook: DbApiHook, sql: str) -> tuple[Any, ...]:
    """The first row of ``sql``, its cells read as the warehouse means them (``cells``)."""
    connection = hook.get_conn()
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        rows = cursor.fetchall()
        readers = cell_readers(_conn_type(hook), cursor.description)
        cursor.close()
        return tuple(next(typed_rows(iter(rows), readers)))
    finally:
        connection.close()


def _conn_type(hook: Any) -> str:
    return str(getattr(hook, "conn_type", "") or "")


NO_RESULT_SET = "The source query returned no result set (is it a SELECT?)"


def as_derived_table(sql: str) -> str:
    """``sql`` as a derived table's body: without its trailing semicolons and comments
    (``statement_of``), on lines of its own (a ``--`` comment inside must not swallow the
    closing parenthesis)."""
    return "\n" + statement_of(sql).lstrip()


def _is_psycopg3(connection: Any) -> bool:
    return type(connection).__module__.split(".")[0] == "psycopg"


def _psycopg3_stream(connection: Any, sql: str, parameters: Any) -> tuple[list[str], Iterator[Any]]:
    import psycopg

    cursor = connection.cursor()
    _read_unreadable_values(cursor)
    # Chunks need libpq 17 (psycopg-binary ships it); an older one streams row by row.
    size = FETCH_SIZE if psycopg.pq.version() >= 170000 else 1
    rows = cursor.stream(sql, parameters, size=size)
    try:
        first = next(rows, None)
    except psycopg.ProgrammingError as error:
        if error.sqlstate is not None:  # the server's error (a syntax error, a missing table)
            raise
        raise ValueError(NO_RESULT_SET) from error  # psycopg's own: "stream() didn't produce a result"
    if first is None:  # an empty stream has no description: ask for one
        return _describe(connection, cursor, sql, parameters), iter(())
    return [column.name for column in cursor.description], itertools.chain((first,), rows)


def _read_unreadable_values(cursor: Any) -> None:
    """Have ``cursor`` read a value psycopg cannot turn into a Python object as ``UNREADABLE``:
    psycopg's error would end the whole read, and it quotes the value."""
    from psycopg.pq import Format

    adapters = cursor.adapters  # the cursor's own: the connection's loaders stay as they are
    for name in UNREADABLE_TYPES:
        info = adapters.types.get(name)
        if info is not None:
            adapters.register_loader(info.oid, _forgiving(adapters.get_loader(info.oid, Format.TEXT)))


@functools.cache
def _forgiving(loader: type) -> type:
    """A psycopg loader that loads as ``loader`` does, or ``UNREADABLE`` where that fails."""
    from psycopg import DataError
    from psycopg.adapt import Loader

    class Forgiving(Loader):
        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._load = loader(oid, context).load

        def load(self, data: Any) -> Any:
            try:
                return self._load(data)
            except DataError:
                return UNREADABLE

    return Forgiving


def _describe(connection: Any, cursor: Any, sql: str, parameters: Any) -> list[str]:
    """The column names of a query whose stream was empty: planned as a derived table with
    ``LIMIT 0`` (not run), or, where it cannot be one (a data-modifying ``WITH``), run again."""
    import psycopg

    try:
        cursor.execute(f"SELECT * FROM ({as_derived_table(sql)}\n) AS described LIMIT 0", parameters)
    except psycopg.Error:
        connection.rollback()  # the read is over: its snapshot is no longer needed
        cursor.execute(sql, parameters)
    return [column.name for column in cursor.description]


class _ConnectionAsCursor:
    """A DuckDB connection used as its own cursor: ``close`` leaves it open (``sql_source`` closes it)."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def close(self) -> None:
        """The connection stays open for the next statement of its transaction."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


def transaction_cursor(connection: Any) -> Any:
    """A cursor in ``connection``'s own transaction, for a statement before the read's (a count in
    its snapshot): DuckDB's ``cursor()`` opens another connection, with a transaction of its own,
    so there the connection itself."""
    if type(connection).__module__.split(".")[0] in ("duckdb", "_duckdb"):
        return _ConnectionAsCursor(connection)
    return connection.cursor()


def _streaming_cursor(connection: Any) -> Any:
    """A cursor that fetches as the rows are read, where the driver's default holds the whole
    result in memory: psycopg2's named (server-side) cursor, mysqlclient's ``SSCursor``; in the
    transaction of the statements ``sql_source``'s ``before`` ran (``transaction_cursor``)."""
    driver = type(connection).__module__.split(".")[0]
    if driver == "psycopg2":
        cursor = connection.cursor(name=f"clevertap_sync_{uuid.uuid4().hex}")
        cursor.itersize = FETCH_SIZE
        return cursor
    if driver == "MySQLdb":
        from MySQLdb.cursors import SSCursor

        return connection.cursor(SSCursor)
    return transaction_cursor(connection)


def _chunks(cursor: Any, first_chunk: list[Any]) -> Iterator[Any]:
    chunk = first_chunk
    while chunk:
        yield from chunk
        chunk = cursor.fetchmany(FETCH_SIZE)


def _in_column_order(rows: Iterator[Any], columns: list[str]) -> Iterator[tuple[Any, ...]]:
    first = next(rows, None)
    if first is None:
        return
    if isinstance(first, Mapping):
        # A connection configured for dict rows (e.g. a postgres "cursor" extra): rows are read
        # by position, so put them back in column order.
        yield tuple(first[column] for column in columns)
        yield from (tuple(row[column] for column in columns) for row in rows)
    else:
        yield first
        yield from rows


def mapping_source(rows: Iterable[Mapping[str, Any]]) -> RowSource:
    """Rows given as mappings (for example from XCom): columns are every key any row has."""
    rows = list(rows)
    for position, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise TypeError(f"rows must be mappings of column to value; row {position} is a {type(row).__name__}")
    columns = list(dict.fromkeys(key for row in rows for key in row))
    return RowSource(columns, (tuple(row.get(column) for column in columns) for row in rows))


def decode_rows(rows: Any) -> Sequence[Any]:
    """An operator's ``rows`` as given or rendered from a template: a list, or its JSON text."""
    if isinstance(rows, str):
        try:
            rows = json.loads(rows)
        except json.JSONDecodeError as error:
            # Not the text itself in the message: it holds profile data.
            raise ValueError(
                f"rows is a string but not JSON ({error.msg} at character {error.pos}); a template "
                "rendering XCom should end in '| tojson' (or the DAG use render_template_as_native_obj)"
            ) from None
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Iterable):
        raise TypeError(f"rows must be a list of mappings (column to value), not a {type(rows).__name__}")
    return rows if isinstance(rows, Sequence) else list(rows)
