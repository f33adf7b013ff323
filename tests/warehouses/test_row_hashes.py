"""Warehouse-side change detection on every warehouse of the matrix: where the warehouse hashes a
row (``Dialect.row_hash``, with one snapshot for the count), the rows whose hash the state holds
never leave it; every other row streams to the task. A changed row is never counted unchanged, even
when the change is in the last bit of a double, a microsecond, a trailing space, a letter's case,
or NULL against empty text. What streams is read from ``SyncState.read``; what the emulator
received is the evidence of what was sent."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from tests.warehouses.scenarios import CONTEXT, accounted

pytestmark = pytest.mark.warehouse

DOUBLE = {"postgres": "DOUBLE PRECISION", "sqlite": "REAL", "snowflake": "FLOAT", "gcpbigquery": "FLOAT64"}
SEEN = dt.datetime(2026, 12, 6, 13, 13, 18, 250000)
USERS = 10
# The edits, one row each: every one changes the row as the driver reads it.
EDITS = {
    "user-01": ("d", math.nextafter(0.1, 1.0)),  # the last bit of the double 0.1
    "user-02": ("seen", SEEN + dt.timedelta(microseconds=1)),
    "user-03": ("plan", "gold "),  # a trailing space
    "user-04": ("plan", "Gold"),  # case
    "user-05": ("note", ""),  # NULL becomes empty text
    "user-06": ("note", None),  # empty text becomes NULL
}


def stage(wh) -> str:
    engine = wh.engine
    table = wh.table("hashed")
    double = DOUBLE.get(engine.conn_type, "DOUBLE")
    columns = [("identity", engine.types["key"]), ("d", double), ("seen", engine.types["timestamp"])]
    columns += [("plan", engine.types["text"]), ("note", engine.types["text"])]
    wh.execute(f"CREATE TABLE {table} ({', '.join(f'{wh.q(name)} {kind}' for name, kind in columns)})")
    rows = [(f"user-{n:02d}", 0.1, _time(wh, SEEN), "gold", "" if n == 6 else None) for n in range(1, USERS + 1)]
    wh.execute(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?)", rows)
    return table


def _time(wh, value: dt.datetime):
    """SQLite has no time type: ISO-8601 text, as its users stage times."""
    aware = value.replace(tzinfo=dt.timezone.utc)
    return aware.isoformat() if wh.engine.conn_type == "sqlite" else value


def sql_of(wh, table: str) -> str:
    return f"SELECT {', '.join(wh.q(c) for c in ('identity', 'd', 'seen', 'plan', 'note'))} FROM {table}"


def operator(wh, sql: str):
    from airflow_provider_clevertap.operators import CleverTapUserUploadOperator

    return CleverTapUserUploadOperator(
        task_id="hashed",
        source_conn_id=wh.conn_id,
        sql=sql,
        state_table=wh.table("state"),
        sync_mode="changed",
        sync_id="matrix.hashed",
        max_failed_ratio=1.0,
    )


def streamed(wh, sql: str) -> tuple[list[str], int]:
    """The identities the state's read streams, and how many rows the warehouse counted unchanged."""
    from airflow_provider_clevertap.sources import get_sql_hook
    from airflow_provider_clevertap.state.changes import fingerprint_key
    from airflow_provider_clevertap.state.table import SyncState, describe

    hook = get_sql_hook(wh.conn_id)
    salt = fingerprint_key([*operator(wh, sql).mapping_options(), describe(hook, sql, None)]).hex()
    state = SyncState(hook, wh.table("state"), "matrix.hashed", "identity")
    with state.read(sql, None, salt=salt) as source:
        return sorted(row[0] for row in source.rows), source.unchanged


def hashes_rows(wh) -> bool:
    from airflow_provider_clevertap.sources import get_sql_hook
    from airflow_provider_clevertap.state.dialects import dialect_of

    dialect = dialect_of(get_sql_hook(wh.conn_id))
    return dialect.row_hash is not None and dialect.snapshot is not None


def test_rows_the_warehouse_knows_unchanged_never_leave_it_and_changed_ones_always_do(wh, emu):
    if wh.engine.conn_type in ("postgres", "mysql", "duckdb"):
        assert hashes_rows(wh), "these warehouses hash rows and read one snapshot"
    table = stage(wh)
    sql = sql_of(wh, table)
    assert operator(wh, sql).execute(CONTEXT)["rows_accepted"] == USERS

    rows, unchanged = streamed(wh, sql)  # nothing changed
    assert (rows, unchanged) == (([], USERS) if hashes_rows(wh) else ([f"user-{n:02d}" for n in range(1, 11)], 0))

    for identity, (column, value) in EDITS.items():
        value = _time(wh, value) if column == "seen" else value
        wh.execute(f"UPDATE {table} SET {wh.q(column)} = ? WHERE identity = ?", [(value, identity)])

    rows, unchanged = streamed(wh, sql)
    if hashes_rows(wh):
        assert (rows, unchanged) == (sorted(EDITS), USERS - len(EDITS))
    else:  # every row streams, and Python compares fingerprints
        assert (len(rows), unchanged) == (USERS, 0)

    before = emu.stats.records_received
    summary = operator(wh, sql).execute(CONTEXT)
    assert accounted(summary)
    # The records of the double, the trailing space and the case changed: sent, never unchanged.
    stored = {identity: emu.profile(identity)["profileData"] for identity in ("user-01", "user-03", "user-04")}
    assert stored["user-01"]["d"] == EDITS["user-01"][1]
    assert (stored["user-03"]["plan"], stored["user-04"]["plan"]) == ("gold ", "Gold")
    assert summary["rows_accepted"] == emu.stats.records_received - before >= 3
    assert summary["rows_unchanged"] == USERS - summary["rows_accepted"]
    again = operator(wh, sql).execute(CONTEXT)
    assert (again["rows_unchanged"], again["rows_accepted"]) == (USERS, 0)
    # A row whose text changed but not its record (a microsecond CleverTap's seconds drop) keeps
    # the hash recorded with its record: it streams, and Python finds it unchanged.
    rows, unchanged = streamed(wh, sql)
    assert len(rows) + unchanged == USERS and (set(rows) <= set(EDITS) if hashes_rows(wh) else unchanged == 0)


def test_a_column_whose_text_may_not_tell_values_apart_leaves_the_comparison_to_the_task(wh, emu, caplog):
    """DuckDB quotes the strings of a list only where its version finds it needed: a query with a
    list column gets no warehouse-side hash, and says so; every row streams."""
    if wh.engine.conn_type != "duckdb":
        pytest.skip("DuckDB's nested types only")
    from airflow_provider_clevertap.sources import get_sql_hook
    from airflow_provider_clevertap.state.table import SyncState

    table = stage(wh)
    state = SyncState(get_sql_hook(wh.conn_id), wh.table("state"), "matrix.hashed", "identity")
    state.create()
    with caplog.at_level("INFO"), state.read(f"SELECT identity, [plan] AS plans FROM {table}", None) as source:
        assert (len(list(source.rows)), source.unchanged) == (USERS, 0)
    assert "no exact text of column(s) ['plans']" in caplog.text


def test_mariadb_hashes_the_bytes_and_character_set_of_what_its_text_cannot_show(wh):
    """A BLOB's bytes that utf8mb4 cannot show print alike as text (``?``): the hash takes the bytes.
    The same bytes in two character sets are two texts (``é`` in latin1, ``й`` in cp1251): the
    hash takes the character set too."""
    if wh.engine.conn_type != "mysql":
        pytest.skip("MariaDB's text of bytes only")
    from airflow_provider_clevertap.state.dialects import DIALECTS

    table = wh.table("bytes")
    texts = "v VARCHAR(5) CHARACTER SET latin1, w VARCHAR(5) CHARACTER SET cp1251"
    wh.execute(f"CREATE TABLE {table} (n INTEGER, b BLOB, {texts})")
    wh.execute(f"INSERT INTO {table} VALUES (1, x'ff', x'e9', x'e9'), (2, x'fe', x'e9', x'e9')")
    hashed = {name: DIALECTS["mysql"].row_hash_of("00", [[name, "253"]]) for name in ("b", "v", "w")}
    rows = wh.query(f"SELECT CAST(b AS CHAR), {hashed['b']}, {hashed['v']}, {hashed['w']} FROM {table} q ORDER BY n")
    assert rows[0][0] == rows[1][0]  # as text, both bytes are the same '?'
    assert rows[0][1] != rows[1][1]
    assert rows[0][2] != rows[0][3]


def test_a_column_added_after_the_query_was_described_fails_the_read_before_its_first_row(wh, emu, monkeypatch):
    """The row hash covers the columns described before the read: a column added in between would go
    unhashed (its edits never seen), so the read stops before any row is sent."""
    from airflow_provider_clevertap.sources import get_sql_hook
    from airflow_provider_clevertap.state import table as state_table
    from airflow_provider_clevertap.state.table import SyncState

    hook = get_sql_hook(wh.conn_id)
    state = SyncState(hook, wh.table("state"), "matrix.hashed", "identity")
    if not state.dialect.hashes_columns:
        pytest.skip("only where the row hash is built from the query's columns (MariaDB, DuckDB)")
    staged = stage(wh)
    state.create()
    described = state_table.describe

    def describe_then_add_a_column(*args):
        shape = described(*args)
        wh.execute(f"ALTER TABLE {staged} ADD COLUMN extra INTEGER")
        return shape

    monkeypatch.setattr(state_table, "describe", describe_then_add_a_column)
    with pytest.raises(ValueError, match="columns changed"), state.read(f"SELECT * FROM {staged}", None) as source:
        next(source.rows)


def test_a_sync_describes_its_query_once(wh, emu, monkeypatch):
    """The shape the fingerprints are salted with is the one the row hash covers: the operator
    describes the query once and hands it to the read (each description is a statement of its own)."""
    from airflow_provider_clevertap.operators import record_upload
    from airflow_provider_clevertap.state import table as state_table

    table = stage(wh)
    sql = sql_of(wh, table)
    described: list[str] = []

    def counting(describe):
        def describe_and_count(hook, query, parameters):
            described.append(query)
            return describe(hook, query, parameters)

        return describe_and_count

    monkeypatch.setattr(record_upload, "describe", counting(record_upload.describe))
    monkeypatch.setattr(state_table, "describe", counting(state_table.describe))
    assert operator(wh, sql).execute(CONTEXT)["rows_accepted"] == USERS
    assert described == [sql]
