"""Whole tasks against a hostile server (tests/_hostile_server.py, real sockets), then the emulator:
an answer that confirms nothing is sent again by the next run, and a server echoing the passcode
never gets it into the exception, XCom or the failed-rows table."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from typing import Any

import pytest
from _hostile_server import json_answer, serving
from _reliability import ACCOUNT_ID, PASSCODE, stage_users
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_clevertap.operators import CleverTapUserUploadOperator
from tests.state.conftest import Warehouse
from tests.state.test_recorder import events, recorded, stored

CONNECTION = "AIRFLOW_CONN_CLEVERTAP_DEFAULT"


def hostile_connection(url: str) -> str:
    return json.dumps({"conn_type": "clevertap", "login": ACCOUNT_ID, "password": PASSCODE, "host": url})


@pytest.mark.parametrize("body", [{}, [], {"status": "partial"}], ids=["object", "list", "partial-no-counts"])
def test_events_a_200_confirmed_nothing_of_are_sent_again_by_the_next_run(
    body, emu, sqlite_warehouse, monkeypatch, context
):
    warehouse = Warehouse("sqlite", "t", lambda: sqlite3.connect(sqlite_warehouse), "?", conn_id="warehouse")
    ids = warehouse.stage_orders(10)

    with serving() as server:
        server.answer = json_answer(200, body)
        monkeypatch.setenv(CONNECTION, hostile_connection(server.url))
        with pytest.raises(AirflowException, match="10 rows in 1 batches are unconfirmed") as raised:
            events(warehouse).execute(context)
        assert not isinstance(raised.value, AirflowFailException)  # Airflow's retries send them again
        assert len(server.requests) == 1

    assert recorded(warehouse) == set()  # the state claims nothing CleverTap did not confirm
    monkeypatch.setenv(CONNECTION, emu.connection_json())
    summary = events(warehouse).execute(context)

    assert (summary["rows_accepted"], summary["rows_unchanged"], summary["rows_unconfirmed"]) == (10, 0, 0)
    assert stored(emu) == Counter(dict.fromkeys(ids, 1))
    assert recorded(warehouse) == set(ids)


class KeptXComs:
    """A task instance's ``xcom_push``, keeping what is pushed."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def test_a_run_failed_by_unconfirmed_rows_keeps_its_summary_as_the_xcom(sqlite_warehouse, monkeypatch, context):
    stage_users(sqlite_warehouse, 3)
    task_instance = KeptXComs()
    with serving() as server:
        server.answer = json_answer(200, {})
        monkeypatch.setenv(CONNECTION, hostile_connection(server.url))
        with pytest.raises(AirflowException, match="3 rows in 1 batches are unconfirmed"):
            upload().execute({**context, "ti": task_instance})

    summary = task_instance.pushed["return_value"]  # the syncs view shows the failed run's counts
    assert (summary["rows_read"], summary["rows_accepted"], summary["rows_unconfirmed"]) == (3, 0, 3)


def upload(**kwargs: Any) -> CleverTapUserUploadOperator:
    return CleverTapUserUploadOperator(
        task_id="upload",
        source_conn_id="warehouse",
        sql='SELECT identity, "Email", plan FROM users',
        failed_rows_table="hostile_failed",
        max_failed_ratio=1.0,
        **kwargs,
    )


def test_a_refusal_echoing_the_passcode_reaches_neither_xcom_nor_the_table(sqlite_warehouse, monkeypatch, context):
    stage_users(sqlite_warehouse, 3)
    with serving() as server:
        server.answer = json_answer(
            200,
            {
                "status": "partial",
                "processed": 2,
                "unprocessed": [{"code": 515, "error": f"passcode {PASSCODE} refused. Skipped record number : 2"}],
            },
        )
        monkeypatch.setenv(CONNECTION, hostile_connection(server.url))
        summary = upload().execute(context)

    assert summary["rows_refused"] == 1
    assert [problem["error"] for problem in summary["failed_sample"]] == ["passcode *** refused"]
    assert PASSCODE not in json.dumps(summary)
    with sqlite3.connect(sqlite_warehouse) as db:
        table = db.execute("SELECT * FROM hostile_failed").fetchall()
    assert len(table) == 1 and "passcode *** refused" in table[0]
    assert PASSCODE not in repr(table)


def test_a_400_echoing_the_passcode_fails_the_task_without_it(sqlite_warehouse, monkeypatch, context, task_logs):
    stage_users(sqlite_warehouse, 3)
    with serving() as server:
        server.answer = json_answer(400, {"status": "fail", "error": f"X-CleverTap-Passcode {PASSCODE} is malformed"})
        monkeypatch.setenv(CONNECTION, hostile_connection(server.url))
        with pytest.raises(Exception) as raised:
            upload().execute(context)

    assert "X-CleverTap-Passcode *** is malformed" in str(raised.value)
    assert PASSCODE not in str(raised.value) and PASSCODE not in repr(raised.value)
    assert PASSCODE not in task_logs.text
