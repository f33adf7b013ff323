"""Stateful syncs end to end: DAG runs through Airflow's task runner, a real SQLite or PostgreSQL
warehouse holding the state, and the emulator over real HTTP. What the emulator received and
stores is the evidence, not what the operator says it sent."""

from __future__ import annotations

import pytest

from airflow_provider_clevertap.hooks.clevertap import CleverTapHook
from tests.state.conftest import summaries, upload

SYNC_ID = "state_sync.upload"  # the default: <dag_id>.<task_id>
USERS = 30
REFUSED = (4, 17, 25)


def received(emu) -> int:
    return emu.stats.records_received


def accounted(summary) -> bool:
    return summary["rows_read"] == (
        summary["rows_invalid"] + summary["rows_accepted"] + summary["rows_refused"] + summary["rows_unchanged"]
    )


def sync(state_dags, dag_id="state_sync", **conf):
    run = state_dags(dag_id, run_conf=conf or None)
    return run, summaries(run)


@pytest.fixture
def synced(warehouse, emu, state_dags):
    """A first ``changed`` run over the staged users: every valid one stored, the refused ones not."""
    identities = warehouse.stage(USERS, refused=REFUSED)
    run, (summary,) = sync(state_dags)
    assert run.state == "success"
    assert summary["rows_accepted"] == USERS - len(REFUSED) and summary["rows_unchanged"] == 0
    return identities


def test_a_second_run_of_unchanged_data_sends_only_the_refused_rows(synced, warehouse, emu, state_dags):
    refused = {f"user-{n:04d}" for n in REFUSED}
    assert set(warehouse.state_rows(SYNC_ID)) == set(synced) - refused
    before = received(emu)

    run, (summary,) = sync(state_dags)

    assert run.state == "success"
    assert received(emu) - before == len(REFUSED)  # the refused rows, tried again
    assert summary["rows_unchanged"] == USERS - len(REFUSED)
    assert summary["rows_refused"] == len(REFUSED) and summary["rows_accepted"] == 0
    assert accounted(summary)
    assert set(emu.profiles) == set(synced) - refused


def test_an_edited_row_is_sent_once(synced, warehouse, emu, state_dags):
    warehouse.execute(f"UPDATE {warehouse.users} SET plan = 'platinum' WHERE identity IN ('user-0002', 'user-0009')")
    before = received(emu)

    _, (summary,) = sync(state_dags)
    assert received(emu) - before == 2 + len(REFUSED)
    assert summary["rows_accepted"] == 2
    assert emu.profile("user-0002")["profileData"]["plan"] == "platinum"

    before = received(emu)
    _, (summary,) = sync(state_dags)
    assert received(emu) - before == len(REFUSED)  # not the edited rows again
    assert summary["rows_accepted"] == 0 and accounted(summary)


def test_a_fixed_refused_row_is_accepted_on_the_next_run_and_then_left_alone(synced, warehouse, emu, state_dags):
    warehouse.execute(f"""UPDATE {warehouse.users} SET "Email" = 'fixed@example.com' WHERE identity = 'user-0017'""")

    _, (summary,) = sync(state_dags)
    assert summary["rows_accepted"] == 1 and summary["rows_refused"] == len(REFUSED) - 1
    assert emu.profile("user-0017")["profileData"]["Email"] == "fixed@example.com"
    assert "user-0017" in warehouse.state_rows(SYNC_ID)

    before = received(emu)
    _, (summary,) = sync(state_dags)
    assert received(emu) - before == len(REFUSED) - 1


def test_mirror_deletes_exactly_the_identities_that_left(warehouse, emu, state_dags):
    identities = warehouse.stage(USERS, refused=REFUSED)
    # A profile this sync never delivered: the mirror must never touch it.
    list(CleverTapHook().upload_records([{"type": "profile", "identity": "outsider", "profileData": {"plan": "x"}}]))
    assert sync(state_dags, sync_mode="mirror")[0].state == "success"
    # Two delivered users and one refused one leave the staged table.
    warehouse.execute(f"DELETE FROM {warehouse.users} WHERE identity IN ('user-0003', 'user-0011', 'user-0004')")

    run, (summary,) = sync(state_dags, sync_mode="mirror")

    assert run.state == "success"
    assert summary["profiles_deleted"] == 2
    assert emu.stats.deletes == 2  # ids received in delete requests: exactly the two
    kept = set(identities) - {f"user-{n:04d}" for n in REFUSED} - {"user-0003", "user-0011"}
    assert set(emu.profiles) == kept | {"outsider"}
    assert set(warehouse.state_rows(SYNC_ID)) == kept
    # Nothing left to delete the next time.
    _, (summary,) = sync(state_dags, sync_mode="mirror")
    assert summary["profiles_deleted"] == 0 and emu.stats.deletes == 2


def test_mirror_of_an_empty_staged_table_fails_and_deletes_nothing(synced, warehouse, emu, state_dags, capfd):
    held = warehouse.state_rows(SYNC_ID)
    warehouse.execute(f"DELETE FROM {warehouse.users}")

    run, _ = sync(state_dags, sync_mode="mirror")

    assert run.state == "failed"
    assert emu.stats.deletes == 0
    assert len(emu.profiles) == USERS - len(REFUSED)
    assert warehouse.state_rows(SYNC_ID) == held
    out, _ = capfd.readouterr()
    assert f"{len(held)} of the {len(held)} profiles this sync holds" in out and "nothing was deleted" in out


def test_a_dry_run_reports_what_would_be_sent_and_deleted_and_writes_no_state(warehouse, emu, state_dags, capfd):
    warehouse.stage(USERS, refused=REFUSED)

    run, (summary,) = sync(state_dags, "state_sync_dry_run", sync_mode="mirror")
    assert run.state == "success" and summary["dry_run"] is True
    assert summary["rows_accepted"] == USERS - len(REFUSED)
    assert emu.profiles == {} and emu.stats.dry_run_requests > 0
    assert not warehouse.has_table(warehouse.state)  # not even created

    assert sync(state_dags, sync_mode="mirror")[0].state == "success"
    held = warehouse.state_rows(SYNC_ID)
    warehouse.execute(f"UPDATE {warehouse.users} SET plan = 'platinum' WHERE identity = 'user-0002'")
    warehouse.execute(f"DELETE FROM {warehouse.users} WHERE identity = 'user-0030'")
    deletes_before, stored_before = emu.stats.deletes, emu.stats.records_stored
    capfd.readouterr()

    run, (summary,) = sync(state_dags, "state_sync_dry_run", sync_mode="mirror")

    assert run.state == "success"
    assert summary["rows_accepted"] == 1 and summary["rows_unchanged"] == USERS - len(REFUSED) - 2
    assert summary["profiles_deleted"] == 1  # would be deleted
    assert emu.stats.deletes == deletes_before and emu.stats.records_stored == stored_before
    assert "user-0030" in emu.profiles
    assert warehouse.state_rows(SYNC_ID) == held
    out, _ = capfd.readouterr()
    assert "would delete 1 of the" in out and "user-0030" in out


def test_the_delete_operator_forgets_the_deleted_identities(synced, warehouse, emu, state_dags):
    gone = ["user-0001", "user-0002", "user-0003"]
    warehouse.execute(f"CREATE TABLE {warehouse.deletions} (identity VARCHAR(40))")
    warehouse.execute(f"INSERT INTO {warehouse.deletions} VALUES (?)", [(identity,) for identity in gone])

    assert state_dags("state_delete").state == "success"

    assert not set(gone) & set(warehouse.state_rows())
    assert not set(gone) & set(emu.profiles)
    # The rows are still staged: the next run uploads them again.
    before = received(emu)
    _, (summary,) = sync(state_dags)
    assert summary["rows_accepted"] == len(gone)
    assert received(emu) - before == len(gone) + len(REFUSED)
    assert set(gone) <= set(emu.profiles)


def test_full_refresh_resends_every_row_and_rebuilds_the_state(synced, warehouse, emu, state_dags):
    warehouse.execute(f"UPDATE {warehouse.state} SET fingerprint = 'wrong' WHERE identity = 'user-0005'")
    before = received(emu)

    run, (summary,) = sync(state_dags, full_refresh=True)

    assert run.state == "success"
    assert received(emu) - before == USERS
    assert summary["rows_unchanged"] == 0 and summary["rows_accepted"] == USERS - len(REFUSED)
    rebuilt = warehouse.state_rows(SYNC_ID)
    assert len(rebuilt) == USERS - len(REFUSED) and rebuilt["user-0005"] != "wrong"
    (run_id,) = {row[0] for row in warehouse.query(f"SELECT run_id FROM {warehouse.state}")}
    assert run_id == run.run_id
    # And the state it rebuilt is used: nothing but the refused rows next time.
    before = received(emu)
    sync(state_dags)
    assert received(emu) - before == len(REFUSED)


def test_mapped_partitions_keep_separate_state(warehouse, emu, state_dags):
    identities = warehouse.stage(USERS, refused=REFUSED)

    run = state_dags("state_partitioned", run_conf={"sync_mode": "mirror"})

    assert run.state == "success"
    odd = {f"user-{n:04d}" for n in range(1, USERS + 1) if n % 2 and n not in REFUSED}
    even = set(identities) - odd - {f"user-{n:04d}" for n in REFUSED}
    assert set(warehouse.state_rows("state_partitioned.upload[0]")) == even
    assert set(warehouse.state_rows("state_partitioned.upload[1]")) == odd
    # Were the state shared, each partition's mirror would take the other's rows for leavers.
    run = state_dags("state_partitioned", run_conf={"sync_mode": "mirror"})
    assert run.state == "success"
    assert [summary["profiles_deleted"] for summary in summaries(run)] == [0, 0]
    assert emu.stats.deletes == 0 and set(emu.profiles) == odd | even


def test_upsert_mode_keeps_no_state(warehouse, emu, state_dags):
    warehouse.stage(USERS, refused=REFUSED)
    for _ in range(2):
        _, (summary,) = sync(state_dags, sync_mode="upsert")
        assert summary["rows_unchanged"] == 0 and summary["profiles_deleted"] == 0
    assert received(emu) == 2 * USERS
    assert not warehouse.has_table(warehouse.state)


def test_changing_the_mapping_resends_every_row(warehouse, emu):
    warehouse.stage(USERS)

    def run(**mapping):
        return upload(warehouse, "mapping.sync", **mapping).execute({"run_id": "manual__mapping"})

    assert run(property_columns=["Email"])["rows_accepted"] == USERS
    assert run(property_columns=["Email"])["rows_unchanged"] == USERS
    assert run(property_columns=["Email", "plan"])["rows_accepted"] == USERS
    assert emu.profile("user-0001")["profileData"]["plan"] == "gold"
    assert run(property_columns={"Email": "Email", "plan": "Plan"})["rows_accepted"] == USERS


@pytest.mark.parametrize("sync_mode", ["changed", "mirror"])
def test_a_query_ending_in_a_semicolon_and_a_comment_syncs(warehouse, emu, sync_mode):
    identities = warehouse.stage(10)
    sql = (
        f"SELECT identity, \"Email\", plan FROM {warehouse.users} WHERE plan <> '--;' ; -- the staged users;\n"
        "/* the end; */ ;  -- really\n"
    )

    def run():
        return upload(warehouse, "comment.sync", sql=sql, sync_mode=sync_mode).execute({"run_id": "manual__c"})

    assert run()["rows_accepted"] == 10
    warehouse.execute(f"DELETE FROM {warehouse.users} WHERE n = 1")
    summary = run()
    assert summary["rows_unchanged"] == 9
    assert summary["profiles_deleted"] == (1 if sync_mode == "mirror" else 0)
    assert set(emu.profiles) == set(identities) - ({"user-0001"} if sync_mode == "mirror" else set())
