"""MariaDB's plan of the state's join stays linear: the sync's state rows, grouped by key, are
looked up by key for each row of the query (``ref`` on the derived table's automatic key), not
scanned whole for each row."""

from __future__ import annotations

import pytest

from airflow_provider_clevertap.sources import get_sql_hook
from airflow_provider_clevertap.state.table import SyncState
from tests.warehouses.scenarios import stage_users, upload, users_sql

pytestmark = pytest.mark.warehouse


def test_the_join_looks_each_key_up(wh, emu):
    if wh.engine.conn_type != "mysql":
        pytest.skip("the plan checked here is MariaDB's (other warehouses: tests/state)")
    stage_users(wh, [f"user-{n}" for n in range(200)])
    upload(wh)
    state = SyncState(get_sql_hook(wh.conn_id), wh.table("state"), "matrix.users", "identity")

    plan = wh.query(f"EXPLAIN {state.joined_query(users_sql(wh))}")

    derived = [step for step in plan if str(step[2]).startswith("<derived")]
    assert derived and derived[0][3] == "ref", plan
