"""The checks of the arguments every CleverTap operator takes, when the DAG is parsed: a wrong one
fails there, not in a run."""

from __future__ import annotations

from typing import Any

from airflow_provider_clevertap.hooks.clevertap import MAX_CONCURRENCY


def check_arguments(
    *,
    sql: str | None,
    rows: Any,
    source_conn_id: str | None,
    failed_rows_table: str | None,
    batch_size: int,
    max_batch_size: int,
    max_concurrency: int,
    max_failed_ratio: float,
    failed_rows_retention_days: int | None,
) -> None:
    """Raise a ValueError naming the first argument that is wrong, and why.

    :param max_batch_size: CleverTap's limit of items per request for the operator's endpoint.
    The others are the operator's arguments of the same names.
    """
    if (sql is None) == (rows is None):
        raise ValueError("Give either sql (with source_conn_id) or rows, not both and not neither")
    if sql is not None and not source_conn_id:
        raise ValueError("sql needs source_conn_id: the SQL connection to run it on")
    if failed_rows_table and not source_conn_id:
        raise ValueError("failed_rows_table needs source_conn_id: the connection that holds it")
    if not 1 <= batch_size <= max_batch_size:
        raise ValueError(f"batch_size must be between 1 and {max_batch_size} (CleverTap's limit), got {batch_size}")
    if not 1 <= max_concurrency <= MAX_CONCURRENCY:
        raise ValueError(
            f"max_concurrency must be between 1 and {MAX_CONCURRENCY} (CleverTap's limit), got {max_concurrency}"
        )
    if not 0.0 <= max_failed_ratio <= 1.0:
        raise ValueError(f"max_failed_ratio must be between 0 and 1, got {max_failed_ratio}")
    if failed_rows_retention_days is not None and not (
        type(failed_rows_retention_days) is int and failed_rows_retention_days >= 1
    ):
        raise ValueError(
            f"failed_rows_retention_days must be a whole number of days, at least 1, or None (keep every row), "
            f"got {failed_rows_retention_days!r}"
        )
