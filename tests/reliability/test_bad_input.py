"""The bad-input corpus: staged tables built here, full of rows CleverTap cannot take, run through
the upload (and delete) operator against the emulator.

Every bad row must be reported with its reason (in the failed-rows table, which gets every
problem, not only the summary's sample), every good row around it must arrive in the emulator,
the summary's counts must add up, and no profile value may reach the log or an error. Queries
that cannot run fail with a clear error before anything is sent.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from _reliability import EMAIL_DOMAIN, NAME_MARKER, PHONE_PREFIX, accounted, fast_hook, leaks
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_clevertap.operators import CleverTapUserDeleteOperator, CleverTapUserUploadOperator

EXTRA_COLUMNS = 292  # + 8 named columns: a 300-column table
FAILED = "clevertap_failed"


def epoch(*parts: int, offset_minutes: int = 0) -> int:
    return calendar.timegm(dt.datetime(*parts).timetuple()) - offset_minutes * 60


@dataclass(frozen=True)
class Row:
    """One corpus row and what must become of it.

    :param identity: the identity column's value, as staged.
    :param values: other columns' values (``note``, ``amount``, ``payload``, ``wide``: how many
        of the extra columns to fill).
    :param stored: the profile properties CleverTap must hold afterwards (a stored row).
    :param invalid: a piece of the reason the row is reported invalid with (never sent).
    :param refused: CleverTap's code for a row it refuses.
    :param stored_as: the identity CleverTap stores it under, when not ``identity`` itself.
    """

    identity: Any
    values: dict[str, Any]
    stored: dict[str, Any] | None = None
    invalid: str | None = None
    refused: int | None = None
    stored_as: str | None = None


def good(n: int) -> Row:
    ident = f"good-{n:03d}"
    name, email, phone = f"Bo {NAME_MARKER} {n}", f"bo.{n}@{EMAIL_DOMAIN}", f"{PHONE_PREFIX}{n:05d}"
    return Row(ident, {"Name": name, "Email": email, "Phone": phone}, stored={"Name": name, "Email": email})


EMOJI = "😀🎉👩‍👩‍👧 ok"
RTL = "\u200fمرحبا بالعالم שלום"
COMBINING = "Ame\u0301lie Z\u0351\u0352\u0357a\u035b\u0316l\u0334go"

BAD_ROWS = [
    # identities
    Row(None, {"note": "x"}, invalid="is null"),
    Row("", {"note": "x"}, invalid="is empty"),
    Row("   \t ", {"note": "x"}, invalid="is empty"),
    Row(12345, {"note": "an int identity"}, stored={"note": "an int identity"}, stored_as="12345"),
    Row(12.5, {"note": "a real identity"}, stored={"note": "a real identity"}, stored_as="12.5"),
    Row("L" * 1000, {"note": "a 1000-character identity"}, stored={"note": "a 1000-character identity"}),
    # the same identity twice, next to each other (one batch): both accepted, the later wins
    Row("twice", {"note": "first"}, stored=None),
    Row("twice", {"note": "second"}, stored={"note": "second"}),
    # numbers JSON cannot carry (SQLite keeps infinities; NaN is in the PostgreSQL corpus)
    Row("inf", {"amount": float("inf")}, invalid="not a finite number"),
    Row("minus-inf", {"amount": float("-inf")}, invalid="not a finite number"),
    # sizes
    Row("ten-kb", {"note": "k" * 10_240}, invalid="longer than 512 bytes"),
    Row("emoji-512-bytes", {"note": "😀" * 128}, stored={"note": "😀" * 128}),
    Row("emoji-516-bytes", {"note": "😀" * 129}, invalid="longer than 512 bytes"),
    # (seq is a property too)
    Row("wide-256", {"wide": 255}, stored={"c255": "w"}),
    Row("wide-257", {"wide": 256}, invalid="257 custom properties"),
    Row("wide-300", {"note": "n", "amount": 1, "payload": "p", "wide": EXTRA_COLUMNS}, invalid="properties, more than"),
    # binary
    Row("binary", {"payload": b"\x00\xff\x10binary"}, invalid="bytes"),
    # scripts
    Row("emoji", {"note": EMOJI}, stored={"note": EMOJI}),
    Row("rtl", {"note": RTL}, stored={"note": RTL}),
    Row("combining", {"note": COMBINING}, stored={"note": COMBINING}),
    # values that look like dates, in every format of the Convert Timestamps rule ...
    Row("date-day", {"note": "2025-08-13"}, stored={"note": epoch(2025, 8, 13)}),
    Row("date-minute", {"note": "2025-08-13T15:45"}, stored={"note": epoch(2025, 8, 13, 15, 45)}),
    Row("date-second", {"note": "2025-08-13T15:45:17"}, stored={"note": epoch(2025, 8, 13, 15, 45, 17)}),
    Row("date-millis", {"note": "2025-08-13T15:45:17.451"}, stored={"note": epoch(2025, 8, 13, 15, 45, 17)}),
    Row("date-millis-z", {"note": "2025-08-13T15:45:17.451Z"}, stored={"note": epoch(2025, 8, 13, 15, 45, 17)}),
    Row("date-minute-z", {"note": "2025-08-13T15:45Z"}, stored={"note": epoch(2025, 8, 13, 15, 45)}),
    Row("date-utc-offset", {"note": "2023-05-18T22:58:45+00:00"}, stored={"note": 1684450725}),
    Row(
        "date-colon-offset",
        {"note": "2025-08-13T15:45:17+05:30"},
        stored={"note": epoch(2025, 8, 13, 15, 45, 17, offset_minutes=330)},
    ),
    Row(
        "date-basic-offset",
        {"note": "2025-08-13T15:45:17-0800"},
        stored={"note": epoch(2025, 8, 13, 15, 45, 17, offset_minutes=-480)},
    ),
    # ... and the look-alikes the rule leaves as they are
    Row("date-7-digits", {"note": "2025-08-13T02:08:40.1418726Z"}, stored={"note": "2025-08-13T02:08:40.1418726Z"}),
    Row("date-impossible", {"note": "2025-02-30"}, stored={"note": "2025-02-30"}),
    Row("date-hour-25", {"note": "2025-08-13T25:00"}, stored={"note": "2025-08-13T25:00"}),
    Row("date-digits", {"note": "20250813"}, stored={"note": "20250813"}),
    Row("date-space", {"note": "2025-08-13 15:45:17"}, stored={"note": "2025-08-13 15:45:17"}),
    Row("date-slashes", {"note": "13/08/2025"}, stored={"note": "13/08/2025"}),
    # rows CleverTap itself refuses (their values must not be logged either)
    Row("bad-email", {"Email": f"broken@@{EMAIL_DOMAIN}"}, refused=515),
    Row("bad-phone", {"Phone": PHONE_PREFIX[1:] + "12345"}, refused=516),
]


def corpus() -> list[Row]:
    """Every bad row with a good row before and after it."""
    rows: list[Row] = [good(0)]
    for n, row in enumerate(BAD_ROWS, start=1):
        rows += [row, good(n)]
    return rows


def stage_sqlite_corpus(path) -> list[Row]:
    rows = corpus()
    extra = [f"c{n:03d}" for n in range(1, EXTRA_COLUMNS + 1)]
    named = ["seq", "identity", "Name", "Email", "Phone", "note", "amount", "payload"]
    columns = named + extra
    assert len(columns) == 300
    with sqlite3.connect(path) as db:
        # No declared types: SQLite keeps every value as the test gives it (ints, reals, blobs).
        db.execute(f"CREATE TABLE corpus ({', '.join(f'{name!r}' for name in columns)})".replace("'", '"'))
        staged = []
        for seq, row in enumerate(rows):
            values = dict(row.values)
            wide = values.pop("wide", 0)
            record = {"seq": seq, "identity": row.identity, **values}
            record.update({column: "w" for column in extra[:wide]})
            staged.append(tuple(record.get(column) for column in columns))
        db.executemany(f"INSERT INTO corpus VALUES ({', '.join('?' * len(columns))})", staged)
    return rows


def upload(**kwargs: Any) -> CleverTapUserUploadOperator:
    kwargs.setdefault("task_id", "upload_corpus")
    kwargs.setdefault("batch_size", 10)  # bad rows spread over many batches
    kwargs.setdefault("max_concurrency", 3)
    operator = CleverTapUserUploadOperator(**kwargs)
    fast_hook(operator)
    return operator


def problems_in(path, table: str = FAILED) -> list[tuple[Any, Any, str]]:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT identity, code, error FROM {table}").fetchall()


def check_outcome(rows: list[Row], emu, problems: list[tuple[Any, Any, str]], summary: dict[str, Any]) -> None:
    """Each row ended as expected: stored with its values, or reported with its reason."""
    profiles = emu.profiles
    reported: dict[Any, list[tuple[Any, str]]] = {}
    for identity, code, error in problems:
        reported.setdefault(identity, []).append((code, error))
    for row in rows:
        key = row.stored_as or row.identity
        if row.invalid is not None:
            reasons = reported.get(None if row.identity is None else str(row.identity), [])
            assert any(code is None and row.invalid in error for code, error in reasons), (
                f"{str(row.identity)[:40]!r}: no invalid-row report containing {row.invalid!r}: {reasons}"
            )
            if row.identity is not None and str(row.identity).strip():
                assert key not in profiles, f"{key!r} was invalid but reached CleverTap"
        elif row.refused is not None:
            assert (row.refused,) in [(code,) for code, _ in reported.get(key, [])], (key, reported.get(key))
            assert key not in profiles
        elif row.stored is not None:
            assert key in profiles, f"{str(key)[:40]!r} did not arrive"
            data = profiles[key]["profileData"]
            for prop, value in row.stored.items():
                assert data.get(prop) == value, (key, prop, data.get(prop), value)
    invalid = sum(1 for row in rows if row.invalid)
    refused = sum(1 for row in rows if row.refused)
    assert accounted(summary)
    assert (summary["rows_read"], summary["rows_invalid"], summary["rows_refused"]) == (len(rows), invalid, refused)
    assert summary["rows_accepted"] == len(rows) - invalid - refused
    assert len(problems) == invalid + refused


# -- the SQLite corpus ---------------------------------------------------------------------------------


def test_sqlite_corpus_reports_every_bad_row_and_delivers_every_good_one(
    emu, sqlite_warehouse, context, task_logs, capfd
):
    rows = stage_sqlite_corpus(sqlite_warehouse)
    twice = [position for position, row in enumerate(rows) if row.identity == "twice"]
    assert len({position // 10 for position in twice}) == 1  # both in one batch of 10
    operator = upload(
        source_conn_id="warehouse",
        sql="SELECT * FROM corpus ORDER BY seq",
        max_failed_ratio=1.0,
        failed_rows_table=FAILED,
    )

    summary = operator.execute(context)

    check_outcome(rows, emu, problems_in(sqlite_warehouse), summary)
    goods = {row.identity for row in rows if str(row.identity).startswith("good-")}
    assert goods <= set(emu.profiles)
    out, err = capfd.readouterr()
    assert not leaks([task_logs.text, out, err, json.dumps(summary)])


def test_sqlite_corpus_over_the_threshold_fails_clearly_after_sending_every_good_row(
    emu, sqlite_warehouse, context, task_logs, capfd
):
    rows = stage_sqlite_corpus(sqlite_warehouse)
    operator = upload(source_conn_id="warehouse", sql="SELECT * FROM corpus ORDER BY seq")

    with pytest.raises(AirflowFailException) as failure:
        operator.execute(context)

    message = str(failure.value)
    invalid = sum(1 for row in rows if row.invalid)
    refused = sum(1 for row in rows if row.refused)
    assert f"{invalid + refused} of {len(rows)} rows failed" in message
    assert "is null" in message and "identity" in message  # reasons, with identities
    goods = {row.identity for row in rows if str(row.identity).startswith("good-")}
    assert goods <= set(emu.profiles)
    out, err = capfd.readouterr()
    assert not leaks([message, task_logs.text, out, err])


def test_a_query_returning_no_rows_succeeds_with_all_counts_zero(emu, sqlite_warehouse, context):
    stage_sqlite_corpus(sqlite_warehouse)
    summary = upload(source_conn_id="warehouse", sql="SELECT * FROM corpus WHERE 1 = 0").execute(context)

    assert {key: summary[key] for key in ("rows_read", "rows_invalid", "rows_accepted", "rows_refused", "batches")} == (
        dict.fromkeys(("rows_read", "rows_invalid", "rows_accepted", "rows_refused", "batches"), 0)
    )
    assert summary["failed_sample"] == []
    assert emu.stats.requests == 0


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"sql": "SELEC identity FROM corpus"}, "syntax error"),
        ({"sql": "SELECT identity, no_such_column FROM corpus"}, "no_such_column"),
        ({"sql": "SELECT * FROM corpus", "identity_column": "user_id"}, "'user_id' is not among the columns"),
    ],
    ids=["syntax-error", "missing-column-in-sql", "missing-identity-column"],
)
def test_a_broken_query_fails_clearly_before_anything_is_sent(emu, sqlite_warehouse, context, kwargs, expected):
    stage_sqlite_corpus(sqlite_warehouse)

    with pytest.raises(Exception) as failure:
        upload(source_conn_id="warehouse", **kwargs).execute(context)

    assert expected in str(failure.value)
    assert emu.stats.requests == 0


def test_delete_reports_bad_ids_and_deletes_the_good_ones(emu, sqlite_warehouse, context, task_logs):
    ids = [None, "", "   ", b"\x00binary", 42, "del-1", "del-2", 4.5, "del-3"]
    expect_invalid = {None: "is null", "": "is empty", "   ": "is empty", b"\x00binary": "binary"}
    with sqlite3.connect(sqlite_warehouse) as db:
        db.execute("CREATE TABLE doomed (seq, identity)")
        db.executemany("INSERT INTO doomed VALUES (?, ?)", list(enumerate(ids)))
    # Profiles to delete, stored through the same emulator.
    keep = upload(rows=[{"identity": "keep-me", "note": "stays"}])
    keep.execute(context)
    targets = ["42", "del-1", "del-2", "4.5", "del-3"]
    upload(rows=[{"identity": ident, "note": "doomed"} for ident in targets]).execute(context)

    operator = CleverTapUserDeleteOperator(
        task_id="delete_corpus",
        source_conn_id="warehouse",
        sql="SELECT identity FROM doomed ORDER BY seq",
        batch_size=2,
        max_failed_ratio=1.0,
        failed_rows_table=FAILED,
    )
    fast_hook(operator)
    summary = operator.execute(context)

    assert accounted(summary)
    assert (summary["rows_read"], summary["rows_invalid"], summary["rows_accepted"]) == (len(ids), 4, 5)
    assert set(emu.profiles) == {"keep-me"}
    problems = problems_in(sqlite_warehouse)
    assert len(problems) == 4
    for raw, reason in expect_invalid.items():
        assert any(reason in error for _, _, error in problems), (raw, problems)


# -- the PostgreSQL corpus: jsonb, NaN, bytea ---------------------------------------------------------

PG_ROWS = [
    (
        "pg-good-1",
        '"plain string"',
        1.5,
        "10.25",
        None,
        "stored",
        {"doc": "plain string", "score": 1.5, "amount": 10.25},
    ),
    ("pg-object", '{"address": {"city": "x"}}', None, None, None, "nested object", None),
    ("pg-good-2", "42", None, None, None, "stored", {"doc": 42}),
    ("pg-array", '["red", "blue"]', None, None, None, "stored", {"doc": ["red", "blue"]}),
    ("pg-mixed-array", '["red", 1]', None, None, None, "more than strings", None),
    ("pg-nested-array", '[["a"]]', None, None, None, "more than strings", None),
    ("pg-nan", None, "NaN", None, None, "not a finite number", None),
    ("pg-infinity", None, "Infinity", None, None, "not a finite number", None),
    ("pg-numeric-nan", None, None, "NaN", None, "not a finite number", None),
    ("pg-bytea", None, None, None, b"\xde\xad\xbe\xef", "property 'raw' holds a", None),
    (None, '"no identity"', None, None, None, "is null", None),
    ("   ", None, None, None, None, "is empty", None),
    ("pg-good-3", "true", None, None, None, "stored", {"doc": True}),
]


def test_postgres_corpus_jsonb_nan_and_bytea(emu, postgres_uri, postgres_warehouse, context, task_logs, capfd):
    table, failed = f"{postgres_warehouse}_corpus", f"{postgres_warehouse}_failed"
    with psycopg.connect(postgres_uri, autocommit=True) as db:
        db.execute(f"CREATE TABLE {table} (seq int, identity text, doc jsonb, score float8, amount numeric, raw bytea)")
        with db.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {table} VALUES (%s, %s, %s::jsonb, %s::float8, %s::numeric, %s)",
                [(seq, *row[:5]) for seq, row in enumerate(PG_ROWS)],
            )
    try:
        operator = upload(
            source_conn_id="warehouse_pg",
            sql=f"SELECT identity, doc, score, amount, raw FROM {table} ORDER BY seq",
            batch_size=2,
            max_failed_ratio=1.0,
            failed_rows_table=failed,
        )
        summary = operator.execute(context)
        with psycopg.connect(postgres_uri) as db:
            problems = db.execute(f"SELECT identity, code, error FROM {failed}").fetchall()

        profiles = emu.profiles
        for identity, _doc, _score, _amount, _raw, outcome, stored in PG_ROWS:
            if outcome == "stored":
                data = profiles[identity]["profileData"]
                assert {key: data.get(key) for key in stored} == stored, identity
            else:
                reasons = [error for ident, code, error in problems if ident == identity]
                assert any(outcome in reason for reason in reasons), (identity, reasons)
        stored_count = sum(1 for row in PG_ROWS if row[5] == "stored")
        assert accounted(summary)
        assert summary["rows_accepted"] == stored_count == len(profiles)
        assert summary["rows_invalid"] == len(PG_ROWS) - stored_count == len(problems)

        # The PostgreSQL query errors: clear, and nothing sent.
        requests_before = emu.stats.requests
        for sql, expected in [
            (f"SELEC identity FROM {table}", "syntax error"),
            (f"SELECT identity, no_such_column FROM {table}", "no_such_column"),
        ]:
            with pytest.raises(Exception) as failure:
                upload(source_conn_id="warehouse_pg", sql=sql).execute(context)
            assert expected in str(failure.value)
        with pytest.raises(AirflowException, match="'user_id' is not among the columns"):
            upload(source_conn_id="warehouse_pg", sql=f"SELECT * FROM {table}", identity_column="user_id").execute(
                context
            )
        assert emu.stats.requests == requests_before
        # An empty result from a server-side cursor: success, all zero.
        empty = upload(source_conn_id="warehouse_pg", sql=f"SELECT * FROM {table} WHERE false").execute(context)
        assert (empty["rows_read"], empty["rows_accepted"], empty["batches"]) == (0, 0, 0)
        out, err = capfd.readouterr()
        assert not leaks([task_logs.text, out, err, json.dumps(summary)])
    finally:
        with psycopg.connect(postgres_uri, autocommit=True) as db:
            db.execute(f"DROP TABLE IF EXISTS {table}")
            db.execute(f"DROP TABLE IF EXISTS {failed}")
