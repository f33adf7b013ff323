"""The rejected-rows table: one row per invalid or refused row, in the source's warehouse.

Re-runs, retries and the tasks of a mapped task all append to the same table; ``try_number``,
``map_index`` and ``attempt`` (``finished`` or ``stopped``) tell their rows apart. A table made by
an older version of the provider gets the columns it lacks added, its other columns kept as they are
(``recorded_at`` stays text there).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from airflow.providers.common.sql.hooks.sql import DbApiHook

from airflow_provider_clevertap.results import Problem
from airflow_provider_clevertap.state.dialects import check_table_name, dialect_of, existing_columns

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
    """Create the table, or add the columns an older version's table lacks."""
    check_table_name(table, "rejected_rows_table")
    columns = _columns(hook)
    hook.run(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(f'{name} {kind}' for name, kind in columns.items())})")
    existing = existing_columns(hook, table)
    for name in (name for name in columns if name not in existing):
        hook.run(f"ALTER TABLE {table} ADD COLUMN {name} {columns[name]}")


def write_problems(hook: DbApiHook, table: str, problems: Iterable[Problem], attempt: Attempt) -> None:
    """Record every problem row in ``table`` (created, or brought up to date, first)."""
    prepare_table(hook, table)
    # ISO-8601 text: what every warehouse converts to its timestamp type on insert (and what an
    # older table's text column holds).
    recorded_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    marker = STOPPED if attempt.stopped else FINISHED
    hook.insert_rows(
        table,
        (
            (
                attempt.dag_id,
                attempt.task_id,
                attempt.run_id,
                p.identity,
                p.code,
                p.error,
                recorded_at,
                attempt.try_number,
                attempt.map_index,
                marker,
            )
            for p in problems
        ),
        target_fields=list(_columns(hook)),
        commit_every=1000,
    )
