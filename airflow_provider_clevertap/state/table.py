"""The state table: per sync and identity, the fingerprint of the record CleverTap last accepted.

It lives on the source connection, next to the staged data, so the warehouse does the heavy work:
the user's query is joined with the sync's state in SQL, and only the joined rows stream by. The
key a row is matched on is the same SQL expression (the identity column CAST to text) in every
statement, so a difference between Python's and the warehouse's text of an identity can only
cause a resend, never a wrong deletion.

Writes (``writes``) replace only rows written before the run started (by the database's clock,
each row stamped with the time of its own statement: after CleverTap confirmed it). Two runs of
one sync at once therefore never overwrite each other: where both sent a key, both rows stay, the
join aggregates them (MIN and MAX of the fingerprint), and a key whose rows disagree is sent again.
On PostgreSQL the state keeps one row a key (``Dialect.json_upsert``), read with no aggregate:
there the two runs' disagreeing records leave one disputed row, sent again all the same.
Overwriting would be wrong: the run that writes last need not be the one whose record CleverTap
received last. Overlapping runs cost resends, never a skipped change.

Where the warehouse can, it also leaves out the rows the state already holds, so they never cross
the network: an event key the state holds (sent once, ever), or a profile row whose hash, computed
by the warehouse over the row's text and the mapping options, is the one recorded when CleverTap
accepted its record. Those rows are counted, in the same snapshot as the streamed ones, and
reported unchanged. The row hash is a shortcut, not the proof: a row that changed in any way, or
was mapped differently, has another hash and streams by to be fingerprinted as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from airflow.providers.common.sql.hooks.sql import DbApiHook

from airflow_provider_clevertap.sources import RowSource, as_derived_table, first_row, sql_source, transaction_cursor
from airflow_provider_clevertap.state import writes
from airflow_provider_clevertap.state.layout import create_state_table
from airflow_provider_clevertap.state.rows import SyncRows

log = logging.getLogger(__name__)
DEFAULT_STATE_TABLE = "clevertap_sync_state"
# Columns the joined query adds after the user's: the state's fingerprints, the row's key and hash.
STATE_COLUMNS = 4

Parameters = Mapping[str, Any] | Sequence[Any] | None


def describe(hook: DbApiHook, sql: str, parameters: Parameters) -> list[list[str]]:
    """The query's shape: each column's name and the driver's name of its type (planned, not run)."""
    connection = hook.get_conn()
    try:
        cursor = connection.cursor()
        query = f"SELECT * FROM ({as_derived_table(sql)}\n) q WHERE 1 = 0"
        cursor.execute(query, parameters) if parameters is not None else cursor.execute(query)
        cursor.fetchall()  # mysql-connector-python refuses to close a cursor with a result unread
        shape = [[str(column[0]), str(column[1])] for column in cursor.description]
        cursor.close()
        return shape
    finally:
        connection.close()


class SyncState(SyncRows):
    """One sync's rows of the state table, and the statements that read and write them.

    :param hook: the source connection's SQL hook (the state table lives there).
    :param table: the state table, ``[schema.]table``.
    :param sync_id: the sync's name in the table.
    :param key_column: the column of the user's query whose text is the state's key.
    """

    def __init__(self, hook: DbApiHook, table: str, sync_id: str, key_column: str) -> None:
        super().__init__(hook, table, sync_id)
        self.key_column = key_column
        self._key = self.dialect.key_of(f"q.{self.dialect.column(key_column)}")
        self._this_sync = f"sync_id = '{self.sync_id}'"  # safe: check_sync_id allows no quote
        self._shape: list[list[str]] | None = None  # the query's columns, where the row hash needs them

    def create(self) -> None:
        create_state_table(self.hook, self.table)

    def begin(self) -> None:
        """Note when this run starts, by the database's clock: it replaces only older rows. Renew
        the planner's statistics of the state table where they are stale (``Dialect.analyze``)."""
        self.started = first_row(self.hook, f"SELECT {self.dialect.now}")[0]
        stale, analyze = self.dialect.stale_statistics, self.dialect.analyze
        if stale is not None and analyze is not None and self.hook.get_first(stale.format(table=self.table)):
            self.hook.run(analyze.format(table=self.table))

    # -- reading ----------------------------------------------------------------------------------

    def _joined(self, sql: str) -> str:
        """The user's query, each row with its key's state (NULLs where the state has none): the
        MIN and MAX of its rows' fingerprints and row hashes, or of its one row's."""
        if self.dialect.one_row_a_key:  # a plain join, which PostgreSQL hashes once for all workers
            state = "fingerprint AS fp_min, fingerprint AS fp_max, row_hash AS rh_min, row_hash AS rh_max"
            grouped = ""
        else:
            state = (
                "MIN(fingerprint) AS fp_min, MAX(fingerprint) AS fp_max, "
                "MIN(row_hash) AS rh_min, MAX(row_hash) AS rh_max"
            )
            grouped = " GROUP BY row_key"
        return (
            f"FROM ({as_derived_table(sql)}\n) q\nLEFT JOIN (SELECT row_key, {state} "
            f"FROM {self.table} WHERE {self._this_sync}{grouped}) s ON s.row_key = {self._key}"
        )

    def _row_hash(self, salt: str) -> str:
        """The warehouse's hash of a row salted with the mapping options, or NULL where it has none."""
        row_hash = self.dialect.row_hash_of(salt, self._shape)
        return "NULL" if row_hash is None else row_hash

    def _of_key(self, value: str) -> str:
        """``value`` (an aggregate) of the row's key's state rows, looked up on the state's index
        (``Dialect.state_by_lookup``)."""
        return f"(SELECT {value} FROM {self.table} s WHERE s.{self._this_sync} AND s.row_key = {self._key})"

    def _held(self, match_key_only: bool, salt: str) -> str | None:
        """When the warehouse knows a row unchanged, or None where only Python can tell. Looked up,
        every state row of the key must hold the row's hash (a row of none streams: safe)."""
        if self.dialect.snapshot is None:  # no count consistent with the streamed rows
            return None
        lookup = self.dialect.state_by_lookup
        if match_key_only:
            return f"EXISTS {self._of_key('1')}" if lookup else "s.fp_min IS NOT NULL"
        row_hash = self.dialect.row_hash_of(salt, self._shape)
        if row_hash is None:
            return None
        if lookup:
            return f"{self._of_key(f'MIN(CASE WHEN s.row_hash = {row_hash} THEN 1 ELSE 0 END)')} = 1"
        return f"s.rh_min = s.rh_max AND s.rh_min = {row_hash}"

    def joined_query(self, sql: str, *, resend_all: bool = False, held: str | None = None, salt: str = "") -> str:
        """The user's query, each row followed by the state's MIN and MAX fingerprint of its key
        (NULL when the state has none, or on a full refresh), the key itself and the row's hash
        (NULL where the warehouse has none); without the rows for which ``held`` is true."""
        row_hash = self._row_hash(salt)
        if resend_all:  # named as the join names them: fakesnow keeps one of same-named columns
            state = f"NULL AS fp_min, NULL AS fp_max, {self._key}, {row_hash}"
            return f"SELECT q.*, {state}\nFROM ({as_derived_table(sql)}\n) q"
        keep = "" if held is None else f"\nWHERE CASE WHEN {held} THEN 1 ELSE 0 END = 0"
        if self.dialect.state_by_lookup:
            state = f"{self._of_key('MIN(fingerprint)')} AS fp_min, {self._of_key('MAX(fingerprint)')} AS fp_max"
            return f"SELECT q.*, {state}, {self._key}, {row_hash}\nFROM ({as_derived_table(sql)}\n) q{keep}"
        return f"SELECT q.*, s.fp_min, s.fp_max, {self._key}, {row_hash}\n{self._joined(sql)}{keep}"

    @contextmanager
    def read(
        self,
        sql: str,
        parameters: Parameters,
        *,
        resend_all: bool = False,
        match_key_only: bool = False,
        salt: str = "",
        shape: list[list[str]] | None = None,
    ) -> Iterator[RowSource]:
        """Stream the rows to send or to fingerprint. The columns named are the user's: the
        state's come after them, where a mapper built on those columns never looks.

        Where the warehouse leaves out the rows it knows unchanged, it first counts the query's
        rows in the same snapshot (a plain ``COUNT(*)``, far cheaper than the join): once the
        stream ends, ``unchanged`` is that count minus the rows streamed.

        :param resend_all: a full refresh: every row streams, as if the state held nothing.
        :param match_key_only: a key the state holds is unchanged (events, each sent once).
        :param salt: the mapping options' key in hex digits, part of every row hash.
        :param shape: the query's columns (``describe``), where the caller has them: not described twice.
        """
        if self.dialect.hashes_columns:
            self._shape = self._hashed_columns(describe(self.hook, sql, parameters) if shape is None else shape)
        else:
            self._shape = None
        # Where each row looks its key up, a state holding nothing of this sync (its first run) is
        # not read: a row of another run written meanwhile makes this run's rows of that key sent
        # again, as overlapping runs do. (A grouped join with nothing costs next to nothing.)
        resend_all = resend_all or (self.dialect.state_by_lookup and self._holds_nothing())
        held = None if resend_all else self._held(match_key_only, salt)
        total = [0]

        def count_rows(connection: Any) -> None:
            total[0] = self._count_first(connection, f"SELECT COUNT(*) FROM ({as_derived_table(sql)}\n) q", parameters)

        query = self.dialect.lookup_prefix + self.joined_query(sql, resend_all=resend_all, held=held, salt=salt)
        with sql_source(self.hook, query, parameters, before=None if held is None else count_rows) as source:
            found = RowSource(source.columns[:-STATE_COLUMNS], source.rows)
            if self._shape is not None and found.columns != [name for name, _ in self._shape]:
                # The hash covers the columns described: a column added since would go unhashed.
                raise ValueError("The query's columns changed while the sync started: run it again")
            if held is not None:
                found.rows = _noting_the_rest(found, source.rows, total[0])
            yield found

    def _holds_nothing(self) -> bool:
        """Whether the state holds no row of this sync (one index probe where it has an index)."""
        return first_row(self.hook, f"SELECT MIN(row_key) FROM {self.table} WHERE {self._this_sync}")[0] is None

    def _hashed_columns(self, shape: list[list[str]]) -> list[list[str]] | None:
        """The query's columns for the warehouse's row hash (``Dialect.row_hash_column``), or None
        where one of them has a type whose text may not tell two values apart: then every row
        streams and Python compares fingerprints (logged, with the columns)."""
        inexact = self.dialect.inexact_columns(shape)
        if inexact:
            log.info("Rows are compared in the task, not in the warehouse: no exact text of column(s) %s", inexact)
            return None
        return shape

    def _count_first(self, connection: Any, count: str, parameters: Parameters = None) -> int:
        """Run ``count`` on ``connection`` as the first statement of a snapshot, where the warehouse
        has them (``Dialect.snapshot``), for the statements after it to read the same data."""
        cursor = transaction_cursor(connection)
        try:
            for statement in self.dialect.snapshot or ():
                cursor.execute(statement)
            cursor.execute(count, parameters) if parameters is not None else cursor.execute(count)
            return int(cursor.fetchone()[0])
        finally:
            cursor.close()

    def _leavers_query(self, sql: str) -> str:
        return (
            f"SELECT s.row_key, MIN(s.identity) FROM {self.table} s LEFT JOIN "
            f"(SELECT DISTINCT {self._key} AS row_key FROM ({as_derived_table(sql)}\n) q) k ON k.row_key = s.row_key "
            f"WHERE s.{self._this_sync} AND k.row_key IS NULL GROUP BY s.row_key"
        )

    @contextmanager
    def leavers(self, sql: str, parameters: Parameters) -> Iterator[tuple[int, Iterator[str]]]:
        """How many keys this sync's state holds, and a stream of the identities (as CleverTap
        holds them) of the keys the query no longer returns: one statement gives the leavers,
        counted and deleted alike, and where the warehouse has snapshots (``Dialect.snapshot``)
        the keys held are counted in the same one."""
        held = [0]

        def count_held(connection: Any) -> None:
            held[0] = self._count_first(
                connection, f"SELECT COUNT(DISTINCT row_key) FROM {self.table} WHERE {self._this_sync}"
            )

        with sql_source(self.hook, self._leavers_query(sql), parameters, before=count_held) as source:
            yield held[0], (identity for _, identity in source.rows)

    # -- writing ----------------------------------------------------------------------------------

    def reset(self, sql: str, parameters: Parameters) -> None:
        """Forget the keys the query returns (a full refresh): they are all sent and recorded anew.
        Keys that left the query keep their state, so a mirror still deletes them."""
        self.hook.run(
            f"DELETE FROM {self.table} WHERE {self._this_sync} AND row_key IN "
            f"(SELECT {self._key} FROM ({as_derived_table(sql)}\n) q)",
            parameters=parameters,
        )

    def record(self, entries: Iterable[Sequence[Any]], run_id: str) -> int:
        """Write ``(key, fingerprint, row hash, held, identity)`` entries CleverTap accepted, in
        transactions of their own; return how many (``writes.record``)."""
        return writes.record(self, entries, run_id)


def _noting_the_rest(source: RowSource, rows: Iterator[tuple[Any, ...]], total: int) -> Iterator[tuple[Any, ...]]:
    """``rows``; once they end, the rows of ``total`` not streamed are ``source.unchanged``."""
    streamed = 0
    for row in rows:
        streamed += 1
        yield row
    source.unchanged = total - streamed
