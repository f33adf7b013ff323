"""The example DAGs on a real scheduler, triggered as the UI's Trigger button does: no logical date,
so no data interval (``dag.test()`` would invent one)."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3

import requests

from demo.warehouse import customer_rows, expected_outcome


def test_a_manual_user_sync_run_succeeds_and_sends_every_valid_row(deployment):
    run_id = deployment.trigger("clevertap_user_sync")
    run = deployment.finished_run("clevertap_user_sync", run_id)

    assert run["state"] == "success"
    assert run["logical_date"] is None and run["data_interval_start"] is None  # what made the template fail
    customers = deployment.customers
    expected = expected_outcome(customers)
    identities = {row[1] for row in customer_rows(customers, dt.datetime.now(dt.timezone.utc)) if row[1]}
    # The DAG's docs: a changed sync over the whole table; the first run sends every row with an identity.
    stored = {identity for identity in deployment.emulator.profiles if identity.startswith("cust-")}
    assert stored <= identities and len(stored) == expected["rows_accepted"]

    log = deployment.task_log("clevertap_user_sync", run_id, "upload_profiles")
    # Unpausing also made the scheduler run the latest interval: the rows one run sent, the other
    # found unchanged.
    [summary] = [line for line in log.splitlines() if "CleverTap upload finished:" in line]
    accepted, unchanged = (int(re.search(rf"(\d+) {word}", summary)[1]) for word in ("accepted", "unchanged"))
    assert f"finished: {customers} rows read" in summary
    assert accepted + unchanged == expected["rows_accepted"]
    # The summary names a few of each kind of problem.
    # A row without an identity is named by its place in the read.
    assert re.search(r"invalid e\.g\. \(no identity\): row \d+ of the read: identity column 'customer_id' is null", log)
    assert "refused e.g. cust-" in log


def _midnight(moment: dt.datetime) -> dt.datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def test_a_manual_user_delete_run_deletes_todays_requests_up_to_its_trigger(deployment):
    emulator = deployment.emulator
    today = _midnight(dt.datetime.now(dt.timezone.utc))
    requests_at = {f"del-{offset}": today + dt.timedelta(days=offset) for offset in (-2, -1, 0, 1)}
    uploaded = requests.post(
        f"{emulator.url}/1/upload",
        headers={"X-CleverTap-Account-Id": emulator.account_id, "X-CleverTap-Passcode": emulator.passcode},
        json={"d": [{"type": "profile", "identity": identity, "profileData": {}} for identity in requests_at]},
        timeout=30,
    )
    assert uploaded.ok, uploaded.text
    with sqlite3.connect(deployment.warehouse) as db:
        db.executemany(
            "INSERT INTO staged_deletions VALUES (?, ?)",
            [(identity, at.strftime("%Y-%m-%d %H:%M:%S")) for identity, at in requests_at.items()],
        )

    run_id = deployment.trigger("clevertap_user_delete")
    run = deployment.finished_run("clevertap_user_delete", run_id)

    assert run["state"] == "success", deployment.task_log("clevertap_user_delete", run_id, "delete_profiles")
    assert run["data_interval_start"] is None
    # As the DAG's docs say: from the start of the trigger's day (UTC) up to the trigger.
    run_after = _utc(run["run_after"])
    by_manual_run = {identity for identity, at in requests_at.items() if _midnight(run_after) <= at < run_after}
    # Unpausing also made the scheduler run the latest whole day, which deletes that day's requests.
    by_scheduled_runs = set()
    for other in deployment.api("GET", "/api/v2/dags/clevertap_user_delete/dagRuns").json()["dag_runs"]:
        if other["run_type"] == "scheduled":
            other = deployment.finished_run("clevertap_user_delete", other["dag_run_id"])
            assert other["state"] == "success"
            start, end = _utc(other["data_interval_start"]), _utc(other["data_interval_end"])
            by_scheduled_runs |= {identity for identity, at in requests_at.items() if start <= at < end}

    assert "del-0" in by_manual_run or run_after.date() != today.date()
    assert by_manual_run and not by_manual_run & set(emulator.profiles)
    assert set(requests_at) - by_manual_run - by_scheduled_runs <= set(emulator.profiles)
    assert "del-1" in emulator.profiles  # requested tomorrow: no run has reached it


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
