"""docs/monitoring.md's SQL, as printed there, on SQLite and PostgreSQL: each identity's latest
problem, and the retention DELETE, against a failed-rows table the provider wrote."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_provider_clevertap.failed_rows import Attempt, prepare_table, write_problems
from airflow_provider_clevertap.results import Problem
from airflow_provider_clevertap.sources import get_sql_hook

MONITORING = Path(__file__).resolve().parents[2] / "docs" / "monitoring.md"
LATEST, RETENTION = re.findall(r"```sql\n(.*?)```", MONITORING.read_text(), re.S)
FIRST = Attempt("clevertap_user_sync", "upload_profiles", "scheduled__2026-10-01", 1, -1, stopped=False)
SECOND = Attempt("clevertap_user_sync", "upload_profiles", "scheduled__2026-12-01", 1, -1, stopped=False)
OTHER_DAG = Attempt("clevertap_first_sync", "upload", "manual__2026-12-01", 1, -1, stopped=False)


@pytest.fixture(params=["warehouse", "warehouse_pg"])
def hook_and_table(request, sqlite_warehouse, postgres_warehouse):
    table = f"{postgres_warehouse}_failed"
    hook = get_sql_hook(request.param)
    yield hook, table
    hook.run(f"DROP TABLE IF EXISTS {table}")


def _query(hook, sql: str, table: str):
    return hook.get_records(sql.replace("clevertap_failed_rows", table).rstrip().rstrip(";"))


def _write(hook, table: str) -> None:
    prepare_table(hook, table)  # as a sync does before its first request
    write_problems(
        hook,
        table,
        [Problem("u1", 515, "Email is not valid"), Problem("u2", 516, "Phone is not valid"), Problem(None, None, "x")],
        FIRST,
    )
    # The first run was two months ago: recorded_at as a timestamp (PostgreSQL) or ISO text (SQLite).
    hook.run(f"UPDATE {table} SET recorded_at = '2026-10-01T00:00:00+00:00'")
    write_problems(hook, table, [Problem("u1", 516, "Phone is not valid")], SECOND)
    write_problems(hook, table, [Problem("u3", 514, "Gender is not valid")], OTHER_DAG)


def test_the_latest_problem_of_each_identity(hook_and_table):
    hook, table = hook_and_table
    _write(hook, table)

    rows = sorted(_query(hook, LATEST, table))

    assert [(identity, code, run_id) for identity, code, _, run_id, *_ in rows] == [
        ("u1", 516, "scheduled__2026-12-01"),
        ("u2", 516, "scheduled__2026-10-01"),
    ]


def test_retention_deletes_only_what_is_older(hook_and_table):
    hook, table = hook_and_table
    _write(hook, table)

    hook.run(RETENTION.replace("clevertap_failed_rows", table))

    left = sorted(hook.get_records(f"SELECT identity, run_id FROM {table}"))
    assert left == [("u1", "scheduled__2026-12-01"), ("u3", "manual__2026-12-01")]
