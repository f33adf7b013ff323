"""The view's endpoints on Airflow's API app, over real runs of the test DAGs (tests/syncs_view/dags)."""

from __future__ import annotations

import sqlite3

import pytest
from _airflow_compat import xcom_values

from syncs_view._auth import READABLE_DAG, RESTRICTED_USER
from syncs_view.conftest import BAD_EMAIL, GOOD, NO_IDENTITY, token_of

ADMIN = "syncs_admin"
LIST = "/clevertap/api/syncs"


def _syncs(airflow_api, user: str = ADMIN) -> dict[tuple[str, str, int], dict]:
    response = airflow_api.get(LIST, headers=token_of(user))
    assert response.status_code == 200, response.text
    return {(sync["dag_id"], sync["task_id"], sync["map_index"]): sync for sync in response.json()["syncs"]}


def _sync(airflow_api, dag_id: str, task_id: str, map_index: int = -1, user: str = ADMIN):
    return airflow_api.get(f"{LIST}/{dag_id}/{task_id}", params={"map_index": map_index}, headers=token_of(user))


def _summary(run) -> dict:
    [summary] = xcom_values(run)
    return summary


@pytest.mark.parametrize("path", [LIST, f"{LIST}/syncs_view_profiles/upload"])
def test_requests_without_a_session_or_with_a_bad_token_get_no_data(airflow_api, path):
    assert airflow_api.get(path).status_code == 401
    refused = airflow_api.get(path, headers={"Authorization": "Bearer not-a-token"})
    assert refused.status_code == 403
    assert "syncs_view" not in refused.text


def test_the_list_and_a_syncs_page_show_the_counts_of_its_runs_summaries(airflow_api, view_runs):
    first, second = view_runs["profiles_first"], view_runs["profiles_second"]
    listed = _syncs(airflow_api)[("syncs_view_profiles", "upload", -1)]
    assert listed["runs_count"] == 2 and listed["kind"] == "profiles" and listed["mode"] == "upsert"
    assert listed["latest"]["run_id"] == second.run_id
    assert listed["latest"]["summary"] == _summary(second)

    page = _sync(airflow_api, "syncs_view_profiles", "upload")
    assert page.status_code == 200, page.text
    runs = page.json()["runs"]
    assert [run["run_id"] for run in runs] == [second.run_id, first.run_id]  # newest first
    assert [run["summary"] for run in runs] == [_summary(second), _summary(first)]
    # What the rows given make of the second run: two sent, one refused, one invalid.
    counts = runs[0]["summary"]
    assert (counts["rows_accepted"], counts["rows_refused"], counts["rows_invalid"]) == (2, 1, 1)
    assert runs[1]["summary"]["rows_accepted"] == len(GOOD)
    assert all(run["state"] == "success" and run["try_number"] == 1 for run in runs)


def test_a_syncs_page_gives_its_latest_failed_rows_and_the_query_that_reads_them_all(airflow_api, view_runs, tmp_path):
    page = _sync(airflow_api, "syncs_view_profiles", "upload").json()
    assert page["failed_rows_run"] == view_runs["profiles_second"].run_id
    assert page["failed_rows"] == _summary(view_runs["profiles_second"])["failed_sample"]
    by_identity = {row["identity"]: row for row in page["failed_rows"]}
    assert set(by_identity) == {BAD_EMAIL["identity"], NO_IDENTITY["identity"]}
    assert by_identity[BAD_EMAIL["identity"]]["code"] is not None and by_identity[None]["code"] is None
    # The query reads every failed row of that run from the sync's failed-rows table.
    warehouse = next(iter(view_runs["warehouse"]))
    with sqlite3.connect(warehouse) as db:
        rows = db.execute(page["failed_rows_query"]).fetchall()
    assert {(row[0], row[1]) for row in rows} == {(row["identity"], row["code"]) for row in page["failed_rows"]}
    assert len(rows) == len(page["failed_rows"])


def test_a_mapped_tasks_partitions_are_shown_apart(airflow_api, view_runs):
    syncs = _syncs(airflow_api)
    partitions = {key: sync for key, sync in syncs.items() if key[0] == READABLE_DAG}
    assert sorted(partitions) == [
        ("syncs_view_partitions", "upload_partition", 0),
        ("syncs_view_partitions", "upload_partition", 1),
    ]
    summaries = {run_summary["rows_read"]: run_summary for run_summary in xcom_values(view_runs["partitions"])}
    for (_, _, map_index), sync in partitions.items():
        assert sync["mapped"] and sync["runs_count"] == 1
        # Partition 0 was given one row, partition 1 two.
        assert sync["latest"]["summary"] == summaries[map_index + 1]
        page = _sync(airflow_api, "syncs_view_partitions", "upload_partition", map_index).json()
        assert [run["summary"]["rows_accepted"] for run in page["runs"]] == [map_index + 1]


def test_a_sync_that_never_ran_is_listed_with_no_runs(airflow_api):
    sync = _syncs(airflow_api)[("syncs_view_never_run", "delete", -1)]
    assert (sync["kind"], sync["runs_count"], sync["latest"]) == ("deletes", 0, None)
    page = _sync(airflow_api, "syncs_view_never_run", "delete")
    assert page.status_code == 200 and page.json()["runs"] == []


def test_failed_runs_show_their_counts_when_the_sync_finished_and_none_when_it_did_not(airflow_api, view_runs):
    syncs = _syncs(airflow_api)
    # Too many failed rows: the task failed after every row was processed, its summary kept.
    failing = syncs[("syncs_view_failing", "upload", -1)]["latest"]
    assert failing["state"] == "failed" and failing["summary"] == _summary(view_runs["failing"])
    assert (failing["summary"]["rows_accepted"], failing["summary"]["rows_refused"]) == (1, 1)
    # No connection: failed before reading a row, no summary.
    broken = syncs[("syncs_view_broken", "upload", -1)]["latest"]
    assert broken["state"] == "failed" and broken["summary"] is None
    assert xcom_values(view_runs["broken"]) == []


def test_a_dry_run_is_shown_as_one(airflow_api, view_runs):
    dry = _syncs(airflow_api)[("syncs_view_dry", "upload", -1)]["latest"]
    assert dry["summary"] == _summary(view_runs["dry"]) and dry["summary"]["dry_run"] is True


def test_a_user_sees_only_the_syncs_of_dags_the_auth_manager_lets_them_read(airflow_api):
    assert {dag_id for dag_id, _, _ in _syncs(airflow_api, RESTRICTED_USER)} == {READABLE_DAG}
    assert len({dag_id for dag_id, _, _ in _syncs(airflow_api)}) > 1
    assert _sync(airflow_api, "syncs_view_profiles", "upload", user=RESTRICTED_USER).status_code == 403
    assert _sync(airflow_api, READABLE_DAG, "upload_partition", 0, user=RESTRICTED_USER).status_code == 200


def test_an_unknown_sync_is_not_found(airflow_api):
    assert _sync(airflow_api, "syncs_view_profiles", "no_such_task").status_code == 404


def test_the_page_and_its_scripts_are_served_without_data(airflow_api):
    page = airflow_api.get("/clevertap/")
    assert page.status_code == 200 and "CleverTap syncs" in page.text
    for asset in ("syncs.js", "chart.js", "theme.js", "syncs.css"):
        assert airflow_api.get(f"/clevertap/static/{asset}").status_code == 200
