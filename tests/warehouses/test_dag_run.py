"""A real DAG run on every warehouse of the matrix (``dag.test()``, Airflow's task runner): a
``changed`` sync, then a second run that sends nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.state.conftest import summaries
from tests.warehouses.scenarios import stage_users, state_identities

pytestmark = pytest.mark.warehouse

DAG_FILE = Path(__file__).resolve().parent / "dags" / "warehouse_dags.py"
USERS = [f"user-{n:02d}" for n in range(1, 21)]


def test_a_dag_run_syncs_the_changed_rows(wh, emu, dag_runner, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_TEST_SOURCE", wh.conn_id)
    monkeypatch.setenv("WAREHOUSE_TEST_PREFIX", wh.engine.table_name(wh.prefix))  # BigQuery: in its dataset
    monkeypatch.setenv("WAREHOUSE_TEST_EMAIL", wh.q("Email"))
    stage_users(wh, USERS)
    wh.table("state")  # dropped after the test
    run = dag_runner(DAG_FILE)

    first = run("warehouse_sync")
    assert first.state == "success"
    assert summaries(first)[0]["rows_accepted"] == len(USERS)
    assert set(emu.profiles) == set(USERS)
    assert state_identities(wh, "warehouse_sync.upload") == sorted(USERS)

    second = run("warehouse_sync", logical_date=dt.datetime(2026, 3, 3, tzinfo=dt.timezone.utc))
    assert second.state == "success"
    assert summaries(second)[0]["rows_unchanged"] == len(USERS)
    assert emu.stats.records_received == len(USERS)
