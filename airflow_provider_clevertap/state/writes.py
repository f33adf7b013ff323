"""Writing the state: the entries CleverTap confirmed, as rows of the sync's state table; and
forgetting identities (``forget_identities``), where CleverTap deleted them.

An entry is ``(key, fingerprint, row hash, held, identity)``: the tag a change-filtered record
carried, plus the identity it was sent with. Entries go many a transaction (``COMMIT_ROWS``), in as
few statements as the warehouse takes (``Dialect``):

- PostgreSQL (one row a key): one ``INSERT ... ON CONFLICT`` of ``JSON_CHUNK`` rows, from one JSON array;
- elsewhere: a ``DELETE`` of the older rows of the keys the state held (``WRITE_CHUNK`` keys a
  statement), then ``INSERT ... VALUES`` (MariaDB/MySQL and DuckDB: one ``INSERT`` of ``JSON_CHUNK``
  rows from one JSON array).

Either way a row written before the run began is replaced, and a row another run wrote meanwhile
is never overwritten with a claim it did not earn (``table``'s docstring says why).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

import msgspec
from airflow.providers.common.sql.hooks.sql import DbApiHook
from more_itertools import chunked

from airflow_provider_clevertap.state.dialects import DISPUTED, Binding, check_sync_id, check_table_name
from airflow_provider_clevertap.state.rows import SyncRows

_encode_json = msgspec.json.Encoder().encode

WRITE_CHUNK = 500  # keys per DELETE ... IN (...) and rows per INSERT ... VALUES; under every driver's limits
# Rows per INSERT from one JSON array, which has no parameter limit: a confirmed batch (at most 1000)
# in one statement, as the state recorder writes it (docs/decisions/23d-1-duckdb-state-writes.md).
JSON_CHUNK = 1000
# Rows per transaction of the state: few commits, as each waits on the disk (docs/benchmarks.md,
# "Rows per state transaction"), yet not more than a kill may lose uncommitted (state/recorder.py).
COMMIT_ROWS = 5000
# SQLSTATE class 40, a transaction the warehouse rolled back: PostgreSQL's deadlock_detected, and
# the standard serialization_failure. Tried this many times in all before the error stands.
TRANSACTION_ROLLBACK = ("40P01", "40001")
DEADLOCK_ATTEMPTS = 5


def record(state: SyncRows, entries: Iterable[Sequence[Any]], run_id: str) -> int:
    """Write entries, ``COMMIT_ROWS`` a transaction on a connection of their own; return how many.
    A crash costs resends only: a transaction is whole or absent."""
    written = 0
    connection = state.hook.get_conn()
    try:
        cursor = connection.cursor()
        for transaction in chunked(entries, COMMIT_ROWS):
            write_redoing_deadlocks(state, connection, cursor, transaction, transaction, run_id)
            connection.commit()
            written += len(transaction)
        cursor.close()
    finally:
        connection.close()
    return written


def write_redoing_deadlocks(
    state: SyncRows,
    connection: Any,
    cursor: Any,
    entries: Sequence[Sequence[Any]],
    uncommitted: Sequence[Sequence[Any]],
    run_id: str,
) -> None:
    """Write ``entries`` in the open transaction, whose entries so far (these included) are
    ``uncommitted``. Where the warehouse ends the transaction to break a deadlock, roll it back
    and write all of them again: two overlapping runs writing the same keys in other orders
    (one row a key: each waits for the other's uncommitted row) deadlock, and one is chosen."""
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            write(state, cursor, entries if attempt == 1 else uncommitted, run_id)
            return
        except Exception as error:
            if attempt == DEADLOCK_ATTEMPTS or _sqlstate(error) not in TRANSACTION_ROLLBACK:
                raise
            connection.rollback()


# mysqlclient's errors carry MariaDB/MySQL's error number, not the SQLSTATE: ER_LOCK_DEADLOCK's is 40001.
MYSQL_DEADLOCK = 1213


def _sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a driver's error: psycopg 3 and mysql-connector-python name it, psycopg2
    calls it ``pgcode``; mysqlclient gives the error number first in its arguments."""
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if state is None and type(error).__module__.startswith("MySQLdb") and error.args[:1] == (MYSQL_DEADLOCK,):
        return "40001"
    return state


def write(state: SyncRows, cursor: Any, entries: Sequence[Sequence[Any]], run_id: str) -> None:
    """Write entries through ``cursor``, in the caller's transaction (it commits).

    The rows written before the run began (``SyncState.begin``) of each key the state held are
    replaced; a concurrent run's row is kept beside this run's (where one row a key: kept if it
    holds the same record, else disputed)."""
    if state.started is None:
        raise RuntimeError("SyncState.begin() must be called before writing")
    dialect = state.dialect
    if dialect.json_upsert is not None:  # one row a key: the statement replaces or disputes
        upsert = dialect.json_upsert.format(table=state.table)
        # In key order: two runs writing the same keys at once lock them in one order, mostly.
        for chunk in chunked(sorted(entries, key=itemgetter(0)), JSON_CHUNK):
            rows = _json_rows(_one_entry_a_key(chunk))
            cursor.execute(upsert, [state.sync_id, run_id, rows, state.started, state.started])
        return
    # Only the keys the state held when the query was read can have older rows to replace: a first
    # run (and each new row) needs no DELETE, half the statements and no index lookups. A row
    # another run wrote meanwhile is kept beside ours: two rows of a key that disagree send the row
    # again, and an event's second row is as true as its first (CleverTap accepted it from both runs).
    for keys in chunked((key for key, _, _, held, _ in entries if held), WRITE_CHUNK):
        bound = Binding(state.hook)
        cursor.execute(
            f"DELETE FROM {state.table} WHERE sync_id = {bound.mark(state.sync_id)} "
            f"AND synced_at < {bound.time(state.started)} AND row_key IN ({bound.marks(keys)})",
            bound.values,
        )
    _insert(state, cursor, entries, run_id)


def _insert(state: SyncRows, cursor: Any, entries: Sequence[Sequence[Any]], run_id: str) -> None:
    """INSERT the state rows of the entries: ``JSON_CHUNK`` a statement from JSON
    (``Dialect.json_insert``), or ``Dialect.rows_per_insert`` a statement."""
    if state.dialect.json_insert is not None:
        insert = state.dialect.json_insert.format(table=state.table)
        for chunk in chunked(entries, JSON_CHUNK):
            cursor.execute(insert, [state.sync_id, run_id, _json_rows(chunk)])
        return
    insert = f"INSERT INTO {state.table} (sync_id, row_key, identity, fingerprint, row_hash, synced_at, run_id) VALUES "
    rows = [(state.sync_id, key, identity, fp, row_hash, run_id) for key, fp, row_hash, _, identity in entries]
    if state.dialect.rows_per_insert == 1:
        mark = state.hook.placeholder
        cursor.executemany(insert + f"({mark}, {mark}, {mark}, {mark}, {mark}, {state.dialect.now}, {mark})", rows)
        return
    for part in chunked(rows, state.dialect.rows_per_insert):
        bound = Binding(state.hook)
        values = (f"({bound.marks(row[:5])}, {state.dialect.now}, {bound.mark(row[5])})" for row in part)
        cursor.execute(insert + ", ".join(values), bound.values)


def _one_entry_a_key(entries: list[Sequence[Any]]) -> list[Sequence[Any]]:
    """The entries with each key once (ON CONFLICT changes a row once a statement): a key the
    query returned twice keeps its fingerprint where both agree, else is disputed, and its row hash
    only where both agree on that too."""
    if len({entry[0] for entry in entries}) == len(entries):
        return entries
    merged: dict[Any, list[Any]] = {}
    for key, fingerprint, row_hash, held, identity in entries:
        seen = merged.setdefault(key, [key, fingerprint, row_hash, held, identity])
        if seen[1] != fingerprint:
            seen[1], seen[2] = DISPUTED, None
        elif seen[2] != row_hash:
            seen[2] = None
    return list(merged.values())


def _json_rows(entries: list[Sequence[Any]]) -> str:
    """``[key, identity, fingerprint, row hash]`` of each entry, as the JSON text of one array."""
    return _encode_json([(key, identity, fp, row_hash) for key, fp, row_hash, _, identity in entries]).decode()


def forget_identities(hook: DbApiHook, table: str, identities: Iterable[str], sync_id: str | None = None) -> int:
    """Forget ``identities`` (as sent to CleverTap) in ``sync_id``'s state, or every sync's; return
    how many state rows were removed."""
    check_table_name(table, "state_table")
    scope = None if sync_id is None else check_sync_id(sync_id)
    forgotten = 0
    connection = hook.get_conn()
    try:
        cursor = connection.cursor()
        for chunk in chunked(identities, WRITE_CHUNK):
            bound = Binding(hook)
            where = "" if scope is None else f"sync_id = {bound.mark(scope)} AND "
            cursor.execute(f"DELETE FROM {table} WHERE {where}identity IN ({bound.marks(chunk)})", bound.values)
            connection.commit()
            forgotten += max(cursor.rowcount, 0)
        cursor.close()
    finally:
        connection.close()
    return forgotten
