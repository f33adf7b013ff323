"""Against a real Airflow (API server, scheduler, DAG processor, LocalExecutor): a successful profile
sync makes the scheduler run ``clevertap_audience_refresh``, which reads the counts from the event.

The example DAGs run as deployed: parsed by the DAG processor, the sync triggered from the CLI,
the downstream run created by the scheduler from the Asset event, nothing run by the test itself.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _processes import airflow_cli, airflow_components, free_port

from demo.warehouse import build_warehouse

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 900.0  # seconds for the whole chain, on a busy machine; the test returns as soon as it is done


@pytest.fixture
def airflow_env(emulator, tmp_path) -> dict[str, str]:
    port = free_port()
    warehouse = build_warehouse(tmp_path / "warehouse.db", 200, dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc))
    home = tmp_path / "airflow"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "_AIRFLOW"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW_CONN_CLEVERTAP_DEFAULT": emulator.connection_json(),
            "AIRFLOW_CONN_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(warehouse)}),
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


@pytest.fixture
def running_airflow(airflow_env, tmp_path) -> Iterator[dict[str, str]]:
    airflow_cli(airflow_env, "db", "migrate")
    airflow_cli(airflow_env, "pools", "set", "clevertap", "15", "CleverTap: concurrent requests per account")
    with airflow_components(airflow_env, tmp_path):
        yield airflow_env


def _metadata(env: dict[str, str], sql: str, *parameters: object) -> list[tuple]:
    # The scheduler writes this database meanwhile: wait for its locks rather than fail.
    with sqlite3.connect(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///"), timeout=60) as db:
        return db.execute(sql, parameters).fetchall()


def _task_logs(env: dict[str, str], dag_id: str, run_id: str) -> str:
    """The end of each task log of one DAG run."""
    logs = sorted((Path(env["AIRFLOW_HOME"]) / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}").glob("*/*.log"))
    return "\n".join(f"--- {log}\n{log.read_text()[-3000:]}" for log in logs) or f"no task log of {dag_id} {run_id}"


def _wait_for(what: str, condition, tmp_path: Path) -> object:
    started = time.monotonic()
    while (found := condition()) is None:
        if time.monotonic() - started > DEADLINE:
            logs = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in tmp_path.glob("*.log"))
            pytest.fail(f"Airflow did not {what} within {DEADLINE:.0f} s\n{logs}")
        time.sleep(1)
    return found


def test_a_successful_sync_makes_the_scheduler_run_the_audience_refresh(running_airflow, emulator, tmp_path):
    env = running_airflow

    def parsed():
        rows = _metadata(
            env, "SELECT dag_id FROM dag WHERE dag_id IN ('clevertap_user_sync', 'clevertap_audience_refresh')"
        )
        return rows if len(rows) == 2 else None

    _wait_for("parse the example DAGs", parsed, tmp_path)
    airflow_cli(env, "dags", "trigger", "clevertap_user_sync", "--conf", '{"full_refresh": true}')
    airflow_cli(env, "dags", "unpause", "clevertap_audience_refresh")
    airflow_cli(env, "dags", "unpause", "clevertap_user_sync")

    def refreshed():
        rows = _metadata(
            env,
            "SELECT run_id, run_type, state FROM dag_run WHERE dag_id = 'clevertap_audience_refresh'"
            " AND state IN ('success', 'failed')",
        )
        return rows[0] if rows else None

    # A failed run ends the wait: its task's log says why.
    run_id, run_type, state = _wait_for("run the audience refresh", refreshed, tmp_path)

    assert state == "success", _task_logs(env, "clevertap_audience_refresh", run_id)
    assert run_type == "asset_triggered"
    [(value,)] = _metadata(
        env,
        "SELECT value FROM xcom WHERE dag_id = 'clevertap_audience_refresh' AND run_id = ? AND key = 'return_value'",
        run_id,
    )
    result = json.loads(value)
    result = json.loads(result) if isinstance(result, str) else result
    # The counts came from the sync's asset event: what the emulator stored.
    assert result["profiles_updated"] == len(emulator.profiles) > 0
