"""The failed-rows table on every warehouse of the matrix: written in bulk after a run, a table
that cannot be written (SQL in its name, a schema that does not exist) failing the task before the
first request, without Airflow retries, in a dry run too, which only reads the table; the retention
each run applies, and the docs' query of each identity's latest problem as printed in
docs/failed-rows.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_clevertap.failed_rows import Attempt, prepare_table, write_problems
from airflow_provider_clevertap.results import Problem
from airflow_provider_clevertap.sources import get_sql_hook
from tests.warehouses.scenarios import stage_users, upload

pytestmark = pytest.mark.warehouse

USERS = [f"user-{n:02d}" for n in range(1, 9)]
REFUSED = ["user-02", "user-07"]


def test_refused_rows_land_in_the_failed_rows_table(wh, emu):
    stage_users(wh, USERS, refused=REFUSED)
    failed = wh.table("failed")
    summary = upload(wh, "upsert", failed_rows_table=failed)
    assert summary["rows_refused"] == len(REFUSED)
    rows = wh.query(f"SELECT identity, code, attempt, recorded_at FROM {failed} ORDER BY identity")
    assert [(identity, code, attempt) for identity, code, attempt, _ in rows] == [
        (identity, 515, "finished") for identity in REFUSED
    ]
    assert all(recorded_at is not None for *_, recorded_at in rows)


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry run"])
@pytest.mark.parametrize("name", ["failed; DROP TABLE users", "no_such_schema_0x.failed"])
def test_a_failed_rows_table_that_cannot_be_written_fails_before_the_first_request(wh, emu, name, dry_run):
    if dry_run and "schema" in name and wh.engine.conn_type == "gcpbigquery":
        # Real BigQuery refuses to read the catalog of a dataset that does not exist; bqemulator
        # answers it with no rows, as for an empty dataset.
        pytest.skip("bqemulator reads the catalog of a dataset that does not exist")
    stage_users(wh, USERS, refused=REFUSED)
    # A dry run, which creates nothing, asks the warehouse's catalog why it could not read the table.
    why = "cannot be created: schema 'no_such_schema_0x' does not exist" if dry_run and "." in name else ""
    with pytest.raises(AirflowFailException, match=f"failed_rows_table .*{why}"):
        upload(wh, "changed", failed_rows_table=name, dry_run=dry_run)
    assert emu.stats.requests == 0
    assert wh.query(f"SELECT COUNT(*) FROM {wh.table('users')}") == [(len(USERS),)]


def test_a_dry_run_reads_the_failed_rows_table_and_writes_nothing_there(wh, emu):
    """Neither a table that is not there yet (a real run would create it) nor the rows of one that
    is, those past the retention included, are touched."""
    stage_users(wh, USERS, refused=REFUSED)
    missing, failed = wh.table("never_made"), wh.table("failed")
    _write_old_and_new(wh, failed)
    before = sorted(wh.query(f"SELECT run_id, identity, code FROM {failed}"), key=repr)

    for table in (missing, failed):
        summary = upload(wh, "upsert", failed_rows_table=table, failed_rows_retention_days=30, dry_run=True)
        assert summary["dry_run"] is True and summary["rows_refused"] == len(REFUSED)

    assert sorted(wh.query(f"SELECT run_id, identity, code FROM {failed}"), key=repr) == before
    with pytest.raises(Exception, match=r"(?i)n.t exist|not found|no such table"):  # each driver's own error
        wh.query(f"SELECT * FROM {missing}")


DOC = (Path(__file__).resolve().parents[2] / "docs" / "failed-rows.md").read_text()
[LATEST] = re.findall(r"```sql\n(.*?)```", DOC, re.S)
FIRST = Attempt("clevertap_user_sync", "upload_profiles", "scheduled__2026-10-01", 1, -1, stopped=False)
SECOND = Attempt("clevertap_user_sync", "upload_profiles", "scheduled__2026-12-01", 1, -1, stopped=False)
OTHER_DAG = Attempt("clevertap_first_sync", "upload", "manual__2026-12-01", 1, -1, stopped=False)


def _write_old_and_new(wh, table: str) -> None:
    """Problems of a run long ago (``FIRST``), then of today's runs (``SECOND``, ``OTHER_DAG``)."""
    hook = get_sql_hook(wh.conn_id)
    prepare_table(hook, table)
    write_problems(hook, table, [Problem("u1", 515, "Email is not valid"), Problem("u2", 516, "x")], FIRST)
    write_problems(hook, table, [Problem(None, None, "row 3 of the read: no identity")], FIRST)
    wh.execute(f"UPDATE {table} SET recorded_at = '2020-10-01 00:00:00' WHERE run_id = '{FIRST.run_id}'")
    write_problems(hook, table, [Problem("u1", 516, "Phone is not valid")], SECOND)
    write_problems(hook, table, [Problem("u3", 514, "Gender is not valid")], OTHER_DAG)


def test_the_docs_query_reads_the_latest_problem_of_each_identity(wh):
    failed = wh.table("failed")
    _write_old_and_new(wh, failed)

    rows = wh.query(LATEST.replace("clevertap_failed_rows", failed))

    assert sorted((identity, code, run_id) for identity, code, _, run_id, *_ in rows) == [
        ("u1", 516, "scheduled__2026-12-01"),
        ("u2", 516, "scheduled__2026-10-01"),
    ]


@pytest.mark.parametrize(
    ("days", "kept_runs"),
    [
        (30, {SECOND.run_id, OTHER_DAG.run_id, "manual__warehouse-matrix"}),
        (None, {FIRST.run_id, SECOND.run_id, OTHER_DAG.run_id, "manual__warehouse-matrix"}),
    ],
)
def test_each_run_first_deletes_the_rows_older_than_the_retention(wh, emu, days, kept_runs):
    failed = wh.table("failed")
    _write_old_and_new(wh, failed)
    stage_users(wh, USERS, refused=REFUSED)

    upload(wh, "upsert", failed_rows_table=failed, failed_rows_retention_days=days)

    assert {run_id for (run_id,) in wh.query(f"SELECT run_id FROM {failed}")} == kept_runs
    refused_now = wh.query(f"SELECT identity FROM {failed} WHERE run_id = 'manual__warehouse-matrix'")
    assert sorted(identity for (identity,) in refused_now) == REFUSED


def test_a_dry_run_passes_a_table_a_real_run_would_create_beside_one_named_in_another_case(wh, emu):
    """Where names are case-sensitive (PostgreSQL's quoted ones, MariaDB's on Linux), a table
    ``Dry_Case`` is not the ``dry_case`` the run would create: the dry run must not fail it as a
    table "there but unreadable". Elsewhere the two are one table, and the dry run reads it."""
    stage_users(wh, USERS, refused=REFUSED)
    wanted = wh.table("dry_case")
    schema, _, bare = wanted.rpartition(".")
    other = wh.q(bare[0].upper() + bare[1:])
    other = f"{schema}.{other}" if schema else other
    wh.execute(f"CREATE TABLE {other} (n INTEGER)")
    try:
        summary = upload(wh, "upsert", failed_rows_table=wanted, dry_run=True)
    finally:
        wh.execute(f"DROP TABLE {other}")

    assert summary["dry_run"] is True and summary["rows_refused"] == len(REFUSED)


def test_a_duckdb_dry_run_takes_a_table_named_after_its_database(wh, emu):
    """``<database>.<table>`` is a table of that database's schema ``main`` to DuckDB, which the
    real run creates: the dry run must not read the database as a missing schema."""
    if wh.engine.conn_type != "duckdb":
        pytest.skip("DuckDB's two-part names")
    stage_users(wh, USERS, refused=REFUSED)
    [(database,)] = wh.query("SELECT current_database()")

    summary = upload(wh, "upsert", failed_rows_table=f"{database}.{wh.table('by_database')}", dry_run=True)

    assert summary["dry_run"] is True and summary["rows_refused"] == len(REFUSED)
