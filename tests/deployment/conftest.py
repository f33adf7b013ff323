"""One real Airflow deployment for the whole test session: api-server, scheduler and dag-processor
(LocalExecutor) on free ports, a PostgreSQL metadata database of its own, the example DAGs, and the
emulator as the ``clevertap_default`` connection.

Tests drive it as a user does: through the REST API the UI calls (trigger, unpause, test a
connection, read the form), and read the task logs the UI shows. Starting it takes about a minute,
so every test of the directory shares it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from _browser import browser  # noqa: F401  (the fixture, for the UI tests)
from _processes import airflow_cli, airflow_components, free_port

from airflow_provider_clevertap.emulator import CleverTapEmulator
from demo.warehouse import build_warehouse

ROOT = Path(__file__).resolve().parents[2]
# An overall bound for a busy machine, not a wait: every poll returns as soon as its answer is there.
DEADLINE = 600.0
CUSTOMERS = 1000  # enough for both kinds of problem (see demo.warehouse.expected_outcome)
# The deployment's users: the tests drive it as admin; a viewer may only read.
ROLES = {"admin": "admin", "viewer": "viewer"}


@dataclass
class Deployment:
    """A running Airflow, and what the tests need to drive it."""

    url: str
    home: Path
    env: dict[str, str]
    emulator: CleverTapEmulator
    warehouse: Path
    customers: int
    component_logs: list[Path]
    # The simple auth manager's users (see ROLES) and their passwords.
    users: dict[str, str]
    # What /ui/connections/hook_meta answered to the deployment's first request (see the fixture).
    connection_forms: list[dict[str, Any]] = field(default_factory=list)
    _session: requests.Session = field(default_factory=requests.Session)

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self._session.request(method, f"{self.url}{path}", timeout=120, **kwargs)

    def wait_for(self, what: str, condition: Callable[[], Any]) -> Any:
        """Poll ``condition`` until it returns something other than None."""
        started = time.monotonic()
        while (found := condition()) is None:
            if time.monotonic() - started > DEADLINE:
                logs = "\n".join(f"--- {log.name}\n{log.read_text()[-4000:]}" for log in self.component_logs)
                pytest.fail(f"Airflow did not {what} within {DEADLINE:.0f} s\n{logs}")
            time.sleep(0.5)
        return found

    def wait_until_parsed(self, dag_id: str) -> None:
        self.wait_for(f"parse {dag_id}", lambda: True if self.api("GET", f"/api/v2/dags/{dag_id}").ok else None)

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Trigger a run as the UI's Trigger button does (no logical date) and unpause the DAG; its run id."""
        self.wait_until_parsed(dag_id)
        response = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        assert response.status_code == 200, response.text
        unpaused = self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        assert unpaused.status_code == 200, unpaused.text
        return response.json()["dag_run_id"]

    def finished_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """The run once it has succeeded or failed."""

        def finished() -> dict[str, Any] | None:
            run = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").json()
            return run if run.get("state") in ("success", "failed") else None

        return self.wait_for(f"finish {dag_id} {run_id}", finished)

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """The task's log as the UI shows it, read through the REST API: one line per record."""
        response = self.api(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            params={"full_content": "true"},
        )
        assert response.status_code == 200, response.text
        return "\n".join(
            f"{record.get('level', '')} {record.get('event', '')}".strip() if isinstance(record, dict) else str(record)
            for record in response.json()["content"]
        )


@pytest.fixture(scope="session")
def metadata_database(postgres_uri) -> Iterator[str]:
    """A PostgreSQL database of the deployment's own, dropped at the end."""
    import psycopg

    name = f"airflow_deploy_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_uri, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    parts = urlsplit(postgres_uri)
    try:
        yield urlunsplit(("postgresql+psycopg2", parts.netloc, f"/{name}", "", ""))
    finally:
        with psycopg.connect(postgres_uri, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def deployment(metadata_database, tmp_path_factory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("deployment")
    home = tmp / "airflow"
    home.mkdir()
    port = free_port()
    # Built for "now": the sync's rows are current, whatever the day the suite runs.
    warehouse = build_warehouse(tmp / "warehouse.db", CUSTOMERS, dt.datetime.now(dt.timezone.utc))
    account = f"DEPLOY-{uuid.uuid4().hex[:8].upper()}"
    users = {name: f"{name}-{uuid.uuid4().hex[:12]}" for name in ROLES}
    passwords = home / "simple_auth_manager_passwords.json"
    passwords.write_text(json.dumps(users))
    with CleverTapEmulator(account_id=account, passcode=f"deploy-passcode-{uuid.uuid4().hex}") as emulator:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "_AIRFLOW"))}
        env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_database,
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
                # Signed-in users, as a real deployment has them: requests without a session get no data.
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{name}:{role}" for name, role in ROLES.items()),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
                "AIRFLOW__API__PORT": str(port),
                "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                # The README's remedy for Airflow's "Skipping masking for a secret as it's too
                # short" (the region code): tests/deployment/test_task_logs.py checks it holds.
                "AIRFLOW__LOGGING__MIN_LENGTH_MASKED_SECRET": "3",
                # As the form stores it: a Region (ignored, Host wins) in the extra.
                "AIRFLOW_CONN_CLEVERTAP_DEFAULT": json.dumps(
                    {**json.loads(emulator.connection_json()), "extra": {"region": "in1"}}
                ),
                "AIRFLOW_CONN_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(warehouse)}),
                "CLEVERTAP_ACCOUNT_ID": emulator.account_id,
                "PYTHONPATH": str(ROOT),
            }
        )
        airflow_cli(env, "db", "migrate")
        airflow_cli(env, "pools", "set", "clevertap", "15", "CleverTap: concurrent requests per account")
        with airflow_components(env, tmp) as logs:
            running = Deployment(f"http://127.0.0.1:{port}", home, env, emulator, warehouse, CUSTOMERS, logs, users)
            token = running.wait_for("start the API server", lambda: _token(running))
            running._session.headers["Authorization"] = f"Bearer {token}"
            # The connection forms first, as a user's first visit to the connections page asks: 3.1's
            # API server builds them once, and without any provider's extra fields once a hook was
            # imported in that process before (by a connection test, say). See the README.
            forms = running.api("GET", "/ui/connections/hook_meta")
            assert forms.status_code == 200, forms.text
            running.connection_forms = forms.json()
            yield running


def _token(running: Deployment) -> str | None:
    """The admin's JWT from the simple auth manager, once the API server answers."""
    try:
        response = running.api("POST", "/auth/token", json={"username": "admin", "password": running.users["admin"]})
    except requests.ConnectionError:
        return None
    return response.json()["access_token"] if response.status_code == 201 else None
