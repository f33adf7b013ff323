"""The stateful cases on MariaDB and DuckDB (and PostgreSQL): on a tiny table they produce every
figure, the bare diff included, every row arrives, and nothing the run built outlives it. No timing
is asserted."""

from __future__ import annotations

import uuid

import pytest

from benchmarks import __main__ as main
from benchmarks import dataset, report, runner, warehouses

pytestmark = pytest.mark.warehouse

ROWS = 2000


@pytest.fixture(autouse=True)
def own_database_prefix(monkeypatch):
    """This test's MariaDB databases get a prefix of their own: other runs on the server come and go."""
    monkeypatch.setattr(warehouses, "DATABASE_PREFIX", f"{warehouses.DATABASE_PREFIX}t{uuid.uuid4().hex[:8]}_")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """Tables, the Airflow home and the emulator log go to a temporary folder, not .benchmarks/."""
    monkeypatch.setattr(dataset, "CACHE", tmp_path)
    return tmp_path


def _bench_databases() -> set[str]:
    connection = warehouses.mariadb_connect(None)
    try:
        cursor = connection.cursor()
        cursor.execute("SHOW DATABASES")
        return {name for (name,) in cursor.fetchall() if name.startswith(warehouses.DATABASE_PREFIX)}
    finally:
        connection.close()


@pytest.mark.parametrize("backend", [*warehouses.BACKENDS, "postgres"])
def test_a_tiny_stateful_run_measures_the_bare_diff_beside_the_changed_run(cache, backend):
    settings = runner.Settings(
        upload_sizes=(), delete_sizes=(), event_sizes=(), state_sizes=(ROWS,), state_latencies=(0.0,), rounds=1,
        backend=backend,
    )  # fmt: skip
    run = runner.run(settings, f"python -m benchmarks --{backend} (smoke test)", log=lambda line: None)

    by_kind = {r["kind"]: r for r in run.results}
    assert set(by_kind) == {"floor", "upsert", "changed", "first"}
    expected = dataset.expected_upload(ROWS)
    edited = 20  # keys ending in 42: 42, 142, ..., 1942
    changed = by_kind["changed"]
    assert (changed["accepted"], changed["refused"], changed["invalid"], changed["unchanged"]) == (
        edited, expected["rows_refused"], expected["rows_invalid"], expected["rows_accepted"] - edited,
    )  # fmt: skip
    assert changed["emulator_stats"]["records_stored"] == edited
    diff = changed["bare_diff"]
    assert diff["wall"] > 0 and diff["streamed"] + diff["unchanged"] == ROWS
    # The diff reads what the changed run reads: each warehouse's row hash leaves the rows it knows
    # unchanged in it, so only the edited rows, the refused ones and those with no identity stream.
    sent_or_invalid = edited + expected["rows_refused"] + expected["rows_invalid"]
    assert diff["streamed"] == sent_or_invalid

    (row,) = runner.figures(run)["state"]
    for key in ("diff_wall", "changed_over_diff", "changed_over_diff_api", "first_over_upsert"):
        assert row[key] > 0, key
    assert row["api_wall"] == 0  # no latency
    issue_23 = [t for t in runner.figures(run)["targets"] if "bare diff" in t["target"] or t["goal"] == "<= 1.3"]
    assert [t["goal"] for t in issue_23] == ["<= 1.5", "<= 1.3"] and all(t["met"] is not None for t in issue_23)
    text = report.tables(run)
    assert "bare diff" in text and "changed/(diff+API)" in text
    assert f"source table in {dataset.BACKEND_NAMES[backend]}" in report.markdown_section(run)
    assert not [path for path in cache.iterdir() if path.name.startswith("state_")]  # each case's copy removed
    if backend == "mariadb":
        assert _bench_databases() == set()  # the run's database and the cases' copies dropped


def test_only_the_stateful_cases_run_on_mariadb_and_duckdb(capsys):
    with pytest.raises(SystemExit):
        main.main(["--duckdb", "--sizes", "1000"])
    assert "only the stateful cases run with --duckdb" in capsys.readouterr().err
    with pytest.raises(ValueError, match="only the stateful cases run on MariaDB"):
        runner.plan(runner.Settings(backend="mariadb"))


def test_the_duckdb_connection_takes_the_extra_the_run_is_given(tmp_path, monkeypatch):
    """``CLEVERTAP_BENCH_DUCKDB_EXTRA`` reaches DuckDB through the provider's hook, as a user's
    connection extra would: the figures measured with a ``memory_limit`` are measured under it."""
    from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

    monkeypatch.setenv(warehouses.DUCKDB_EXTRA_VARIABLE, '{"memory_limit": "96MB", "threads": 1}')
    monkeypatch.setenv("AIRFLOW_CONN_BENCH_DUCKDB", warehouses.airflow_connection("duckdb", str(tmp_path / "w.duckdb")))
    connection = DuckDBHook(duckdb_conn_id="bench_duckdb").get_conn()
    try:
        threads, limit = connection.execute(
            "SELECT current_setting('threads'), current_setting('memory_limit')"
        ).fetchone()
    finally:
        connection.close()
    assert threads == 1 and limit.startswith("91")  # 96 MB, shown in MiB
