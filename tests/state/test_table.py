"""The state table's rows: written in statements of as many rows as the dialect takes, older rows
of held keys replaced, overlapping and deadlocked writers, the planner's statistics renewed."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from airflow.providers.postgres.hooks.postgres import PostgresHook
from airflow.providers.sqlite.hooks.sqlite import SqliteHook

from airflow_provider_clevertap.state import writes
from airflow_provider_clevertap.state.dialects import DISPUTED
from airflow_provider_clevertap.state.layout import create_state_table
from airflow_provider_clevertap.state.table import SyncState
from airflow_provider_clevertap.state.writes import WRITE_CHUNK, write_redoing_deadlocks
from tests.reliability._reliability import wait_until


@pytest.mark.parametrize("warehouse", ["sqlite", "postgres"])
def test_every_entry_is_written_once_across_statements_of_many_rows(warehouse, request):
    """More entries than a chunk, and chunks that are no multiple of the rows a statement takes
    (PostgreSQL: one statement of a JSON array a chunk): every entry is in the table once, with its own
    values, NULL row hashes too."""
    if warehouse == "sqlite":
        request.getfixturevalue("sqlite_warehouse")
        hook, table = SqliteHook(sqlite_conn_id="warehouse"), "sync_state"
    else:
        schema = request.getfixturevalue("postgres_warehouse")
        hook, table = PostgresHook(postgres_conn_id="warehouse_pg"), f"{schema}.sync_state"
        hook.run(f"CREATE SCHEMA {schema}")
        request.addfinalizer(lambda: hook.run(f"DROP SCHEMA {schema} CASCADE"))
    count = 2 * WRITE_CHUNK + 167  # SQLite: 160 rows a statement, and 7; PostgreSQL: 1000 a statement, and 167
    entries = [(f"k{n}", f"fp{n}", f"rh{n}" if n % 3 else None, n % 2 == 0, f"id{n}") for n in range(count)]
    state = SyncState(hook, table, "many", "key")
    state.create()
    state.begin()

    assert state.record(entries, "run-1") == count

    rows = hook.get_records(f"SELECT row_key, fingerprint, row_hash, identity, run_id FROM {table}")
    assert sorted(rows) == sorted((key, fp, rh, identity, "run-1") for key, fp, rh, _, identity in entries)


def _write_behind_the_planners_back(hook: PostgresHook, table: str, first: int, last: int) -> None:
    """Rows written with no ANALYZE after them (autovacuum off, or not yet come), the counters
    PostgreSQL keeps of them flushed, so the next check reads them."""
    connection = hook.get_conn()
    try:
        cursor = connection.cursor()
        cursor.execute(
            f"INSERT INTO {table} (sync_id, row_key, identity, fingerprint, synced_at) "
            f"SELECT 'a', CAST(n AS TEXT), 'id', 'fp', now() FROM generate_series({first}, {last}) n"
        )
        connection.commit()
        cursor.execute("SELECT pg_stat_force_next_flush()")  # flushed before this statement's answer
        connection.commit()
    finally:
        connection.close()


def test_a_run_renews_the_statistics_of_a_postgres_state_table_written_since_its_last_analyze(pg_schema):
    """Planned as nearly empty, a state table of many rows had each DELETE of 500 keys scan all the
    sync's rows. begin() analyses it when a tenth of it was written since, and only then."""
    hook, schema = pg_schema
    table = f"{schema}.sync_state"
    reltuples = f"SELECT reltuples FROM pg_class WHERE oid = CAST('{table}' AS regclass)"
    state = SyncState(hook, table, "a", "key")
    state.create()
    _write_behind_the_planners_back(hook, table, 1, 5000)
    assert hook.get_first(reltuples)[0] <= 0  # never analysed

    state.begin()
    assert hook.get_first(reltuples)[0] == 5000

    _write_behind_the_planners_back(hook, table, 5001, 5400)  # under a tenth more
    state.begin()
    assert hook.get_first(reltuples)[0] == 5000


def test_keys_the_state_held_have_their_older_rows_replaced_and_new_keys_are_only_added(sqlite_warehouse):
    """The DELETE is for the keys the read found in the state (``held``); a key it did not find has
    no older row of this sync, but a row another run wrote meanwhile is kept beside the new one."""
    hook = SqliteHook(sqlite_conn_id="warehouse")
    create_state_table(hook, "sync_state")
    hook.run(
        "INSERT INTO sync_state (sync_id, row_key, identity, fingerprint, synced_at) VALUES "
        "('a', 'held', 'id-h', 'old', '2000-01-01 00:00:00.000'), "
        "('a', 'new', 'id-n', 'other-run', '2000-01-01 00:00:00.000')"
    )
    later = SyncState(hook, "sync_state", "a", "key")
    later.begin()

    later.record([("held", "fp-h", None, True, "id-h"), ("new", "fp-n", None, False, "id-n")], "run-1")

    rows = hook.get_records("SELECT row_key, fingerprint FROM sync_state ORDER BY row_key, fingerprint")
    assert rows == [("held", "fp-h"), ("new", "fp-n"), ("new", "other-run")]


def test_a_postgres_state_keeps_one_row_a_key_and_disputes_what_overlapping_runs_disagree_on(pg_schema):
    """A key's row from before this run is replaced; one another run wrote meanwhile is kept if it
    holds this run's record, else disputed; so is a key the query returned twice, differently."""
    hook, schema = pg_schema
    table = f"{schema}.sync_state"
    state = SyncState(hook, table, "a", "key")
    state.create()
    hook.run(
        f"INSERT INTO {table} (sync_id, row_key, identity, fingerprint, row_hash, synced_at) VALUES "
        "('a', 'old', 'id-o', 'fp-before', 'rh-before', now() - interval '1 day')"
    )
    state.begin()
    hook.run(  # another run's rows, written after this run began
        f"INSERT INTO {table} (sync_id, row_key, identity, fingerprint, row_hash, synced_at) VALUES "
        "('a', 'agreed', 'id-a', 'fp-a', 'rh-other', now()), ('a', 'disagreed', 'id-d', 'fp-other', 'rh-d', now())"
    )

    state.record(
        [
            ("old", "fp-o", "rh-o", True, "id-o"),
            ("agreed", "fp-a", "rh-a", False, "id-a"),
            ("disagreed", "fp-d", "rh-d", False, "id-d"),
            ("twice", "fp-1", "rh-1", False, "id-t"),
            ("twice", "fp-2", "rh-2", False, "id-t"),
            ("new", "fp-n", "rh-n", False, "id-n"),
        ],
        "run-1",
    )

    rows = hook.get_records(f"SELECT row_key, fingerprint, row_hash, run_id FROM {table} ORDER BY row_key")
    assert rows == [
        ("agreed", "fp-a", None, "run-1"),  # the same record; rows of other text: judged in Python
        ("disagreed", DISPUTED, None, "run-1"),  # streams next run, whatever its hash
        ("new", "fp-n", "rh-n", "run-1"),
        ("old", "fp-o", "rh-o", "run-1"),
        ("twice", DISPUTED, None, "run-1"),
    ]


def test_two_postgres_writers_that_deadlock_on_each_others_keys_both_end_with_their_rows(pg_schema):
    """Two overlapping runs, each holding a key uncommitted that the other then writes: PostgreSQL
    ends one transaction to break the deadlock; that writer rolls back and writes its entries
    again once the other commits. Neither fails, and each key ends disputed (they disagreed)."""
    hook, schema = pg_schema
    table = f"{schema}.sync_state"
    state = SyncState(hook, table, "a", "key")
    state.create()
    state.begin()
    first, second = hook.get_conn(), hook.get_conn()
    first_cursor, second_cursor = first.cursor(), second.cursor()
    a_of_first, b_of_first = ("a", "fp-1a", None, False, "id-a"), ("b", "fp-1b", None, False, "id-b")
    a_of_second, b_of_second = ("a", "fp-2a", None, False, "id-a"), ("b", "fp-2b", None, False, "id-b")
    writes.write(state, first_cursor, [a_of_first], "run-1")  # uncommitted: the first holds "a"
    writes.write(state, second_cursor, [b_of_second], "run-2")  # and the second "b"
    first_pid = first.info.backend_pid
    outcome: dict[str, Any] = {}

    def first_writes_b() -> None:
        try:
            write_redoing_deadlocks(state, first, first_cursor, [b_of_first], [a_of_first, b_of_first], "run-1")
            first.commit()
        except BaseException as error:  # noqa: BLE001 - the test reports it
            outcome["error"] = error

    thread = threading.Thread(target=first_writes_b)
    thread.start()
    # The first now waits for the second's "b" (a lock wait PostgreSQL reports), then the
    # second writes "a": a deadlock.
    wait_until(
        lambda: hook.get_first(f"SELECT wait_event_type FROM pg_stat_activity WHERE pid = {first_pid}")[0] == "Lock"
    )
    write_redoing_deadlocks(state, second, second_cursor, [a_of_second], [b_of_second, a_of_second], "run-2")
    second.commit()
    thread.join(60)

    assert "error" not in outcome, outcome
    rows = hook.get_records(f"SELECT row_key, fingerprint FROM {table} ORDER BY row_key")
    assert rows == [("a", DISPUTED), ("b", DISPUTED)]
    first.close()
    second.close()
