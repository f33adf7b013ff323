"""OpenLineage of real DAG runs: the events Airflow's OpenLineage listener emitted for our tasks.

The DAGs run with ``dag.test()`` against the emulator and a PostgreSQL warehouse, the listener
writing every event to a file (OpenLineage's file transport), which the tests read back.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import psycopg
import pytest

from tests.lineage.conftest import task_events

DAGS = Path(__file__).with_name("dags") / "lineage_pg_sync.py"
FACETS = Path(__file__).resolve().parents[2] / "airflow_provider_clevertap" / "facets"
CUSTOMERS = [
    ("cust-1", "one@example.com", "gold"),
    ("cust-2", "two@example.com", None),
    ("cust-3", "not-an-email", "silver"),  # the emulator refuses it, as CleverTap does
    (None, "nobody@example.com", "gold"),  # no identity: invalid, never sent
    ("cust-5", "five@example.com", "bronze"),
]


ORDERS = [
    ("o-1", "cust-1", 30, "2026-03-01T10:00:00Z"),
    ("o-2", "cust-2", 12, "2026-03-01T11:00:00Z"),
    ("o-3", "cust-1", 7, None),  # no time: invalid, never sent
]


@pytest.fixture
def staged(postgres_uri, postgres_warehouse, monkeypatch):
    """The DAGs' staging tables in PostgreSQL, under this test's prefix; dropped afterwards."""
    prefix = postgres_warehouse
    monkeypatch.setenv("LINEAGE_TABLE_PREFIX", prefix)
    with psycopg.connect(postgres_uri, autocommit=True) as db:
        db.execute(f"CREATE TABLE {prefix}_customers (customer_id TEXT, email TEXT, plan TEXT)")
        for row in CUSTOMERS:
            db.execute(f"INSERT INTO {prefix}_customers VALUES (%s, %s, %s)", row)
        db.execute(f"CREATE TABLE {prefix}_erasures (customer_id TEXT)")
        db.execute(f"INSERT INTO {prefix}_erasures VALUES ('cust-1'), ('cust-2')")
        db.execute(f"CREATE TABLE {prefix}_orders (order_id TEXT, customer_id TEXT, amount INTEGER, ordered_at TEXT)")
        for row in ORDERS:
            db.execute(f"INSERT INTO {prefix}_orders VALUES (%s, %s, %s, %s)", row)
    yield prefix
    with psycopg.connect(postgres_uri, autocommit=True) as db:
        for table in ("customers", "erasures", "failed", "orders", "state", "state_layout"):
            db.execute(f"DROP TABLE IF EXISTS {prefix}_{table}")


def _dataset(datasets, name):
    [dataset] = [dataset for dataset in datasets if dataset["name"] == name]
    return dataset


def _validate(facet: dict, facet_class: str) -> None:
    """Check a facet against the JSON schema we ship (its own part: the OpenLineage base is remote)."""
    schema = json.loads((FACETS / f"{facet_class}.json").read_text())
    jsonschema.validate(facet, schema["$defs"][facet_class]["allOf"][1])
    assert facet["_schemaURL"].endswith(f"/{facet_class}.json#/$defs/{facet_class}")


def test_a_sync_reports_what_it_read_what_it_wrote_and_its_counts(run_dag, staged, emulator):
    outcome = run_dag(DAGS, "lineage_pg_sync")

    assert outcome["state"] == "success", outcome["log"][-3000:]
    events = task_events(outcome, "lineage_pg_sync.upload_profiles")
    assert set(events) >= {"START", "COMPLETE"}
    customers = f"test.public.{staged}_customers"
    clevertap = {"namespace": f"clevertap://{emulator.url.split('://')[1]}", "name": f"{emulator.account_id}/profiles"}
    for event in (events["START"], events["COMPLETE"]):
        [source] = event["inputs"]
        assert (source["namespace"], source["name"]) == ("postgres://127.0.0.1:5432", customers)
        assert [field["name"] for field in source["facets"]["schema"]["fields"]] == ["customer_id", "email", "plan"]
        output = _dataset(event["outputs"], clevertap["name"])
        assert output["namespace"] == clevertap["namespace"]
        assert "SELECT customer_id, email, plan" in event["job"]["facets"]["sql"]["query"]

    complete = events["COMPLETE"]
    # Known once the sync has read the query's columns: the CleverTap fields it wrote.
    fields = _dataset(complete["outputs"], clevertap["name"])["facets"]["schema"]["fields"]
    assert [field["name"] for field in fields] == ["identity", "profileData"]
    assert [field["name"] for field in fields[1]["fields"]] == ["Email", "Plan"]

    summary = outcome["summaries"]["upload_profiles"]
    sync = complete["run"]["facets"]["clevertap_sync"]
    _validate(sync, "CleverTapSyncRunFacet")
    assert sync["counts"] == {key: value for key, value in summary.items() if type(value) is int}
    assert (sync["counts"]["rows_read"], sync["counts"]["rows_accepted"]) == (5, 3)
    assert (sync["counts"]["rows_refused"], sync["counts"]["rows_invalid"]) == (1, 1)
    assert (sync["action"], sync["objectKind"], sync["dryRun"]) == ("upload", "profiles", False)

    failed = complete["run"]["facets"]["clevertap_failed_rows"]
    _validate(failed, "CleverTapFailedRowsRunFacet")
    assert failed["failedRowsTable"] == f"{staged}_failed"
    assert (failed["rowsFailed"], failed["rowsInvalid"], failed["rowsRefused"]) == (2, 1, 1)
    # The failed-rows table is written, so it is an output too, named as the SQL parser names tables.
    assert _dataset(complete["outputs"], f"test.public.{staged}_failed")["namespace"] == "postgres://127.0.0.1:5432"

    delete = task_events(outcome, "lineage_pg_sync.delete_profiles")["COMPLETE"]
    assert [dataset["name"] for dataset in delete["inputs"]] == [f"test.public.{staged}_erasures"]
    assert [dataset["name"] for dataset in delete["outputs"]] == [clevertap["name"]]
    deleted = delete["run"]["facets"]["clevertap_sync"]
    assert (deleted["action"], deleted["counts"]["rows_accepted"]) == ("delete", 2)
    assert "clevertap_failed_rows" not in delete["run"]["facets"]

    assert emulator.passcode not in outcome["openlineage_text"]
    assert emulator.passcode not in outcome["log"]


def test_a_failed_sync_reports_its_counts_and_where_the_rows_went(run_dag, staged, emulator):
    outcome = run_dag(DAGS, "lineage_pg_sync_failing")

    assert outcome["tasks"]["upload_profiles"] == "failed"
    fail = task_events(outcome, "lineage_pg_sync_failing.upload_profiles")["FAIL"]
    facets = fail["run"]["facets"]
    assert facets["clevertap_sync"]["counts"]["rows_accepted"] == 3
    assert facets["clevertap_failed_rows"]["failedRowsTable"] == f"{staged}_failed"
    assert "max_failed_ratio" in facets["errorMessage"]["message"]
    # Nothing downstream is told the profiles changed: a failed task emits no asset event.
    assert outcome["asset_events"] == []


def test_an_event_sync_reports_the_accounts_events_dataset_and_its_counts(run_dag, staged, emulator):
    outcome = run_dag(DAGS, "lineage_pg_events")

    assert outcome["state"] == "success", outcome["log"][-3000:]
    events = task_events(outcome, "lineage_pg_events.upload_events")
    events_name = f"{emulator.account_id}/events"
    for event in (events["START"], events["COMPLETE"]):
        [source] = event["inputs"]
        assert source["name"] == f"test.public.{staged}_orders"
        [output] = event["outputs"]
        assert (output["namespace"], output["name"]) == (f"clevertap://{emulator.url.split('://')[1]}", events_name)

    complete = events["COMPLETE"]
    # The stateful sync's mapper is wrapped by the change filter: the schema still comes through.
    fields = complete["outputs"][0]["facets"]["schema"]["fields"]
    assert [field["name"] for field in fields] == ["identity", "ts", "evtName", "evtData"]
    assert [field["name"] for field in fields[3]["fields"]] == ["Order", "Amount"]
    sync = complete["run"]["facets"]["clevertap_sync"]
    _validate(sync, "CleverTapSyncRunFacet")
    assert (sync["action"], sync["objectKind"]) == ("event upload", "events")
    summary = outcome["summaries"]["upload_events"]
    assert sync["counts"] == {key: value for key, value in summary.items() if type(value) is int}
    assert (sync["counts"]["rows_accepted"], sync["counts"]["rows_invalid"]) == (2, 1)
    assert sync["counts"]["rows_maybe_duplicated"] == 0
    assert complete["run"]["facets"]["clevertap_failed_rows"]["rowsInvalid"] == 1

    [asset_event] = outcome["asset_events"]
    assert asset_event["uri"] == f"clevertap://{emulator.account_id}/events"
    assert asset_event["extra"]["rows_accepted"] == 2
    assert sorted(emulator.events()) == ["cust-1", "cust-2"]
