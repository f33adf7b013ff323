"""CleverTapUserDeleteOperator against real warehouses (SQLite files, PostgreSQL) and a faked
CleverTap API (requests-mock)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_clevertap import sources
from airflow_provider_clevertap.exceptions import CleverTapConfigError
from airflow_provider_clevertap.operators import CleverTapUserDeleteOperator, CleverTapUserUploadOperator

DELETE_PATH = "/1/delete/profiles.json"
CONTEXT_RUN_ID = "manual__2026-01-01T00:00:00+00:00"  # the context fixture's run_id


def delete(**kwargs: Any) -> CleverTapUserDeleteOperator:
    kwargs.setdefault("task_id", "delete_profiles")
    return CleverTapUserDeleteOperator(**kwargs)


def check_invariant(summary: dict[str, Any]) -> None:
    assert summary["rows_read"] == summary["rows_invalid"] + summary["rows_accepted"] + summary["rows_refused"]
    assert summary["rows_failed"] == summary["rows_invalid"] + summary["rows_refused"]


def test_identities_from_sqlite_are_deleted_in_batches_of_at_most_100(sqlite_db, clevertap, context):
    sqlite_db.create("gone", "user_id INTEGER", [(n,) for n in range(1, 251)] + [(None,), (None,)])

    summary = delete(
        source_conn_id="warehouse", sql="SELECT user_id FROM gone", identity_column="user_id", max_failed_ratio=0.01
    ).execute(context)

    calls = clevertap.deletes
    assert all(set(call.body) == {"identity"} for call in calls)
    assert sorted(len(call.body["identity"]) for call in calls) == [50, 100, 100]
    sent = [identity for call in calls for identity in call.body["identity"]]
    assert sorted(sent) == sorted(str(n) for n in range(1, 251))  # as strings, each once
    assert clevertap.uploads == []
    assert summary["rows_read"] == 252
    assert summary["rows_accepted"] == 250
    assert summary["rows_invalid"] == 2
    assert summary["batches"] == summary["requests"] == 3
    assert summary["dry_run"] is False
    # No identity: found again by the row's place in the read.
    assert summary["failed_sample"] == [
        {"identity": None, "code": None, "error": f"row {n} of the read: identity column 'user_id' is null"}
        for n in (251, 252)
    ]
    assert json.loads(json.dumps(summary)) == summary
    check_invariant(summary)


def test_clevertap_ids_are_deleted_under_the_guid_key(clevertap, context):
    rows = [{"ctid": f"__{n:032x}"} for n in range(130)]
    summary = delete(rows=rows, identity_column="ctid", identity_type="clevertap_id", batch_size=60).execute(context)

    assert all(set(call.body) == {"guid"} for call in clevertap.deletes)
    assert sorted(len(call.body["guid"]) for call in clevertap.deletes) == [10, 60, 60]
    assert sorted(guid for call in clevertap.deletes for guid in call.body["guid"]) == [row["ctid"] for row in rows]
    assert summary["rows_accepted"] == 130


def test_delete_from_postgres_with_a_failed_rows_table(pg, clevertap, context):
    source = f"{pg.prefix}_gone"
    failed = f"{pg.prefix}_failed"
    pg.execute(f"CREATE TABLE {source} AS SELECT 'user-' || g AS identity FROM generate_series(1, 120) g")
    pg.execute(f"INSERT INTO {source} VALUES (NULL), ('')")

    summary = delete(
        source_conn_id="warehouse_pg",
        sql=f"SELECT identity FROM {source}",
        failed_rows_table=failed,
        max_failed_ratio=0.1,
    ).execute(context)

    assert sorted(len(call.body["identity"]) for call in clevertap.deletes) == [20, 100]
    assert summary["rows_accepted"] == 120 and summary["rows_invalid"] == 2
    stored = pg.execute(f"SELECT run_id, identity, code, error FROM {failed} ORDER BY identity NULLS FIRST").fetchall()
    assert stored == [
        (CONTEXT_RUN_ID, None, None, "row 121 of the read: identity column 'identity' is null"),
        (CONTEXT_RUN_ID, "", None, "row 122 of the read: identity column 'identity' is empty"),
    ]


def test_batch_size_over_100_fails_before_anything_is_sent(clevertap, context):
    with pytest.raises(ValueError, match="100"):
        delete(rows=[{"identity": "a"}], batch_size=101).execute(context)
    assert clevertap.calls == []


def test_a_missing_id_column_fails_before_anything_is_sent(sqlite_db, clevertap, context):
    sqlite_db.create("gone", "user_id TEXT, reason TEXT", [("u1", "gdpr")])
    with pytest.raises(ValueError) as error:
        delete(source_conn_id="warehouse", sql="SELECT * FROM gone").execute(context)
    assert "'identity'" in str(error.value) and "user_id, reason" in str(error.value)
    assert clevertap.calls == []


def test_a_state_table_that_is_no_table_name_fails_before_anything_is_sent(sqlite_db, clevertap, context):
    sqlite_db.create("gone", "identity TEXT", [("u1",)])
    operator = delete(source_conn_id="warehouse", sql="SELECT identity FROM gone", state_table="state; DROP")
    with pytest.raises(CleverTapConfigError, match="state_table 'state; DROP' is not a plain"):
        operator.execute(context)
    assert clevertap.calls == []


def test_dry_run_sends_nothing_and_reports_what_it_would_delete(
    task_logs, requests_mock, clevertap_connection, context
):
    # No URL is registered: any request at all would fail the test (requests-mock raises).
    rows = [{"identity": f"user-{n}"} for n in range(205)] + [{"identity": None}]
    summary = delete(rows=rows, dry_run=True, max_failed_ratio=0.5).execute(context)

    assert requests_mock.call_count == 0
    assert summary["dry_run"] is True
    assert summary["rows_accepted"] == 205  # would be deleted
    assert summary["rows_invalid"] == 1
    assert summary["batches"] == 3 and summary["requests"] == 0 and summary["retries"] == 0
    check_invariant(summary)
    would = [record.getMessage() for record in task_logs.records if "would delete" in record.getMessage()]
    assert len(would) == 3
    assert "would delete 100 profiles by identity: user-0, user-1" in would[0]
    finished = [record.getMessage() for record in task_logs.records if "finished" in record.getMessage()]
    assert len(finished) == 1 and "(dry run)" in finished[0]


def test_a_refused_delete_batch_counts_every_id_refused(requests_mock, clevertap_connection, context):
    def answer(request: Any, _context: Any) -> dict[str, Any]:
        if "bad-1" in request.json()["identity"]:
            return {"status": "fail", "error": "Invalid identity list", "code": 400}
        return {"status": "success"}

    requests_mock.post(f"{clevertap_connection}{DELETE_PATH}", json=answer)
    rows = [{"identity": name} for name in ("ok-1", "ok-2", "bad-1", "ok-3")]
    operator = delete(rows=rows, batch_size=2, max_failed_ratio=0.25)

    with pytest.raises(AirflowFailException) as error:
        operator.execute(context)

    message = str(error.value)
    assert "2 of 4 rows" in message and "2 refused" in message
    assert "bad-1: code 400, Invalid identity list" in message
    assert requests_mock.call_count == 2  # every batch was sent before failing


def test_an_http_failure_that_outlasts_retries_fails_with_the_accepted_count(clevertap, context, fast_hook):
    clevertap.fail = lambda body: 503 if "u3" in body["identity"] else None
    rows = [{"identity": f"u{n}"} for n in range(1, 5)]
    operator = fast_hook(delete(rows=rows, batch_size=2, max_concurrency=1))

    with pytest.raises(AirflowException) as error:
        operator.execute(context)

    assert not isinstance(error.value, AirflowFailException)
    assert "2 accepted before the failure" in str(error.value)
    assert "HTTP 503" in str(error.value)
    assert [call.body["identity"] for call in clevertap.deletes] == [["u1", "u2"], ["u3", "u4"], ["u3", "u4"]]


def test_delete_streams_postgres_rows(pg, clevertap, context, monkeypatch):
    table = f"{pg.prefix}_gone"
    pg.execute(f"CREATE TABLE {table} AS SELECT g::text AS identity FROM generate_series(1, 30) g")
    streamed: list[Any] = []
    real = sources._psycopg3_stream

    def recording(*args: Any) -> Any:
        columns, rows = real(*args)
        return columns, (streamed.append(row) or row for row in rows)

    monkeypatch.setattr(sources, "_psycopg3_stream", recording)

    summary = delete(source_conn_id="warehouse_pg", sql=f"SELECT identity FROM {table}", batch_size=10).execute(context)

    assert len(streamed) == 30
    assert summary["rows_accepted"] == 30 and summary["batches"] == 3


def test_rows_json_string_and_templating(clevertap):
    assert {"sql", "parameters", "rows", "failed_rows_table"} <= set(CleverTapUserDeleteOperator.template_fields)
    assert ".sql" in CleverTapUserDeleteOperator.template_ext
    operator = delete(rows="{{ doomed }}")
    context = {"run_id": CONTEXT_RUN_ID, "doomed": json.dumps([{"identity": "x1"}, {"identity": "x2"}])}
    operator.render_template_fields(context)
    summary = operator.execute(context)
    assert [call.body for call in clevertap.deletes] == [{"identity": ["x1", "x2"]}]
    assert summary["rows_accepted"] == 2


def test_sql_is_templated(sqlite_db, clevertap):
    sqlite_db.create("gone", "identity TEXT, day TEXT", [("a", "2026-01-01"), ("b", "2026-01-02")])
    operator = delete(source_conn_id="warehouse", sql="SELECT identity FROM gone WHERE day = '{{ ds }}'")
    context = {"run_id": CONTEXT_RUN_ID, "ds": "2026-01-02"}
    operator.render_template_fields(context)
    operator.execute(context)
    assert [call.body for call in clevertap.deletes] == [{"identity": ["b"]}]


def test_identity_type_is_checked():
    with pytest.raises(ValueError, match="identity_type"):
        delete(rows=[], identity_type="guid")  # CleverTap's wire name: the operators say clevertap_id


def test_both_operators_share_the_summary_shape(clevertap, context):
    upload_summary = CleverTapUserUploadOperator(task_id="u", rows=[{"identity": "a"}]).execute(context)
    delete_summary = delete(rows=[{"identity": "a"}]).execute(context)
    assert set(upload_summary) == set(delete_summary)
