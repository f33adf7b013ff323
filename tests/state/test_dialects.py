"""A stateful sync on a warehouse outside the proven matrix is refused before anything is sent,
unless its connection's extra opts in knowingly."""

from __future__ import annotations

import dataclasses
import json
import sqlite3

import pytest

from airflow_provider_clevertap.state.dialects import ALLOW_UNPROVEN, DIALECTS
from tests.state.conftest import Warehouse, upload


@pytest.fixture
def unproven_sqlite(sqlite_warehouse, monkeypatch) -> Warehouse:
    """SQLite as if the matrix did not run it: how any warehouse outside the matrix is treated."""
    monkeypatch.setitem(DIALECTS, "sqlite", dataclasses.replace(DIALECTS["sqlite"], proven=False))
    return Warehouse("sqlite", "t", lambda: sqlite3.connect(sqlite_warehouse), "?", conn_id="warehouse")


def test_an_unproven_warehouse_is_refused_before_the_first_request(unproven_sqlite, emu):
    warehouse = unproven_sqlite
    warehouse.stage(3)
    with pytest.raises(ValueError, match=r"proven on .*postgres.*not on connection type 'sqlite'") as error:
        upload(warehouse, "proven.sync").execute({"run_id": "r"})
    assert ALLOW_UNPROVEN in str(error.value)
    assert emu.stats.requests == 0 and not warehouse.has_table(warehouse.state)


def test_a_connection_that_opts_in_runs_on_an_unproven_warehouse(unproven_sqlite, sqlite_warehouse, emu, monkeypatch):
    connection = {"conn_type": "sqlite", "host": str(sqlite_warehouse), "extra": {ALLOW_UNPROVEN: True}}
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps(connection))
    warehouse = unproven_sqlite
    warehouse.stage(3)
    assert upload(warehouse, "proven.sync").execute({"run_id": "r"})["rows_accepted"] == 3


def test_every_warehouse_of_the_matrix_is_proven():
    assert {name for name, dialect in DIALECTS.items() if dialect.proven} >= {"postgres", "sqlite", "mysql", "duckdb"}
