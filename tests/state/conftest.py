"""Fixtures of the stateful-sync tests: the emulator over real HTTP, and a warehouse (SQLite or
PostgreSQL, both real) holding the staged users, the state table and the staged deletions."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _sql_warehouse import SqlWarehouse

from airflow_provider_clevertap.emulator import CleverTapEmulator, EmulatorFaults

DAG_FILE = Path(__file__).resolve().parent / "dags" / "state_dags.py"
REFUSED_EMAIL = "not-an-email"  # the emulator refuses it (code 515), as CleverTap does


def user(n: int, email: str | None = None) -> tuple[int, str, str, str]:
    return n, f"user-{n:04d}", email or f"user{n}@example.com", "gold" if n % 3 else "free"


@dataclass
class Warehouse(SqlWarehouse):
    """The test's warehouse: its connection id and table names, and direct SQL for the test itself."""

    conn_id: str = "warehouse"

    @property
    def users(self) -> str:
        return f"{self.prefix}_users"

    @property
    def state(self) -> str:
        return f"{self.prefix}_state"

    @property
    def deletions(self) -> str:
        return f"{self.prefix}_deletions"

    @property
    def orders(self) -> str:
        return f"{self.prefix}_orders"

    def stage_orders(self, count: int) -> list[str]:
        """``count`` orders (event id ``o-NNNN``) of ten customers; returns their ids."""
        self.execute(f"CREATE TABLE {self.orders} (order_id VARCHAR(20), customer_id VARCHAR(20), placed VARCHAR(30))")
        rows = [(f"o-{n:04d}", f"c-{n % 10}", f"2026-03-01 10:{n % 60:02d}:00") for n in range(1, count + 1)]
        self.execute(f"INSERT INTO {self.orders} VALUES (?, ?, ?)", rows)
        return [row[0] for row in rows]

    def stage(self, count: int, refused: Sequence[int] = ()) -> list[str]:
        """``count`` users (those numbered in ``refused`` with an email CleverTap refuses)."""
        self.execute(
            f'CREATE TABLE {self.users} (n INTEGER, identity VARCHAR(40), "Email" VARCHAR(200), plan VARCHAR(20))'
        )
        rows = [user(n, REFUSED_EMAIL if n in refused else None) for n in range(1, count + 1)]
        self.execute(f"INSERT INTO {self.users} VALUES (?, ?, ?, ?)", rows)
        return [row[1] for row in rows]

    def state_rows(self, sync_id: str | None = None) -> dict[str, str]:
        """identity -> fingerprint of the state (of one sync); a key held twice fails the test."""
        where = "" if sync_id is None else f" WHERE sync_id = '{sync_id}'"
        rows = self.query(f"SELECT identity, fingerprint FROM {self.state}{where}")
        held = dict(rows)
        assert len(held) == len(rows), "a key is held twice by one sync"
        return held


@pytest.fixture(scope="module")
def emulator() -> Iterator[CleverTapEmulator]:
    with CleverTapEmulator(account_id="STATE-ACCOUNT", passcode="state-passcode-0123") as running:
        yield running


@pytest.fixture
def emu(emulator: CleverTapEmulator, monkeypatch) -> CleverTapEmulator:
    emulator.configure(faults=EmulatorFaults())  # a test's faults end with it
    emulator.reset()
    monkeypatch.setenv("AIRFLOW_CONN_CLEVERTAP_DEFAULT", emulator.connection_json())
    return emulator


@pytest.fixture(params=["sqlite", "postgres"])
def warehouse(request, monkeypatch, tmp_path) -> Iterator[Warehouse]:
    """A real SQLite file or a real PostgreSQL database, as the DAGs' source connection."""
    if request.param == "sqlite":
        path = request.getfixturevalue("sqlite_warehouse")
        found = Warehouse("sqlite", "t", lambda: sqlite3.connect(path), "?", conn_id="warehouse")
        monkeypatch.setenv("STATE_TEST_SOURCE", found.conn_id)
        monkeypatch.setenv("STATE_TEST_PREFIX", found.prefix)
        yield found
        return
    import psycopg

    uri = request.getfixturevalue("postgres_uri")
    prefix = request.getfixturevalue("postgres_warehouse")  # the warehouse_pg connection, a unique prefix
    found = Warehouse("postgres", prefix, lambda: psycopg.connect(uri), "%s", conn_id="warehouse_pg")
    monkeypatch.setenv("STATE_TEST_SOURCE", found.conn_id)
    monkeypatch.setenv("STATE_TEST_PREFIX", found.prefix)
    try:
        yield found
    finally:
        with psycopg.connect(uri, autocommit=True) as connection:
            for table in (found.users, found.state, f"{found.state}_layout", found.deletions, found.orders):
                connection.execute(f"DROP TABLE IF EXISTS {table}")


@pytest.fixture
def state_dags(dag_runner) -> Callable[..., Any]:
    """``run(dag_id, **kwargs) -> DagRun`` for the DAGs of ``dags/state_dags.py``."""
    return dag_runner(DAG_FILE)


def upload(warehouse: Warehouse, sync_id: str, cls: Any = None, **kwargs: Any) -> Any:
    """A ``changed`` sync (or the ``sync_mode`` given) of the staged users (or the ``sql`` given),
    run outside a DAG (``execute``) under ``sync_id``."""
    from airflow_provider_clevertap.operators import CleverTapUserUploadOperator

    return (cls or CleverTapUserUploadOperator)(
        task_id="upload",
        source_conn_id=warehouse.conn_id,
        state_table=warehouse.state,
        sync_id=sync_id,
        **{"sql": f'SELECT identity, "Email", plan FROM {warehouse.users}', "sync_mode": "changed", **kwargs},
    )


def summaries(run: Any) -> list[dict[str, Any]]:
    """The return values (summaries) of a DAG run's tasks, by map index."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(XComModel)
            .filter(XComModel.dag_id == run.dag_id, XComModel.run_id == run.run_id, XComModel.key == "return_value")
            .order_by(XComModel.map_index)
            .all()
        )
        return [json.loads(row.value) if isinstance(row.value, str) else row.value for row in rows]


@pytest.fixture
def pg_schema(postgres_warehouse):
    """The PostgreSQL hook and a schema of the test's own, dropped afterwards."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    hook = PostgresHook(postgres_conn_id="warehouse_pg")
    hook.run(f"CREATE SCHEMA {postgres_warehouse}")
    yield hook, postgres_warehouse
    hook.run(f"DROP SCHEMA {postgres_warehouse} CASCADE")
