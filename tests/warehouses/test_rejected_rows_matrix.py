"""The rejected-rows table on every warehouse of the matrix: one row per refused or invalid row,
with the identity and the reason, beside the stateful sync that refused them."""

from __future__ import annotations

import pytest

from airflow_provider_clevertap.state.dialects import KEY_LENGTH
from tests.warehouses.scenarios import stage_users, upload

pytestmark = pytest.mark.warehouse


def test_refused_and_invalid_rows_are_recorded_with_their_reason(wh, emu, request):
    if wh.engine.conn_type == "mysql":  # strict: the fix's merge makes this fail until removed
        request.applymarker(
            pytest.mark.xfail(
                reason="recorded_at as ISO text with +00:00 is refused by DATETIME: rejected_rows.py, "
                "fixed on engineer wh-cloud's branch",
                strict=True,
            )
        )
    too_long = "x" * (KEY_LENGTH + 1)
    stage_users(wh, ["user-1", "user-2", too_long], refused=["user-2"])
    rejected = wh.table("rejected")

    summary = upload(wh, rejected_rows_table=rejected)

    assert (summary["rows_accepted"], summary["rows_rejected"], summary["rows_invalid"]) == (1, 1, 1)
    rows = wh.query(f"SELECT identity, code, error, attempt FROM {rejected}")
    by_identity = {row[0]: row[1:] for row in rows}
    assert set(by_identity) == {"user-2", too_long}
    assert by_identity["user-2"][0] == 515 and by_identity["user-2"][2] == "finished"
    assert "state table holds" in by_identity[too_long][1]
