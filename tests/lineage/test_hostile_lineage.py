"""The OpenLineage failure event of a sync whose server echoes the passcode: the event carries the
error, without the passcode (a real DAG run, the real listener, a hostile server on real sockets)."""

from __future__ import annotations

import json

from _hostile_server import json_answer, serving

from tests.lineage.conftest import task_events
from tests.lineage.test_openlineage import DAGS, staged  # noqa: F401 - the staging fixture


def test_a_server_echoing_the_passcode_leaves_it_out_of_the_failure_event(run_dag, staged, emulator, monkeypatch):  # noqa: F811
    with serving() as server:
        server.answer = json_answer(
            400, {"status": "fail", "error": f"X-CleverTap-Passcode {emulator.passcode} refused"}
        )
        connection = {
            "conn_type": "clevertap",
            "login": emulator.account_id,
            "password": emulator.passcode,
            "host": server.url,
        }
        monkeypatch.setenv("AIRFLOW_CONN_CLEVERTAP_DEFAULT", json.dumps(connection))
        outcome = run_dag(DAGS, "lineage_pg_sync_failing")

    assert outcome["tasks"]["upload_profiles"] == "failed"
    fail = task_events(outcome, "lineage_pg_sync_failing.upload_profiles")["FAIL"]
    assert "X-CleverTap-Passcode *** refused" in fail["run"]["facets"]["errorMessage"]["message"]
    assert emulator.passcode not in outcome["openlineage_text"]
    assert emulator.passcode not in outcome["log"]
