"""The failed-rows table: one row per invalid or refused row, in the source's warehouse.

Re-runs, retries and the tasks of a mapped task all append to the same table; ``try_number``,
``map_index`` and ``attempt`` (``finished`` or ``stopped``) tell their rows apart. A row that keeps
failing is recorded by every run, so each run first deletes what is older than the retention. A
table made by an older version of the provider gets the columns it lacks added, its other columns
kept as they are (``recorded_at`` stays text there). A dry run neither deletes nor writes: it only
reads, to check the table (``state.catalog.check_for_dry_run``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow.providers.common.sql.hooks.sql import DbApiHook
from more_itertools import chunked

from airflow_provider_clevertap.exceptions import CleverTapConfigError, driver_error
from airflow_provider_clevertap.results import Problem
from airflow_provider_clevertap.state.catalog import check_name_and_connection
from airflow_provider_clevertap.state.dialects import Binding, check_table_name, dialect_of
from airflow_provider_clevertap.state.table import describe
from airflow_provider_clevertap.state.writes import WRITE_CHUNK

FINISHED = "finished"
STOPPED = "stopped"  # killed, timed out, or stopped by a failure retries did not fix


@dataclass(frozen=True)
class Attempt:
    """Which task attempt recorded the problems.

    :param dag_id: the DAG.
    :param task_id: the task.
    :param run_id: the DAG run.
    :param try_number: the task instance's try (1 for the first attempt).
    :param map_index: the index of a mapped task instance, -1 when the task is not mapped.
    :param stopped: whether the attempt stopped before every row was processed.
    """

    dag_id: str
    task_id: str
    run_id: str
    try_number: int | None
    map_index: int
    stopped: bool

    @classmethod
    def of(cls, dag_id: str, task_id: str, context: Mapping[str, Any], *, stopped: bool) -> Attempt:
        """The attempt of the task instance of ``context`` (Airflow's task context)."""
        task_instance = context.get("ti")
        map_index = getattr(task_instance, "map_index", None)
        return cls(
            dag_id=dag_id,
            task_id=task_id,
            run_id=str(context.get("run_id")),
            try_number=getattr(task_instance, "try_number", None),
            map_index=-1 if map_index is None else map_index,
            stopped=stopped,
        )


def _columns(hook: DbApiHook) -> dict[str, str]:
    """Every column of the table, in order, with its type on this kind of warehouse."""
    dialect = dialect_of(hook)
    text = dialect.text
    return {
        "dag_id": text(250),
        "task_id": text(250),
        "run_id": text(250),
        "identity": "TEXT",
        "code": "INTEGER",
        "error": "TEXT",
        "recorded_at": dialect.timestamp,
        "try_number": "INTEGER",
        "map_index": "INTEGER",
        "attempt": text(16),
    }


def prepare_table(hook: DbApiHook, table: str) -> None:
    """Create the table, or add the columns an older version's table lacks; then insert no row
    into it, which the warehouse refuses where the connection may not write there."""
    check_table_name(table, "failed_rows_table")
    columns = _columns(hook)
    hook.run(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(f'{name} {kind}' for name, kind in columns.items())})")
    existing = {name.lower() for name, _ in describe(hook, f"SELECT * FROM {table}", None)}
    for name in (name for name in columns if name not in existing):
        hook.run(f"ALTER TABLE {table} ADD COLUMN {name} {columns[name]}")
    names = ", ".join(columns)
    hook.run(f"INSERT INTO {table} ({names}) SELECT {names} FROM {table} WHERE 1 = 0")


def prepare_for_run(hook: DbApiHook, table: str, retention_days: int | None, action: str, conn_id: str | None) -> None:
    """Make ``table`` ready before a sync's first request, its rows older than the retention deleted.

    A table that cannot be written (a name that is no plain table name, a missing schema, no
    permission) raises ``CleverTapConfigError``: a retry would not fix it, and would send every row
    again. A warehouse that cannot be reached at all fails as usual, to be retried.

    :param hook: the source connection's hook.
    :param table: the failed-rows table.
    :param retention_days: days of rows kept; None keeps every row.
    :param action: the operator's action, and
    :param conn_id: the source connection, for the error's message.
    """
    check_name_and_connection(hook, table, "failed_rows_table", action)
    try:
        prepare_table(hook, table)
        if retention_days is not None:
            delete_older(hook, table, retention_days)
    except Exception as error:  # each driver has its own errors
        raise CleverTapConfigError(
            f"CleverTap {action}: failed_rows_table {table!r} cannot be written through connection {conn_id!r} "
            f"({driver_error(error)}); nothing was sent"
        ) from None


def delete_older(hook: DbApiHook, table: str, days: int) -> None:
    """Delete the rows recorded before the start of the UTC day ``days`` days ago.

    The limit is a date literal, not a bound time: every warehouse of the matrix compares it with
    its timestamp type, and with the ISO-8601 text of SQLite or of an older version's table.
    """
    check_table_name(table, "failed_rows_table")
    oldest_kept = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).date()
    hook.run(f"DELETE FROM {table} WHERE recorded_at < '{oldest_kept.isoformat()}'")


def write_problems(hook: DbApiHook, table: str, problems: Iterable[Problem], attempt: Attempt) -> None:
    """Record every problem row in ``table`` (prepared by ``prepare_table``), many rows a statement
    (``Dialect.rows_per_insert``; the driver's ``executemany`` where 1), one transaction."""
    check_table_name(table, "failed_rows_table")
    recorded_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    marker = STOPPED if attempt.stopped else FINISHED
    rows = (
        (
            attempt.dag_id,
            attempt.task_id,
            attempt.run_id,
            p.identity,
            p.code,
            p.error,
            attempt.try_number,
            attempt.map_index,
            marker,
        )
        for p in problems
    )
    # Dialect.rows_per_insert counts state rows, of 6 parameters; a problem row has 10.
    state_rows = dialect_of(hook).rows_per_insert
    per_statement = 1 if state_rows == 1 else max(state_rows * 6 // 10, 2)
    connection = hook.get_conn()
    try:
        cursor = connection.cursor()
        for part in chunked(rows, WRITE_CHUNK):
            if per_statement == 1:  # the driver's executemany: the same statement, row after row
                statements = [_insert(hook, table, [row], recorded_at) for row in part]
                cursor.executemany(statements[0][0], [values for _, values in statements])
                continue
            for statement_rows in chunked(part, per_statement):
                cursor.execute(*_insert(hook, table, statement_rows, recorded_at))
        cursor.close()
        connection.commit()
    finally:
        connection.close()


def _insert(hook: DbApiHook, table: str, rows: list[tuple[Any, ...]], recorded_at: dt.datetime) -> tuple[str, Any]:
    """One ``INSERT`` of ``rows`` (``recorded_at`` goes seventh) and its parameters."""
    bound = Binding(hook)
    values = ", ".join(f"({bound.marks(row[:6])}, {bound.time(recorded_at)}, {bound.marks(row[6:])})" for row in rows)
    return f"INSERT INTO {table} ({', '.join(_columns(hook))}) VALUES {values}", bound.values
