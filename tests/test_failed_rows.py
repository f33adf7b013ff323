"""The failed-rows table on real SQLite and PostgreSQL (the other warehouses: tests/warehouses):
attempts told apart, a timestamp type where there is one, an older table brought up to date, its
retention, and a table the connection may not write."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import sqlite3

import pytest

from airflow_provider_clevertap.failed_rows import Attempt, delete_older, prepare_table, write_problems
from airflow_provider_clevertap.results import Problem
from airflow_provider_clevertap.sources import get_sql_hook

PROBLEMS = [
    Problem("u1", None, "property 'bio' is longer than 512 bytes"),
    Problem("u2", 515, "Email is not valid"),
    Problem(None, None, "identity column 'id' is null"),
]
FIRST = Attempt(dag_id="d", task_id="t", run_id="r1", try_number=1, map_index=-1, stopped=False)
COLUMNS = "dag_id, task_id, run_id, identity, code, error, try_number, map_index, attempt"
# The table as version 0.1.0 of the provider made it.
OLD_TABLE = (
    "CREATE TABLE {table} (dag_id VARCHAR(250), task_id VARCHAR(250), run_id VARCHAR(250), identity TEXT, "
    "code INTEGER, error TEXT, recorded_at VARCHAR(32))"
)


def record(hook, table, problems, attempt) -> None:
    """What a task does: the table prepared before the first request, the problems written after."""
    prepare_table(hook, table)
    write_problems(hook, table, problems, attempt)


def test_write_problems_creates_the_table_on_sqlite_and_appends_each_attempt(sqlite_warehouse):
    hook = get_sql_hook("warehouse")
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    record(hook, "failed", PROBLEMS, FIRST)
    retry = dataclasses.replace(FIRST, try_number=2, stopped=True)
    record(hook, "failed", PROBLEMS[:1], retry)
    record(hook, "failed", PROBLEMS[1:2], dataclasses.replace(FIRST, map_index=3))

    with sqlite3.connect(sqlite_warehouse) as connection:
        rows = connection.execute(f"SELECT {COLUMNS}, recorded_at FROM failed").fetchall()
    assert [row[:-1] for row in rows] == [
        ("d", "t", "r1", "u1", None, "property 'bio' is longer than 512 bytes", 1, -1, "finished"),
        ("d", "t", "r1", "u2", 515, "Email is not valid", 1, -1, "finished"),
        ("d", "t", "r1", None, None, "identity column 'id' is null", 1, -1, "finished"),
        ("d", "t", "r1", "u1", None, "property 'bio' is longer than 512 bytes", 2, -1, "stopped"),
        ("d", "t", "r1", "u2", 515, "Email is not valid", 1, 3, "finished"),
    ]
    for row in rows:
        assert before <= dt.datetime.fromisoformat(row[-1]) <= dt.datetime.now(dt.timezone.utc)


def test_write_problems_with_nothing_to_write_still_creates_the_table(sqlite_warehouse):
    record(get_sql_hook("warehouse"), "failed", [], FIRST)
    with sqlite3.connect(sqlite_warehouse) as connection:
        assert connection.execute("SELECT count(*) FROM failed").fetchone() == (0,)


@pytest.mark.parametrize("table", ["failed; DROP TABLE users", "a.b.c.d", "1table", "fai led", ""])
def test_write_problems_refuses_a_table_name_that_is_not_plain(sqlite_warehouse, table):
    with sqlite3.connect(sqlite_warehouse) as connection:
        connection.execute("CREATE TABLE users (identity TEXT)")
    with pytest.raises(ValueError, match="plain"):
        prepare_table(get_sql_hook("warehouse"), table)
    with pytest.raises(ValueError, match="plain"):
        write_problems(get_sql_hook("warehouse"), table, PROBLEMS, FIRST)
    with sqlite3.connect(sqlite_warehouse) as connection:
        assert connection.execute("SELECT name FROM sqlite_master").fetchall() == [("users",)]


def test_an_older_table_on_sqlite_gets_the_new_columns_and_keeps_its_rows(sqlite_warehouse):
    with sqlite3.connect(sqlite_warehouse) as connection:
        connection.execute(OLD_TABLE.format(table="failed"))
        connection.execute("INSERT INTO failed VALUES ('d', 't', 'r0', 'u0', 515, 'old', '2026-11-01T00:00:00+00:00')")

    record(get_sql_hook("warehouse"), "failed", PROBLEMS[1:2], FIRST)

    with sqlite3.connect(sqlite_warehouse) as connection:
        rows = connection.execute(f"SELECT {COLUMNS} FROM failed ORDER BY run_id").fetchall()
    assert rows == [
        ("d", "t", "r0", "u0", 515, "old", None, None, None),
        ("d", "t", "r1", "u2", 515, "Email is not valid", 1, -1, "finished"),
    ]


def _pg_columns(postgres_uri: str, table: str) -> dict[str, str]:
    import psycopg

    with psycopg.connect(postgres_uri) as connection:
        return dict(
            connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
                (table.rpartition(".")[2],),
            ).fetchall()
        )


@pytest.fixture
def pg_table(postgres_uri, postgres_warehouse):
    import psycopg

    table = f"public.{postgres_warehouse}_failed"
    yield table
    with psycopg.connect(postgres_uri, autocommit=True) as connection:
        connection.execute(f"DROP TABLE IF EXISTS {table}")


def test_write_problems_on_postgres_with_a_schema_and_a_timestamp_type(postgres_uri, pg_table):
    import psycopg

    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    record(get_sql_hook("warehouse_pg"), pg_table, PROBLEMS, dataclasses.replace(FIRST, try_number=3))

    assert _pg_columns(postgres_uri, pg_table)["recorded_at"] == "timestamp with time zone"
    with psycopg.connect(postgres_uri) as connection:
        rows = connection.execute(f"SELECT {COLUMNS}, recorded_at FROM {pg_table} ORDER BY identity").fetchall()
    assert [row[:-1] for row in rows] == [
        ("d", "t", "r1", "u1", None, "property 'bio' is longer than 512 bytes", 3, -1, "finished"),
        ("d", "t", "r1", "u2", 515, "Email is not valid", 3, -1, "finished"),
        ("d", "t", "r1", None, None, "identity column 'id' is null", 3, -1, "finished"),
    ]
    for row in rows:
        assert isinstance(row[-1], dt.datetime) and before <= row[-1] <= dt.datetime.now(dt.timezone.utc)


def test_an_older_table_on_postgres_gets_the_new_columns(postgres_uri, pg_table):
    import psycopg

    with psycopg.connect(postgres_uri, autocommit=True) as connection:
        connection.execute(OLD_TABLE.format(table=pg_table))

    record(get_sql_hook("warehouse_pg"), pg_table, PROBLEMS[1:2], dataclasses.replace(FIRST, stopped=True))
    # Twice: columns already there are not added again.
    record(get_sql_hook("warehouse_pg"), pg_table, PROBLEMS[1:2], FIRST)

    columns = _pg_columns(postgres_uri, pg_table)
    assert columns["recorded_at"] == "character varying"  # an existing column keeps its type
    assert {"try_number", "map_index", "attempt"} <= set(columns)
    with psycopg.connect(postgres_uri) as connection:
        rows = connection.execute(f"SELECT {COLUMNS} FROM {pg_table} ORDER BY attempt DESC").fetchall()
    assert rows == [
        ("d", "t", "r1", "u2", 515, "Email is not valid", 1, -1, "stopped"),
        ("d", "t", "r1", "u2", 515, "Email is not valid", 1, -1, "finished"),
    ]


def test_retention_deletes_older_rows_of_a_table_whose_recorded_at_is_text(postgres_uri, pg_table):
    """A table of version 0.1.0 keeps recorded_at as ISO text: the retention's date compares with it too."""
    import psycopg

    with psycopg.connect(postgres_uri, autocommit=True) as connection:
        connection.execute(OLD_TABLE.format(table=pg_table))
        connection.execute(
            f"INSERT INTO {pg_table} VALUES ('d', 't', 'r0', 'u0', 515, 'old', '2020-11-01T00:00:00+00:00')"
        )
    hook = get_sql_hook("warehouse_pg")
    record(hook, pg_table, PROBLEMS[1:2], FIRST)

    delete_older(hook, pg_table, 30)

    with psycopg.connect(postgres_uri) as connection:
        assert connection.execute(f"SELECT run_id, identity FROM {pg_table}").fetchall() == [("r1", "u2")]


@pytest.mark.parametrize("grant", ["SELECT", "SELECT, INSERT"])
def test_a_failed_rows_table_the_connection_may_not_write_fails_before_the_first_request(
    postgres_uri, pg_table, monkeypatch, clevertap_connection, requests_mock, grant
):
    """A role that may read but not write the table, or insert but not delete what the retention
    deletes: the task fails for good, nothing is sent."""
    import psycopg
    from airflow.providers.common.compat.sdk import AirflowFailException

    from airflow_provider_clevertap.operators import CleverTapUserUploadOperator
    from demo.warehouse import postgres_connection

    role = pg_table.rpartition(".")[2] + "_reader"
    with psycopg.connect(postgres_uri, autocommit=True) as connection:
        connection.execute(f"CREATE ROLE {role} LOGIN")
    prepare_table(get_sql_hook("warehouse_pg"), pg_table)  # the table as it is now: nothing to add
    with psycopg.connect(postgres_uri, autocommit=True) as connection:
        connection.execute(f"GRANT {grant} ON {pg_table} TO {role}")
    try:
        monkeypatch.setenv("AIRFLOW_CONN_READER", postgres_connection(postgres_uri.replace("postgres@", f"{role}@")))
        operator = CleverTapUserUploadOperator(
            task_id="t", source_conn_id="reader", sql="SELECT 'u1' AS identity", failed_rows_table=pg_table
        )
        with pytest.raises(AirflowFailException, match="failed_rows_table .* cannot be written.*nothing was sent"):
            operator.execute({"run_id": "r1"})
        assert requests_mock.call_count == 0
    finally:
        with psycopg.connect(postgres_uri, autocommit=True) as connection:
            connection.execute(f"DROP TABLE IF EXISTS {pg_table}")
            connection.execute(f"DROP ROLE IF EXISTS {role}")


# -- a dry run only reads the table, to check it --------------------------------------------------


@pytest.fixture
def own_schema(postgres_uri, postgres_warehouse):
    """A schema of this test's own, with the failed-rows table in it, and a role that may use the
    schema (``AIRFLOW_CONN_READER``), but nothing of what is in it unless granted; dropped afterwards."""
    import psycopg

    schema, role = postgres_warehouse, f"{postgres_warehouse}_reader"
    with psycopg.connect(postgres_uri, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
        connection.execute(f"CREATE ROLE {role} LOGIN")
        connection.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
    prepare_table(get_sql_hook("warehouse_pg"), f"{schema}.failed")
    try:
        yield schema, role
    finally:
        with psycopg.connect(postgres_uri, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")
            connection.execute(f"DROP ROLE {role}")


def _dry_run_as_reader(postgres_uri, role, monkeypatch, table):
    from airflow_provider_clevertap.operators import CleverTapUserUploadOperator
    from demo.warehouse import postgres_connection

    monkeypatch.setenv("AIRFLOW_CONN_READER", postgres_connection(postgres_uri.replace("postgres@", f"{role}@")))
    return CleverTapUserUploadOperator(
        task_id="t", source_conn_id="reader", sql="SELECT 'u1' AS identity", failed_rows_table=table, dry_run=True
    ).execute({"run_id": "r1"})


def test_a_dry_run_needs_only_to_read_the_failed_rows_table(
    postgres_uri, own_schema, monkeypatch, clevertap_connection, requests_mock
):
    """A role that may read the table but not write it: a dry run, which writes nothing, passes
    (the real run fails before its first request: the test above)."""
    import psycopg

    schema, role = own_schema
    with psycopg.connect(postgres_uri, autocommit=True) as connection:
        connection.execute(f"GRANT SELECT ON {schema}.failed TO {role}")
    requests_mock.post(f"{clevertap_connection}/1/upload", json={"status": "success", "processed": 1})

    summary = _dry_run_as_reader(postgres_uri, role, monkeypatch, f"{schema}.failed")

    assert summary["dry_run"] is True and summary["rows_accepted"] == 1
    assert requests_mock.call_count == 1


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("{schema}.failed", "failed_rows_table '{schema}.failed' is there but cannot be read"),
        ("{schema}_gone.failed", "cannot be created: schema '{schema}_gone' does not exist"),
    ],
    ids=["unreadable", "missing schema"],
)
def test_a_dry_run_fails_before_the_first_request_on_a_table_it_could_not_read_or_create(
    postgres_uri, own_schema, monkeypatch, clevertap_connection, requests_mock, name, error
):
    from airflow.providers.common.compat.sdk import AirflowFailException

    schema, role = own_schema
    with pytest.raises(AirflowFailException, match=re.escape(error.format(schema=schema))):
        _dry_run_as_reader(postgres_uri, role, monkeypatch, name.format(schema=schema))
    assert requests_mock.call_count == 0
