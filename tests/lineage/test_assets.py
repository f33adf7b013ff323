"""The CleverTap Asset of a sync: emitted with the counts after a real DAG run, and what it triggers.

The example DAGs run with ``dag.test()`` (in a fresh interpreter) against the emulator and a
SQLite warehouse; Airflow's own records are read back: the asset events, and the queue from which
the scheduler creates the runs of the DAGs scheduled on the Asset.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from airflow_provider_clevertap.exceptions import CleverTapConfigError
from airflow_provider_clevertap.lineage import clevertap_asset
from airflow_provider_clevertap.operators import CleverTapUserUploadOperator
from demo.warehouse import build_warehouse
from tests.lineage.conftest import task_events

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
USER_SYNC = EXAMPLE_DAGS / "clevertap_user_sync.py"
CUSTOMERS = 300


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    path = build_warehouse(tmp_path / "warehouse.db", CUSTOMERS, dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc))
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    return path


def _counts(summary):
    return {key: value for key, value in summary.items() if type(value) is int}


def test_the_profile_sync_emits_its_asset_with_the_counts_and_queues_the_audience_refresh(run_dag, warehouse, emulator):
    outcome = run_dag(USER_SYNC, "clevertap_user_sync", dags_folder=EXAMPLE_DAGS)

    assert outcome["state"] == "success", outcome["log"][-3000:]
    # The example's Asset is named by the connection, not the account: it runs unchanged for any account.
    uri = "clevertap_default_profiles"
    summary = outcome["summaries"]["upload_profiles"]
    assert summary["rows_accepted"] == len(emulator.profiles) > 0
    assert outcome["asset_events"] == [{"uri": uri, "extra": {**_counts(summary), "dry_run": False}}]
    # The scheduler creates a run of each DAG scheduled on the Asset from this queue.
    assert {"uri": uri, "dag_id": "clevertap_audience_refresh"} in outcome["queued_dag_runs"]
    assert {"uri": uri, "dag_id": "clevertap_failed_rows_alert"} in outcome["queued_dag_runs"]
    _the_failed_rows_alert_reads_the_event(outcome["asset_events"][0]["extra"])

    complete = task_events(outcome, "clevertap_user_sync.upload_profiles")["COMPLETE"]
    assert [dataset["name"] for dataset in complete["outputs"]] == [f"{emulator.account_id}/profiles"]
    # SQLite's hook gives OpenLineage no database info: no input, as for Airflow's SQL operators.
    assert complete["inputs"] == []
    assert complete["run"]["facets"]["clevertap_sync"]["counts"] == _counts(summary)
    assert complete["run"]["facets"]["clevertap_failed_rows"]["failedRowsTable"] == "clevertap_failed_rows"


def _the_failed_rows_alert_reads_the_event(extra):
    """The alert DAG's task, given the sync's real asset event: 1 row of 300 refused is above 0.1%."""
    from types import SimpleNamespace

    from _airflow_compat import load_dag
    from airflow.providers.common.compat.sdk import AirflowFailException

    alert = load_dag(EXAMPLE_DAGS / "clevertap_failed_rows_alert.py", "clevertap_failed_rows_alert")
    check = alert.get_task("check_failed_rows").python_callable
    assert (extra["rows_read"], extra["rows_refused"], extra["rows_invalid"]) == (CUSTOMERS, 1, 0)
    with pytest.raises(AirflowFailException, match="1 rows refused by CleverTap and 0 invalid of 300 read"):
        check(triggering_asset_events={"clevertap_default_profiles": [SimpleNamespace(extra=extra)]})
    clean = SimpleNamespace(extra={**extra, "rows_refused": 0})
    counts = check(triggering_asset_events={"clevertap_default_profiles": [clean]})
    assert counts == {"rows_read": CUSTOMERS, "rows_refused": 0, "rows_invalid": 0}


def test_without_the_openlineage_provider_the_sync_and_its_asset_event_still_work(run_dag, warehouse, emulator):
    outcome = run_dag(USER_SYNC, "clevertap_user_sync", dags_folder=EXAMPLE_DAGS, without_openlineage=True)

    assert outcome["state"] == "success", outcome["log"][-3000:]
    summary = outcome["summaries"]["upload_profiles"]
    assert summary["rows_accepted"] == len(emulator.profiles) > 0
    [event] = outcome["asset_events"]
    assert event["extra"] == {**_counts(summary), "dry_run": False}
    assert outcome["lineage_without_provider"] == {"upload_profiles": [None, None]}
    assert outcome["openlineage_events"] == []


def test_an_outlet_of_another_account_fails_before_anything_is_sent(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CLEVERTAP_DEFAULT", emulator.connection_json())
    operator = CleverTapUserUploadOperator(
        task_id="upload", rows=[{"identity": "cust-1", "Plan": "gold"}], outlets=[clevertap_asset("SOMEONE-ELSE")]
    )

    with pytest.raises(CleverTapConfigError, match=f"connection 'clevertap_default' is account {emulator.account_id}"):
        operator.execute({"run_id": "manual__1", "outlet_events": {}})
    assert emulator.stats.records_received == 0


def test_an_events_outlet_on_a_profile_upload_is_refused(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CLEVERTAP_DEFAULT", emulator.connection_json())
    operator = CleverTapUserUploadOperator(
        task_id="upload", rows=[{"identity": "cust-1"}], outlets=[clevertap_asset(emulator.account_id, "events")]
    )

    with pytest.raises(CleverTapConfigError, match="the task writes profiles"):
        operator.execute({"run_id": "manual__1", "outlet_events": {}})
    assert emulator.stats.records_received == 0


def test_a_dry_run_says_so_in_its_asset_event(emulator, monkeypatch):
    from airflow.sdk.execution_time.context import OutletEventAccessors

    monkeypatch.setenv("AIRFLOW_CONN_CLEVERTAP_DEFAULT", emulator.connection_json())
    profiles = clevertap_asset(emulator.account_id)
    operator = CleverTapUserUploadOperator(
        task_id="upload",
        rows=[{"identity": "cust-1"}, {"identity": None}],
        dry_run=True,
        max_failed_ratio=0.5,
        outlets=[profiles],
    )
    outlet_events = OutletEventAccessors()

    summary = operator.execute({"run_id": "manual__1", "outlet_events": outlet_events})

    assert outlet_events[profiles].extra == {**_counts(summary), "dry_run": True}
    assert (summary["rows_read"], summary["rows_invalid"]) == (2, 1)
    assert emulator.profiles == {}
