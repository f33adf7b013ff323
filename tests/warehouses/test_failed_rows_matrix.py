"""The failed-rows table on every warehouse of the matrix: written in bulk after a run, and a table
that cannot be written (SQL in its name, a schema that does not exist) failing the task before the
first request, without Airflow retries."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from tests.warehouses.scenarios import stage_users, upload

pytestmark = pytest.mark.warehouse

USERS = [f"user-{n:02d}" for n in range(1, 9)]
REFUSED = ["user-02", "user-07"]


def test_refused_rows_land_in_the_failed_rows_table(wh, emu):
    stage_users(wh, USERS, refused=REFUSED)
    failed = wh.table("failed")
    summary = upload(wh, "upsert", failed_rows_table=failed)
    assert summary["rows_refused"] == len(REFUSED)
    rows = wh.query(f"SELECT identity, code, attempt, recorded_at FROM {failed} ORDER BY identity")
    assert [(identity, code, attempt) for identity, code, attempt, _ in rows] == [
        (identity, 515, "finished") for identity in REFUSED
    ]
    assert all(recorded_at is not None for *_, recorded_at in rows)


@pytest.mark.parametrize("name", ["failed; DROP TABLE users", "no_such_schema_0x.failed"])
def test_a_failed_rows_table_that_cannot_be_written_fails_before_the_first_request(wh, emu, name):
    stage_users(wh, USERS, refused=REFUSED)
    with pytest.raises(AirflowFailException, match="failed_rows_table"):
        upload(wh, "changed", failed_rows_table=name)
    assert emu.stats.requests == 0
    assert wh.query(f"SELECT COUNT(*) FROM {wh.table('users')}") == [(len(USERS),)]
