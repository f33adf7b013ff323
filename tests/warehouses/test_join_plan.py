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
    plan = wh.query(f"EXPLAIN {query}")

    on_state = [step for step in plan if step[2] == "s"]
    assert len(on_state) == 3, plan  # the two fingerprints, and whether it is held
    assert all(step[1] == "DEPENDENT SUBQUERY" and step[3] == "ref" for step in on_state), plan
    assert all(str(step[5]).endswith("_sync_key") for step in on_state), plan
    assert not [step for step in plan if str(step[2]).startswith("<derived")], plan


def test_a_first_run_reads_its_query_alone_and_later_runs_look_up_with_the_cache_off(wh, emu, monkeypatch):
    """A state holding nothing of the sync is not looked up row by row (three lookups a row, all
    for nothing); once it holds the sync's rows, the statement that reads them turns MariaDB's
    subquery cache off for itself (``Dialect.lookup_prefix``; tests/warehouses/test_keys.py shows
    what the cache gets wrong)."""
    if wh.engine.conn_type != "mysql":
        pytest.skip("only where each row looks its state up (MariaDB/MySQL)")
    from airflow_provider_clevertap.state import table as state_table

    stage_users(wh, [f"user-{n}" for n in range(20)])
    queries: list[str] = []
    streamed = state_table.sql_source

    def recording(hook, query, *args, **kwargs):
        queries.append(query)
        return streamed(hook, query, *args, **kwargs)

    monkeypatch.setattr(state_table, "sql_source", recording)
    state_name = wh.table("state")
    assert upload(wh)["rows_accepted"] == 20
    assert state_name not in queries[-1]  # the first run: the query and its keys and hashes only
    assert upload(wh)["rows_unchanged"] == 20
    assert state_name in queries[-1]
    assert queries[-1].startswith("/*M! SET STATEMENT optimizer_switch='subquery_cache=off' FOR */ SELECT")
