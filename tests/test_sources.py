"""Row sources: SQL streamed from real SQLite and PostgreSQL connections, and lists of mappings."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Any

import pytest

from airflow_provider_clevertap import sources
from airflow_provider_clevertap.properties import UNREADABLE
from airflow_provider_clevertap.sources import get_sql_hook, mapping_source, sql_source


def make_sqlite(path, rows: int) -> None:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE users (identity TEXT, plan TEXT, score REAL)")
    connection.executemany("INSERT INTO users VALUES (?, ?, ?)", [(f"u{n:03}", "gold", n / 2) for n in range(rows)])
    connection.commit()
    connection.close()


class Recorder:
    """Wraps the cursor ``sql_source`` opens (the real one) and notes each fetchmany."""

    def __init__(self, monkeypatch) -> None:
        self.fetches: list[int] = []
        self.cursors: list[Any] = []
        real = sources._streaming_cursor
        recorder = self

        class RecordingCursor:
            def __init__(self, cursor: Any) -> None:
                self._cursor = cursor

            def fetchmany(self, size: int) -> list[Any]:
                rows = self._cursor.fetchmany(size)
                recorder.fetches.append(len(rows))
                return rows

            def __getattr__(self, name: str) -> Any:
                return getattr(self._cursor, name)

        def recording(connection: Any) -> RecordingCursor:
            cursor = real(connection)
            self.cursors.append(cursor)
            return RecordingCursor(cursor)

        monkeypatch.setattr(sources, "_streaming_cursor", recording)


# -- get_sql_hook -------------------------------------------------------------------------------


def test_the_sql_hook_has_statement_logging_off(sqlite_warehouse, postgres_warehouse):
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    for conn_id in ("warehouse", "warehouse_pg"):
        hook = get_sql_hook(conn_id)
        assert isinstance(hook, DbApiHook)
        assert hook.log_sql is False


def test_a_connection_that_is_not_sql_is_refused(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SOME_API", json.dumps({"conn_type": "http", "host": "example.com"}))
    with pytest.raises(TypeError, match="not a SQL connection"):
        get_sql_hook("some_api")


# -- sql_source on SQLite -------------------------------------------------------------------------


def test_sqlite_rows_stream_lazily_in_chunks(sqlite_warehouse, monkeypatch):
    make_sqlite(sqlite_warehouse, 10)
    monkeypatch.setattr(sources, "FETCH_SIZE", 4)
    recorder = Recorder(monkeypatch)

    with sql_source(get_sql_hook("warehouse"), "SELECT * FROM users ORDER BY identity") as source:
        assert source.columns == ["identity", "plan", "score"]
        assert recorder.fetches == [4]  # only the first chunk, to learn the columns
        first = [next(source.rows) for _ in range(5)]
        assert recorder.fetches == [4, 4]  # the second chunk only once the first ran out
        rest = list(source.rows)

    assert recorder.fetches == [4, 4, 2, 0]
    assert first[0] == ("u000", "gold", 0.0)
    assert [row[0] for row in first + rest] == [f"u{n:03}" for n in range(10)]


def test_sqlite_parameters_and_the_connection_is_closed_afterwards(sqlite_warehouse, monkeypatch):
    make_sqlite(sqlite_warehouse, 5)
    hook = get_sql_hook("warehouse")
    opened: list[Any] = []
    real_get_conn = hook.get_conn
    monkeypatch.setattr(hook, "get_conn", lambda: opened.append(real_get_conn()) or opened[-1])

    with sql_source(hook, "SELECT identity FROM users WHERE score >= ? ORDER BY identity", [1.0]) as source:
        assert list(source.rows) == [("u002",), ("u003",), ("u004",)]
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        opened[0].execute("SELECT 1")

    with pytest.raises(RuntimeError, match="boom"):
        with sql_source(hook, "SELECT identity FROM users WHERE identity = :id", {"id": "u001"}) as source:
            assert list(source.rows) == [("u001",)]
            raise RuntimeError("boom")
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        opened[1].execute("SELECT 1")


def test_a_statement_without_a_result_set_is_refused(sqlite_warehouse):
    make_sqlite(sqlite_warehouse, 1)
    with pytest.raises(ValueError, match="no result set"):
        with sql_source(get_sql_hook("warehouse"), "UPDATE users SET plan = 'free'"):
            pass


def test_an_empty_result_still_has_columns(sqlite_warehouse):
    make_sqlite(sqlite_warehouse, 0)
    with sql_source(get_sql_hook("warehouse"), "SELECT identity, plan FROM users") as source:
        assert source.columns == ["identity", "plan"]
        assert list(source.rows) == []


# -- sql_source on PostgreSQL -----------------------------------------------------------------------


@pytest.fixture
def pg_table(postgres_uri, postgres_warehouse):
    import psycopg

    table = f"{postgres_warehouse}_src"
    with psycopg.connect(postgres_uri, autocommit=True) as connection:
        connection.execute(f"CREATE TABLE {table} AS SELECT g AS id, 'p' || g AS plan FROM generate_series(1, 23) g")
    yield table
    with psycopg.connect(postgres_uri, autocommit=True) as connection:
        connection.execute(f"DROP TABLE IF EXISTS {table}")


def test_postgres_rows_stream_while_the_query_still_runs(postgres_uri, pg_table):
    """The first rows are in hand while the server is still producing the rest: a result far
    larger than any socket buffer, whose query stays active until it is read or closed."""
    import psycopg

    hook = get_sql_hook("warehouse_pg")
    sql = "SELECT g, repeat('x', 200) AS padding FROM generate_series(1, %s) g"
    with sql_source(hook, sql, (3_000_000,)) as source:
        assert source.columns == ["g", "padding"]
        assert next(source.rows)[0] == 1
        with psycopg.connect(postgres_uri, autocommit=True) as watcher:
            states = watcher.execute(
                "SELECT state FROM pg_stat_activity WHERE query LIKE %s AND pid <> pg_backend_pid()",
                ("%generate_series(1, $1)%",),
            ).fetchall()
        assert states == [("active",)]
    with sql_source(hook, f"SELECT * FROM {pg_table} WHERE id > %s ORDER BY id", (0,)) as source:
        rows = list(source.rows)
    assert rows[0] == (1, "p1") and rows[-1] == (23, "p23") and len(rows) == 23


def test_postgres_empty_result_still_has_columns_and_a_statement_without_one_is_refused(pg_table):
    hook = get_sql_hook("warehouse_pg")
    with sql_source(hook, f"SELECT plan, id FROM {pg_table} WHERE id > %s;", (100,)) as source:
        assert source.columns == ["plan", "id"]
        assert list(source.rows) == []
    with sql_source(hook, f"SELECT plan, id FROM {pg_table} WHERE id > %s; -- none", (100,)) as source:
        assert source.columns == ["plan", "id"]
        assert list(source.rows) == []
    # A data-modifying WITH cannot be a derived table: described by running it again.
    with sql_source(
        hook, f"WITH d AS (DELETE FROM {pg_table} WHERE id > %s RETURNING plan, id) SELECT plan, id FROM d", (100,)
    ) as source:
        assert source.columns == ["plan", "id"]
        assert list(source.rows) == []
    with pytest.raises(ValueError, match="no result set"):
        with sql_source(hook, f"UPDATE {pg_table} SET plan = 'free' WHERE id > 100"):
            pass


def test_postgres_values_python_cannot_hold_are_read_as_unreadable_and_the_read_goes_on(postgres_warehouse):
    hook = get_sql_hook("warehouse_pg")
    sql = (
        "SELECT n, CASE WHEN n = 2 THEN DATE 'infinity' ELSE DATE '2020-01-01' END AS day, "
        "CASE WHEN n = 3 THEN TIMESTAMPTZ '0044-03-15 12:00:00+00 BC' END AS moment, "
        "CASE WHEN n = 4 THEN ARRAY[DATE '-infinity'] END AS days, "
        "CASE WHEN n = 5 THEN TIME '24:00' END AS opens, "
        "CASE WHEN n = 6 THEN INTERVAL '170000000 years' END AS span "
        "FROM generate_series(1, 7) n ORDER BY n"
    )
    with sql_source(hook, sql) as source:
        rows = list(source.rows)
    assert [row[0] for row in rows] == list(range(1, 8))
    unreadable = {(row[0], column) for row in rows for column, value in enumerate(row) if value is UNREADABLE}
    assert unreadable == {(2, 1), (3, 2), (5, 4), (6, 5)}
    assert rows[3][3] == [UNREADABLE]
    assert rows[0][1] == dt.date(2020, 1, 1) and rows[6][1] == dt.date(2020, 1, 1)


def test_postgres_dict_rows_are_put_back_in_column_order(pg_table, postgres_connection_json, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_PG_DICT", postgres_connection_json({"cursor": "dictcursor"}))
    monkeypatch.setattr(sources, "FETCH_SIZE", 10)
    with sql_source(get_sql_hook("warehouse_pg_dict"), f"SELECT plan, id FROM {pg_table} ORDER BY id") as source:
        rows = list(source.rows)
    assert source.columns == ["plan", "id"]
    assert rows[:2] == [("p1", 1), ("p2", 2)] and len(rows) == 23


# -- mapping_source -------------------------------------------------------------------------------


def test_mapping_source_columns_are_every_key_in_first_seen_order():
    source = mapping_source(iter([{"identity": "a", "plan": "gold"}, {"identity": "b", "score": 2}, {}]))
    assert source.columns == ["identity", "plan", "score"]
    assert list(source.rows) == [("a", "gold", None), ("b", None, 2), (None, None, None)]


def test_mapping_source_refuses_rows_that_are_not_mappings():
    with pytest.raises(TypeError, match="row 2 is a list"):
        mapping_source([{"identity": "a"}, ["b"]])
