"""MariaDB's plan of the state's read stays linear: each row of the query looks its key's state
rows up on the state's index (``ref``), for its fingerprints and for whether the warehouse holds it
unchanged; the state is never scanned whole, nor materialized grouped by key and probed
(docs/decisions/23d-2-mysql-state-by-lookup.md)."""

from __future__ import annotations

import pytest

from airflow_provider_clevertap.sources import get_sql_hook
from airflow_provider_clevertap.state.table import SyncState, describe
from tests.warehouses.scenarios import stage_users, upload, users_sql

pytestmark = pytest.mark.warehouse


@pytest.mark.parametrize("match_key_only", [False, True], ids=["profiles", "events"])
def test_each_row_looks_its_key_up_on_the_state_index(wh, emu, match_key_only):
    if wh.engine.conn_type != "mysql":
        pytest.skip("the plan checked here is MariaDB's (other warehouses: tests/state)")
    stage_users(wh, [f"user-{n}" for n in range(200)])
    upload(wh)
    hook = get_sql_hook(wh.conn_id)
    state = SyncState(hook, wh.table("state"), "matrix.users", "identity")
    sql = users_sql(wh)
    with state.read(sql, None, match_key_only=match_key_only, salt="ab", shape=describe(hook, sql, None)):
        held = state._held(match_key_only, "ab")  # as the read built it, with the query's shape
    assert held is not None

    query = state.joined_query(sql, held=held, salt="ab")
    plan = wh.query(f"EXPLAIN {query.removeprefix(state.dialect.lookup_prefix)}")  # EXPLAIN takes no SET

    on_state = [step for step in plan if step[2] == "s"]
    assert len(on_state) == 3, plan  # the two fingerprints, and whether it is held
    assert all(step[1] == "DEPENDENT SUBQUERY" and step[3] == "ref" for step in on_state), plan
    assert all(str(step[5]).endswith("_sync_key") for step in on_state), plan
    assert not [step for step in plan if str(step[2]).startswith("<derived")], plan
