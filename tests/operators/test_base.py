"""Configuration problems the operators find before the first request fail the task for good
(``AirflowFailException``: Airflow does not retry, so nothing is sent twice), in a dry run too,
which only reads the failed-rows table to check it and leaves it as it was."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_clevertap.failed_rows import Attempt, prepare_table, write_problems
from airflow_provider_clevertap.operators import CleverTapEventUploadOperator, CleverTapUserUploadOperator
from airflow_provider_clevertap.results import Problem
from airflow_provider_clevertap.sources import get_sql_hook


@pytest.mark.parametrize(
    "option", [{"state_table": "state; DROP TABLE users"}, {"sync_id": "it's"}], ids=["state_table", "sync_id"]
)
def test_a_state_the_sync_cannot_use_fails_before_the_first_request(
    sqlite_warehouse, clevertap_connection, requests_mock, context, option
):
    operator = CleverTapUserUploadOperator(
        task_id="t", source_conn_id="warehouse", sql="SELECT 'u1' AS identity", sync_mode="changed", **option
    )
    with pytest.raises(AirflowFailException, match=next(iter(option))):
        operator.execute(context)
    assert requests_mock.call_count == 0


@pytest.mark.parametrize("table", ["failed; DROP TABLE users", "no_such_schema.failed"])
def test_a_failed_rows_table_that_cannot_be_written_fails_before_the_first_request(
    sqlite_warehouse, clevertap_connection, requests_mock, context, table
):
    operator = CleverTapEventUploadOperator(
        task_id="t",
        source_conn_id="warehouse",
        sql="SELECT 'u1' AS identity, 1767225600 AS ts",
        event_name="Signed Up",
        ts_column="ts",
        failed_rows_table=table,
    )
    with pytest.raises(AirflowFailException, match="failed_rows_table"):
        operator.execute(context)
    assert requests_mock.call_count == 0


def test_a_warehouse_that_cannot_be_reached_fails_as_an_error_airflow_retries(
    clevertap_connection, requests_mock, context, monkeypatch
):
    import socket

    from demo.warehouse import postgres_connection

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_UNREACHABLE", postgres_connection(f"postgresql://postgres@127.0.0.1:{port}/test"))
    operator = CleverTapUserUploadOperator(
        task_id="t", source_conn_id="unreachable", sql="SELECT 'u1' AS identity", failed_rows_table="failed"
    )
    with pytest.raises(Exception) as raised:
        operator.execute(context)
    assert not isinstance(raised.value, AirflowFailException)
    assert requests_mock.call_count == 0


# -- a dry run checks the failed-rows table, and writes nothing there -----------------------------

# Rows of the table before the dry run: one recorded long before the retention, one today.
OLD_PROBLEM = Problem("u-old", 515, "Email is not valid")
NEW_PROBLEM = Problem("u-new", 516, "Phone is not valid")
DRY_RUN_ROWS = (
    "SELECT 'u1' AS identity, 'a@example.com' AS email UNION ALL SELECT 'u2', 'bad' UNION ALL SELECT NULL, 'c'"
)
UNTOUCHED = "failed_rows_table .* is left untouched: nothing deleted or written"


def dry_run(source_conn_id: str, table: str) -> CleverTapUserUploadOperator:
    """A dry run of three rows: one accepted, one refused, one invalid (no identity)."""
    return CleverTapUserUploadOperator(
        task_id="t",
        source_conn_id=source_conn_id,
        sql=DRY_RUN_ROWS,
        failed_rows_table=table,
        failed_rows_retention_days=30,
        max_failed_ratio=1.0,
        dry_run=True,
    )


def refuse_bad_email(record: dict[str, Any]) -> tuple[int, str] | None:
    return (515, "Email is not valid") if record["profileData"].get("email") == "bad" else None


@pytest.fixture(params=["sqlite", "postgres"])
def failed_table(request) -> Iterator[tuple[str, str, Callable[[str], list[Any]]]]:
    """``(source connection, failed-rows table, query)``, ``query(sql)`` returning the rows of a query:
    on SQLite, or in a schema of this test's own on PostgreSQL (dropped afterwards)."""
    if request.param == "sqlite":
        path = request.getfixturevalue("sqlite_warehouse")

        def query(sql: str) -> list[Any]:
            with closing(sqlite3.connect(path)) as connection, connection:
                return connection.execute(sql).fetchall()

        yield "warehouse", "failed", query
        return
    import psycopg

    uri, schema = request.getfixturevalue("postgres_uri"), request.getfixturevalue("postgres_warehouse")
    with psycopg.connect(uri, autocommit=True) as connection:

        def query_pg(sql: str) -> list[Any]:
            cursor = connection.execute(sql)
            return cursor.fetchall() if cursor.description else []

        connection.execute(f"CREATE SCHEMA {schema}")
        try:
            yield "warehouse_pg", f"{schema}.failed", query_pg
        finally:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


def test_a_dry_run_leaves_the_failed_rows_table_as_it_was(failed_table, clevertap, context, task_logs):
    conn_id, table, query = failed_table
    hook = get_sql_hook(conn_id)
    prepare_table(hook, table)
    attempt = Attempt("d", "t", "old-run", 1, -1, stopped=False)
    write_problems(hook, table, [OLD_PROBLEM], attempt)
    query(f"UPDATE {table} SET recorded_at = '2020-10-01 00:00:00'")  # long past the retention
    write_problems(hook, table, [NEW_PROBLEM], dataclasses.replace(attempt, run_id="new-run"))
    before = query(f"SELECT * FROM {table} ORDER BY run_id")
    clevertap.refuse = refuse_bad_email

    summary = dry_run(conn_id, table).execute(context)

    assert query(f"SELECT * FROM {table} ORDER BY run_id") == before
    assert [row[:4] for row in before] == [("d", "t", "new-run", "u-new"), ("d", "t", "old-run", "u-old")]
    # The summary is a dry run's as before: its problems counted and sampled.
    assert (summary["rows_accepted"], summary["rows_refused"], summary["rows_invalid"]) == (1, 1, 1)
    assert {problem["identity"] for problem in summary["failed_sample"]} == {None, "u2"}
    assert [call.query for call in clevertap.uploads] == [{"dryRun": ["1"]}]
    said = [record.getMessage() for record in task_logs.records if re.search(UNTOUCHED, record.getMessage())]
    assert said == [
        f"CleverTap upload (dry run): failed_rows_table {table} is left untouched: nothing deleted or written"
    ]


def test_a_dry_run_creates_no_failed_rows_table(failed_table, clevertap, context, task_logs):
    conn_id, table, query = failed_table
    clevertap.refuse = refuse_bad_email

    summary = dry_run(conn_id, table).execute(context)

    assert summary["rows_failed"] == 2
    with pytest.raises(Exception, match="no such table|does not exist"):
        query(f"SELECT * FROM {table}")
    assert any(
        re.search(f"{re.escape(table)} \\(not there yet\\) is left untouched", record.getMessage())
        for record in task_logs.records
    )


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ("failed; DROP TABLE users", "is not a plain"),
        ("no_such_schema.failed", "'no_such_schema.failed' cannot be created: schema 'no_such_schema' does not exist"),
    ],
)
def test_a_dry_run_with_a_failed_rows_table_a_real_run_could_not_write_fails_before_the_first_request(
    sqlite_db, clevertap, context, table, error
):
    sqlite_db.create("users", "identity TEXT")
    operator = dry_run("warehouse", table)
    with pytest.raises(AirflowFailException, match=re.escape(error)):
        operator.execute(context)
    assert clevertap.calls == []
    assert sqlite_db.query("SELECT name FROM sqlite_master") == [("users",)]
