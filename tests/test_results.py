"""Accounting (SyncReport) and the rejected-rows table (write_problems) on real SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3

import pytest

from airflow_provider_clevertap import results
from airflow_provider_clevertap.responses import BatchResult, Refusal
from airflow_provider_clevertap.results import Problem, SyncReport, write_problems
from airflow_provider_clevertap.sources import get_sql_hook

LOG = logging.getLogger("test.clevertap.results")


def batch(identities: list[str], refused: list[Refusal] = (), attempts: int = 1) -> BatchResult:
    return BatchResult(identities, list(refused), attempts)


def test_every_row_is_counted_once():
    report = SyncReport("upload", False, LOG)
    report.rows_read = 7
    report.invalid("u0", "identity column 'identity' is empty")
    report.batch_done(batch(["u1", "u2", "u3"], [Refusal(1, 515, "Email is not valid")], attempts=3))
    report.batch_done(batch(["u4", "u5", "u6"], [Refusal(None, 555, "misc")]))

    summary = report.summary()
    assert (summary["rows_invalid"], summary["rows_accepted"], summary["rows_rejected"]) == (1, 4, 2)
    assert summary["rows_read"] == 7 == summary["rows_invalid"] + summary["rows_accepted"] + summary["rows_rejected"]
    assert (summary["batches"], summary["requests"], summary["retries"]) == (2, 4, 2)
    assert summary["rejected_sample"] == [
        {"identity": "u0", "code": None, "error": "identity column 'identity' is empty"},
        {"identity": "u2", "code": 515, "error": "Email is not valid"},  # mapped by position
        {"identity": None, "code": 555, "error": "misc"},  # no position: counted, no identity
    ]
    assert report.rows_failed == 3
    assert json.loads(json.dumps(summary)) == summary


def test_a_dry_run_batch_makes_no_request_and_no_retry():
    report = SyncReport("delete", True, LOG)
    report.batch_done(BatchResult(["a", "b"], [], attempts=0))
    assert (report.requests, report.retries, report.rows_accepted) == (0, 0, 2)
    assert report.summary()["dry_run"] is True


def test_the_sample_is_capped_but_every_problem_can_be_kept():
    sampled = SyncReport("upload", False, LOG)
    kept = SyncReport("upload", False, LOG, keep_problems=True)
    for n in range(30):
        sampled.invalid(f"u{n}", "bad")
        kept.invalid(f"u{n}", "bad")
    assert len(sampled.problems) == len(sampled.summary()["rejected_sample"]) == 20
    assert len(kept.problems) == 20  # in memory: the sample only
    assert [problem.identity for problem in kept.kept_problems()] == [f"u{n}" for n in range(30)]
    assert len(kept.summary()["rejected_sample"]) == 20
    assert sampled.rows_invalid == kept.rows_invalid == 30


def test_kept_problems_come_back_exactly_and_in_order():
    report = SyncReport("upload", False, LOG, keep_problems=True)
    report.invalid("line\nbreak ☃", "identity column 'id' is empty")
    report.invalid(None, 'a "quoted"\treason')
    report.batch_done(
        BatchResult(["u1", "u2"], [Refusal(1, 515, "Email is not valid"), Refusal(None, None, "not stored")])
    )

    assert list(report.kept_problems()) == [
        Problem("line\nbreak ☃", None, "identity column 'id' is empty"),
        Problem(None, None, 'a "quoted"\treason'),
        Problem("u2", 515, "Email is not valid"),
        Problem(None, None, "not stored"),
    ]
    report.invalid("u3", "bad")  # noting more after reading back appends
    assert [problem.identity for problem in report.kept_problems()][-1] == "u3"
    report.close()


def test_describe_problems_names_identities_codes_and_reasons():
    report = SyncReport("upload", False, LOG)
    report.invalid(None, "identity column 'id' is null")
    report.batch_done(batch(["u1"], [Refusal(0, 516, "Phone is not valid")]))
    for n in range(10):
        report.invalid(f"x{n}", "too long")
    text = report.describe_problems()
    assert text.startswith(
        "(no identity): identity column 'id' is null; u1: code 516, Phone is not valid; x0: too long"
    )
    assert text.count(";") == 4  # five examples, not all twelve


def test_progress_and_summary_lines(caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger=LOG.name)
    monkeypatch.setattr(results, "PROGRESS_INTERVAL", 0.0)
    report = SyncReport("upload", True, LOG)
    report.rows_read = 4
    report.batch_done(batch(["u1", "u2"]))
    report.batch_done(batch(["u3", "u4"], [Refusal(0, 515, "Email is not valid")]))
    report.log_summary()

    messages = [record.getMessage() for record in caplog.records]
    assert len([m for m in messages if "progress" in m]) == 2
    assert messages[1].startswith("CleverTap upload progress: 4 rows read, 4 sent and answered")
    assert messages[-1].startswith(
        "CleverTap upload (dry run) finished: 4 rows read, 3 accepted, 1 refused by CleverTap, 0 invalid, "
        "2 batches, 2 requests, 0 retries"
    )


def test_no_progress_line_before_the_interval(caplog):
    caplog.set_level(logging.INFO, logger=LOG.name)
    report = SyncReport("upload", False, LOG)
    report.batch_done(batch(["u1"]))
    assert not [record for record in caplog.records if "progress" in record.getMessage()]


# -- write_problems ---------------------------------------------------------------------------------

PROBLEMS = [
    Problem("u1", None, "property 'bio' is longer than 512 bytes"),
    Problem("u2", 515, "Email is not valid"),
    Problem(None, None, "identity column 'id' is null"),
]


def test_write_problems_creates_the_table_on_sqlite_and_appends(sqlite_warehouse):
    hook = get_sql_hook("warehouse")
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    write_problems(hook, "rejected", PROBLEMS, dag_id="d", task_id="t", run_id="r1")
    write_problems(hook, "rejected", PROBLEMS[:1], dag_id="d", task_id="t", run_id="r2")

    connection = sqlite3.connect(sqlite_warehouse)
    rows = connection.execute(
        "SELECT dag_id, task_id, run_id, identity, code, error, recorded_at FROM rejected"
    ).fetchall()
    connection.close()
    assert [row[:6] for row in rows] == [
        ("d", "t", "r1", "u1", None, "property 'bio' is longer than 512 bytes"),
        ("d", "t", "r1", "u2", 515, "Email is not valid"),
        ("d", "t", "r1", None, None, "identity column 'id' is null"),
        ("d", "t", "r2", "u1", None, "property 'bio' is longer than 512 bytes"),
    ]
    for row in rows:
        assert before <= dt.datetime.fromisoformat(row[6]) <= dt.datetime.now(dt.timezone.utc)


def test_write_problems_with_nothing_to_write_still_creates_the_table(sqlite_warehouse):
    write_problems(get_sql_hook("warehouse"), "rejected", [], dag_id="d", task_id="t", run_id="r")
    connection = sqlite3.connect(sqlite_warehouse)
    assert connection.execute("SELECT count(*) FROM rejected").fetchone() == (0,)
    connection.close()


@pytest.mark.parametrize("table", ["rejected; DROP TABLE users", "a.b.c.d", "1table", "re jected", ""])
def test_write_problems_refuses_a_table_name_that_is_not_plain(sqlite_warehouse, table):
    connection = sqlite3.connect(sqlite_warehouse)
    connection.execute("CREATE TABLE users (identity TEXT)")
    connection.commit()
    with pytest.raises(ValueError, match="plain"):
        write_problems(get_sql_hook("warehouse"), table, PROBLEMS, dag_id="d", task_id="t", run_id="r")
    assert connection.execute("SELECT name FROM sqlite_master").fetchall() == [("users",)]
    connection.close()


def test_write_problems_on_postgres_with_a_schema(postgres_uri, postgres_warehouse):
    import psycopg

    table = f"public.{postgres_warehouse}_rejected"
    try:
        write_problems(get_sql_hook("warehouse_pg"), table, PROBLEMS, dag_id="d", task_id="t", run_id="r1")
        with psycopg.connect(postgres_uri) as connection:
            rows = connection.execute(f"SELECT run_id, identity, code, error FROM {table} ORDER BY identity").fetchall()
        assert rows == [
            ("r1", "u1", None, "property 'bio' is longer than 512 bytes"),
            ("r1", "u2", 515, "Email is not valid"),
            ("r1", None, None, "identity column 'id' is null"),
        ]
    finally:
        with psycopg.connect(postgres_uri, autocommit=True) as connection:
            connection.execute(f"DROP TABLE IF EXISTS {table}")
