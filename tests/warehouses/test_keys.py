"""Identities and event ids compare byte for byte on every warehouse: ones that differ only by
case or accent are different keys; non-ASCII ones round-trip; one longer than the state holds is
invalid before it is sent, and the rest of the run goes on."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_clevertap.exceptions import CleverTapConfigError
from airflow_provider_clevertap.operators import CleverTapUserDeleteOperator
from airflow_provider_clevertap.state.dialects import KEY_LENGTH
from tests.warehouses.scenarios import CONTEXT, accounted, stage_users, state_identities, upload, users_sql

pytestmark = pytest.mark.warehouse

LOOKALIKES = ["Alice@Example.com", "alice@example.com", "jose", "josé", "ch_3NaBc", "ch_3Nabc", "Ünïcødé-用户-🙂"]


def test_identities_differing_only_by_case_or_accent_are_distinct_profiles(wh, emu):
    users = stage_users(wh, LOOKALIKES)
    first = upload(wh, "mirror")
    assert first["rows_accepted"] == len(LOOKALIKES)
    assert set(emu.profiles) == set(LOOKALIKES)
    assert state_identities(wh) == sorted(LOOKALIKES)

    again = upload(wh, "mirror")  # nothing changed: nothing sent, every key matched exactly
    assert (again["rows_unchanged"], again["rows_accepted"]) == (len(LOOKALIKES), 0)

    # By number: the staged table keeps the warehouse's default collation (MariaDB's folds case and
    # accents), as a user's would; only the state must tell the keys apart.
    gone = [LOOKALIKES.index(identity) + 1 for identity in ("jose", "alice@example.com")]
    wh.execute(f"DELETE FROM {users} WHERE n IN ({gone[0]}, {gone[1]})")
    summary = upload(wh, "mirror", max_delete_ratio=0.5)
    assert summary["profiles_deleted"] == 2
    assert set(emu.profiles) == set(LOOKALIKES) - {"jose", "alice@example.com"}


def test_identities_with_the_characters_json_escapes_are_recorded_as_they_are(wh, emu):
    """The state is written from JSON on PostgreSQL, DuckDB and MariaDB: each character its text
    escapes comes back as it was sent, and the next run finds every row unchanged."""
    escaped = ['say "hi"', "back\\slash", "tab\tnew\nline", "line\u2028separator", "bell\x07", "/slash/"]
    stage_users(wh, escaped)

    assert upload(wh)["rows_accepted"] == len(escaped)

    assert state_identities(wh) == sorted(escaped)
    assert upload(wh)["rows_unchanged"] == len(escaped)


def test_an_identity_longer_than_the_state_holds_is_invalid_before_it_is_sent(wh, emu):
    """1024 characters is the limit everywhere; PostgreSQL's index also limits a key's bytes (2400:
    1024 three-byte characters are over it), and such an identity is invalid there too."""
    too_long = "x" * (KEY_LENGTH + 1)
    longest = "é" * KEY_LENGTH
    wide = "用" * KEY_LENGTH  # 3072 bytes
    stage_users(wh, ["user-1", too_long, longest, wide])
    held = ["user-1", longest] if wh.engine.conn_type == "postgres" else ["user-1", longest, wide]

    summary = upload(wh)

    assert (summary["rows_invalid"], summary["rows_accepted"]) == (4 - len(held), len(held))
    assert set(emu.profiles) == set(held)
    assert emu.stats.records_received == len(held)
    assert state_identities(wh) == sorted(held)
    assert accounted(summary)
    assert upload(wh)["rows_unchanged"] == len(held)


def stage_orders(wh, ids):
    placed = dt.datetime(2026, 3, 1, 10, 0)
    rows = [(order_id, "customer-1", placed.isoformat(sep=" "), 10 + n) for n, order_id in enumerate(ids)]
    columns = [("order_id", "key"), ("customer_id", "text"), ("placed", "text"), ("amount", "integer")]
    return wh.create("orders", columns, rows)


def send_events(wh):
    from airflow_provider_clevertap.operators import CleverTapEventUploadOperator

    return CleverTapEventUploadOperator(
        task_id="events",
        source_conn_id=wh.conn_id,
        sql=f"SELECT order_id, customer_id, placed, amount FROM {wh.table('orders')}",
        identity_column="customer_id",
        event_name="Charged",
        ts_column="placed",
        event_id_column="order_id",
        state_table=wh.table("state"),
        sync_id="matrix.events",
        max_failed_ratio=1.0,
    ).execute(CONTEXT)


def test_events_are_sent_once_by_id_and_ids_differing_by_case_or_accent_are_other_events(wh, emu):
    orders = stage_orders(wh, ["ord-A1", "ch_3NaBc", "ord-jose"])
    assert send_events(wh)["rows_accepted"] == 3
    assert send_events(wh)["rows_unchanged"] == 3  # sent once, ever

    wh.execute(
        f"INSERT INTO {orders} VALUES (?, ?, ?, ?)",
        [
            ("ord-a1", "customer-1", "2026-03-01 11:00:00", 1),
            ("ch_3Nabc", "customer-1", "2026-03-01 11:00:00", 2),
            ("ord-josé", "customer-1", "2026-03-01 11:00:00", 3),
        ],
    )
    summary = send_events(wh)

    assert (summary["rows_accepted"], summary["rows_unchanged"]) == (3, 3)
    assert len(emu.events("customer-1")["customer-1"]) == 6
    assert emu.stats.records_received == 6


def test_an_event_id_longer_than_the_state_holds_is_invalid_before_it_is_sent(wh, emu):
    stage_orders(wh, ["ord-1", "o" * (KEY_LENGTH + 1)])
    summary = send_events(wh)
    assert (summary["rows_accepted"], summary["rows_invalid"]) == (1, 1)
    assert emu.stats.records_received == 1


def test_event_ids_the_state_holds_never_leave_a_warehouse_that_can_count_them(wh, emu):
    """Where the warehouse reads one snapshot (``Dialect.snapshot``), held ids are counted there and
    not streamed; elsewhere every row streams and Python tells them unchanged. Either way, unchanged."""
    from airflow_provider_clevertap.sources import get_sql_hook
    from airflow_provider_clevertap.state.table import SyncState

    stage_orders(wh, ["ord-1", "ord-2", "ord-3"])
    send_events(wh)
    hook = get_sql_hook(wh.conn_id)
    state = SyncState(hook, wh.table("state"), "matrix.events", "order_id")
    with state.read(f"SELECT order_id FROM {wh.table('orders')}", None, match_key_only=True) as source:
        streamed = list(source.rows)
    if state.dialect.snapshot is None:
        assert (len(streamed), source.unchanged) == (3, 0)
    else:
        assert (streamed, source.unchanged) == ([], 3)
    assert send_events(wh)["rows_unchanged"] == 3


def test_an_event_id_repeated_in_the_query_counts_the_same_on_every_warehouse(wh, emu):
    """A join fan-out repeats an id: its second row is invalid in the run that sends the first, and
    once the id is held both rows are unchanged, whether the warehouse or Python finds them held."""
    stage_orders(wh, ["ord-1", "ord-2", "ord-1"])
    first = send_events(wh)
    assert (first["rows_accepted"], first["rows_invalid"]) == (2, 1)
    again = send_events(wh)
    assert (again["rows_unchanged"], again["rows_invalid"], again["rows_accepted"]) == (3, 0, 0)
    assert emu.stats.records_received == 2


def test_a_refused_event_is_named_by_its_id_as_queried(wh, emu):
    """Where the state keys by a hash of the id (MySQL), the problem still names the id itself."""
    from airflow_provider_clevertap.emulator import EmulatorFaults

    stage_orders(wh, ["ord-1"])
    emu.configure(faults=EmulatorFaults(discarded_events=("Charged",)))
    summary = send_events(wh)
    assert summary["rows_refused"] == 1
    assert summary["failed_sample"][0]["error"].startswith("event 'ord-1': ")


def test_a_warehouse_that_cannot_run_the_states_json_insert_fails_before_the_first_request(wh, emu, monkeypatch):
    """MariaDB before 10.6 has no JSON_TABLE: the state's insert is tried, empty, when the state
    table is created, not after CleverTap accepted the first batch."""
    import dataclasses

    from airflow_provider_clevertap.state.dialects import DIALECTS

    dialect = DIALECTS[wh.engine.conn_type]
    if dialect.json_insert is None:
        pytest.skip("only where a chunk of the state is one INSERT from JSON (MariaDB, DuckDB)")
    broken = dataclasses.replace(
        dialect, json_insert=dialect.json_insert.replace("SELECT ", "SELECT no_such_function() + ", 1)
    )
    monkeypatch.setitem(DIALECTS, wh.engine.conn_type, broken)
    stage_users(wh, ["user-1", "user-2"])

    with pytest.raises(CleverTapConfigError, match="(?i)no_such_function"):
        upload(wh)
    assert emu.stats.requests == 0

    # The delete operator writes its state after the deletions: it tries the table before them too.
    delete = CleverTapUserDeleteOperator(
        task_id="delete", source_conn_id=wh.conn_id, sql=users_sql(wh), state_table=wh.table("state")
    )
    with pytest.raises(CleverTapConfigError, match="(?i)no_such_function"):
        delete.execute(CONTEXT)
    assert emu.stats.requests == 0
