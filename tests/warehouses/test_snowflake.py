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


def test_a_full_refresh_records_every_row_again(snowflake_wh, emu):
    """The refresh's query adds three NULL columns; named alike, fakesnow kept only one of them."""
    wh = snowflake_wh
    stage_users(wh, ["sf-1", "sf-2", "sf-3"])
    assert upload(wh)["rows_accepted"] == 3
    assert upload(wh, full_refresh=True)["rows_accepted"] == 3
    assert upload(wh)["rows_unchanged"] == 3
