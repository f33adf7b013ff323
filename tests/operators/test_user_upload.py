"""CleverTapUserUploadOperator against real warehouses (SQLite files, PostgreSQL) and a faked
CleverTap API (requests-mock, answering the way CleverTap answers)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from decimal import Decimal
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_clevertap import results, sources
from airflow_provider_clevertap.operators import CleverTapUserUploadOperator

SUMMARY_KEYS = {
    "rows_read",
    "rows_invalid",
    "rows_accepted",
    "rows_refused",
    "rows_failed",
    "rows_unchanged",
    "profiles_deleted",
    "rows_maybe_duplicated",
    "rows_unconfirmed",
    "batches",
    "requests",
    "retries",
    "dry_run",
    "seconds",
    "failed_sample",
}
EPOCH = 1684450725  # 2023-05-18T22:58:45Z
EMAIL_INVALID = (515, "Profile data is incorrect. Email is not valid")
CONTEXT_RUN_ID = "manual__2026-01-01T00:00:00+00:00"  # the context fixture's run_id


def check_invariant(summary: dict[str, Any]) -> None:
    assert summary["rows_read"] == summary["rows_invalid"] + summary["rows_accepted"] + summary["rows_refused"]
    assert summary["rows_failed"] == summary["rows_invalid"] + summary["rows_refused"]


def upload(**kwargs: Any) -> CleverTapUserUploadOperator:
    kwargs.setdefault("task_id", "upload_profiles")
    return CleverTapUserUploadOperator(**kwargs)


def refuse_bad_email(record: dict[str, Any]) -> tuple[int, str] | None:
    email = record["profileData"].get("email")
    return EMAIL_INVALID if email is not None and "@" not in email else None


def sample_by_identity(summary: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    return {problem["identity"]: problem for problem in summary["failed_sample"]}


# -- the public API and the summary -------------------------------------------------------------


def test_sqlite_rows_become_profile_records_and_a_json_summary(sqlite_db, clevertap, context):
    sqlite_db.create(
        "users",
        "user_id INTEGER, email TEXT, name TEXT, score REAL, signed_up TEXT, updated_at TEXT, nickname TEXT",
        [
            (1, "ann@example.com", "Ann", 1.5, "2023-05-18T22:58:45+00:00", "2023-05-18T22:58:45Z", None),
            (2, "bob@example.com", "Bob", None, "not a date", None, "bobby"),
        ],
    )
    operator = upload(
        source_conn_id="warehouse",
        sql="SELECT * FROM users ORDER BY user_id",
        identity_column="user_id",
        ts_column="updated_at",
    )

    summary = operator.execute(context)

    assert clevertap.records == [
        {
            "type": "profile",
            "identity": "1",
            "ts": EPOCH,
            "profileData": {"email": "ann@example.com", "name": "Ann", "score": 1.5, "signed_up": EPOCH},
        },
        {
            "type": "profile",
            "identity": "2",
            "profileData": {"email": "bob@example.com", "name": "Bob", "signed_up": "not a date", "nickname": "bobby"},
        },
    ]
    assert set(summary) == SUMMARY_KEYS
    assert json.loads(json.dumps(summary)) == summary
    assert summary["rows_read"] == 2
    assert summary["rows_accepted"] == 2
    assert summary["rows_invalid"] == summary["rows_refused"] == 0
    assert summary["batches"] == summary["requests"] == 1
    assert summary["retries"] == 0
    assert summary["dry_run"] is False
    assert summary["failed_sample"] == []
    assert isinstance(summary["seconds"], float) and summary["seconds"] >= 0
    assert clevertap.uploads[0].query == {}  # not a dry run
    check_invariant(summary)


def test_operators_are_importable_from_the_package():
    from airflow_provider_clevertap import operators

    assert set(operators.__all__) == {
        "CleverTapUserUploadOperator",
        "CleverTapUserDeleteOperator",
        "CleverTapEventUploadOperator",
    }


def test_exactly_one_of_sql_and_rows_is_required():
    with pytest.raises(ValueError, match="either sql"):
        upload()
    with pytest.raises(ValueError, match="either sql"):
        upload(source_conn_id="warehouse", sql="SELECT 1", rows=[{"identity": "a"}])
    with pytest.raises(ValueError, match="source_conn_id"):
        upload(sql="SELECT 1")
    with pytest.raises(ValueError, match="max_failed_ratio"):
        upload(rows=[], max_failed_ratio=1.5)


@pytest.mark.parametrize("days", [0, -1, 1.5, "30"])
def test_failed_rows_retention_days_is_checked_when_the_dag_is_parsed(days):
    with pytest.raises(ValueError, match="failed_rows_retention_days"):
        upload(rows=[], failed_rows_retention_days=days)


# -- PostgreSQL as the warehouse ----------------------------------------------------------------


def test_postgres_types_map_to_clevertap_values_and_bad_rows_are_invalid(pg, clevertap, context):
    table = f"{pg.prefix}_users"
    pg.execute(
        f"""CREATE TABLE {table} (
            user_id bigint, email text, plan text, balance numeric(12, 2), visits numeric,
            vip boolean, tags text[], scores int[], prefs jsonb, langs jsonb,
            last_seen timestamptz, birthday date, updated_at timestamp, ratio double precision)"""
    )
    pg.execute(
        f"""INSERT INTO {table} VALUES
        (1, 'ann@example.com', 'gold', 10.50, 3, true, '{{a,b}}', NULL, NULL, '["en", "fr"]',
            '2023-05-19 00:58:45+02', '1990-01-02', '2023-05-18 22:58:45', 0.25),
        (2, 'bob@example.com', NULL, NULL, NULL, NULL, NULL, NULL, '{{"theme": "dark"}}', NULL,
            NULL, NULL, NULL, NULL),
        (3, NULL, NULL, NULL, 'NaN', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'Infinity'),
        (5, NULL, NULL, NULL, NULL, NULL, NULL, '{{1,2}}', NULL, NULL, NULL, NULL, NULL, NULL),
        (NULL, 'nobody@example.com', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (7, NULL, NULL, NULL, NULL, false, '{{}}', NULL, NULL, NULL, NULL, NULL, NULL, NULL)"""
    )
    operator = upload(
        source_conn_id="warehouse_pg",
        sql=f"SELECT * FROM {table} ORDER BY user_id NULLS LAST",
        identity_column="user_id",
        ts_column="updated_at",
        max_failed_ratio=1.0,
    )

    summary = operator.execute(context)

    assert clevertap.records == [
        {
            "type": "profile",
            "identity": "1",
            "ts": EPOCH,  # a naive timestamp is UTC
            "profileData": {
                "email": "ann@example.com",
                "plan": "gold",
                "balance": 10.5,  # Decimal -> number
                "visits": 3,
                "vip": True,
                "tags": ["a", "b"],
                "langs": ["en", "fr"],  # a jsonb array of strings is a multi-value property too
                "last_seen": EPOCH,  # the +02 offset counts
                "birthday": 631238400,
                "ratio": 0.25,
            },
        },
        {"type": "profile", "identity": "7", "profileData": {"vip": False, "tags": []}},
    ]
    assert summary["rows_read"] == 7
    assert summary["rows_accepted"] == 2
    assert summary["rows_invalid"] == 5
    check_invariant(summary)
    reasons = sample_by_identity(summary)
    assert set(reasons) == {"2", "3", "4", "5", None}
    assert all(problem["code"] is None for problem in summary["failed_sample"])
    assert "'prefs'" in reasons["2"]["error"] and "nested" in reasons["2"]["error"]
    assert "'visits'" in reasons["3"]["error"] and "finite" in reasons["3"]["error"]
    assert "'ratio'" in reasons["4"]["error"] and "finite" in reasons["4"]["error"]
    assert "'scores'" in reasons["5"]["error"]
    assert "null" in reasons[None]["error"]
    # Reasons name columns, never values.
    assert "dark" not in json.dumps(summary)


class RecordingCursor:
    """A DB-API cursor that notes each ``fetchmany`` in a shared event list, then delegates."""

    def __init__(self, cursor: Any, events: list[tuple[str, Any]]) -> None:
        self._cursor = cursor
        self._events = events

    def fetchmany(self, size: int) -> list[Any]:
        rows = self._cursor.fetchmany(size)
        self._events.append(("fetch", len(rows)))
        return rows

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def record_fetches(monkeypatch, events: list[tuple[str, Any]], cursors: list[Any]) -> None:
    real = sources._streaming_cursor

    def recording(connection: Any) -> RecordingCursor:
        cursor = real(connection)
        cursors.append(cursor)
        return RecordingCursor(cursor, events)

    monkeypatch.setattr(sources, "_streaming_cursor", recording)


def record_streamed_rows(monkeypatch, events: list[tuple[str, Any]]) -> None:
    """Note each row psycopg 3's stream hands over (the real stream), in a shared event list."""
    real = sources._psycopg3_stream

    def recording(*args: Any) -> Any:
        columns, rows = real(*args)
        return columns, (events.append(("fetch", 1)) or row for row in rows)

    monkeypatch.setattr(sources, "_psycopg3_stream", recording)


def test_postgres_rows_are_streamed_interleaved_with_sending(pg, clevertap, context, monkeypatch):
    table = f"{pg.prefix}_many"
    pg.execute(f"CREATE TABLE {table} AS SELECT g AS user_id, 'plan-' || g AS plan FROM generate_series(1, 25) g")
    events: list[tuple[str, Any]] = []
    record_streamed_rows(monkeypatch, events)
    clevertap.on_request = lambda body: events.append(("send", len(body["d"])))
    operator = upload(
        source_conn_id="warehouse_pg",
        sql=f"SELECT * FROM {table} ORDER BY user_id",
        identity_column="user_id",
        batch_size=5,
        max_concurrency=1,
    )

    summary = operator.execute(context)

    kinds = [kind for kind, _ in events]
    assert kinds.count("fetch") == 25
    first_send = kinds.index("send")
    assert first_send < len(kinds) - 1 - kinds[::-1].index("fetch")  # sending began before the last row came
    assert kinds[:first_send].count("fetch") < 25
    assert [record["identity"] for record in clevertap.records] == [str(n) for n in range(1, 26)]
    assert summary["rows_read"] == summary["rows_accepted"] == 25
    assert summary["batches"] == 5


def test_sqlite_rows_are_fetched_in_chunks_interleaved_with_sending(sqlite_db, clevertap, context, monkeypatch):
    sqlite_db.create("users", "identity TEXT, plan TEXT", [(f"u{n:02}", "gold") for n in range(20)])
    monkeypatch.setattr(sources, "FETCH_SIZE", 3)
    events: list[tuple[str, Any]] = []
    cursors: list[Any] = []
    record_fetches(monkeypatch, events, cursors)
    clevertap.on_request = lambda body: events.append(("send", len(body["d"])))
    operator = upload(
        source_conn_id="warehouse", sql="SELECT * FROM users ORDER BY identity", batch_size=4, max_concurrency=1
    )

    summary = operator.execute(context)

    assert [size for kind, size in events if kind == "fetch"] == [3, 3, 3, 3, 3, 3, 2, 0]
    kinds = [kind for kind, _ in events]
    first_send = kinds.index("send")
    last_fetch = len(kinds) - 1 - kinds[::-1].index("fetch")
    assert first_send < last_fetch, events
    # Rows are never read far ahead of what is sent: at most the hook's window of two batches
    # (plus the chunk in hand) before the first request.
    assert sum(size for kind, size in events[:first_send] if kind == "fetch") <= 9
    assert summary["rows_accepted"] == 20
    assert summary["batches"] == 5


def test_postgres_connection_with_a_dict_row_cursor_still_maps_by_column(
    pg, postgres_connection_json, clevertap, context, monkeypatch
):
    # A postgres connection may ask for dict rows (extra "cursor"); rows must still map by column.
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_PG_DICT", postgres_connection_json({"cursor": "dictcursor"}))
    table = f"{pg.prefix}_dict"
    pg.execute(f"CREATE TABLE {table} AS SELECT 'u1' AS identity, 'gold' AS plan")
    summary = upload(source_conn_id="warehouse_pg_dict", sql=f"SELECT * FROM {table}").execute(context)

    assert clevertap.records == [{"type": "profile", "identity": "u1", "profileData": {"plan": "gold"}}]
    assert summary["rows_accepted"] == 1


# -- columns that are not there -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "missing"),
    [
        ({"identity_column": "user_key"}, "user_key"),
        ({"identity_column": "user_id", "ts_column": "modified_at"}, "modified_at"),
        ({"identity_column": "user_id", "property_columns": ["email", "phone"]}, "phone"),
        ({"identity_column": "user_id", "property_columns": {"email": "Email", "mobile": "Phone"}}, "mobile"),
    ],
)
def test_a_missing_column_fails_before_anything_is_sent(sqlite_db, clevertap, context, kwargs, missing):
    sqlite_db.create("users", "user_id INTEGER, email TEXT, name TEXT", [(1, "a@example.com", "A")])
    operator = upload(source_conn_id="warehouse", sql="SELECT * FROM users", **kwargs)

    # A failure for good: the same query will miss the same column on every Airflow retry.
    with pytest.raises(AirflowFailException) as error:
        operator.execute(context)

    assert repr(missing) in str(error.value)
    assert "user_id, email, name" in str(error.value)  # what the query does return
    assert clevertap.calls == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"batch_size": 1001},
        {"batch_size": 0},
        {"max_concurrency": 16},
        {"identity_type": "objectId"},  # CleverTap's wire name: the operators say clevertap_id
        {"timestamp_format": "iso"},
    ],
)
def test_settings_outside_clevertap_limits_fail_when_the_dag_is_parsed(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        upload(source_conn_id="warehouse", sql="SELECT 1", **kwargs)


def test_a_missing_column_in_postgres_fails_before_anything_is_sent(pg, clevertap, context):
    table = f"{pg.prefix}_users"
    pg.execute(f"CREATE TABLE {table} AS SELECT 1 AS user_id, 'x' AS email")
    operator = upload(source_conn_id="warehouse_pg", sql=f"SELECT * FROM {table}", identity_column="id")

    with pytest.raises(ValueError, match="user_id, email"):
        operator.execute(context)
    assert clevertap.calls == []


@pytest.mark.parametrize(
    ("column", "property_columns"),
    [
        ("p" * 121, None),  # 121 bytes
        ("é" * 61, None),  # 61 characters, 122 bytes: bytes count, not characters
        ("email", {"email": "e" * 121}),  # a renaming to a long name
    ],
)
def test_a_property_name_over_120_bytes_fails_before_sending(sqlite_db, clevertap, context, column, property_columns):
    sqlite_db.create("users", f'identity TEXT, "{column}" TEXT', [("u1", "x")])
    operator = upload(
        source_conn_id="warehouse",
        sql="SELECT * FROM users",
        property_columns=None if property_columns is None else {column: property_columns[column]},
    )

    with pytest.raises(ValueError, match="120 bytes") as error:
        operator.execute(context)

    assert (property_columns or {column: column})[column] in str(error.value)
    assert clevertap.calls == []


def test_a_property_name_of_exactly_120_bytes_is_accepted(sqlite_db, clevertap, context):
    name = "é" * 60  # 120 bytes
    sqlite_db.create("users", f'identity TEXT, "{name}" TEXT', [("u1", "x")])
    upload(source_conn_id="warehouse", sql="SELECT * FROM users").execute(context)
    assert clevertap.records[0]["profileData"] == {name: "x"}


# -- mapping ------------------------------------------------------------------------------------

ROW = {"user_id": 7, "email": "ann@example.com", "plan": "gold", "updated": "2023-05-18T22:58:45Z", "unused": None}


@pytest.mark.parametrize(
    ("property_columns", "profile"),
    [
        (None, {"email": "ann@example.com", "plan": "gold"}),  # every other column, nulls left out
        (["plan"], {"plan": "gold"}),
        (["user_id", "plan"], {"user_id": 7, "plan": "gold"}),  # the identity only when named
        (("plan", "updated"), {"plan": "gold", "updated": EPOCH}),
        (
            {"plan": "Plan", "email": "Email", "user_id": "Customer ID"},
            {"Plan": "gold", "Email": "ann@example.com", "Customer ID": 7},
        ),
    ],
)
def test_property_columns_select_and_rename(clevertap, context, property_columns, profile):
    upload(rows=[ROW], identity_column="user_id", ts_column="updated", property_columns=property_columns).execute(
        context
    )
    assert clevertap.records == [{"type": "profile", "identity": "7", "ts": EPOCH, "profileData": profile}]


def test_clevertap_id_is_sent_as_object_id(clevertap, context):
    clevertap.refuse = lambda record: (526, "objectId invalid") if record["objectId"] == "__bad" else None
    summary = upload(
        rows=[{"ctid": "__a1"}, {"ctid": "__bad"}],
        identity_column="ctid",
        identity_type="clevertap_id",
        max_failed_ratio=1,
    ).execute(context)

    assert clevertap.records == [
        {"type": "profile", "objectId": "__a1", "profileData": {}},
        {"type": "profile", "objectId": "__bad", "profileData": {}},
    ]
    assert summary["failed_sample"] == [{"identity": "__bad", "code": 526, "error": "objectId invalid"}]


AWARE = dt.datetime(2023, 5, 18, 22, 58, 45, tzinfo=dt.timezone.utc)
VALUES = {
    "aware": AWARE,
    "plus2": dt.datetime(2023, 5, 19, 0, 58, 45, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    "naive": dt.datetime(2023, 5, 18, 22, 58, 45),
    "day": dt.date(2023, 5, 18),
    "old": dt.date(1960, 3, 4),
    "iso": "2023-05-18T22:58:45+00:00",
    "iso_ms": "2025-08-13T15:45:17.451Z",
    "iso_7": "2025-08-13T02:08:40.1418726Z",
    "digits": "20230518",
    "word": "gold",
}


@pytest.mark.parametrize(
    ("convert", "timestamp_format", "expected"),
    [
        (
            True,
            "unix",
            {
                "aware": EPOCH,
                "plus2": EPOCH,
                "naive": EPOCH,
                "day": 1684368000,
                "old": -310176000,
                "iso": EPOCH,
                "iso_ms": 1755099917,
                "iso_7": "2025-08-13T02:08:40.1418726Z",
                "digits": "20230518",
                "word": "gold",
            },
        ),
        (
            True,
            "clevertap_date",
            {
                "aware": f"$D_{EPOCH}",
                "plus2": f"$D_{EPOCH}",
                "naive": f"$D_{EPOCH}",
                "day": "$D_1684368000",
                "old": "$D_-310176000",
                "iso": f"$D_{EPOCH}",
                "iso_ms": "$D_1755099917",
                "iso_7": "2025-08-13T02:08:40.1418726Z",
                "digits": "20230518",
                "word": "gold",
            },
        ),
        (
            False,
            "unix",
            {
                "aware": "2023-05-18T22:58:45+00:00",
                "plus2": "2023-05-19T00:58:45+02:00",
                "naive": "2023-05-18T22:58:45",
                "day": "2023-05-18",
                "old": "1960-03-04",
                "iso": "2023-05-18T22:58:45+00:00",
                "iso_ms": "2025-08-13T15:45:17.451Z",
                "iso_7": "2025-08-13T02:08:40.1418726Z",
                "digits": "20230518",
                "word": "gold",
            },
        ),
    ],
)
def test_convert_timestamps(clevertap, context, convert, timestamp_format, expected):
    upload(rows=[{"identity": "u1", **VALUES}], convert_timestamps=convert, timestamp_format=timestamp_format).execute(
        context
    )
    assert clevertap.records[0]["profileData"] == expected


@pytest.mark.parametrize(
    "value",
    [
        AWARE,
        dt.datetime(2023, 5, 18, 22, 58, 45),
        dt.datetime(2023, 5, 18, 22, 58, 45, 999999, tzinfo=dt.timezone.utc),  # floored
        "2023-05-18T22:58:45Z",
        "2023-05-19T00:58:45+02:00",
        "2023-05-18T22:58:45.123456+00:00",  # microseconds: still ISO-8601
        "2023-05-18 22:58:45",  # SQLite's CURRENT_TIMESTAMP format
        "1684450725",  # epoch seconds as text
        EPOCH,
        float(EPOCH) + 0.9,
        Decimal(EPOCH),
    ],
    ids=repr,
)
def test_ts_column_becomes_epoch_seconds(clevertap, context, value):
    summary = upload(rows=[{"identity": "u1", "updated": value}], ts_column="updated").execute(context)
    assert summary["rows_invalid"] == 0, summary["failed_sample"]
    assert clevertap.records == [{"type": "profile", "identity": "u1", "ts": EPOCH, "profileData": {}}]


def test_a_date_ts_is_midnight_utc(clevertap, context):
    upload(rows=[{"identity": "u1", "updated": dt.date(2023, 5, 18)}], ts_column="updated").execute(context)
    assert clevertap.records[0]["ts"] == 1684368000


def test_a_null_ts_is_left_out_and_never_zero(clevertap, context):
    summary = upload(
        rows=[{"identity": "u1", "updated": None, "plan": "gold"}, {"identity": "u2", "updated": 0, "plan": "gold"}],
        ts_column="updated",
        max_failed_ratio=1,
    ).execute(context)
    assert clevertap.records == [{"type": "profile", "identity": "u1", "profileData": {"plan": "gold"}}]
    assert all(record.get("ts") != 0 for record in clevertap.records)
    assert sample_by_identity(summary)["u2"]["code"] is None
    check_invariant(summary)


@pytest.mark.parametrize("value", ["yesterday", "2023-13-45T00:00:00Z", True, float("nan"), dt.time(12, 0), -5])
def test_a_ts_that_is_not_a_time_makes_the_row_invalid(clevertap, context, value):
    summary = upload(
        rows=[{"identity": "u1", "updated": value}, {"identity": "u2", "updated": EPOCH}],
        ts_column="updated",
        max_failed_ratio=1,
    ).execute(context)
    assert [record["identity"] for record in clevertap.records] == ["u2"]
    problem = sample_by_identity(summary)["u1"]
    assert problem["code"] is None and "'updated'" in problem["error"]


# -- invalid rows -------------------------------------------------------------------------------


def test_invalid_rows_are_counted_with_a_reason_and_never_sent(clevertap, context):
    rows: list[dict[str, Any]] = [
        {"identity": "ok-1", "email": "a@example.com"},
        {"identity": None, "email": "no-id@example.com"},
        {"identity": "", "email": "empty@example.com"},
        {"identity": "   ", "email": "blank@example.com"},
        {"identity": "nan", "score": float("nan")},
        {"identity": "inf", "score": float("-inf")},
        {"identity": "dec-nan", "score": Decimal("NaN")},
        {"identity": "dec-snan", "score": Decimal("sNaN")},
        {"identity": "dec-inf", "score": Decimal("Infinity")},
        {"identity": "nested", "prefs": {"theme": "dark"}},
        {"identity": "bytes", "blob": b"\x00\x01"},
        {"identity": "set", "blob": {"a", "b"}},
        {"identity": "mixed-list", "tags": ["a", 1]},
        {"identity": "long", "bio": "x" * 513},
        {"identity": "long-bytes", "bio": "é" * 257},  # 257 characters, 514 bytes
        {"identity": "long-item", "tags": ["ok", "y" * 513]},
        {"identity": "ok-512", "bio": "é" * 256},  # exactly 512 bytes
        {"identity": "too-many", **{f"p{n}": n for n in range(257)}},
        {"identity": "ok-256", **{f"p{n}": n for n in range(256)}},
        {"identity": 42, "score": Decimal("2.50"), "flag": False},
    ]
    summary = upload(rows=rows, max_failed_ratio=1.0).execute(context)

    sent = {record["identity"]: record["profileData"] for record in clevertap.records}
    assert set(sent) == {"ok-1", "ok-512", "ok-256", "42"}
    assert sent["ok-512"] == {"bio": "é" * 256}
    assert sent["ok-256"] == {f"p{n}": n for n in range(256)}
    assert sent["42"] == {"score": 2.5, "flag": False}
    assert summary["rows_read"] == len(rows)
    assert summary["rows_invalid"] == len(rows) - 4
    assert summary["rows_accepted"] == 4
    check_invariant(summary)
    assert all(problem["code"] is None for problem in summary["failed_sample"])
    errors = [(problem["identity"], problem["error"]) for problem in summary["failed_sample"]]
    expected = [
        (None, "null"),
        ("", "empty"),
        ("   ", "empty"),
        ("nan", "finite"),
        ("inf", "finite"),
        ("dec-nan", "finite"),
        ("dec-snan", "finite"),
        ("dec-inf", "finite"),
        ("nested", "nested"),
        ("bytes", "bytes"),
        ("set", "set"),
        ("mixed-list", "list"),
        ("long", "512 bytes"),
        ("long-bytes", "512 bytes"),
        ("long-item", "512 bytes"),
        ("too-many", "257 custom properties"),
    ]
    assert [identity for identity, _ in errors] == [identity for identity, _ in expected]
    for (identity, error), (_, words) in zip(errors, expected, strict=True):
        assert words in error, (identity, error)


def test_an_invalid_row_does_not_affect_its_batch(clevertap, context):
    rows = [{"identity": f"u{n}", "score": float("nan") if n == 2 else n} for n in range(5)]
    summary = upload(rows=rows, batch_size=2, max_failed_ratio=1).execute(context)
    # The invalid row is skipped, not a hole in a batch: batches stay full.
    assert [[record["identity"] for record in call.body["d"]] for call in clevertap.uploads] == [
        ["u0", "u1"],
        ["u3", "u4"],
    ]
    assert summary["rows_accepted"] == 4 and summary["rows_invalid"] == 1


# -- CleverTap's refusals -----------------------------------------------------------------------


def test_refusals_are_mapped_to_the_right_rows_across_batches(sqlite_db, clevertap, context):
    emails = {1: "a@x.com", 2: "broken", 3: "c@x.com", 4: "d@x.com", 5: "nope", 6: "f@x.com", 7: "bad", 8: "h@x.com"}
    sqlite_db.create("users", "user_id INTEGER, email TEXT", list(emails.items()))
    clevertap.refuse = refuse_bad_email
    summary = upload(
        source_conn_id="warehouse",
        sql="SELECT * FROM users ORDER BY user_id",
        identity_column="user_id",
        batch_size=3,
        max_concurrency=2,
        max_failed_ratio=0.5,
    ).execute(context)

    assert summary["rows_refused"] == 3
    assert summary["rows_accepted"] == 5
    assert summary["batches"] == summary["requests"] == 3
    check_invariant(summary)
    assert sorted(summary["failed_sample"], key=lambda problem: problem["identity"]) == [
        {"identity": "2", "code": 515, "error": EMAIL_INVALID[1]},
        {"identity": "5", "code": 515, "error": EMAIL_INVALID[1]},
        {"identity": "7", "code": 515, "error": EMAIL_INVALID[1]},
    ]


def test_a_refusal_without_a_position_is_mapped_by_the_echoed_identity(requests_mock, clevertap_connection, context):
    requests_mock.post(
        f"{clevertap_connection}/1/upload",
        json={
            "status": "partial",
            "processed": 2,
            "unprocessed": [
                {"status": "fail", "code": 555, "error": "Miscellaneous error", "record": {"identity": "u2"}}
            ],
        },
    )
    summary = upload(rows=[{"identity": f"u{n}"} for n in (1, 2, 3)], max_failed_ratio=1).execute(context)
    assert summary["failed_sample"] == [{"identity": "u2", "code": 555, "error": "Miscellaneous error"}]
    assert summary["rows_accepted"] == 2
    check_invariant(summary)


# -- logging ------------------------------------------------------------------------------------


def test_progress_lines_and_one_summary_line_never_show_profile_values(task_logs, clevertap, context, monkeypatch):
    monkeypatch.setattr(results, "PROGRESS_INTERVAL", 0.0)
    clevertap.refuse = refuse_bad_email
    rows = [
        {"identity": "u1", "name": "Zelda Quux", "email": "zelda.secret@example.com"},
        {"identity": "u2", "name": "Yorick Blint", "email": "yorick-at-example.com"},
        {"identity": "u3", "name": "Xavia Plom", "email": "xavia.private@example.com", "bio": "Xavia " * 100},
        {"identity": "u4", "name": "Wendel Orr", "email": "wendel.hidden@example.com"},
        {"identity": "u5", "name": "Vera Nox", "email": "vera.quiet@example.com"},
    ]
    summary = upload(rows=rows, batch_size=2, max_failed_ratio=0.5).execute(context)

    text = task_logs.text
    for row in rows:
        for key in ("name", "email"):
            assert row[key] not in text
            assert row[key] not in json.dumps(summary)
    progress = [record for record in task_logs.records if "progress" in record.getMessage()]
    assert len(progress) == summary["batches"] == 2
    finished = [record for record in task_logs.records if "finished" in record.getMessage()]
    assert len(finished) == 1
    line = finished[0].getMessage()
    assert "5 rows read, 3 accepted, 1 refused by CleverTap, 1 invalid" in line
    assert sample_by_identity(summary).keys() == {"u2", "u3"}


# -- the failed ratio -------------------------------------------------------------------------


def ratio_rows() -> list[dict[str, Any]]:
    rows = [{"identity": f"u{n}", "email": f"user{n}@example.com"} for n in range(10)]
    rows[3]["prefs"] = {"nested": True}  # invalid
    rows[7]["email"] = "not-an-email"  # refused
    return rows


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.19])
def test_too_many_problem_rows_fail_the_task_after_every_good_row_was_sent(clevertap, context, ratio):
    clevertap.refuse = refuse_bad_email
    operator = upload(rows=ratio_rows(), batch_size=3, max_failed_ratio=ratio)

    with pytest.raises(AirflowFailException) as error:
        operator.execute(context)

    message = str(error.value)
    assert "2 of 10 rows" in message
    assert "1 invalid" in message and "1 refused" in message
    assert "u3" in message and "nested" in message
    assert "u7" in message and "code 515" in message and "Email is not valid" in message
    assert "not-an-email" not in message and "user7@" not in message
    sent = {record["identity"] for record in clevertap.records}
    assert sent == {f"u{n}" for n in range(10)} - {"u3"}


@pytest.mark.parametrize("ratio", [0.2, 0.5, 1.0])
def test_problem_rows_within_the_ratio_let_the_task_succeed(clevertap, context, ratio):
    clevertap.refuse = refuse_bad_email
    summary = upload(rows=ratio_rows(), batch_size=3, max_failed_ratio=ratio).execute(context)
    assert (summary["rows_invalid"], summary["rows_refused"], summary["rows_accepted"]) == (1, 1, 8)


def test_no_rows_at_all_is_a_successful_empty_sync(sqlite_db, clevertap, context):
    sqlite_db.create("users", "identity TEXT, plan TEXT", [])
    summary = upload(source_conn_id="warehouse", sql="SELECT * FROM users").execute(context)
    assert summary["rows_read"] == summary["batches"] == summary["requests"] == 0
    assert clevertap.calls == []


def test_an_empty_rows_list_is_a_successful_empty_sync(clevertap, context):
    # Rows from XCom may well be an empty list: there is nothing to check and nothing to send.
    for rows in ([], "[]"):
        summary = upload(rows=rows, ts_column="updated", property_columns=["plan"]).execute(context)
        assert summary["rows_read"] == 0 and summary["batches"] == 0
    assert clevertap.calls == []


# -- the failed-rows table ----------------------------------------------------------------------


def test_failed_rows_table_on_sqlite_gets_one_row_per_problem(sqlite_db, clevertap, context):
    rows = [
        (f"u{n:02}", "bad" if n % 10 == 0 else f"u{n}@example.com", "x" * 600 if n % 4 == 1 else None)
        for n in range(40)
    ]
    sqlite_db.create("users", "identity TEXT, email TEXT, bio TEXT", rows)
    clevertap.refuse = refuse_bad_email
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

    def run(run_id: str) -> dict[str, Any]:
        return upload(
            source_conn_id="warehouse",
            sql="SELECT * FROM users",
            failed_rows_table="clevertap_failed",
            max_failed_ratio=1.0,
            batch_size=7,
        ).execute({"run_id": run_id})

    summary = run(CONTEXT_RUN_ID)

    invalid = {f"u{n:02}" for n in range(40) if n % 4 == 1}  # 10 rows, 2 of them also with a bad email
    refused = {f"u{n:02}" for n in range(40) if n % 10 == 0} - invalid
    assert (summary["rows_invalid"], summary["rows_refused"]) == (len(invalid), len(refused))
    stored = sqlite_db.query("SELECT dag_id, task_id, run_id, identity, code, error, recorded_at FROM clevertap_failed")
    assert len(stored) == len(invalid) + len(refused) == 14  # every problem, not only the 20-row sample
    assert {row[3] for row in stored if row[4] is None} == invalid
    assert {row[3] for row in stored if row[4] == 515} == refused
    for _dag_id, task_id, run_id, _identity, code, error, recorded_at in stored:
        assert task_id == "upload_profiles" and run_id == CONTEXT_RUN_ID
        assert error == (EMAIL_INVALID[1] if code == 515 else "property 'bio' is longer than 512 bytes")
        assert before <= dt.datetime.fromisoformat(recorded_at) <= dt.datetime.now(dt.timezone.utc)

    run("second-run")  # the table exists now: rows are added
    runs = sqlite_db.query("SELECT run_id, count(*) FROM clevertap_failed GROUP BY run_id ORDER BY run_id")
    assert runs == [(CONTEXT_RUN_ID, 14), ("second-run", 14)]


def test_failed_rows_table_receives_more_than_the_sample(sqlite_db, clevertap, context):
    sqlite_db.create("users", "identity TEXT", [(None,)] * 25 + [("u1",)])
    summary = upload(
        source_conn_id="warehouse", sql="SELECT * FROM users", failed_rows_table="failed", max_failed_ratio=1
    ).execute(context)
    assert len(summary["failed_sample"]) == 20
    assert summary["rows_invalid"] == 25
    assert sqlite_db.query("SELECT count(*) FROM failed") == [(25,)]


def test_failed_rows_table_on_postgres(pg, clevertap, context):
    source = f"{pg.prefix}_users"
    failed = f"public.{pg.prefix}_failed"
    pg.execute(f"CREATE TABLE {source} (user_id int, email text, prefs jsonb)")
    pg.execute(
        f"""INSERT INTO {source} VALUES (1, 'a@example.com', NULL), (2, 'broken', NULL),
            (3, 'c@example.com', '{{"a": 1}}'), (4, 'd@example.com', NULL)"""
    )
    clevertap.refuse = refuse_bad_email
    operator = upload(
        source_conn_id="warehouse_pg",
        sql=f"SELECT * FROM {source} ORDER BY user_id",
        identity_column="user_id",
        failed_rows_table=failed,
        max_failed_ratio=0.1,
    )

    with pytest.raises(AirflowFailException):
        operator.execute(context)  # the table is written before the ratio fails the task

    stored = pg.execute(f"SELECT run_id, identity, code, error, recorded_at FROM {failed} ORDER BY identity").fetchall()
    assert [(row[0], row[1], row[2]) for row in stored] == [(CONTEXT_RUN_ID, "2", 515), (CONTEXT_RUN_ID, "3", None)]
    assert stored[0][3] == EMAIL_INVALID[1]
    assert "nested" in stored[1][3]
    assert all(row[4] for row in stored)


def test_failed_rows_table_name_must_be_a_plain_name(sqlite_db, clevertap, context):
    sqlite_db.create("users", "identity TEXT", [(None,)])
    operator = upload(
        source_conn_id="warehouse",
        sql="SELECT * FROM users",
        failed_rows_table="failed; DROP TABLE users",
        max_failed_ratio=1,
    )
    with pytest.raises(ValueError, match="plain"):
        operator.execute(context)
    assert sqlite_db.query("SELECT count(*) FROM users") == [(1,)]


def test_the_source_hook_does_not_log_sql(task_logs, sqlite_db, clevertap, context):
    sqlite_db.create("users", "identity TEXT, email TEXT", [(None, "x"), ("u1", "zelda.secret@example.com")])
    upload(
        source_conn_id="warehouse",
        sql="SELECT * FROM users WHERE email != :marker",
        parameters={"marker": "marker.param@example.com"},
        failed_rows_table="failed",
        max_failed_ratio=1,
    ).execute(context)
    assert sqlite_db.query("SELECT count(*) FROM failed") == [(1,)]
    text = task_logs.text
    # common-sql logs statements at INFO when log_sql is on (at DEBUG it always does).
    info_text = "\n".join(record.getMessage() for record in task_logs.records if record.levelno >= logging.INFO)
    assert "Running statement" not in info_text
    assert "CREATE TABLE" not in info_text
    assert "marker.param@example.com" not in text
    assert "zelda.secret@example.com" not in text


# -- dry run and HTTP failures ----------------------------------------------------------------


def test_dry_run_uploads_with_the_dry_run_flag(clevertap, context):
    clevertap.refuse = refuse_bad_email
    summary = upload(
        rows=[{"identity": "u1", "email": "a@example.com"}, {"identity": "u2", "email": "bad"}],
        dry_run=True,
        max_failed_ratio=1,
    ).execute(context)
    assert [call.query for call in clevertap.uploads] == [{"dryRun": ["1"]}]
    assert summary["dry_run"] is True
    assert summary["rows_refused"] == 1 and summary["rows_accepted"] == 1


def test_an_http_failure_that_outlasts_retries_reports_what_was_accepted(sqlite_db, clevertap, context, fast_hook):
    sqlite_db.create("users", "identity TEXT, email TEXT", [(f"u{n}", None) for n in range(1, 9)])
    clevertap.fail = lambda body: 503 if any(record["identity"] == "u5" for record in body["d"]) else None
    operator = fast_hook(
        upload(
            source_conn_id="warehouse",
            sql="SELECT * FROM users ORDER BY identity",
            batch_size=2,
            max_concurrency=1,
            failed_rows_table="failed",
        )
    )

    with pytest.raises(AirflowException) as error:
        operator.execute(context)

    assert not isinstance(error.value, AirflowFailException)  # an outage may pass: Airflow may retry
    message = str(error.value)
    failing = [call for call in clevertap.uploads if call.body["d"][0]["identity"] == "u5"]
    assert len(failing) == 2  # the hook's two attempts
    # Batches before the failing one were answered; the one after it may have been in flight
    # (it is then finished and counted), never more.
    answered = [call for call in clevertap.uploads if call not in failing]
    accepted = sum(len(call.body["d"]) for call in answered)
    assert accepted in (4, 6)
    assert f"{accepted} accepted before the failure" in message
    assert "HTTP 503" in message and "after 2 attempts" in message


def test_an_authentication_failure_is_reported_clearly(requests_mock, clevertap_connection, context, fast_hook):
    requests_mock.post(
        f"{clevertap_connection}/1/upload",
        status_code=401,
        json={"status": "fail", "error": "Account ID is not valid", "code": 401},
    )
    operator = fast_hook(upload(rows=[{"identity": "u1"}]))
    with pytest.raises(AirflowException, match="Account ID is not valid") as error:
        operator.execute(context)
    assert "0 accepted" in str(error.value)
    assert requests_mock.call_count == 1  # 401 is never retried


# -- rows= and templating -----------------------------------------------------------------------


def test_rows_may_be_a_json_string(clevertap, context):
    rows = json.dumps([{"identity": "u1", "plan": "gold", "score": 1.5}, {"identity": "u2", "vip": True, "plan": None}])
    summary = upload(rows=rows).execute(context)
    assert clevertap.records == [
        {"type": "profile", "identity": "u1", "profileData": {"plan": "gold", "score": 1.5}},
        {"type": "profile", "identity": "u2", "profileData": {"vip": True}},
    ]
    assert summary["rows_accepted"] == 2


def test_rows_that_are_not_a_json_list_are_refused_clearly(clevertap, context):
    with pytest.raises(ValueError, match="rows"):
        upload(rows="[{'identity': 'u1'}]").execute(context)  # a Python repr, not JSON
    with pytest.raises((ValueError, TypeError), match="rows"):
        upload(rows='{"identity": "u1"}').execute(context)
    assert clevertap.calls == []


def test_rows_with_a_failed_rows_table_use_the_source_connection(sqlite_db, clevertap, context):
    summary = upload(
        rows=[{"identity": None}, {"identity": "u1"}],
        source_conn_id="warehouse",
        failed_rows_table="failed",
        max_failed_ratio=1,
    ).execute(context)
    assert summary["rows_invalid"] == 1
    stored = sqlite_db.query("SELECT identity, code, error FROM failed")
    assert stored == [(None, None, "row 1 of the read: identity column 'identity' is null")]


def test_template_fields_and_sql_files():
    for operator_class in (CleverTapUserUploadOperator,):
        assert {"sql", "parameters", "rows"} <= set(operator_class.template_fields)
        assert ".sql" in operator_class.template_ext


def test_sql_file_and_parameters_are_rendered(tmp_path, sqlite_db, clevertap):
    from airflow.sdk import DAG

    sqlite_db.create(
        "users",
        "identity TEXT, plan TEXT, day TEXT",
        [("u1", "gold", "2026-01-01"), ("u2", "gold", "2026-01-02"), ("u3", "free", "2026-01-01")],
    )
    (tmp_path / "users.sql").write_text(
        "SELECT identity, plan FROM users WHERE plan = '{{ params.plan }}' AND day = :day"
    )
    with DAG("sync", schedule=None, template_searchpath=[str(tmp_path)], params={"plan": "gold"}):
        operator = upload(
            source_conn_id="warehouse",
            sql="users.sql",
            parameters={"day": "{{ ds }}"},
            failed_rows_table="{{ params.plan }}_failed",
        )
    context = {"run_id": CONTEXT_RUN_ID, "ds": "2026-01-01", "params": {"plan": "gold"}}

    operator.render_template_fields(context)

    assert operator.sql == "SELECT identity, plan FROM users WHERE plan = 'gold' AND day = :day"
    assert operator.parameters == {"day": "2026-01-01"}
    assert operator.failed_rows_table == "gold_failed"
    summary = operator.execute(context)
    assert clevertap.records == [{"type": "profile", "identity": "u1", "profileData": {"plan": "gold"}}]
    assert summary["rows_read"] == 1


def test_rows_are_rendered_from_a_template(clevertap):
    operator = upload(rows="{{ staged }}")
    context = {"run_id": CONTEXT_RUN_ID, "staged": json.dumps([{"identity": "u9", "plan": "gold"}])}
    operator.render_template_fields(context)
    operator.execute(context)
    assert clevertap.records == [{"type": "profile", "identity": "u9", "profileData": {"plan": "gold"}}]


def test_large_upload_keeps_the_invariant(clevertap, context):
    rows = [
        {"identity": f"u{n}", "score": n if n % 97 else math.inf, "email": "bad" if n % 89 == 0 else "a@b.c"}
        for n in range(2500)
    ]
    clevertap.refuse = refuse_bad_email
    summary = upload(rows=rows, max_failed_ratio=1).execute(context)
    check_invariant(summary)
    assert summary["rows_read"] == 2500
    assert summary["batches"] == 3  # 1000 records per request
    assert summary["rows_invalid"] == len([n for n in range(2500) if n % 97 == 0])
    assert summary["rows_refused"] == len([n for n in range(2500) if n % 89 == 0 and n % 97])


@pytest.mark.parametrize(
    ("connection", "reason"),
    [
        ({"login": "ACC-1", "password": "a-passcode-123", "extra": {"region": "mars1"}}, "eu1"),
        ({"login": "ACC-1"}, "Passcode"),
    ],
)
def test_a_wrong_clevertap_connection_fails_for_good_before_the_query_runs(
    connection, reason, sqlite_warehouse, monkeypatch, context
):
    monkeypatch.setenv("AIRFLOW_CONN_CLEVERTAP_DEFAULT", json.dumps({"conn_type": "clevertap", **connection}))
    # The table does not exist: had the query run, the error would be SQLite's.
    operator = upload(source_conn_id="warehouse", sql="SELECT * FROM no_such_table")

    with pytest.raises(AirflowFailException, match=reason):
        operator.execute(context)
