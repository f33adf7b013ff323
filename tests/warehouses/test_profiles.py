"""Profile syncs on every warehouse of the matrix: upsert, changed, mirror, and an edited query
shape. What the emulator received and stores is the evidence."""

from __future__ import annotations

import pytest

from tests.warehouses.scenarios import accounted, stage_users, state_identities, upload

pytestmark = pytest.mark.warehouse

USERS = [f"user-{n:02d}" for n in range(1, 13)]
REFUSED = ["user-04", "user-09"]


def received(emu) -> int:
    return emu.stats.records_received


def test_upsert_sends_every_row_every_run_and_keeps_no_state(wh, emu):
    stage_users(wh, USERS)
    for _ in range(2):
        summary = upload(wh, "upsert")
        assert summary["rows_accepted"] == len(USERS)
    assert received(emu) == 2 * len(USERS)
    assert set(emu.profiles) == set(USERS)


def test_changed_sends_what_changed_and_retries_refused_rows(wh, emu):
    users = stage_users(wh, USERS, refused=REFUSED)
    first = upload(wh)
    assert (first["rows_accepted"], first["rows_refused"]) == (len(USERS) - 2, 2)
    assert state_identities(wh) == sorted(set(USERS) - set(REFUSED))

    before = received(emu)
    again = upload(wh)  # nothing changed: only the refused rows are tried again
    assert received(emu) - before == 2
    assert (again["rows_unchanged"], again["rows_refused"], again["rows_accepted"]) == (len(USERS) - 2, 2, 0)
    assert accounted(again)

    wh.execute(f"UPDATE {users} SET plan = 'platinum' WHERE identity = 'user-02'")
    wh.execute(f"UPDATE {users} SET {wh.q('Email')} = 'fixed@example.com' WHERE identity = 'user-04'")
    before = received(emu)
    edited = upload(wh)
    assert received(emu) - before == 3  # the edit, the fixed row, the still refused one
    assert (edited["rows_accepted"], edited["rows_refused"]) == (2, 1)
    assert emu.profile("user-02")["profileData"]["plan"] == "platinum"
    assert emu.profile("user-04")["profileData"]["Email"] == "fixed@example.com"
    assert state_identities(wh) == sorted(set(USERS) - {"user-09"})


def test_mirror_deletes_exactly_the_profiles_that_left(wh, emu):
    users = stage_users(wh, USERS)
    assert upload(wh, "mirror")["rows_accepted"] == len(USERS)
    wh.execute(f"DELETE FROM {users} WHERE identity IN ('user-03', 'user-11')")

    summary = upload(wh, "mirror", max_delete_ratio=0.5)

    assert summary["profiles_deleted"] == 2 and emu.stats.deletes == 2
    assert set(emu.profiles) == set(USERS) - {"user-03", "user-11"}
    assert state_identities(wh) == sorted(set(USERS) - {"user-03", "user-11"})
    assert upload(wh, "mirror")["profiles_deleted"] == 0


@pytest.mark.parametrize("edit", ["alias", "cast"])
def test_an_edited_query_shape_sends_every_row_again(wh, emu, edit):
    """Renaming a column's alias, or casting the text '101' to an integer, changes the records
    although no value's text changed: every row is sent once more, then left alone."""
    users = stage_users(wh, USERS)
    before_sql = f"SELECT identity, plan AS {wh.q('Note')}, '101' AS {wh.q('code')} FROM {users}"
    after_sql = {
        "alias": f"SELECT identity, plan AS {wh.q('Remark')}, '101' AS {wh.q('code')} FROM {users}",
        "cast": f"SELECT identity, plan AS {wh.q('Note')}, {wh.engine.cast(chr(39) + '101' + chr(39), 'integer')} "
        f"AS {wh.q('code')} FROM {users}",
    }[edit]
    assert upload(wh, sql=before_sql)["rows_accepted"] == len(USERS)
    assert upload(wh, sql=before_sql)["rows_unchanged"] == len(USERS)

    summary = upload(wh, sql=after_sql)

    assert summary["rows_accepted"] == len(USERS)
    data = emu.profile("user-01")["profileData"]
    if edit == "alias":
        assert data["Remark"] == "gold"
    else:
        assert data["code"] == 101
    assert upload(wh, sql=after_sql)["rows_unchanged"] == len(USERS)


def test_a_state_of_many_chunks_is_written_whole_and_read_back(wh, emu):
    """More rows than a state statement writes (``WRITE_CHUNK``, ``JSON_CHUNK``): every key recorded once."""
    from airflow_provider_clevertap.state.writes import JSON_CHUNK, WRITE_CHUNK

    identities = [f"user-{n:05d}" for n in range(max(2 * WRITE_CHUNK, JSON_CHUNK) + 7)]
    users = stage_users(wh, identities)
    assert upload(wh)["rows_accepted"] == len(identities)
    assert state_identities(wh) == identities
    wh.execute(f"UPDATE {users} SET plan = 'platinum' WHERE n <= 3")

    summary = upload(wh)

    assert (summary["rows_accepted"], summary["rows_unchanged"]) == (3, len(identities) - 3)
    assert state_identities(wh) == identities
