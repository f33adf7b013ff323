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
from airflow_provider_clevertap.operators import (
    CleverTapEventUploadOperator,
    CleverTapUserDeleteOperator,
    CleverTapUserUploadOperator,
)
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


# -- a dry run checks the state table as it checks the failed-rows table --------------------------

STATE_ROWS = "SELECT 'u1' AS identity UNION ALL SELECT 'u2'"
STATEFUL = ["changed", "mirror", "event", "delete"]  # the sync modes, an event sync, the delete operator


def stateful_dry_run(kind: str, conn_id: str, state_table: str) -> Any:
    """A dry run of two rows that keeps its state in ``state_table``."""
    common = {"task_id": "t", "source_conn_id": conn_id, "state_table": state_table, "dry_run": True}
    if kind == "delete":
        return CleverTapUserDeleteOperator(sql=STATE_ROWS, **common)
    if kind == "event":
        sql = f"SELECT identity, identity AS event_id, 1767225600 AS ts FROM ({STATE_ROWS}) r"
        return CleverTapEventUploadOperator(
            sql=sql, event_name="Signed Up", ts_column="ts", event_id_column="event_id", **common
        )
    return CleverTapUserUploadOperator(sql=STATE_ROWS, sync_mode=kind, **common)


@pytest.mark.parametrize("kind", STATEFUL)
def test_a_dry_run_with_a_state_table_in_a_missing_schema_fails_before_the_first_request(
    failed_table, clevertap, context, kind
):
    conn_id, _, query = failed_table
    error = "state_table 'missing_schema.state' cannot be created: schema 'missing_schema' does not exist"
    with pytest.raises(AirflowFailException, match=re.escape(error)):
        stateful_dry_run(kind, conn_id, "missing_schema.state").execute(context)
    assert clevertap.calls == []


@pytest.mark.parametrize("kind", STATEFUL)
def test_a_dry_run_with_no_state_table_yet_would_send_every_row_and_creates_nothing(
    failed_table, clevertap, context, kind
):
    conn_id, failed, query = failed_table
    state_table = failed.replace("failed", "state")  # in the schema the real run creates it in

    summary = stateful_dry_run(kind, conn_id, state_table).execute(context)

    assert summary["dry_run"] is True and summary["rows_accepted"] == 2
    assert all(call.query == {"dryRun": ["1"]} for call in clevertap.calls)  # a delete's dry run sends none
    with pytest.raises(Exception, match="no such table|does not exist"):
        query(f"SELECT * FROM {state_table}")


@pytest.mark.parametrize("kind", STATEFUL)
def test_a_dry_run_with_a_state_table_the_connection_may_not_read_fails_before_the_first_request(
    postgres_uri, postgres_warehouse, clevertap, context, monkeypatch, kind
):
    import psycopg

    from airflow_provider_clevertap.state.layout import create_state_table
    from demo.warehouse import postgres_connection

    schema, role = postgres_warehouse, f"{postgres_warehouse}_reader"
    with psycopg.connect(postgres_uri, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
        connection.execute(f"CREATE ROLE {role} LOGIN")
        connection.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")  # but no SELECT on the table
    try:
        create_state_table(get_sql_hook("warehouse_pg"), f"{schema}.state")
        monkeypatch.setenv("AIRFLOW_CONN_READER", postgres_connection(postgres_uri.replace("postgres@", f"{role}@")))
        error = f"state_table '{schema}.state' is there but cannot be read (connection 'reader', reading it: "
        with pytest.raises(AirflowFailException, match=re.escape(error)):
            stateful_dry_run(kind, "reader", f"{schema}.state").execute(context)
        assert clevertap.calls == []
    finally:
        with psycopg.connect(postgres_uri, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")
            connection.execute(f"DROP ROLE {role}")
