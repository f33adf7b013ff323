"""Names as the warehouse folds them: a column option that matches one returned column only
ignoring case (Snowflake returns unquoted names upper-cased) is that column, and the log says so."""

from __future__ import annotations

import pytest

from tests.warehouses.scenarios import stage_users, state_identities, upload

pytestmark = pytest.mark.warehouse

USERS = ["user-1", "user-2", "user-3"]


def test_an_identity_column_matching_only_ignoring_case_is_used_and_logged(wh, emu, task_logs):
    users = stage_users(wh, USERS)
    sql = f"SELECT identity AS {wh.q('CUSTOMER_ID')}, plan AS {wh.q('PLAN')} FROM {users}"

    first = upload(wh, sql=sql, identity_column="customer_id")

    assert first["rows_accepted"] == len(USERS)
    assert "identity_column 'customer_id' is the query's column 'CUSTOMER_ID'" in task_logs.text
    assert emu.profile("user-1")["profileData"] == {"PLAN": "gold"}  # the identity is no property
    assert state_identities(wh) == USERS
    assert upload(wh, sql=sql, identity_column="customer_id")["rows_unchanged"] == len(USERS)


def test_a_column_option_matching_two_columns_ignoring_case_is_an_error(wh, emu):
    users = stage_users(wh, USERS)
    sql = f"SELECT identity AS {wh.q('ID')}, plan AS {wh.q('Id')} FROM {users}"
    with pytest.raises(ValueError, match="more than one matches it ignoring case"):
        upload(wh, "upsert", sql=sql, identity_column="id")
    assert emu.stats.requests == 0
