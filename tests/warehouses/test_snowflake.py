"""Snowflake's names: unquoted ones come back upper-cased, quoted ones as written, and the property
names CleverTap stores follow."""

from __future__ import annotations

import pytest

from tests.warehouses.engines.snowflake import Snowflake
from tests.warehouses.scenarios import stage_users, upload

pytestmark = pytest.mark.warehouse


@pytest.fixture
def snowflake_wh(wh):
    if not isinstance(wh.engine, Snowflake):
        pytest.skip("Snowflake only")
    return wh


def test_unquoted_names_become_upper_case_properties_and_quoted_ones_keep_their_case(snowflake_wh, emu):
    wh = snowflake_wh
    users = stage_users(wh, ["sf-1", "sf-2"])
    sql = f'SELECT identity AS customer_id, plan AS plan_name, plan AS "Plan Name" FROM {users}'
    summary = upload(wh, "changed", sql=sql, identity_column="CUSTOMER_ID")
    assert summary["rows_accepted"] == 2
    assert emu.profiles["sf-1"]["profileData"] == {"PLAN_NAME": "gold", "Plan Name": "gold"}
    assert upload(wh, "changed", sql=sql, identity_column="CUSTOMER_ID")["rows_unchanged"] == 2
