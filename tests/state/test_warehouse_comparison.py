"""Rows the warehouse itself knows unchanged never stream to the task: event keys the state holds
(SQLite and PostgreSQL), and on PostgreSQL profile rows whose hash the state recorded. They are
counted, in the snapshot the other rows stream from, and reported unchanged. What streams is read
straight from ``SyncState.read``; what the emulator received is the evidence of what was sent."""

from __future__ import annotations

from airflow_provider_clevertap.sources import get_sql_hook
from airflow_provider_clevertap.state import SyncState
from airflow_provider_clevertap.state.changes import fingerprint_key
from airflow_provider_clevertap.state.dialects import DISPUTED
from airflow_provider_clevertap.state.table import describe
from tests.state.conftest import upload

SYNC_ID = "comparison.sync"
USERS = 20
CONTEXT = {"run_id": "manual__comparison"}


def run(warehouse, **kwargs):
    return upload(warehouse, SYNC_ID, **kwargs).execute(CONTEXT)


def streamed(warehouse, *, match_key_only=False, **mapping) -> tuple[list[str], int]:
    """The identities the state's read streams, and how many rows the warehouse counted unchanged."""
    hook = get_sql_hook(warehouse.conn_id)
    sql = f'SELECT identity, "Email", plan FROM {warehouse.users}'
    options = upload(warehouse, SYNC_ID, **mapping).mapping_options()
    salt = fingerprint_key([*options, describe(hook, sql, None)]).hex()  # as the operator keys it
    state = SyncState(hook, warehouse.state, SYNC_ID, "identity")
    with state.read(sql, None, match_key_only=match_key_only, salt=salt) as source:
        return sorted(row[0] for row in source.rows), source.unchanged


def edit(warehouse, *numbers: int) -> list[str]:
    identities = [f"user-{n:04d}" for n in numbers]
    for identity in identities:
        warehouse.execute(f"UPDATE {warehouse.users} SET plan = 'edited' WHERE identity = '{identity}'")
    return identities


def test_only_the_edited_rows_leave_postgres_and_every_row_is_accounted_for(warehouse, emu):
    warehouse.stage(USERS)
    assert run(warehouse)["rows_accepted"] == USERS
    edited = edit(warehouse, 3, 11)

    rows, unchanged = streamed(warehouse)
    if warehouse.kind == "postgres":
        assert (rows, unchanged) == (edited, USERS - 2)
    else:  # SQLite has no hash of a row: every row streams, and Python compares fingerprints
        assert (len(rows), unchanged) == (USERS, 0)

    before = emu.stats.records_received
    summary = run(warehouse)
    assert (summary["rows_read"], summary["rows_accepted"], summary["rows_unchanged"]) == (USERS, 2, USERS - 2)
    assert emu.stats.records_received - before == 2
    assert emu.profile(edited[0])["profileData"]["plan"] == "edited"


def test_another_mapping_hashes_every_row_differently_so_every_row_streams(warehouse, emu):
    warehouse.stage(USERS)
    run(warehouse, property_columns=["Email"])
    assert streamed(warehouse, property_columns=["Email"])[1] == (USERS if warehouse.kind == "postgres" else 0)
    assert streamed(warehouse, property_columns=["Email", "plan"]) == (
        sorted(f"user-{n:04d}" for n in range(1, USERS + 1)),
        0,
    )


def test_event_keys_the_state_holds_stay_in_the_warehouse(warehouse, emu):
    warehouse.stage(USERS)
    run(warehouse)
    edit(warehouse, 5)  # an event is sent once: an edit of a held key changes nothing
    assert streamed(warehouse, match_key_only=True) == ([], USERS)


def test_a_key_two_runs_recorded_differently_streams(warehouse, emu):
    """Two rows of the key with different hashes, or (PostgreSQL, one row a key) its disputed row."""
    warehouse.stage(USERS)
    run(warehouse)
    if warehouse.kind == "postgres":
        warehouse.execute(
            f"UPDATE {warehouse.state} SET fingerprint = '{DISPUTED}', row_hash = NULL WHERE identity = 'user-0007'"
        )
    else:
        warehouse.execute(
            f"INSERT INTO {warehouse.state} (sync_id, row_key, identity, fingerprint, row_hash, synced_at, run_id) "
            f"SELECT sync_id, row_key, identity, fingerprint, 'another run', synced_at, run_id FROM {warehouse.state} "
            "WHERE identity = 'user-0007'"
        )
    rows, unchanged = streamed(warehouse)
    assert "user-0007" in rows
    assert unchanged == (USERS - 1 if warehouse.kind == "postgres" else 0)


def test_state_rows_without_a_hash_stream_and_are_compared_by_fingerprint(warehouse, emu):
    """Rows with no hash are judged in Python."""
    warehouse.stage(USERS)
    assert run(warehouse)["rows_accepted"] == USERS
    warehouse.execute(f"UPDATE {warehouse.state} SET row_hash = NULL")

    assert streamed(warehouse)[1] == 0
    before = emu.stats.records_received
    summary = run(warehouse)
    assert (summary["rows_unchanged"], summary["rows_accepted"]) == (USERS, 0)
    assert emu.stats.records_received == before
